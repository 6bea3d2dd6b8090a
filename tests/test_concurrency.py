"""One knowledge base, many readers, a writer in another process (kb.store: `lexical`, `ingest.lock`, `index.lock`).

The app's shape: reader threads share one `KnowledgeBase` (Streamlit sessions), while `python -m ingest` adds
documents from another process. Real threads, a real subprocess, a small real knowledge base. The run time of
searches is measured in `evals/load.py`, not here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from kb.lexical import LexicalIndex
from kb.retrieval import Retriever
from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
NEW_LAW = "反食品浪费法"  # not a word of the tokenizer's dictionary until the law is in the knowledge base
QUERIES = ("个人信息处理者应当取得个人同意", "未成年人个人信息", "删除个人信息", "个人信息保护法第十三条")
READERS = 8
MINE_TEXT = "物业把业主的电话号码卖给了装修公司。"


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kb = KnowledgeBase(tmp_path_factory.mktemp("concurrency") / "kb", static=False)
    report = ingest(kb, ["statutes:个人信息保护法"], dense=False, progress=False)
    assert not report.errors
    return kb.home


@pytest.fixture
def kb(base_home: Path, tmp_path: Path) -> KnowledgeBase:
    """A knowledge base of its own for each test (they all write), opened as the app opens it."""
    shutil.copytree(base_home, tmp_path / "kb", ignore=shutil.ignore_patterns("*.lock"))
    kb = KnowledgeBase(tmp_path / "kb")
    kb.lexical()
    return kb


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The threads of this process that built a lexical index from the catalog (loading a saved one is not building)."""
    seen: list[str] = []
    original = LexicalIndex.build_from_tokens.__func__  # type: ignore[attr-defined]

    def counting(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(LexicalIndex, "build_from_tokens", classmethod(counting))
    yield seen


def user_documents(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"note-{i:02d}.md").write_text(
            f"# 装修记录 {i}\n\n楼上第{i + 1}次装修噪音扰民，我记下了施工时间，准备与物业协商。\n", encoding="utf-8"
        )
    return folder


def test_readers_answer_throughout_another_process_ingest(kb: KnowledgeBase, tmp_path: Path, builds: list[str]) -> None:
    retriever = Retriever(kb)
    assert NEW_LAW not in kb.tokenizer.tokens(f"{NEW_LAW}第十条")
    builds.clear()
    catalog_before = kb.chunk_count()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingest",
            f"statutes:{NEW_LAW}",
            str(user_documents(tmp_path / "docs", 15)),
            "--no-dense",
            "--quiet",
            "--home",
            str(kb.home),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    errors: list[str] = []
    seen: dict[str, list[tuple[int, int]]] = {}
    hit_ids: set[str] = set()

    def reader(n: int) -> None:
        name = threading.current_thread().name
        i = 0
        while proc.poll() is None or i < 2 * len(QUERIES):
            try:
                seen.setdefault(name, []).append((kb.generation(), kb.chunk_count()))
                hits = retriever.search(QUERIES[(n + i) % len(QUERIES)], k=5)
                assert hits, "no hit"
                hit_ids.update(h.chunk.chunk_id for h in hits)
            except Exception as exc:  # collected: the test reports every failure
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
            i += 1

    threads = [threading.Thread(target=reader, args=(n,), name=f"reader-{n}") for n in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out
    assert not errors, errors[:5]
    for name, values in seen.items():
        assert values == sorted(values), name  # generation and chunk count never went backwards
    assert len(kb.get_chunks(sorted(hit_ids))) == len(hit_ids)  # no hit pointed outside the catalog
    # Not one reader rebuilt an index while the other process wrote: they answered from the one they had, and
    # loaded the writer's once it was saved.
    assert builds == []
    assert kb.chunk_count() > catalog_before
    assert sorted(kb.lexical().chunk_ids) == sorted(c.chunk_id for c in kb.iter_chunks())
    assert kb.lexical_ready() and builds == []
    # the new law's name is a whole token in this long-running process, as in a fresh one
    assert NEW_LAW in kb.tokenizer.tokens(f"{NEW_LAW}第十条")
    assert NEW_LAW in KnowledgeBase(kb.home).tokenizer.tokens(f"{NEW_LAW}第十条")
    assert retriever.search(f"{NEW_LAW}第十条", k=3)[0].chunk.short_title == NEW_LAW


WRITE_AND_DIE = textwrap.dedent("""
    import os, sys
    from kb.models import Chunk
    from kb.store import DocRecord, KnowledgeBase
    kb = KnowledgeBase(sys.argv[1])
    text = "网络直播营销应当如实标明商品信息。"
    kb.upsert_document(
        DocRecord("law:live", "statute", "法律", "中华人民共和国直播法", "直播法"),
        [Chunk(chunk_id="law:live-1", doc_id="law:live", source_type="statute", doc_type="法律",
               title="中华人民共和国直播法", short_title="直播法", text=text, article="第一条", article_no=1)],
    )
    os._exit(0)  # gone before building any index, as after a crash
""")


def test_a_writer_that_never_builds_does_not_leave_readers_stale(kb: KnowledgeBase) -> None:
    """The writer's lock goes with its process: the next search rebuilds the index itself."""
    retriever = Retriever(kb)
    assert not any(h.chunk.doc_id == "law:live" for h in retriever.search("网络直播营销", k=3))
    subprocess.run([sys.executable, "-c", WRITE_AND_DIE, str(kb.home)], cwd=ROOT, check=True, timeout=120)
    assert not kb.lexical_ready()
    assert retriever.search("网络直播营销", k=3)[0].chunk.doc_id == "law:live"
    assert kb.lexical_ready()


def test_the_writing_thread_sees_its_document_at_once(kb: KnowledgeBase, tmp_path: Path) -> None:
    """An upload in one session (thread) is searchable in that session as soon as ingest returns, while other
    sessions keep answering; then they see it too."""
    retriever = Retriever(kb)
    retriever.search(QUERIES[0])
    docs = tmp_path / "upload"
    docs.mkdir()
    (docs / "我的记录.md").write_text(f"# 我的记录\n\n{MINE_TEXT}\n", encoding="utf-8")
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                assert retriever.search(QUERIES[1], k=3)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    found: list[str] = []

    def writer() -> None:
        report = ingest(kb, [str(docs)], dense=False, collection="mine", progress=False)
        assert report.added == 1
        found.extend(h.chunk.text for h in retriever.search("物业 电话号码 装修公司", k=3))

    upload = threading.Thread(target=writer)
    upload.start()
    upload.join(120)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    assert any(MINE_TEXT in text for text in found)
    assert MINE_TEXT in retriever.search("物业 电话号码 装修公司", k=3)[0].chunk.text
