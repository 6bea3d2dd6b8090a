"""`evals.spike`: the issue's spike rebuilt from its recipe, run on a real small knowledge base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evals.common import Gold, Question, Retrieved
from evals.spike import encode, main, paired_rows, rrf, spike_tables
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"


def test_the_token_table_is_centred_without_its_first_component() -> None:
    rng = np.random.default_rng(1)
    shared = rng.normal(size=16)
    table = rng.normal(size=(50, 16)) + 5 * shared  # one strong common direction, as e5's token vectors have
    out = spike_tables(table, table)
    for t in out.values():
        assert np.allclose(t.mean(axis=0), 0.0, atol=1e-5)
        _, _, vt = np.linalg.svd(t, full_matrices=False)
        assert abs(float(np.dot(vt[0], shared / np.linalg.norm(shared)))) < 0.9  # the common direction is gone


def test_texts_are_sif_weighted_means_and_rrf_adds_reciprocal_ranks() -> None:
    table = np.eye(3, dtype=np.float32)
    index = {"个人": 0, "信息": 1, "的": 2}
    weights = np.array([1.0, 1.0, 0.01], dtype=np.float32)  # a frequent word weighs almost nothing
    v = encode([["个人", "信息", "的"], ["未知"]], index, table, weights)
    assert v[0][2] < 0.01 and np.isclose(np.linalg.norm(v[0]), 1.0) and not v[1].any()
    assert rrf([(2, ["a", "b"]), (1, ["b", "c"])], k=60)[:2] == ["b", "a"]


def test_the_spike_runs_end_to_end(small_kb: KnowledgeBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    asked = [("商家把我的手机号卖给别人了", "第十条"), ("我要求删除个人信息对方不删", "第四十七条")]
    rows = [
        {
            "query_id": i,
            "question": q,
            "stard_split": "dev",
            "gold": [{"law": PIPL, "article_no": a, "lawsdb_result": "match"}],
        }
        for i, (q, a) in enumerate(asked)
    ]
    data = tmp_path / "stard.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main([str(data), "--split", "dev", "--home", str(home), "--json", str(tmp_path / "spike.json")]) == 0
    out = capsys.readouterr().out
    assert "RRF(2×dense, static, BM25) (query prompt, article)" in out and "ours: default search" in out
    report = json.loads((tmp_path / "spike.json").read_text())
    assert report["questions"] == 2 and report["vocabulary"] > 100
    assert report["systems"]["ours: default search"]["R@10"] > 0
    assert len(report["ours_minus_reproduction"]) == 4  # one row per reading of the spike's static embedder
    assert "ours minus each reproduction" in out


def test_ours_minus_a_reproduction_is_paired_question_by_question() -> None:
    golds = [Gold("statute", PIPL, n) for n in (10, 47, 4)]
    questions = [Question(str(i), "q", [g]) for i, g in enumerate(golds)]
    hit = [Retrieved(PIPL, n) for n in (10, 47, 4)]
    miss = Retrieved(PIPL, 99)
    ours = [(q, [h]) for q, h in zip(questions, hit, strict=True)]  # every gold first
    theirs = [[hit[0]], [miss, hit[1]], [miss] * 12]  # first, second, missed
    (row,) = paired_rows(ours, {"RRF": theirs})
    assert row["against"] == "RRF"
    assert row["R@5"].startswith("+0.333") and row["R@10"].startswith("+0.333")
    assert row["MRR@10"].startswith("+0.500")  # (0 + 1/2 + 1) / 3
