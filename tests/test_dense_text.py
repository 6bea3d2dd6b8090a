"""`evals.dense_text`: which text of an article the transformer embeds, compared within one law."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_stard

from evals.dense_text import main, ranked_articles
from kb.models import Chunk
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"


def article(no: int, part: int = 1) -> Chunk:
    return Chunk(
        chunk_id=f"d-{no}-{part}",
        doc_id="d",
        source_type="statute",
        doc_type="法律",
        title=PIPL,
        short_title="个人信息保护法",
        text=f"第{no}条的第{part}部分",
        article=f"第{no}条",
        article_no=no,
        part=part,
    )


def test_parts_of_one_article_count_once_in_the_ranking() -> None:
    chunks = [article(1, 1), article(1, 2), article(2), article(3)]
    ranked = ranked_articles(np.array([0.9, 0.8, 0.1, 0.5]), chunks, depth=3)
    assert [r.article_no for r in ranked] == [1, 3, 2]


def test_every_text_is_compared_on_train_questions_of_a_law(
    small_kb: KnowledgeBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = [("商家把我的手机号卖给别人了", "第十条", "train"), ("我要求删除个人信息对方不删", "第四十七条", "train")]
    asked.append(("dev 的问题不参与", "第十三条", "dev"))
    data = write_stard(tmp_path / "stard.jsonl", asked, PIPL)
    report_path = tmp_path / "dense-text.json"
    assert main(["--dataset", str(data), "--home", str(small_kb.home), "--laws", "1", "--json", str(report_path)]) == 0
    assert "title, body (dense_text)" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert len(report["rows"]) == 4
    assert all(r["law"] == PIPL and r["questions"] == 2 for r in report["rows"])
    assert all(0.0 <= r["MRR@10"] <= 1.0 for r in report["rows"])
    assert any(r["R@10"] > 0 for r in report["rows"])
