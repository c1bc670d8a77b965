"""Resolve ``provider_credentials.yaml`` entries into ``Credential`` objects holding redacting ``Secret`` keys.

Only the credentials that some agent in use is bound to are resolved, so an operator can keep entries for
providers a project does not use without setting their variables. Every problem names the variable, file or
key that is missing or unusable -- never a value, and never a parser message that could quote the file's
content. A key is stripped of surrounding whitespace and must then be one line of printable text.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from agent_engine_core._logging import get_logger
from agent_engine_core.llm import Credential
from agent_engine_core.secrets import Secret

if TYPE_CHECKING:
    from agent_engine_core.errors import ManifestIssue
    from agent_engine_core.manifests.loader import Source
    from agent_engine_core.manifests.models import CredentialSpec

__all__ = ["LoadedCredential", "resolve_credential"]

log = get_logger(__name__)

_NOT_IN_A_KEY = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories a key may not contain: control, format, surrogate, private, unassigned, line breaks."""


class LoadedCredential(NamedTuple):
    """What telemetry may say of a credential whose key the engine read (``credential_loaded``): never the key."""

    credential_id: str
    provider: str
    source: str
    """``env`` or ``file``: the kind of place the key came from."""


class _Unresolved(Exception):
    def __init__(self, message: str, field: str, hint: str) -> None:
        super().__init__(message)
        self.field = field
        self.hint = hint


def resolve_credential(
    spec: CredentialSpec, position: int, *, base_dir: Path | None, source: Source
) -> Credential | ManifestIssue:
    """The credential ``spec`` (entry ``position`` of ``source``), or an issue located at the field at fault."""
    try:
        key = _read_key(spec, base_dir)
    except _Unresolved as exc:
        return source.issue(f"credential '{spec.id}': {exc}", ["provider_credentials", position, "auth", exc.field],
                            code="credentials.unresolved", hint=exc.hint)
    return Credential(spec.id, spec.provider, key, spec.config.base_url, spec.config.default_model)


def _read_key(spec: CredentialSpec, base_dir: Path | None) -> Secret:
    auth = spec.auth
    if auth.source == "env":
        if not auth.env_var:
            raise _Unresolved("source: env needs env_var", "source", "add env_var: NAME_OF_THE_VARIABLE")
        value = os.environ.get(auth.env_var, "").strip()
        if not value:
            raise _Unresolved(f"the environment variable {auth.env_var} is not set or empty", "env_var",
                              f"export {auth.env_var}=... before starting the engine, or use source: file")
        _check_key(value, f"the environment variable {auth.env_var}", "env_var",
                   f"export {auth.env_var} with the key alone: one line, no control characters")
        return Secret(value, origin=f"env:{auth.env_var}")
    if not auth.file_path:
        raise _Unresolved("source: file needs file_path", "source", "add file_path: path/to/key/file")
    path = Path(auth.file_path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise _Unresolved(f"cannot read the key file {path} ({exc.strerror or type(exc).__name__})", "file_path",
                          "check the path (relative paths start at the config dir) and its permissions") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _warn_readable(spec.id, path, mode)
    origin = f"file:{path}" + (f"#{auth.file_key}" if auth.file_key else "")
    value = text.strip() if auth.file_key is None else _value_at(_parse(path, text), auth.file_key, path)
    field = "file_key" if auth.file_key else "file_path"
    if not value:
        raise _Unresolved(f"the key in {origin[5:]} is empty", field, "put the API key in the file")
    if auth.file_key:
        _check_key(value, f"the value at '{auth.file_key}' in {path}", field,
                   "the value holds the key alone: one line, no control characters")
    else:
        _check_key(value, f"the key file {path}", field,
                   "a key file holds the key alone (one line; surrounding whitespace is ignored)")
    return Secret(value, origin=origin)


def _check_key(value: str, where: str, field: str, hint: str) -> None:
    """Refuse a key that is more than one line or holds a control character, naming ``where``, never the value.

    An HTTP client refuses such a key in a header with a message that quotes it; stopping it here keeps every
    loaded key a single line of printable text, which is also what ``redact`` relies on to find it.
    """
    lines = len(value.splitlines())
    if lines > 1:
        raise _Unresolved(f"{where} has {lines} lines; it must hold the key alone, on one line", field, hint)
    if any(unicodedata.category(char) in _NOT_IN_A_KEY for char in value):
        raise _Unresolved(f"{where} holds a control or format character; an API key is printable text", field, hint)


def _parse(path: Path, text: str) -> Any:
    """A key file read for ``file_key``: JSON when it ends in .json, else YAML (which reads JSON too).

    The build plan's own example keys a ``key.txt``. Errors give the position only: the parsers quote the text.
    """
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _Unresolved(f"the key file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})",
                              "file_path", "fix the file, or drop file_key for a plain-text key file") from None
    import yaml  # noqa: PLC0415 - only YAML key files need it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise _Unresolved(f"the key file {path} is not valid YAML{where}", "file_path",
                          "fix the file, or drop file_key for a plain-text key file") from None


def _value_at(data: Any, dotted: str, path: Path) -> str:
    value = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise _Unresolved(f"the key file {path} has no key '{dotted}'", "file_key",
                              "name the (dotted) key that holds the API key")
        value = value[part]
    if not isinstance(value, str):
        raise _Unresolved(f"the value at '{dotted}' in {path} is not a string", "file_key",
                          "the API key must be a string")
    return value.strip()


def _warn_readable(credential_id: str, path: Path, mode: int) -> None:
    log.warning(
        "key file readable by others", credential=credential_id, path=str(path), mode=oct(stat.S_IMODE(mode)),
        hint=f"chmod 600 {path}",
    )
