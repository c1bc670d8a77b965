"""scheduler.yaml's ``config`` for ``executor: dask``, and the memory the workers must be able to share.

```yaml
scheduler:
  executor: dask
  max_concurrency: 16                   # tasks in flight on the cluster at once
  config:
    address: "tcp://scheduler:8786"     # an existing cluster; leave it out for a LocalCluster the engine starts
    config_dir: /project                # where the workers find the project (default: the client's path)
    connect_timeout_s: 30
    # without an address only -- the LocalCluster's shape:
    n_workers: 2
    threads_per_worker: 1
    processes: true
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from agent_engine_core.errors import ManifestError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from agent_engine_core.manifests import Project

__all__ = ["FILE_BACKENDS", "DaskConfig", "check_memory", "read_config"]

FILE_BACKENDS = frozenset({"file", "jsonl", "sqlite"})
"""Memory backends that keep a store in a file of the config dir: one per worker process, never shared."""

_LOCAL_ONLY = ("n_workers", "threads_per_worker", "processes")


class DaskConfig(BaseModel):
    """The ``config`` mapping of ``executor: dask``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = Field(default=None, min_length=1)
    """The Dask scheduler to connect to (``tcp://host:8786``); ``None``: start a ``LocalCluster``, closed with the
    engine."""
    config_dir: str | None = Field(default=None, min_length=1)
    """The project's config dir as the workers see it (a container's mount point); default: the client's path."""
    connect_timeout_s: float = Field(default=30.0, gt=0)
    """How long connecting to the scheduler (or starting the LocalCluster) may take."""
    n_workers: int | None = Field(default=None, ge=1)
    """LocalCluster: worker processes (default: Dask's, one per core or so)."""
    threads_per_worker: int | None = Field(default=None, ge=1)
    """LocalCluster: threads per worker, each running one task at a time (default: Dask's)."""
    processes: bool = True
    """LocalCluster: workers in processes (true) or in threads of this process (false)."""

    @model_validator(mode="after")
    def _local_settings_need_a_local_cluster(self) -> Self:
        given = [name for name in _LOCAL_ONLY if name in self.model_fields_set]
        if self.address is not None and given:
            raise ValueError(f"{', '.join(given)} shape the LocalCluster started when no address is given; the "
                             f"cluster at {self.address} has its own workers")
        if self.address is not None and "://" not in self.address:
            raise ValueError(f"address {self.address!r} is not a scheduler address: write it as tcp://host:8786")
        return self


def read_config(config: Mapping[str, Any]) -> DaskConfig:
    """The validated config; ``ValueError`` naming each problem by its key."""
    try:
        return DaskConfig.model_validate(dict(config))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise ValueError("; ".join(problems)) from None


def check_memory(project: Project) -> None:
    """``ManifestError`` locating each memory store the workers could not share (a file-based backend)."""
    source = project.source("memory")
    stores = project.memory.memory
    issues = [
        source.issue(
            f"memory store {name} uses the file-based backend '{spec.backend}', which the dask executor cannot "
            "share: each Dask worker is a process of its own, often on another machine, and would keep its own "
            "copy of the file under its config dir (SQLite and JSON Lines files are not made to be written from "
            "several machines), so tasks would not see each other's memory and results would depend on the "
            "worker that ran them", ["memory", name, "backend"], code="memory.backend_not_shared",
            hint="use backend: postgres (agent-engine-memory-postgres) for memory the workers share, or memory "
                 "for task memory; or run with executor: local")
        for name in ("task_store", "project_store", "global_store")
        if (spec := getattr(stores, name)).backend in FILE_BACKENDS
    ]
    if issues:
        raise ManifestError(issues)
