"""Early stopping, shared by the two fits of `kb train`: the static table (`kb.training.fit_static`) and the
query adapter (`kb.adapter.fit_adapter`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

State = TypeVar("State")


def keep_best_epoch(
    run_epoch: Callable[[], None],
    score: Callable[[], float],
    snapshot: Callable[[], State],
    epochs: int,
    patience: int,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[State, float, list[float]]:
    """Run up to `epochs` epochs, scoring the held-out questions before training and after each epoch; keep
    the state of the best score (the untrained one unless an epoch scores strictly higher) and stop after
    `patience` epochs in a row without a new best. Returns (best state, score before, score per epoch)."""
    before = best = score()
    best_state, waited, history = snapshot(), 0, []
    for epoch in range(epochs):
        run_epoch()
        current = score()
        history.append(current)
        if progress:
            progress(epoch + 1, current)
        if current > best:
            best, best_state, waited = current, snapshot(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_state, before, history
