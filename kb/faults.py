"""Deterministic crash points for testing crash safety: `KB_FAULT_AT=<point>[:<n>]` kills the process.

Code that writes the knowledge base calls `checkpoint("<point>")` where an interruption leaves a state
worth testing (a document committed, index files written but not yet switched to, a vector batch
embedded but not stored …). When the environment variable names a point, the n-th time (default 1) the
process reaches it, it sends itself SIGKILL: no `finally`, no `atexit`, no flushing — what a power cut,
the OOM killer or `kill -9` does.

Why a named point instead of killing from outside after a delay: a delay lands wherever the scheduler
puts it, which on a loaded machine is mostly in imports or model start-up, so a test would neither know
nor control which window it exercised, and could not be rerun to reproduce a failure. A named point hits
the same window on every run and on every machine. The cost when the variable is unset is one global
lookup and a comparison per call.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ENV = "KB_FAULT_AT"


@dataclass(frozen=True)
class Fault:
    """Kill the process the `nth` time it reaches `point`."""

    point: str
    nth: int = 1


def parse_fault(spec: str | None) -> Fault | None:
    """`"dense.stored:3"` → Fault("dense.stored", 3); `"lexical.pointer"` → nth 1; empty or None → None."""
    if not spec or not spec.strip():
        return None
    point, _, nth = spec.strip().rpartition(":") if ":" in spec else (spec.strip(), "", "1")
    if not point or not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"{ENV}={spec!r}: expected <point> or <point>:<n> with n ≥ 1")
    return Fault(point, int(nth))


_FAULT = parse_fault(os.environ.get(ENV))
_seen = 0


def checkpoint(point: str) -> None:
    """Mark a point where a crash must be survivable; under `KB_FAULT_AT` the chosen one kills the process."""
    global _seen
    if _FAULT is None or point != _FAULT.point:
        return
    _seen += 1
    if _seen == _FAULT.nth:
        # Written unbuffered to the fd, so the test can tell this kill from any other SIGKILL.
        os.write(2, f"\nfault: SIGKILL at {point}:{_seen}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


def replace_directory(directory: Path, write: Callable[[Path], None], point: str) -> None:
    """Write `directory` whole or not at all: `write` fills a sibling temp directory, which is then renamed
    into place. A directory cannot be renamed over a non-empty one, so the old one is first moved aside to
    `<name>.old` (a reader may fall back to it if a crash comes between the two renames) and deleted last.
    Crash points: `<point>.written`, `<point>.moved_aside`, `<point>.switched`."""
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    checkpoint(f"{point}.written")
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        checkpoint(f"{point}.moved_aside")
    os.replace(tmp, directory)
    checkpoint(f"{point}.switched")
    shutil.rmtree(old, ignore_errors=True)
