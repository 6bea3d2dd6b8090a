"""ingest.parallel: work in forked workers, results in order, workers that never outlive their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ingest.parallel import can_fork, ordered_map, worker_count

ROOT = Path(__file__).resolve().parents[1]
needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def scaled(state: dict[str, int], item: int) -> tuple[int, int]:
    return item * state["factor"], os.getpid()


@needs_fork
def test_results_come_back_in_order_from_other_processes() -> None:
    # The state holds a lock, which cannot be pickled: forked workers inherit it instead.
    state = {"factor": 3, "lock": threading.Lock()}
    got = list(ordered_map(scaled, range(200), state, processes=2))  # type: ignore[arg-type]
    assert [value for value, _ in got] == [i * 3 for i in range(200)]
    assert os.getpid() not in {pid for _, pid in got}


def test_one_process_runs_in_the_caller() -> None:
    got = list(ordered_map(scaled, [1, 2, 3], {"factor": 2}, processes=1))
    assert got == [(2, os.getpid()), (4, os.getpid()), (6, os.getpid())]


def failing(state: None, item: int) -> int:
    if item == 3:
        raise ValueError("bad item")
    return item


@needs_fork
def test_an_error_in_a_worker_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="bad item"):
        list(ordered_map(failing, range(10), None, processes=2))


def test_worker_count_follows_kb_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_WORKERS", "1")
    assert worker_count() == 1
    monkeypatch.setenv("KB_WORKERS", "3")
    assert worker_count() == 3
    monkeypatch.delenv("KB_WORKERS")
    assert worker_count() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("KB_WORKERS", "two")
    with pytest.raises(ValueError, match="KB_WORKERS"):
        worker_count()


PARENT = textwrap.dedent(
    """
    import os, sys, time
    from ingest.parallel import ordered_map

    def slow(state, item):
        # one write per line: print() writes the number and the newline apart, and two workers interleave
        os.write(1, f"{os.getpid()}\\n".encode())
        time.sleep(60)
        return item

    for _ in ordered_map(slow, range(4), None, processes=2):
        pass
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended (only its exit status is left for its parent to collect).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@needs_fork
def test_workers_die_when_their_parent_is_killed() -> None:
    # What `kill -9` of an ingest must leave: no worker going on, none holding the killed command's pipes.
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    workers = [int(proc.stdout.readline()), int(proc.stdout.readline())]
    assert all(alive(pid) for pid in workers)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)
    assert proc.stdout.read() == ""  # the pipe closed: no worker holds it open
