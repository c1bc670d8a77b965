"""Handlers of the map_reduce example, referred to from workflow.yaml as ``"nodes:<function>"``.

Every handler is ``def handler(payload, ctx)`` and returns a JSON value. The two merge handlers receive the
engine's merge input, ``{"merge_inputs": [{"task_id", "lineage", "from_node", "status", "output"}, ...]}``,
ordered by child index (edge order for a branch, item order for a split), never by arrival time.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

TOP_WORDS = 5
PER_PARAGRAPH_FIELDS = ("index", "words", "characters", "letters", "digits", "punctuation", "sentences")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def ingest(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Start node: normalise line endings and surrounding whitespace."""
    return {"text": payload["text"].replace("\r\n", "\n").replace("\r", "\n").strip()}


def split_paragraphs(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Split node: one subtask per paragraph (paragraphs are separated by blank lines).

    An empty list would fail the split; the ``document`` schema already refuses a blank text.
    """
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(payload["text"]) if p.strip()]
    ctx.log.debug("split document", paragraphs=len(paragraphs))
    return {"subtask_inputs": [{"index": i, "text": p} for i, p in enumerate(paragraphs)]}


def tidy_chunk(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Per subtask: collapse the paragraph's whitespace (line breaks inside a paragraph become spaces)."""
    return {"index": payload["index"], "text": " ".join(payload["text"].split())}


def count_words(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Branch clone 0: how many words, and how often each (lower-cased) word occurs."""
    words = [w.lower() for w in _WORD.findall(payload["text"])]
    counts = Counter(words)
    return {"index": payload["index"], "words": len(words), "counts": dict(sorted(counts.items()))}


def char_stats(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Branch clone 1: character classes and sentences."""
    text = payload["text"]
    return {
        "index": payload["index"],
        "characters": len(text),
        "letters": sum(c.isalpha() for c in text),
        "digits": sum(c.isdigit() for c in text),
        "punctuation": sum(c in string.punctuation for c in text),
        "sentences": max(1, len(_SENTENCE_END.findall(text))),
    }


def combine_stats(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Merge of the branch: join the two analysers' outputs for one paragraph.

    The inputs are keyed by the node they came from, so the result does not depend on edge order.
    """
    by_node = {item["from_node"]: item["output"] for item in payload["merge_inputs"]}
    words, chars = by_node["count_words"], by_node["char_stats"]
    return {
        "index": words["index"],
        "words": words["words"],
        "counts": words["counts"],
        "characters": chars["characters"],
        "letters": chars["letters"],
        "digits": chars["digits"],
        "punctuation": chars["punctuation"],
        "sentences": chars["sentences"],
    }


def reduce_stats(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Merge of the split: aggregate every paragraph's statistics into one report.

    ``merge_inputs`` arrive in paragraph order. With ``on_failure: fail_on_any`` a failed paragraph has
    already failed this merge, so every input here succeeded; the status check keeps the handler correct if
    the policy is relaxed to ``include_failures``.
    """
    chunks = [item["output"] for item in payload["merge_inputs"] if item["status"] == "success"]
    totals: Counter[str] = Counter()
    for chunk in chunks:
        totals.update(chunk["counts"])
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WORDS]
    return {
        "paragraphs": len(chunks),
        "words": sum(c["words"] for c in chunks),
        "distinct_words": len(totals),
        "characters": sum(c["characters"] for c in chunks),
        "sentences": sum(c["sentences"] for c in chunks),
        "top_words": [{"word": word, "count": count} for word, count in top],
        "per_paragraph": [{k: c[k] for k in PER_PARAGRAPH_FIELDS} for c in chunks],
    }
