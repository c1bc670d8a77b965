"""The deterministic nodes of the mini editor, referred to from workflow.yaml as ``"editor_nodes:<function>"``.

They read the instruction and the workspace; the writing is the ``editor`` agent's (agents.yaml). Nothing here
knows a particular request: a file is edited when the input's ``path`` (or a ``*.md`` name in the request)
names one that exists in the workspace, and created otherwise.
"""

from __future__ import annotations

import re
from typing import Any

from agent_engine_core import NodeFailure

_FILE_NAME = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w.-]+\.(?:md|markdown))\b", re.IGNORECASE)
_TOPIC = re.compile(r"\b(?:about|on|regarding|describing|explaining)\s+(.+?)(?:[,.;:!?]|\s+(?:for|in|with|that|"
                    r"which|so)\s|$)", re.IGNORECASE)
_LEADING_VERBS = re.compile(r"^(?:please\s+)?(?:write|draft|create|compose|make|prepare|start)\s+(?:an?|the|some)?\s*",
                            re.IGNORECASE)
_TONES = ("formal", "informal", "casual", "friendly", "playful", "humorous", "persuasive", "technical",
          "academic", "poetic", "serious", "enthusiastic", "neutral")
_STOP_WORDS = frozenset({"a", "an", "the", "of", "and", "or", "to", "for", "in", "on", "with", "short", "long",
                         "brief", "note", "notes", "document", "doc", "article", "essay", "page", "text"})
MAX_SLUG_WORDS = 6


def normalize_request(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Start node: clean the instruction, find the file it is about and whether the workspace has it."""
    request = " ".join(payload["request"].split())
    named = payload.get("path") or _named_file(request)
    topic = _topic(request)
    path = named or _new_file_name(topic, _files_in(ctx, "."))
    folder, _, name = path.rpartition("/")
    return {
        "request": request,
        "path": path,
        "exists": name in _files_in(ctx, folder or "."),
        "title": _title(topic),
        "tone": next((tone for tone in _TONES if re.search(rf"\b{tone}\b", request, re.IGNORECASE)), "neutral"),
        "attachments": payload.get("attachments", []),
    }


def choose_action(payload: dict[str, Any], ctx: Any) -> str:
    """Decision: edit the file when it exists, else create it."""
    return "edit_existing" if payload["exists"] else "create_new"


def create_new(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """A new document: it starts from its title."""
    return _draft_request(payload, mode="create", base=f"# {payload['title']}\n", section="Overview", previous="")


def edit_existing(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """An existing document: it starts from the file as it is now (read through the read_file tool)."""
    read = ctx.tools.read_file(path=payload["path"])
    if read.output is None:
        raise NodeFailure(f"cannot read {payload['path']}: {read.error}")
    text = read.output["text"]
    headings = re.findall(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    revisions = len(re.findall(r"^##\s+Revision\b", text, re.MULTILINE))
    return _draft_request({**payload, "title": headings[0] if headings else payload["title"]}, mode="edit",
                          base=text.rstrip() + "\n", section=f"Revision {revisions + 1}", previous=text)


def prepare_draft(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Merge after the decision: the one path taken hands its request on."""
    (arrived,) = payload["merge_inputs"]
    output: dict[str, Any] = arrived["output"]
    return output


def _draft_request(payload: dict[str, Any], *, mode: str, base: str, section: str, previous: str) -> dict[str, Any]:
    return {"mode": mode, "request": payload["request"], "path": payload["path"], "title": payload["title"],
            "tone": payload["tone"], "base": base, "section": section, "previous": previous,
            "material": _material(payload["attachments"]), "attachments": payload["attachments"]}


def _material(attachments: list[dict[str, str]]) -> str:
    """The attached files as Markdown quotes, each under its name ("" without attachments)."""
    blocks = []
    for attachment in attachments:
        quoted = "\n".join(f"> {line}" if line else ">" for line in attachment["content"].strip().splitlines())
        blocks.append(f"\nFrom *{attachment['name']}*:\n\n{quoted}\n")
    return "".join(blocks)


def _files_in(ctx: Any, folder: str) -> set[str]:
    """The file names in a workspace folder (none when the folder does not exist yet)."""
    listing = ctx.tools.list_files(path=folder)
    if listing.output is None:
        return set()
    return {entry["name"] for entry in listing.output["entries"] if entry["type"] == "file"}


def _named_file(request: str) -> str | None:
    match = _FILE_NAME.search(request)
    return match.group(1) if match else None


def _topic(request: str) -> str:
    """What the document is about: the words after "about"/"on", else the instruction less its verb."""
    match = _TOPIC.search(request)
    topic = match.group(1) if match else _LEADING_VERBS.sub("", request)
    return topic.strip(" .,;:!?\"'") or "Untitled"


def _title(topic: str) -> str:
    words = topic.split()
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in words)


def _new_file_name(topic: str, existing: set[str]) -> str:
    """A file name from the topic's words (``tides.md``), numbered when the workspace already has it."""
    words = [w for w in re.findall(r"[a-z0-9]+", topic.lower()) if w not in _STOP_WORDS][:MAX_SLUG_WORDS]
    stem = "-".join(words) or "document"
    name, number = f"{stem}.md", 2
    while name in existing:
        name, number = f"{stem}-{number}.md", number + 1
    return name
