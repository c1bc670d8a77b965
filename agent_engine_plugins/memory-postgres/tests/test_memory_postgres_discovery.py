"""Installing the distribution is all it takes: engines discover the ``postgres`` backend, without loading psycopg."""

from __future__ import annotations

import subprocess
import sys

from agent_engine_memory_postgres import __version__, plugin

WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"}, {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "e"}],
}


def test_engines_discover_the_postgres_backend_from_the_installed_entry_point(make_engine):
    engine = make_engine({"workflow": WORKFLOW})
    registration = engine.components.of("memory_backend")["postgres"]
    assert registration.factory is plugin.build_backend
    assert registration.distribution == "agent-engine-memory-postgres"
    assert __version__ == "0.1.0"


def test_the_entry_point_alone_registers_the_backend(fake_entry_points, make_engine):
    fake_entry_points(("memory-postgres", "agent_engine_memory_postgres.plugin", "agent-engine-memory-postgres"))
    engine = make_engine({"workflow": WORKFLOW})
    backends = engine.components.of("memory_backend")
    assert [name for name, r in backends.items() if r.distribution != "agent-engine-core"] == ["postgres"]
    assert engine.components.of("memory_backend")["postgres"].factory is plugin.build_backend


def test_discovery_imports_no_database_driver():
    probe = (
        "import sys; from agent_engine_core import Engine; "
        f"engine = Engine.from_dict({{'workflow': {WORKFLOW!r}}}); "
        "print('postgres' in engine.components.of('memory_backend')); engine.close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "[]"]
