"""`evals.routing`: the playbook each question gets, against the one expected (or none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.routing import DEFAULT_QUESTIONS, load_questions, main
from kb.playbooks import load_playbooks
from kb.store import KnowledgeBase


def test_routing_counts_hits_and_misses(lexical_kb: KnowledgeBase, tmp_path: Path) -> None:
    questions = tmp_path / "routing.jsonl"
    rows = [
        {"question": "退租的时候房东扣着押金不给，说墙面脏了", "playbook": "housing_lease"},
        {"question": "商标注册申请需要提交哪些文件", "playbook": None},
        {"question": "商标注册申请需要提交哪些文件？", "playbook": "housing_lease"},  # a miss on purpose
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "routing.json"
    assert main([str(questions), "--home", str(lexical_kb.home), "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [r["ok"] for r in report["questions"]] == [True, True, False]
    assert report["questions"][2]["got"] is None
    summary = {row["questions"]: row for row in report["summary"]}
    assert summary["all"]["accuracy"] == pytest.approx(2 / 3)
    assert summary["a playbook fits"]["n"] == 2 and summary["no playbook fits"]["accuracy"] == 1.0


def test_the_question_set_names_existing_playbooks() -> None:
    ids = {pb.id for pb in load_playbooks()}
    rows = load_questions(DEFAULT_QUESTIONS)
    assert len(rows) >= 30
    assert {p for _, p in rows if p is not None} <= ids
    assert any(p is None for _, p in rows)  # questions no playbook fits are part of the measure


def test_a_malformed_line_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = ['{"question": "押金不退", "playbook": "housing_lease"}', '{"question": "缺了期望"}']
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        load_questions(bad)
