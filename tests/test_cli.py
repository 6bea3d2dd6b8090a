"""`python -m kb` and `python -m ingest` as a user runs them: subprocesses on fixture knowledge bases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
HIT_KEYS = {"rank", "source_type", "title", "article", "case_id", "citation", "score", "text"}
PIPL = "中华人民共和国个人信息保护法"


def run(
    module: str, *args: str, home: Path, stdin: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KB_HOME": str(home),
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
        **(extra_env or {}),
    }
    env.pop("KB_CHROMA_URL", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )


def json_out(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# --- search -------------------------------------------------------------------------------------------


def test_search_json_has_the_documented_keys(small_kb: KnowledgeBase) -> None:
    out = json_out(run("kb", "search", "个保法第13条", "--json", "--k", "5", home=small_kb.home))
    assert out["question"] == "个保法第13条"
    hits = out["hits"]
    assert isinstance(hits, list) and 0 < len(hits) <= 5
    for hit in hits:
        assert set(hit) >= HIT_KEYS
        assert isinstance(hit["score"], float) and isinstance(hit["text"], str) and hit["text"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    top = hits[0]
    assert (top["source_type"], top["title"], top["article"]) == ("statute", PIPL, "第十三条")
    assert top["citation"] == f"《{PIPL}》第十三条"
    assert top["case_id"] is None


def test_search_filters_on_the_command_line(small_kb: KnowledgeBase) -> None:
    out = json_out(
        run(
            "kb",
            "search",
            "个人信息 公益诉讼",
            "--json",
            "--type",
            "case",
            "--type",
            "news",
            "--no-dense",
            home=small_kb.home,
        )
    )
    hits = out["hits"]
    assert isinstance(hits, list) and hits
    assert {h["source_type"] for h in hits} <= {"case", "news"}
    out = json_out(
        run("kb", "search", "个人信息", "--json", "--law", "个保法", "--valid", "--no-dense", home=small_kb.home)
    )
    assert {h["title"] for h in out["hits"]} == {PIPL}  # type: ignore[union-attr]
    assert {h["validity"] for h in out["hits"]} == {"现行有效"}  # type: ignore[union-attr]


def test_search_stdin_prints_one_json_object_per_line(small_kb: KnowledgeBase) -> None:
    questions = ["宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？", "", "个保法第13条"]
    proc = run("kb", "search", "--stdin", "--k", "3", home=small_kb.home, stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().split("\n")
    assert len(lines) == 2  # the blank line is skipped
    objects = [json.loads(line) for line in lines]
    assert [o["question"] for o in objects] == [questions[0], questions[2]]
    for o in objects:
        assert 0 < len(o["hits"]) <= 3
        assert all(set(h) >= HIT_KEYS for h in o["hits"])
    assert objects[1]["hits"][0]["article"] == "第十三条"


def test_search_text_output_and_usage_error(small_kb: KnowledgeBase) -> None:
    proc = run("kb", "search", "个保法第13条", "--k", "2", "--no-dense", home=small_kb.home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f" 1. 《{PIPL}》第十三条")
    assert run("kb", "search", home=small_kb.home).returncode == 2


# --- cite / article / status ----------------------------------------------------------------------------


def test_cite_existing_article(lexical_kb: KnowledgeBase) -> None:
    proc = run("kb", "cite", "《民法典》第1034条", home=lexical_kb.home)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "《中华人民共和国民法典》第一千零三十四条" in proc.stdout and "exists" in proc.stdout
    out = json_out(run("kb", "cite", "《民法典》第1034条", "--json", home=lexical_kb.home))
    [citation] = out["citations"]  # type: ignore[misc]
    assert citation["status"] == "exists" and citation["verified"] is True
    assert citation["chunk_ids"]


def test_cite_missing_article_exits_1(lexical_kb: KnowledgeBase) -> None:
    proc = run("kb", "cite", "《民法典》第1438条", home=lexical_kb.home)
    assert proc.returncode == 1
    assert "NOT FOUND" in proc.stdout
    out = run("kb", "cite", "《民法典》第1438条", "--json", home=lexical_kb.home)
    assert out.returncode == 1
    [citation] = json.loads(out.stdout)["citations"]
    assert citation["status"] == "not_found" and citation["verified"] is False


def test_cite_abbreviation_displays_the_full_citation(lexical_kb: KnowledgeBase) -> None:
    out = json_out(run("kb", "cite", "个保法第13条", "--json", home=lexical_kb.home))
    [citation] = out["citations"]  # type: ignore[misc]
    assert citation["citation"] == "《中华人民共和国个人信息保护法》第十三条"
    assert citation["status"] == "exists"


def test_cite_text_without_citations(lexical_kb: KnowledgeBase) -> None:
    proc = run("kb", "cite", "今天天气很好", home=lexical_kb.home)
    assert proc.returncode == 0 and "no citation found" in proc.stdout


def test_article_and_status(lexical_kb: KnowledgeBase) -> None:
    proc = run("kb", "article", "刑法第253条之一", home=lexical_kb.home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "公民个人信息" in proc.stdout
    assert run("kb", "article", "民法典第1438条", home=lexical_kb.home).returncode == 1
    status = json_out(run("kb", "status", "--json", home=lexical_kb.home))
    assert status["home"] == str(lexical_kb.home)
    assert status["chunks"] == lexical_kb.counts()
    assert status["documents"] == {"statute": len(lexical_kb.documents())}
    assert status["lexical_ready"] is True
    assert status["dense"]["outdated"] == 0
    assert status["trained"] is None  # no `kb train` here


# --- ingest ---------------------------------------------------------------------------------------------

LAW = """# 测试条例

2020年1月1日 施行

<!-- INFO END -->

第一条 为了规范测试活动，制定本条例。

第二条 本条例自2020年1月1日起施行。
"""


def test_ingest_fails_when_a_source_fails_and_prints_the_summary(tmp_path: Path) -> None:
    good = tmp_path / "src" / "测试条例(2020-01-01).md"
    good.parent.mkdir()
    good.write_text(LAW, encoding="utf-8")
    missing = tmp_path / "no-such-file.md"
    home = tmp_path / "kb"
    proc = run("ingest", str(good.parent), str(missing), "--no-dense", "--quiet", home=home)
    assert proc.returncode == 1
    assert "documents 1 (added 1, replaced 0, unchanged 0)" in proc.stdout
    assert "errors 1" in proc.stdout
    assert f"failed: {missing}" in proc.stdout
    assert str(missing) in proc.stderr  # reported as it happens too
    assert KnowledgeBase(home).chunk_count() == 2  # the good file went in

    again = run("ingest", str(good.parent), "--no-dense", "--quiet", home=home)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "documents 1 (added 0, replaced 0, unchanged 1)" in again.stdout
    assert "errors 0" in again.stdout


@pytest.mark.parametrize("flag", ["--home"])
def test_ingest_home_flag_overrides_the_environment(tmp_path: Path, flag: str) -> None:
    src = tmp_path / "测试条例(2020-01-01).md"
    src.write_text(LAW, encoding="utf-8")
    proc = run("ingest", str(src), "--no-dense", "--quiet", flag, str(tmp_path / "other"), home=tmp_path / "env")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert KnowledgeBase(tmp_path / "other").chunk_count() == 2
    assert not (tmp_path / "env").exists()
