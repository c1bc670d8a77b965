"""metrics.yaml chooses what is collected; plugins.yaml can point at another file or override it; bad content
is a located load-time ManifestError."""

from __future__ import annotations

import json
import textwrap

import pytest
from agent_engine_core import Engine, ManifestError
from prometheus_client.parser import text_string_to_metric_families

from agent_engine_metrics import MetricsSink

WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"}, {"id": "mid", "role": "linear"}, {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "mid"}, {"from": "mid", "to": "e"}],
}


def project(root, *, plugins="plugins:\n  - id: metrics\n", **files):
    """A config dir with the workflow, plugins.yaml and the given extra files (name -> YAML text)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "workflow.yaml").write_text(json.dumps(WORKFLOW))
    (root / "plugins.yaml").write_text(textwrap.dedent(plugins))
    for name, text in files.items():
        (root / name.replace("_yaml", ".yaml")).write_text(textwrap.dedent(text))
    return root


def rendered(engine: Engine) -> dict[str, str]:
    """Family name -> type, after one run."""
    engine.run({"x": 1}, run_id="cfg")
    sink = next(p for p in engine.plugins.manager.get_plugins() if isinstance(p, MetricsSink))
    return {f.name: f.type for f in text_string_to_metric_families(sink.render())}


def test_metrics_collect_everything_by_default(tmp_path, engine_from_dir):
    families = rendered(engine_from_dir(project(tmp_path)))
    assert families == {
        "agent_engine_node_duration_seconds": "histogram",
        "agent_engine_node_runs": "counter",
        "agent_engine_task_duration_seconds": "histogram",
        "agent_engine_tasks": "counter",
        "agent_engine_tasks_in_flight": "gauge",
        "agent_engine_agent_calls": "counter",
        "agent_engine_agent_call_duration_seconds": "histogram",
        "agent_engine_tokens": "counter",
        "agent_engine_tool_calls": "counter",
    } | {name: "gauge" for name in families if name.endswith("_created")}


def test_metrics_yaml_collect_switches_families_off(tmp_path, engine_from_dir):
    root = project(tmp_path, metrics_yaml="metrics:\n  collect: [tasks]\n")
    families = {name for name in rendered(engine_from_dir(root)) if not name.endswith("_created")}
    assert families == {"agent_engine_task_duration_seconds", "agent_engine_tasks", "agent_engine_tasks_in_flight"}


def test_metrics_yaml_sets_namespace_and_buckets(tmp_path, engine_from_dir):
    root = project(tmp_path, metrics_yaml="""
        metrics:
          collect: [nodes]
          namespace: acme
          buckets: [0.5, 2]
    """)
    engine = engine_from_dir(root)
    rendered(engine)
    sink = next(p for p in engine.plugins.manager.get_plugins() if isinstance(p, MetricsSink))
    histogram = next(f for f in text_string_to_metric_families(sink.render()) if f.name == "acme_node_duration_seconds")
    bounds = {s.labels["le"] for s in histogram.samples if s.name.endswith("_bucket") and s.labels["node"] == "mid"}
    assert bounds == {"0.5", "2.0", "+Inf"}


def test_plugins_yaml_overrides_metrics_yaml_and_can_name_another_file(tmp_path, engine_from_dir):
    overriding = project(tmp_path / "a", metrics_yaml="metrics: {collect: [tasks]}\n", plugins="""
        plugins:
          - id: metrics
            config: {collect: [nodes]}
    """)
    assert "agent_engine_node_runs" in rendered(engine_from_dir(overriding))
    assert "agent_engine_tasks" not in rendered(engine_from_dir(overriding))

    elsewhere = project(tmp_path / "b", metrics_yaml="metrics: {collect: [tasks]}\n",
                        other_yaml="metrics: {collect: [agents], namespace: other}\n", plugins="""
        plugins:
          - id: metrics
            config: {file: other.yaml}
    """)
    families = {n for n in rendered(engine_from_dir(elsewhere)) if not n.endswith("_created")}
    assert families == {"other_agent_calls", "other_agent_call_duration_seconds", "other_tokens"}


@pytest.mark.parametrize(("content", "blamed"), [
    ("metrics:\n  colect: [nodes]\n", "colect"),
    ("metrics:\n  collect: [nodes, gpus]\n", "collect.1"),
    ("metrics:\n  collect: [nodes, nodes]\n", "each family once"),
    ("metrics:\n  buckets: [1, 0.5]\n", "strictly increasing"),
    ("metrics:\n  buckets: []\n", "at least one"),
    ("metrics:\n  namespace: 9lives\n", "namespace"),
    ("metrics: [nodes]\n", "metrics"),
    ("collect: [nodes]\n", "collect"),
    ("metrics: {collect: [nodes\n", "YAML"),
], ids=["unknown-key", "unknown-family", "duplicate", "unsorted-buckets", "no-buckets", "bad-namespace",
        "not-a-mapping", "missing-section", "broken-yaml"])
def test_a_bad_metrics_yaml_is_a_located_manifest_error(tmp_path, content, blamed):
    root = project(tmp_path, metrics_yaml=content)
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    issue = next(i for i in caught.value.issues if "metrics" in i.message)
    assert issue.file is not None and issue.file.endswith("plugins.yaml")
    assert issue.line == 2  # the `- id: metrics` line
    assert "metrics.yaml" in issue.message
    assert blamed in issue.message


@pytest.mark.parametrize(("config", "blamed"), [
    ("{prot: 9100}", "prot"),
    ("{port: 70000}", "port"),
    ("{file: missing.yaml}", "missing.yaml"),
    ("{textfile: no/such/dir/metrics.prom}", "no/such/dir"),
])
def test_a_bad_sink_config_in_plugins_yaml_is_a_manifest_error(tmp_path, config, blamed):
    root = project(tmp_path, plugins=f"plugins:\n  - id: metrics\n    config: {config}\n")
    with pytest.raises(ManifestError, match="metrics") as caught:
        Engine.from_config_dir(root)
    assert blamed in str(caught.value)
