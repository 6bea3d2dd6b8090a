"""`python -m kb ask` on a real knowledge base."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.cli import main
from kb.store import KnowledgeBase

QUESTION = "宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？能告他们吗？"
ROOT = Path(__file__).resolve().parents[1]


def test_ask_json(lexical_kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(lexical_kb.home), "ask", QUESTION, "--persona", "student", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["persona"] == "student" and data["playbook"] == "personal_info_trade"
    assert data["answer"].startswith("#### 结论")
    assert data["citations"] and all(c["verified"] for c in data["citations"])
    assert {"citation", "title", "article", "case_id", "verified"} <= data["citations"][0].keys()
    assert data["sources"] and data["engine"] == "offline"


def test_ask_markdown(lexical_kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(lexical_kb.home), "ask", QUESTION]) == 0
    out = capsys.readouterr().out
    assert out.startswith("**简单说：**") and "#### 来源" in out


def test_ask_stdin_one_json_per_line(
    lexical_kb: KnowledgeBase, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{QUESTION}\n\n那我可以要求赔多少？\n"))
    assert main(["--home", str(lexical_kb.home), "ask", "--stdin", "--conversation", "--persona", "ngo"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2
    rows = [json.loads(x) for x in lines]
    assert [r["playbook"] for r in rows] == ["personal_info_trade", "personal_info_trade"]
    assert all(r["persona"] == "ngo" and r["answer"] and r["sources"] for r in rows)


def test_ask_llm_without_configuration_says_so(
    lexical_kb: KnowledgeBase, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KB_LLM_MODEL", raising=False)
    assert main(["--home", str(lexical_kb.home), "ask", QUESTION, "--llm", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "offline" and "未配置大模型" in data["notice"]


def test_ask_needs_a_question(lexical_kb: KnowledgeBase) -> None:
    assert main(["--home", str(lexical_kb.home), "ask"]) == 2


def test_python_dash_m_kb_ask(lexical_kb: KnowledgeBase) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--home", str(lexical_kb.home), "ask", QUESTION, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert data["playbook"] == "personal_info_trade" and all(c["verified"] for c in data["citations"])
