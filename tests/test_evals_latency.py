"""`evals.latency`: every configuration timed side by side, the static signal with and without its lay words
already embedded."""

from __future__ import annotations

import json
from pathlib import Path

from evals.latency import main
from kb.store import KnowledgeBase


def test_latency_times_each_configuration_side_by_side(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    questions = tmp_path / "questions.txt"
    # 小狗 and 咬 are words the laws of this knowledge base never use
    questions.write_text("商家把我的手机号卖给别人了\n小狗咬了人，狗主人要赔吗\n", encoding="utf-8")
    report_path = tmp_path / "latency.json"
    assert main(["--home", str(small_kb.home), "--questions", str(questions), "--json", str(report_path)]) == 0
    configs = json.loads(report_path.read_text())["configs"]
    assert list(configs)[:4] == [
        "bm25 + expansion + citations",
        "+ static",
        "+ static, its lay words asked before",
        "+ dense (default)",
    ]
    assert all(row["queries"] == 2 and row["p50_ms"] > 0 for row in configs.values())
