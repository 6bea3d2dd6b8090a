"""`evals.tune_fusion`: the grid over STARD train, with and without the transformer."""

from __future__ import annotations

import pytest
from conftest import shared_path

from evals.tune_fusion import main
from kb.store import KnowledgeBase


@pytest.mark.parametrize("before", [False, True])
def test_tune_fusion_ranks_weightings_on_train(
    small_kb: KnowledgeBase, before: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    shared_path("evals", "stard")
    args = ["--home", str(small_kb.home), "--limit", "20"] + (["--before-transformer"] if before else [])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "STARD train" in out and "20 questions" in out
    header = next(line for line in out.splitlines() if line.startswith("rrf_k"))
    # without the transformer there is no transformer weight to choose
    assert ("dense" in header) is not before and "bm25x" in header and "R@5" in header
    assert ("before the transformer index" in out) is before
