"""``agent-engine diff DIR TASK_A TASK_B``: the first stage where two stored runs differ, and what differs."""

from __future__ import annotations

import json
import sys

from _inspect_runs import GOOD, cli, run
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_core._inspect_cli import EXIT_DIFFERENT, SAME, SHOWN_LINES, _narrowed
from agent_engine_core.cli import EXIT_USAGE

pytest_plugins = ["_inspect_fixtures"]  # its fixtures: kit_path, project, stored


def test_two_runs_of_one_input_have_identical_traces(project):
    folder = project()
    run(folder, ("one", GOOD), ("two", GOOD))
    done = cli("diff", folder, "one", "two")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("identical traces: runs one and two")
    assert json.loads(cli("diff", folder, "one/split#1", "two", "--json").stdout) == {
        "left": "one", "right": "two", "identical": True, "difference": None}


def test_a_changed_handler_is_found_at_its_first_stage_with_both_values(project, monkeypatch):
    folder = project()
    run(folder, ("before", GOOD))
    nodes = folder / "nodes.py"
    nodes.write_text(nodes.read_text().replace('"length": len(payload["word"])', '"length": 10 * len(payload["word"])'))
    monkeypatch.delitem(sys.modules, "nodes")  # the next engine imports the changed handlers
    run(folder, ("after", GOOD))
    done = cli("diff", folder, "before", "after")
    assert done.exit_code == EXIT_DIFFERENT, done.output
    lines = done.stdout.splitlines()
    # the root task's stages come first in a trace: gather merges the children's changed outputs
    assert lines[0] == ("runs before and after differ at line 3 of their traces: stage at node 'gather', "
                        "task before / after")
    text = done.stdout
    merged = '{\n    "merge_inputs": [\n      {\n        "output": {\n          "length": %d\n        }\n      },'
    assert "── input\nbefore:\n  " + merged % 2 in text and "after:\n  " + merged % 20 in text
    assert '── output\nbefore:\n  {\n    "lengths": [\n      2,\n      1\n    ]\n  }\nafter:' in text
    assert '"word"' not in text and '"lineage"' not in text  # only what differs is shown
    found = json.loads(cli("diff", folder, "before", "after", "--json").stdout)
    assert found["identical"] is False
    difference = found["difference"]
    assert (difference["index"], difference["fields"]) == (3, ["input", "output"])
    assert (difference["left"]["node"], difference["left"]["task"]) == ("gather", "RUN")
    assert (difference["left"]["output"], difference["right"]["output"]) == ({"lengths": [2, 1]},
                                                                           {"lengths": [20, 10]})


def test_another_input_differs_at_the_first_stage(project):
    folder = project()
    run(folder, ("first", GOOD), ("second", {**GOOD, "topic": "yo"}))
    found = json.loads(cli("diff", folder, "first", "second", "--json").stdout)["difference"]
    assert (found["index"], found["left"]["node"], found["fields"]) == (0, "begin", ["input", "output"])
    done = cli("diff", folder, "first", "second")
    assert done.exit_code == EXIT_DIFFERENT
    assert '── input\nfirst:\n  {\n    "topic": "hi"\n  }\nsecond:\n  {\n    "topic": "yo"\n  }' in done.stdout


def test_a_long_value_is_shortened_and_json_has_it_whole(project):
    folder = project()
    words = [f"w{i}" for i in range(40)]
    run(folder, ("short", GOOD), ("long", {**GOOD, "words": words}))
    done = cli("diff", folder, "short", "long")
    assert done.exit_code == EXIT_DIFFERENT
    lines = 4 + len(words)  # {, "words": [, the words, ], }: the topic is the same, so it is left out
    assert f"… ({lines - SHOWN_LINES} more lines; --json has all)" in done.stdout
    assert '"w39"' not in done.stdout
    found = json.loads(cli("diff", folder, "short", "long", "--json").stdout)["difference"]
    assert found["right"]["input"]["words"] == words


def test_a_run_that_is_not_stored_is_exit_2(stored):
    done = cli("diff", stored, "ok", "nope")
    assert done.exit_code == EXIT_USAGE
    assert "no stored run 'nope'; the newest: bad, ok" in done.output
    assert "Traceback" not in done.output


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text("ab", max_size=2),
                    lambda inner: st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
                    | st.lists(inner, max_size=2),
                    max_leaves=8)


@given(JSON, JSON)
def test_narrowing_keeps_exactly_the_keys_that_differ(one, two):
    left, right = _narrowed(one, two)
    assert (left == right) == (one == two)  # what differs is never narrowed away
    if isinstance(one, dict) and isinstance(two, dict):
        differing = {k for k in {*one, *two} if k not in one or k not in two or one[k] != two[k]}
        assert set(left) == differing & set(one) and set(right) == differing & set(two)
    elif isinstance(one, list) and isinstance(two, list) and len(one) == len(two):
        same = [a == b for a, b in zip(one, two, strict=True)]
        assert [x == SAME for x in left] == same == [x == SAME for x in right]
    else:
        assert (left, right) == (one, two)


def test_a_payload_holding_the_run_ids_text_is_compared_as_it_is():
    from _workflows import engine as workflow_engine
    from _workflows import node

    from agent_engine_core.inspector import first_difference

    engine = workflow_engine([node("s", "start"), node("x", "exit")], [("s", "x")])
    one, two = engine.run("hi", run_id="hi"), engine.run("yo", run_id="yo")
    difference = first_difference(one.trace, two.trace)
    assert difference is not None and difference.index == 0 and "input" in difference.fields
    assert first_difference(engine.run("same", run_id="a").trace, engine.run("same", run_id="b").trace) is None
