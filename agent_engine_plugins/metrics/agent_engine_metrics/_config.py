"""What the metrics sink collects and where it exposes it: ``metrics.yaml`` plus the sink's plugins.yaml config.

SPEC §6 says ``metrics.yaml`` chooses what is collected, so that file is the operator's main knob; the
``config`` mapping of the ``metrics`` entry in plugins.yaml says where the numbers go (``textfile``, ``port``)
and may point at another file (``file``) or override single fields. Precedence, field by field: built-in
defaults < the metrics file < plugins.yaml. Both sources are validated with ``extra="forbid"``, and every
problem becomes a ``ValueError`` whose message names the file and the field, which the core turns into a
located load-time ``ManifestError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = ["DEFAULT_BUCKETS", "FAMILIES", "METRICS_FILE", "Settings", "resolve_settings"]

METRICS_FILE = "metrics.yaml"
"""The file read from the project dir when plugins.yaml does not name another one."""

Family = Literal["nodes", "tasks", "agents", "tools"]
FAMILIES: tuple[Family, ...] = ("nodes", "tasks", "agents", "tools")
"""The metric families ``collect`` can switch on; all are on by default."""

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Histogram bounds in seconds: Prometheus' defaults stop at 10 s, which an LLM call often exceeds."""

M = TypeVar("M", bound=BaseModel)
_NAMESPACE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _check_buckets(value: tuple[float, ...]) -> tuple[float, ...]:
    if not value:
        raise ValueError("give at least one bucket bound")
    if any(b <= 0 for b in value) or any(b >= a for a, b in zip(value[1:], value, strict=False)):
        raise ValueError("bucket bounds must be positive and strictly increasing")
    return value


def _check_collect(value: tuple[Family, ...]) -> tuple[Family, ...]:
    if len(set(value)) != len(value):
        raise ValueError("list each family once")
    return value


def _check_namespace(value: str) -> str:
    if not _NAMESPACE.match(value):
        raise ValueError("must be a Prometheus name: letters, digits and underscores, not starting with a digit")
    return value


Buckets = Annotated[tuple[float, ...], AfterValidator(_check_buckets)]
Collect = Annotated[tuple[Family, ...], AfterValidator(_check_collect)]
Namespace = Annotated[str, AfterValidator(_check_namespace)]


class Collection(BaseModel):
    """The ``metrics:`` mapping of metrics.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collect: Collect = FAMILIES
    buckets: Buckets = DEFAULT_BUCKETS
    namespace: Namespace = "agent_engine"


class MetricsFile(BaseModel):
    """A whole metrics.yaml: one top-level ``metrics`` key, so the file can grow other sections later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: Collection = Collection()


class SinkConfig(BaseModel):
    """The ``config`` of the ``metrics`` entry in plugins.yaml; unset collection fields keep the file's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = None
    collect: Collect | None = None
    buckets: Buckets | None = None
    namespace: Namespace | None = None
    textfile: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved settings one sink is built from (``port`` 0 asks the OS for a free port)."""

    collect: frozenset[str] = frozenset(FAMILIES)
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    namespace: str = "agent_engine"
    textfile: Path | None = None
    port: int | None = None
    source: Path | None = None


def resolve_settings(config: Mapping[str, Any], project_dir: Path | None) -> Settings:
    """Validate the plugins.yaml ``config`` and the metrics file, and merge them (raises ``ValueError``)."""
    sink = _validated(SinkConfig, dict(config), "plugins.yaml config of 'metrics'")
    source: Path | None = None
    if sink.file is not None:
        source = _under(project_dir, sink.file)
        if not source.is_file():
            raise ValueError(f"the metrics file {source} named by 'file' does not exist")
    elif project_dir is not None and (project_dir / METRICS_FILE).is_file():
        source = project_dir / METRICS_FILE
    collection = _read_file(source) if source is not None else Collection()
    textfile = _under(project_dir, sink.textfile) if sink.textfile is not None else None
    if textfile is not None and not textfile.parent.is_dir():
        raise ValueError(f"the folder of 'textfile' ({textfile.parent}) does not exist; create it or fix the path")
    return Settings(
        collect=frozenset(sink.collect if sink.collect is not None else collection.collect),
        buckets=sink.buckets if sink.buckets is not None else collection.buckets,
        namespace=sink.namespace if sink.namespace is not None else collection.namespace,
        textfile=textfile,
        port=sink.port,
        source=source,
    )


def _read_file(path: Path) -> Collection:
    """The ``metrics:`` section of ``path`` (an empty file means the defaults)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path} could not be read as YAML: {exc}") from None
    return _validated(MetricsFile, {} if data is None else data, str(path)).metrics


def _validated(model: type[M], data: Any, where: str) -> M:
    """``model`` validated from ``data``, or a ``ValueError`` listing every problem with its field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<top>'}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise ValueError(f"{where} is invalid: {problems}") from None


def _under(project_dir: Path | None, name: str) -> Path:
    """``name`` as a path, relative paths taken from the project dir (the working dir when there is none)."""
    path = Path(name).expanduser()
    return path if path.is_absolute() or project_dir is None else project_dir / path
