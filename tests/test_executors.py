"""scheduler.yaml's executor: the built-in ``local`` one, and task executors that run queued tasks elsewhere.

A task executor here is a real one of the contract (``agent_engine_core.executors``): a thread pool of this
process that calls ``agent_engine_core.worker.run_task`` as a worker process would, so the whole path -- the
task sent as plain data, the engine built from the config dir by the worker, the run sent back as JSON and
rebuilt by the engine that queued it -- runs without a cluster. The Dask executor's tests run the same path on
real worker processes (agent_engine_plugins/dask).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from _workflows import engine, node, workflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError, PluginError, hookimpl
from agent_engine_core.executors import ExecutorSetup, RemoteTask, TaskOutcome
from agent_engine_core.worker import run_task

THREADS: list[str] = []


def where(payload, ctx):
    THREADS.append(threading.current_thread().name)
    return payload


def fan_out(executor, plugins=()):
    return engine([node("s", "start"), node("b", "branch"), node("l", "linear", handler=where),
                   node("r", "linear", handler=where), node("m", "merge"), node("x", "exit")],
                  [("s", "b"), ("b", "l"), ("b", "r"), ("l", "m"), ("r", "m"), ("m", "x")],
                  scheduler={"scheduler": {"executor": executor}}, **({"plugins": plugins} if plugins else {}))


def test_an_unregistered_executor_lists_the_installed_ones_and_names_no_distribution_that_does_not_exist(monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(ManifestError) as caught:
        fan_out("ray")
    (issue,) = caught.value.issues
    assert issue.code == "manifest.unknown_component"
    assert issue.hint == ("installed executors: local; no distribution of this repository provides the executor "
                          "'ray'; install the one that does")


def test_the_dask_executor_when_not_installed_names_its_distribution(monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(ManifestError) as caught:
        fan_out("dask")
    (issue,) = caught.value.issues
    assert "agent-engine-dask: pip install -e agent_engine_plugins/dask" in issue.hint


def test_the_local_executor_runs_sync_handlers_of_concurrent_children():
    THREADS.clear()
    result = fan_out("local").run(1)
    assert [i["output"] for i in result.output["merge_inputs"]] == [1, 1]
    assert len(THREADS) == 2 and all(name.startswith("agent-engine") for name in THREADS)  # the local pool's


def test_the_local_executor_takes_no_config():
    with pytest.raises(ManifestError) as caught:
        engine([node("s", "start"), node("x", "exit")], [("s", "x")],
               scheduler={"scheduler": {"config": {"address": "x"}}})
    (issue,) = caught.value.issues
    assert (issue.message, issue.code) == ("executor 'local' takes no config", "manifest.invalid")


# --- task executors -----------------------------------------------------------------------------------------

NODES = '''\
def step(payload, ctx):
    return {"n": payload["n"], "path": [*payload.get("path", []), ctx.node_id]}


def pick(payload, ctx):
    return "odd" if payload["n"] % 2 else "even"
'''

WORKFLOW = '''\
version: "1.0"
nodes:
  - {id: s, role: start, handler: "nodes:step"}
  - {id: d, role: decision, handler: "nodes:pick"}
  - {id: odd, role: linear, handler: "nodes:step"}
  - {id: even, role: linear, handler: "nodes:step"}
  - {id: x, role: exit, handler: "nodes:step"}
edges:
  - {from: s, to: d}
  - {from: d, to: odd, label: odd}
  - {from: d, to: even, label: even}
  - {from: odd, to: x}
  - {from: even, to: x}
'''


def write_project(folder: Path, executor: str = "threads", scheduler: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nodes.py").write_text(NODES)
    (folder / "workflow.yaml").write_text(WORKFLOW)
    (folder / "scheduler.yaml").write_text(
        f"scheduler:\n  executor: {executor}\n  max_concurrency: 4\n  max_queue_size: null\n{scheduler}")
    return folder


class Threads:
    """A task executor on threads of this process, calling ``run_task`` as a worker process would."""

    def __init__(self, setup: ExecutorSetup, fail: frozenset[str] = frozenset()) -> None:
        self.setup = setup
        self.fail = fail
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="fake-worker")
        self.sent: list[RemoteTask] = []
        self.closed = False

    def submit(self, task: RemoteTask) -> Future[TaskOutcome]:
        self.sent.append(task)
        if task.run_id in self.fail:
            broken: Future[TaskOutcome] = Future()
            broken.set_exception(ConnectionError("the cluster is unreachable"))
            return broken
        return self.pool.submit(lambda: TaskOutcome(run_task(task), attempt=1,
                                                    worker=threading.current_thread().name))

    def shutdown(self, wait: bool = True) -> None:
        self.closed = True
        self.pool.shutdown(wait=wait)


class ThreadsPlugin:
    """Registers ``threads``; remembers the executors it made (``fail``: run ids whose submission fails)."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.made: list[Threads] = []
        self.fail = fail

    @hookimpl
    def register_executors(self, register):
        def make(setup: ExecutorSetup) -> Threads:
            self.made.append(Threads(setup, self.fail))
            return self.made[-1]

        register("threads", make)


def queued(eng: Engine, inputs: list[dict], prefix: str = "r") -> list:
    for i, value in enumerate(inputs):
        eng.enqueue(value, run_id=f"{prefix}{i}")
    return eng.run_queued()


def test_a_task_executor_gets_each_task_as_plain_data_and_its_setup_from_the_manifests(tmp_path, fake_entry_points):
    plugin = ThreadsPlugin()
    fake_entry_points(("threads", plugin))
    project = write_project(tmp_path / "p", scheduler="  config: {address: here}\n")
    with Engine.from_config_dir(project) as eng:
        made = plugin.made[0]
        assert (made.setup.name, dict(made.setup.config), made.setup.config_dir, made.setup.max_concurrency) == (
            "threads", {"address": "here"}, project.absolute(), 4)
        results = queued(eng, [{"n": 1}])
        (sent,) = made.sent
        assert (sent.run_id, sent.input_json, sent.start, sent.config_dir) == ("r0", '{"n":1}', "s", str(project))
        assert results[0].metadata["executor"] == {"name": "threads", "attempt": 1, "worker": "fake-worker_0"}
    assert made.closed


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(numbers=st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=12))
def test_results_from_a_task_executor_are_those_of_a_local_run(tmp_path_factory, fake_entry_points, numbers):
    """Same status, output, error, usage and trace digest per task; in queue order; kept in the run store."""
    fake_entry_points(("threads", ThreadsPlugin()))
    root = tmp_path_factory.mktemp("same")
    inputs = [{"n": n} for n in numbers]
    with Engine.from_config_dir(write_project(root / "elsewhere")) as remote, \
            Engine.from_config_dir(write_project(root / "here", executor="local")) as local:
        there, here = queued(remote, inputs), queued(local, inputs)
        assert [r.task_id for r in there] == [f"r{i}" for i in range(len(inputs))]
        for a, b in zip(there, here, strict=True):
            assert (a.trace.digest, a.status, a.output, a.error, dict(a.usage)) == (
                b.trace.digest, b.status, b.output, b.error, dict(b.usage))
            assert a.trace.canonical() == b.trace.canonical()
        stored = remote.inspector.run("r0")
        assert stored.trace.digest == there[0].trace.digest
        assert stored.result["metadata"]["executor"]["name"] == "threads"
        assert [a["node_id"] for a in stored.artifacts()] == [r.node_id for r in there[0].trace.records]
        assert remote.queue_status().counts["success"] == len(inputs)


def test_tasks_an_executor_cannot_run_go_back_to_the_front_of_the_queue_in_order(tmp_path, fake_entry_points):
    plugin = ThreadsPlugin(fail=frozenset({"r1", "r3"}))
    fake_entry_points(("threads", plugin))
    with Engine.from_config_dir(write_project(tmp_path / "p")) as eng:
        for i in range(5):
            eng.enqueue({"n": i}, run_id=f"r{i}")
        eng.enqueue({"n": 9}, run_id="late")
        with pytest.raises(PluginError) as caught:
            eng.run_queued(max_concurrency=1)
        message = str(caught.value)
        assert "executor 'threads' could not run 1 task(s); the first, 'r1': ConnectionError: the cluster is " \
               "unreachable" in message and "back at the front of the queue" in message
        status = eng.queue_status()
        assert dict(status.tasks) == {"r0": "success", "r1": "queued", "r2": "queued", "r3": "queued",
                                      "r4": "queued", "late": "queued"}
        plugin.made[0].fail = frozenset()
        assert [r.task_id for r in eng.run_queued()] == ["r1", "r2", "r3", "r4", "late"]
        assert eng.queue_status().counts["success"] == 5


def test_a_worker_refuses_a_task_of_another_project(tmp_path, fake_entry_points):
    fake_entry_points(("threads", ThreadsPlugin()))
    project = write_project(tmp_path / "p")
    with Engine.from_config_dir(project) as eng:
        (project / "workflow.yaml").write_text(WORKFLOW + "# edited after the engine was built\n")
        eng.enqueue({"n": 3}, run_id="after-edit")
        with pytest.raises(PluginError) as caught:
            eng.run_queued()
    assert "the worker loaded another project from" in str(caught.value)
    assert "give every worker the same project" in str(caught.value)


def test_a_worker_rebuilds_its_engine_for_a_redeployed_project(tmp_path, fake_entry_points):
    fake_entry_points(("threads", ThreadsPlugin()))
    project = write_project(tmp_path / "p")
    with Engine.from_config_dir(project) as before:
        (old,) = queued(before, [{"n": 2}])
    (project / "workflow.yaml").write_text(WORKFLOW + "# redeployed\n")
    with Engine.from_config_dir(project) as after:
        (new,) = queued(after, [{"n": 2}])
    assert old.ok and new.ok
    assert new.metadata["manifests"]["workflow"] != old.metadata["manifests"]["workflow"]


def test_a_task_executor_needs_a_config_dir_and_handlers_the_workers_can_import():
    wf, handlers = workflow([node("s", "start", handler=lambda p, c: p), node("x", "exit")], [("s", "x")])
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict({"workflow": wf, "scheduler": {"scheduler": {"executor": "threads"}}}, handlers=handlers,
                         plugins=[ThreadsPlugin()])
    (issue,) = caught.value.issues
    assert issue.code == "manifest.unsupported"
    assert "the manifests were not loaded from a config dir" in issue.message


@pytest.mark.parametrize(("made", "expected"), [
    (ValueError("address must start with tcp://"), "executor 'threads': address must start with tcp://"),
    (RuntimeError("boom"), "executor 'threads': RuntimeError: boom"),
    (object(), "executor 'threads' built object, which is not a task executor (it needs submit(task) and "
               "shutdown())"),
])
def test_what_a_factory_refuses_is_a_load_error_located_in_scheduler_yaml(tmp_path, made, expected):
    class Refusing:
        @hookimpl
        def register_executors(self, register):
            def factory(setup):
                if isinstance(made, Exception):
                    raise made
                return made

            register("threads", factory)

    project = write_project(tmp_path / "p", scheduler="  config: {address: nowhere}\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project, plugins=[Refusing()])
    (issue,) = caught.value.issues
    assert issue.message == expected
    assert (Path(issue.file).name, issue.line) == ("scheduler.yaml", 5 if isinstance(made, Exception) else 2)


def test_a_factory_may_report_located_issues_of_other_manifests(tmp_path):
    class Picky:
        @hookimpl
        def register_executors(self, register):
            def factory(setup):
                source = setup.project.source("workflow")
                raise ManifestError([source.issue("not on my cluster", ["nodes", 1, "handler"], code="x.refused")])

            register("threads", factory)

    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(write_project(tmp_path / "p"), plugins=[Picky()])
    (issue,) = caught.value.issues
    assert (Path(issue.file).name, issue.line, issue.message) == ("workflow.yaml", 4, "not on my cluster")
