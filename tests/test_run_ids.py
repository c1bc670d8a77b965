"""Fresh run ids are unique: not repeated after an application seeds ``random``, nor by a forked child."""

from __future__ import annotations

import os
import random
import re

import pytest

from agent_engine_core.ids import new_run_id


def test_run_ids_have_the_documented_form_and_do_not_repeat() -> None:
    ids = [new_run_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"run-[0-9a-f]{16}", run_id) for run_id in ids)
    assert len(set(ids)) == len(ids)


def test_seeding_the_random_module_does_not_repeat_run_ids() -> None:
    random.seed(0)
    first = [new_run_id() for _ in range(5)]
    random.seed(0)
    assert not set(first) & {new_run_id() for _ in range(5)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_makes_other_run_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without pytest's teardown
        os.write(write, " ".join(new_run_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    assert len(child) == 5
    assert not child & {new_run_id() for _ in range(5)}
