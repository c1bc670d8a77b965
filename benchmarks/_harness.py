"""Shared plumbing for the benchmarks: settings, timing, result rows, the table and machine facts.

Every workload module builds one zero-argument callable per framework (a ``Side``), checks once that it
does the right thing, then hands both sides to ``time_pair``, which calls them *interleaved* (A, B, A, B, ...)
so that thermal or frequency drift and background noise hit both frameworks alike. Figures are medians of
``repeats`` samples taken after ``warmup`` untimed calls. Nothing here asserts on a time: a benchmark
reports, it does not judge.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    """How hard to push: ``--quick`` trades precision for a run of a few seconds per workload."""

    quick: bool
    repeats: int
    warmup: int

    @classmethod
    def make(cls, *, quick: bool) -> Settings:
        return cls(quick=quick, repeats=3 if quick else 9, warmup=1 if quick else 2)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table. ``ratio`` is LangGraph / Agent Engine, as the issue asks."""

    workload: str
    metric: str
    agent_engine: float | None
    langgraph: float | None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.agent_engine in (None, 0) or self.langgraph is None:
            return None
        return self.langgraph / self.agent_engine

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_langgraph_over_agent_engine": self.ratio}


@dataclass(slots=True)
class Side:
    """One framework's callable for a workload, or the reason it could not be built or run."""

    name: str
    fn: Callable[[], object] | None = None
    error: str | None = None
    samples: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, name: str, builder: Callable[[], Callable[[], object]]) -> Side:
        """Call ``builder`` (which builds the graph and checks one run) and keep the error if it fails."""
        try:
            return cls(name, fn=builder())
        except Exception as exc:  # a benchmark reports a broken side instead of crashing the suite
            return cls(name, error=describe(exc))

    @property
    def ok(self) -> bool:
        return self.fn is not None and self.error is None

    def call(self) -> None:
        if not self.ok:
            return
        assert self.fn is not None
        gc.collect()  # start every sample from a clean heap, so one side's garbage is not billed to the other
        start = time.perf_counter_ns()
        try:
            self.fn()
        except Exception as exc:
            self.error = describe(exc)
            return
        self.samples.append(time.perf_counter_ns() - start)

    def median_seconds(self) -> float | None:
        if not self.ok or not self.samples:
            return None
        return statistics.median(self.samples) / 1e9


ERRORS: list[str] = []
"""Problems met while benchmarking, printed under the table (and stored in the JSON output)."""


def describe(exc: BaseException) -> str:
    """One line for an exception: its type, its message and where it was raised."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def time_pair(workload: str, ae: Side, lg: Side, settings: Settings) -> tuple[float | None, float | None]:
    """Median seconds per call of each side, sides interleaved; a failing side yields ``None``."""
    for _ in range(settings.warmup):
        ae.call()
        lg.call()
    ae.samples.clear()
    lg.samples.clear()
    for _ in range(settings.repeats):
        ae.call()
        lg.call()
    for side in (ae, lg):
        if side.error:
            ERRORS.append(f"{workload} [{side.name}]: {side.error}")
    return ae.median_seconds(), lg.median_seconds()


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: the high-water mark of this process's own address
    space. ``getrusage(RUSAGE_SELF).ru_maxrss`` is the fallback elsewhere, but on Linux it is not usable in a
    child process: it keeps the parent's high-water mark across ``fork``/``exec``, so a child spawned by a
    large parent reports the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def current_rss_mib() -> float | None:
    """Current resident set size, from ``/proc/self/statm`` (Linux only; ``None`` elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except OSError:
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def machine() -> dict[str, Any]:
    """What produced the figures: CPU, core count, OS, Python and the two frameworks' versions."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "agent-engine-core": version("agent-engine-core"),
        "langgraph": version("langgraph"),
        "load average (1/5/15 min)": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (readable in a terminal, pasteable into docs/PERFORMANCE.md)."""
    header = ("Workload", "Metric", "Agent Engine", "LangGraph", "LG / AE", "AE target")
    lines = [(r.workload, r.metric, _fmt(r.agent_engine), _fmt(r.langgraph), _fmt(r.ratio), r.target) for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [render(line) for line in lines]
    notes = [f"- {r.workload} / {r.metric}: {r.note}" for r in rows if r.note]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)
