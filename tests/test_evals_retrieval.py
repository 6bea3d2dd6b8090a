"""`evals.retrieval` and the measures of `evals.common`: per-question values, their means, a paired interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_stard

from evals.common import Gold, Question, Retrieved, metrics, per_question
from evals.retrieval import main
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"


def question(qid: str, *articles: int) -> Question:
    return Question(qid, "问", [Gold("statute", PIPL, n, 0, None, True) for n in articles], {})


def ranked(*articles: int) -> list[Retrieved]:
    return [Retrieved(PIPL, n, 0) for n in articles]


def test_metrics_are_the_means_of_the_per_question_values() -> None:
    runs = [(question("a", 1, 2), ranked(5, 1, 7)), (question("b", 3), ranked(*range(10, 20), 3))]
    values = per_question(runs, (1, 5, 100))
    assert values == {"R@1": [0.0, 0.0], "R@5": [0.5, 0.0], "R@100": [0.5, 1.0], "MRR@10": [0.5, 0.0]}
    assert metrics(runs, (1, 5, 100)) == {"R@1": 0.0, "R@5": 0.25, "R@100": 0.75, "MRR@10": 0.25}


def test_retrieval_eval_reports_our_search_minus_the_transformer_per_slice(
    small_kb: KnowledgeBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = [
        ("商家把我的手机号卖给别人了", "第十条", "train"),
        ("我要求删除个人信息对方不删", "第四十七条", "dev"),  # its gold is not in train: unseen
        ("公司把我的信息给了别人", "第十条", "dev"),  # seen
        ("处理敏感个人信息要单独同意吗", "第二十九条", "dev"),  # unseen
    ]
    data = write_stard(tmp_path / "stard_lecoqa_queries.jsonl", asked, PIPL)
    report_path = tmp_path / "retrieval.json"
    args = [str(data), "--split", "dev", "--home", str(small_kb.home), "--no-peer", "--json", str(report_path)]
    assert main(args) == 0
    assert "the transformer alone" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    slices = {row["slice"]: row for row in report["hybrid_minus_dense"]}
    assert {k: v["questions"] for k, v in slices.items()} == {"all": 3, "seen in train": 1, "unseen in train": 2}
    systems = report["systems"]
    for label, name in (("all", ""), ("unseen in train", ", unseen in train")):
        diff = float(slices[label]["R@5"].split()[0])
        expected = systems["ours (hybrid)" + name]["R@5"] - systems["ours: dense only" + name]["R@5"]
        assert diff == pytest.approx(expected, abs=1e-3)
    # what a fresh machine searches with before the transformer index is complete, in the same run
    before = systems["ours before the transformer index"]
    assert before["questions"] == 3 and before["R@100"] > 0
