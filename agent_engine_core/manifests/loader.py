"""Load a project (a config dir or in-memory manifests) into validated models, collecting every issue.

The loader never stops at the first problem: syntax errors, unknown fields, type errors and bad schema files
of every manifest are gathered and raised together by the caller, each located by file, line and the node or
edge it belongs to.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import re
import stat
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agent_engine_core._schemas import schema_problem
from agent_engine_core.codec import dumps
from agent_engine_core.errors import ManifestIssue
from agent_engine_core.manifests._frozen import freeze
from agent_engine_core.manifests._parts import WorkflowParts
from agent_engine_core.manifests._yaml import YamlDocument, parse_yaml
from agent_engine_core.manifests.evaluations import EvaluationsManifest
from agent_engine_core.manifests.models import (
    MANIFEST_MODELS,
    AgentsManifest,
    CliProfilesManifest,
    EdgeSpec,
    MemoryManifest,
    NodeSpec,
    PluginsManifest,
    PolicyManifest,
    ProviderCredentialsManifest,
    SchedulerManifest,
    ToolsManifest,
    WorkflowManifest,
)

__all__ = ["KNOWN_MANIFESTS", "Project", "load_config_dir", "load_manifests"]

KNOWN_MANIFESTS = (
    "workflow",
    "agents",
    "tools",
    "memory",
    "plugins",
    "policy",
    "scheduler",
    "provider_credentials",
    "evaluations",
    "cli_profiles",
)
"""Every manifest file of SPEC §3, by stem."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a manifest came from: its display name, its SHA-256 and (for YAML files) its node tree."""

    file: str
    sha256: str
    document: YamlDocument | None = None

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column of ``path`` in this source, when it was parsed from text."""
        if self.document is None:
            return None, None
        return self.document.locate_key(path) if key else self.document.locate(path)

    def issue(
        self, message: str, path: Sequence[str | int] | None = None, *, code: str, hint: str | None = None,
        node_id: str | None = None, edge_id: str | None = None, key: bool = False,
    ) -> ManifestIssue:
        """An issue in this source, located at ``path`` when given (at the key itself with ``key``)."""
        line, column = self.locate(path, key=key) if path is not None else (None, None)
        return ManifestIssue(message, file=self.file, line=line, column=column, node_id=node_id, edge_id=edge_id,
                             hint=hint, code=code)


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project before the DAG is built: the validated models and where they came from."""

    workflow: WorkflowManifest | None
    agents: AgentsManifest
    scheduler: SchedulerManifest
    plugins: PluginsManifest
    tools: ToolsManifest
    credentials: ProviderCredentialsManifest
    memory: MemoryManifest
    policy: PolicyManifest
    schemas: Mapping[str, Any]
    sources: Mapping[str, Source]
    base_dir: Path | None
    issues: tuple[ManifestIssue, ...] = field(default=())
    workflow_parts: WorkflowParts | None = None
    """When workflow.yaml failed validation: its well-formed nodes and edges, which are still checked."""
    invalid: frozenset[str] = frozenset()
    """The manifests (by stem) that failed to parse or validate: references into them cannot be checked."""
    evaluations: EvaluationsManifest | None = None
    """evaluations.yaml, when the project has one (``agent-engine eval``)."""
    cli_profiles: CliProfilesManifest | None = None
    """cli_profiles.yaml, when the project has one (``agent-engine repl``)."""

    def source(self, stem: str) -> Source:
        """The source of manifest ``stem`` (a placeholder when the manifest was absent)."""
        return self.sources.get(stem) or Source(file=f"{stem}.yaml", sha256="")


def load_config_dir(path: Path) -> Project:
    """Read and validate every manifest and schema file of the config dir ``path``."""
    issues: list[ManifestIssue] = []
    raw: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    if not path.is_dir():
        issue = ManifestIssue(
            "the config dir does not exist or is not a directory",
            file=str(path),
            hint="pass the folder that holds workflow.yaml",
            code="manifest.missing_file",
        )
        return _empty(path, issue)
    for file in sorted(path.iterdir()):
        if file.suffix not in (".yaml", ".yml"):
            continue
        stem = file.stem
        if stem not in KNOWN_MANIFESTS or file.suffix == ".yml":
            close = difflib.get_close_matches(stem, KNOWN_MANIFESTS, n=1, cutoff=0.75)
            if close:
                issues.append(
                    ManifestIssue(
                        f"'{file.name}' is not a manifest file name the engine reads",
                        file=str(file),
                        hint=f"rename it to '{close[0]}.yaml'",
                        code="manifest.unknown_file",
                    )
                )
            continue
        data = read_manifest_file(file, issues)
        if data is None:
            continue
        text = data.decode("utf-8", errors="replace")
        document, parsed, parse_issues = parse_yaml(text, str(file))
        issues.extend(parse_issues)
        sources[stem] = Source(str(file), hashlib.sha256(data).hexdigest(), document)
        if document is not None:
            raw[stem] = parsed
    schemas = _load_schema_dir(path / "schemas", sources, issues)
    workflow_file = path / "workflow.yaml"
    if "workflow" not in sources and not (workflow_file.exists() or workflow_file.is_symlink()):  # else reported
        issues.append(
            ManifestIssue(
                "workflow.yaml is missing",
                file=str(workflow_file),
                hint="every project needs exactly one workflow.yaml describing its DAG",
                code="manifest.missing_file",
            )
        )
    return _validate(raw, sources, schemas, path, issues)


def load_manifests(manifests: Mapping[str, Any], base_dir: Path | None) -> Project:
    """Validate in-memory manifests (file stem -> parsed content), as ``Engine.from_dict`` receives them.

    Schemas come from ``manifests["schemas"]`` (stem -> schema) and, when ``base_dir`` is given, from
    ``base_dir/schemas/*.json``.
    """
    issues: list[ManifestIssue] = []
    sources: dict[str, Source] = {}
    raw: dict[str, Any] = {}
    if not isinstance(manifests, Mapping):
        issue = ManifestIssue("the manifests must be a mapping of file stems to their content",
                              file="<manifests>", hint="pass {'workflow': {...}, 'agents': {...}}")
        return _empty(base_dir, issue)
    for stem, content in manifests.items():
        if stem == "schemas":
            continue
        if stem not in KNOWN_MANIFESTS:
            close = difflib.get_close_matches(str(stem), KNOWN_MANIFESTS, n=1, cutoff=0.6)
            issues.append(
                ManifestIssue(
                    f"'{stem}' is not a manifest name",
                    file=f"<{stem}>",
                    hint=f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(KNOWN_MANIFESTS)}",
                    code="manifest.unknown_file",
                )
            )
            continue
        raw[stem] = _detached(content)
        sources[stem] = Source(f"<{stem}>", _digest(content))
    schemas = _load_schema_dir(base_dir / "schemas", sources, issues) if base_dir else {}
    inline = manifests.get("schemas") or {}
    if not isinstance(inline, Mapping):
        issues.append(ManifestIssue("'schemas' must map schema names to JSON Schemas", file="<schemas>"))
        inline = {}
    for stem, given in inline.items():
        file = f"<schemas/{stem}>"
        schema = _detached(given)
        if _check_schema(schema, file, issues):
            schemas[stem] = schema
            sources[f"schemas/{stem}"] = Source(file, _digest(schema))
    if "workflow" not in raw:
        issues.append(
            ManifestIssue("the 'workflow' manifest is missing", file="<workflow>", code="manifest.missing_file")
        )
    return _validate(raw, sources, schemas, base_dir, issues)


def _detached(content: Any) -> Any:
    """A deep copy of in-memory content, so that the caller changing its objects later cannot change the engine."""
    try:
        return copy.deepcopy(content)
    except Exception:  # an object that cannot be copied is no JSON value either: validation reports it
        return content


def _digest(content: Any) -> str:
    """SHA-256 of the canonical JSON text of in-memory content ("" when it is not JSON, which validation reports)."""
    try:
        return hashlib.sha256(dumps(content).encode()).hexdigest()
    except ValueError:
        return ""


def _empty(base_dir: Path | None, issue: ManifestIssue) -> Project:
    return Project(None, AgentsManifest(), SchedulerManifest(), PluginsManifest(), ToolsManifest(),
                   ProviderCredentialsManifest(), MemoryManifest(), PolicyManifest(), types.MappingProxyType({}),
                   types.MappingProxyType({}), base_dir, (issue,))


MAX_MANIFEST_BYTES = 16 * 1024 * 1024
"""The largest manifest or schema file the loader reads (a 2,000-node workflow is about 200 KB)."""

_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def read_manifest_file(file: Path, issues: list[ManifestIssue]) -> bytes | None:
    """The bytes of ``file`` if it is a regular file within ``MAX_MANIFEST_BYTES``, else ``None`` and an issue.

    A FIFO would block the loader forever, a device could stream without end and a directory or a symlink loop
    cannot be read: each is a located issue. The file is opened non-blocking and checked again once open, so
    one swapped in between the check and the read is refused too.
    """
    try:
        if _not_regular(file, os.stat(file).st_mode, issues):
            return None
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        issues.append(_unreadable(file, exc.strerror or type(exc).__name__))
        return None
    with os.fdopen(fd, "rb") as handle:
        if _not_regular(file, os.fstat(fd).st_mode, issues):
            return None
        data = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        issues.append(_unreadable(file, f"it is larger than {MAX_MANIFEST_BYTES:,} bytes",
                                  hint="split it up, or check that this is the file you meant"))
        return None
    return data


def _not_regular(file: Path, mode: int, issues: list[ManifestIssue]) -> bool:
    if stat.S_ISREG(mode):
        return False
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    issues.append(_unreadable(file, f"it is {kind}, not a regular file"))
    return True


def _unreadable(file: Path, why: str, *, hint: str = "replace it with a regular file, or remove it") -> ManifestIssue:
    return ManifestIssue(f"'{file.name}' cannot be read: {why}", file=str(file), hint=hint,
                         code="manifest.unreadable_file")


def _load_schema_dir(folder: Path, sources: dict[str, Source], issues: list[ManifestIssue]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    if not folder.is_dir():
        return schemas
    for file in sorted(folder.glob("*.json")):
        data = read_manifest_file(file, issues)
        if data is None:
            continue
        try:
            schema = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", None)
            issues.append(ManifestIssue(f"not valid JSON: {exc}", file=str(file), line=line, code="schema.syntax"))
            continue
        if _check_schema(schema, str(file), issues):
            schemas[file.stem] = schema
            sources[f"schemas/{file.stem}"] = Source(str(file), hashlib.sha256(data).hexdigest())
    return schemas


def _check_schema(schema: Any, file: str, issues: list[ManifestIssue]) -> bool:
    problem = schema_problem(schema)
    if problem is not None:
        issues.append(ManifestIssue(problem, file=file, code="schema.invalid"))
    return problem is None


def _validate(
    raw: Mapping[str, Any],
    sources: dict[str, Source],
    schemas: dict[str, Any],
    base_dir: Path | None,
    issues: list[ManifestIssue],
) -> Project:
    models: dict[str, BaseModel] = {}
    for stem, content in raw.items():
        source = sources[stem]
        model = MANIFEST_MODELS[stem]
        try:
            models[stem] = model.model_validate({} if content is None else content)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(exc, model, content, source))
    parts = _workflow_parts(raw.get("workflow")) if "workflow" in raw and "workflow" not in models else None
    return Project(
        workflow=typing.cast(WorkflowManifest | None, models.get("workflow")),
        agents=typing.cast(AgentsManifest, models.get("agents") or AgentsManifest()),
        scheduler=typing.cast(SchedulerManifest, models.get("scheduler") or SchedulerManifest()),
        plugins=typing.cast(PluginsManifest, models.get("plugins") or PluginsManifest()),
        tools=typing.cast(ToolsManifest, models.get("tools") or ToolsManifest()),
        credentials=typing.cast(
            ProviderCredentialsManifest, models.get("provider_credentials") or ProviderCredentialsManifest()
        ),
        memory=typing.cast(MemoryManifest, models.get("memory") or MemoryManifest()),
        policy=typing.cast(PolicyManifest, models.get("policy") or PolicyManifest()),
        schemas=types.MappingProxyType({stem: freeze(schema) for stem, schema in schemas.items()}),
        sources=types.MappingProxyType(sources),
        base_dir=base_dir,
        issues=tuple(issues),
        workflow_parts=parts,
        invalid=frozenset(stem for stem in sources if stem in MANIFEST_MODELS and stem not in models),
        evaluations=typing.cast(EvaluationsManifest | None, models.get("evaluations")),
        cli_profiles=typing.cast(CliProfilesManifest | None, models.get("cli_profiles")),
    )


def _workflow_parts(content: Any) -> WorkflowParts | None:
    """The nodes and edges of a workflow that failed validation, each validated alone (None where it fails)."""
    if not isinstance(content, Mapping) or not isinstance(content.get("nodes"), list):
        return None
    raw_edges = content.get("edges", [])
    edges_listed = isinstance(raw_edges, list)
    nodes = [_valid(NodeSpec, raw) for raw in content["nodes"]]
    edges = [_valid(EdgeSpec, raw) for raw in raw_edges] if edges_listed else []
    ids = [spec.id if spec is not None else _written_id(raw) for spec, raw in zip(nodes, content["nodes"], strict=True)]
    complete = edges_listed and all(n is not None for n in nodes) and all(e is not None for e in edges)
    return WorkflowParts(tuple(nodes), tuple(edges), tuple(ids), complete=complete)


def _written_id(raw: Any) -> str | None:
    node_id = raw.get("id") if isinstance(raw, Mapping) else None
    return node_id if isinstance(node_id, str) else None


_M = typing.TypeVar("_M", bound=BaseModel)


def _valid(model: type[_M], content: Any) -> _M | None:
    try:
        return model.model_validate(content)
    except ValidationError:
        return None


def _pydantic_issues(
    exc: ValidationError, model: type[BaseModel], content: Any, source: Source
) -> list[ManifestIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = _data_path(content, error["loc"])
        kind = error["type"]
        node_id, edge_id = _blame(content, loc)
        where = ".".join(str(p) for p in loc) or "(top level)"
        hint = None
        if kind == "extra_forbidden":
            name = str(loc[-1])
            message = f"unknown field '{name}' at {where}"
            allowed = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(sorted(allowed))}"
            renamed = getattr(model, "RENAMED", {}).get(name) if len(loc) == 1 else None
            if renamed is not None:
                message = f"'{name}:' is the old name of the top-level key '{renamed}:'"
                hint = f"rename '{name}:' to '{renamed}:'"
            code = "manifest.extra_field"
            key = True
        else:
            message = f"{where}: {error['msg']}"
            code = "manifest.missing_field" if kind == "missing" else "manifest.invalid"
            if kind == "literal_error" and isinstance(error.get("input"), str):
                choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
                close = difflib.get_close_matches(error["input"], choices, n=1, cutoff=0.5)
                hint = f"did you mean '{close[0]}'?" if close else None
            key = False
        issues.append(source.issue(message, loc, code=code, hint=hint, node_id=node_id, edge_id=edge_id, key=key))
    return issues


def _data_path(content: Any, loc: Sequence[Any]) -> tuple[Any, ...]:
    """The path in the file's data that the error location ``loc`` names.

    pydantic adds the name of the union branch it tried (``status`` in ``assertions.0.status.expected``); left
    out, the path locates the problem in the file.
    """
    path: list[Any] = []
    value = content
    for index, part in enumerate(loc):
        if (isinstance(value, dict) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        ):
            value = value[part]
            path.append(part)
        elif index == len(loc) - 1:
            path.append(part)  # a missing field, named where it should be
        elif not isinstance(value, dict | list):
            path.extend(loc[index:])  # below a value that is not a container: the rest as pydantic says it
            break
    return tuple(path)


def _blame(content: Any, loc: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """The node or edge id that an error location points into, read from the raw data."""
    if not isinstance(content, dict) or len(loc) < len(("nodes", 0)) or not isinstance(loc[1], int):
        return None, None
    items = content.get(loc[0])
    if not isinstance(items, list) or loc[1] >= len(items) or not isinstance(items[loc[1]], dict):
        return None, None
    item = items[loc[1]]
    if loc[0] == "nodes" and isinstance(item.get("id"), str):
        return item["id"], None
    if loc[0] == "edges":
        return None, f"{item.get('from')}->{item.get('to')}"
    return None, None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (aliases where set) of the model found by following ``loc`` through ``model``."""
    current: Any = model
    for step in loc:
        if isinstance(step, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        by_alias = {f.alias or n: f for n, f in current.model_fields.items()}
        info = by_alias.get(str(step))
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``list[M]``, ``M | None`` and similar annotations."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
