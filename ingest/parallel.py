"""Pure-Python work spread over forked worker processes, results streamed back in order.

jieba is pure Python: one process uses one core, so on a 2-core machine a second process halves the time
it takes to segment a corpus for the lexical and static indexes (`kb.static.corpus_tokens`). Workers are
forked, so they start in milliseconds with everything the parent holds (a tokenizer with its dictionary
loaded); what they are given and what they return is pickled. They never write to the knowledge base.

A worker dies with its parent (Linux `PR_SET_PDEATHSIG`): when an ingest is killed, no orphan goes on
working or keeps the killed command's output pipes open. (`die_with_parent` serves the static embedder's
query workers too, see `kb.static.ParallelQueries`.)

`KB_WORKERS` sets how many worker processes to use (default: the CPUs this process may run on; 1 turns
the workers off and everything runs in the calling process, as it does where `fork` is not available).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

ENV = "KB_WORKERS"


def worker_count() -> int:
    """Worker processes to use: $KB_WORKERS, else the number of CPUs this process may run on."""
    env = os.environ.get(ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"{ENV}={env!r}: expected a whole number ≥ 1") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


_fn: Callable[[Any, Any], Any] | None = None  # in a worker: what `ordered_map` was given
_state: Any = None


def die_with_parent(parent: int) -> None:
    """In a worker process: be killed as soon as `parent` (the pid that started it) dies, however it dies
    (on Linux; elsewhere only a parent already gone is noticed)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG: killed as soon as the parent dies
    except (OSError, AttributeError):  # pragma: no cover (not Linux)
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker(parent: int, fn: Callable[[Any, Any], Any], state: Any) -> None:
    global _fn, _state
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent alone handles it (and ends the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _fn, _state = fn, state


def _run(item: Any) -> Any:
    assert _fn is not None
    return _fn(_state, item)


def ordered_map(fn: Callable[[S, T], R], items: Iterable[T], state: S, processes: int | None = None) -> Iterator[R]:
    """`fn(state, item)` for every item, in the order of `items`, computed by `processes` forked workers
    (default `worker_count()`). `fn` and `state` are inherited by the workers, never pickled (a tokenizer
    with its dictionary costs nothing to hand over); items and results are pickled, so batch small items.

    With one process, or where `fork` is not available, it runs in the calling process. Closing the
    returned generator early ends the workers."""
    processes = worker_count() if processes is None else processes
    if processes <= 1 or not can_fork():
        for item in items:
            yield fn(state, item)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes, initializer=_init_worker, initargs=(os.getpid(), fn, state)) as pool:
        yield from pool.imap(_run, items, chunksize=1)
