"""Filling the dense index behind the lexical one: in the foreground, or detached, once per knowledge base."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from ingest.pipeline import Progress
from kb.store import KnowledgeBase

LOCK_NAME = "dense.lock"


def fill_dense_foreground(kb: KnowledgeBase, progress: bool = True) -> int:
    """Embed what is missing, holding the knowledge base's dense lock. Returns an exit code."""
    lock_path = kb.home / LOCK_NAME
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("dense index: another process is filling it", file=sys.stderr)
            return 0
        lock.write(str(os.getpid()))
        lock.flush()
        added = kb.fill_dense(progress=Progress("embedding", enabled=progress))
        done, total = kb.dense_status()
        print(f"dense index: embedded {added}, {done}/{total} chunks have vectors")
    return 0


def dense_filling(home: Path) -> bool:
    """True while some process holds the dense lock of this knowledge base."""
    lock_path = Path(home) / LOCK_NAME
    if not lock_path.exists():
        return False
    with open(lock_path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def fill_dense_background(home: Path) -> bool:
    """Start a detached `python -m ingest --fill-dense` unless one is running. Returns True if started."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    if dense_filling(home):
        return False
    log = open(home / "dense.log", "ab")  # noqa: SIM115 - handed to the child process
    subprocess.Popen(
        [sys.executable, "-m", "ingest", "--fill-dense", "--home", str(home)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return True
