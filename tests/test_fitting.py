"""`kb.fitting.keep_best_epoch`: the early stopping of both `kb train` fits."""

from __future__ import annotations

from kb.fitting import keep_best_epoch


def run(scores: list[float], epochs: int, patience: int) -> tuple[int, float, list[float], list[int]]:
    """Epoch i leaves state i and scores scores[i] (scores[0]: before training)."""
    state = [0]
    seen: list[int] = []

    def run_epoch() -> None:
        state[0] += 1

    best, before, history = keep_best_epoch(
        run_epoch, lambda: scores[state[0]], lambda: state[0], epochs, patience, lambda e, _: seen.append(e)
    )
    return best, before, history, seen


def test_the_best_epoch_is_kept_and_patience_stops_the_run() -> None:
    best, before, history, seen = run([1.0, 2.0, 3.0, 2.5, 3.0, 2.0, 9.0], epochs=6, patience=3)
    assert best == 2 and before == 1.0  # a tie with the best (epoch 4) is no gain
    assert history == [2.0, 3.0, 2.5, 3.0, 2.0] and seen == [1, 2, 3, 4, 5]  # epoch 6 never runs


def test_no_gain_keeps_the_state_before_training() -> None:
    best, before, history, _ = run([5.0, 4.0, 5.0, 1.0], epochs=3, patience=5)
    assert best == 0 and before == 5.0 and history == [4.0, 5.0, 1.0]
