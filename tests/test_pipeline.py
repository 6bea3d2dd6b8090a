"""ingest.pipeline: idempotent, resumable ingest of real sources into a real knowledge base."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import FACE_RULES, LEXICAL_LAWS, SHARED, SMALL_LAWS

from ingest.pipeline import IngestError, ingest, iter_source
from kb.embeddings import embedder_name
from kb.store import KnowledgeBase, text_hash

LAW_V1 = """# 测试条例

2019年12月1日 发布

2020年1月1日 施行

<!-- INFO END -->

第一条 为了规范测试活动，保护参与者的合法权益，制定本条例。

第二条 参与测试的个人信息，应当依法处理，不得非法出售或者提供给他人。

第三条 本条例自2020年1月1日起施行。
"""
# The 2021 version changes one article and the date clause; 第一条 is the same text in both.
LAW_V2 = (
    LAW_V1.replace("不得非法出售或者提供给他人", "不得非法买卖、提供或者公开")
    .replace("2019年12月1日", "2020年12月1日")
    .replace("2020年1月1日", "2021年1月1日")
)


def small_sources() -> list[str]:
    """The sources `small_kb` was built from (see conftest)."""
    sources = [SMALL_LAWS]
    for rel in (
        ("corpus", "lawrefbook", *FACE_RULES.split("/")),
        ("corpus", "cases", "topical_md", "spp_guiding_141.md"),
        ("corpus", "news"),
    ):
        path = SHARED.joinpath(*rel)
        if path.exists():
            sources.append(str(path))
    return sources


def embedding_rows(kb: KnowledgeBase) -> dict[str, int]:
    """Rows of the vector cache: for the chunks' embedded texts, distinct embedded texts, and all rows of the model."""
    hashes = {text_hash(c) for c in kb.iter_chunks()}
    with sqlite3.connect(kb.embedding_cache_path) as conn:
        rows = [h for (h,) in conn.execute("SELECT hash FROM vectors WHERE model = ?", (embedder_name(kb.embedder),))]
    return {"chunk_texts": len(hashes & set(rows)), "distinct_texts": len(hashes), "all": len(rows)}


@pytest.fixture
def no_static(monkeypatch: pytest.MonkeyPatch) -> None:
    """These knowledge bases test ingest itself: no static-embedding table to distill, and a vector cache
    of their own (they count its rows)."""
    monkeypatch.setenv("KB_STATIC", "0")
    monkeypatch.delenv("KB_EMBED_CACHE", raising=False)
    monkeypatch.delenv("KB_CHROMA_URL", raising=False)


def write_versions(root: Path) -> Path:
    folder = root / "条例"
    folder.mkdir(parents=True)
    (folder / "测试条例(2020-01-01).md").write_text(LAW_V1, encoding="utf-8")
    (folder / "测试条例(2021-01-01).md").write_text(LAW_V2, encoding="utf-8")
    return folder


# --- idempotence ---------------------------------------------------------------------------------------


def test_second_run_embeds_nothing(small_kb: KnowledgeBase) -> None:
    chunks, generation = small_kb.chunk_count(), small_kb.generation()
    done, total = small_kb.dense_status()
    assert done == total == chunks  # the fixture's first run embedded every chunk
    report = ingest(small_kb, small_sources(), dense=True, progress=False)
    assert report.errors == []
    assert report.documents == len(small_kb.documents()) >= 3
    assert report.unchanged == report.documents
    assert (report.added, report.replaced, report.dense_added) == (0, 0, 0)
    assert report.chunks == chunks
    assert small_kb.generation() == generation  # nothing written, so the indexes stay as they are
    assert small_kb.dense_status() == (chunks, chunks)
    assert f"unchanged {report.documents})" in report.summary()
    assert "embedded 0" in report.summary()


def test_small_kb_embedded_each_distinct_text_once(small_kb: KnowledgeBase) -> None:
    rows = embedding_rows(small_kb)
    assert rows["chunk_texts"] == rows["distinct_texts"]
    assert small_kb.vectorstore._collection.count() == small_kb.chunk_count()


def test_identical_texts_are_embedded_once(tmp_path: Path, no_static: None) -> None:
    folder = write_versions(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    report = ingest(kb, [str(folder)], dense=True, progress=False)
    assert report.errors == []
    assert (report.documents, report.added, report.chunks, report.dense_added) == (2, 2, 6, 6)
    titles = {d.title for d in kb.documents()}
    assert titles == {"测试条例"}
    rows = embedding_rows(kb)
    assert rows == {"chunk_texts": 5, "distinct_texts": 5, "all": 5}  # 6 chunks, 第一条 shared by both versions
    assert kb.vectorstore._collection.count() == 6

    again = ingest(kb, [str(folder)], dense=True, progress=False)
    assert (again.unchanged, again.added, again.replaced, again.dense_added) == (2, 0, 0, 0)
    assert embedding_rows(kb)["all"] == 5

    # an edited file replaces its document; only the edited article's text meets the model
    edited = LAW_V2.replace("不得非法买卖、提供或者公开", "不得非法买卖、提供、公开或者用于推销")
    (folder / "测试条例(2021-01-01).md").write_text(edited, encoding="utf-8")
    third = ingest(kb, [str(folder)], dense=True, progress=False)
    assert (third.unchanged, third.replaced) == (1, 1)
    assert third.dense_added == 3  # the replaced document's vectors are rebuilt (two of them from the cache)
    assert embedding_rows(kb) == {"chunk_texts": 5, "distinct_texts": 5, "all": 6}
    assert kb.dense_status() == (6, 6)
    [chunk] = [c for c in kb.iter_chunks() if c.article == "第二条" and "2021" in c.doc_id]
    assert "用于推销" in chunk.text
    assert kb.dense_search("用于推销", k=1)[0][0] in {c.chunk_id for c in kb.iter_chunks() if "2021" in c.doc_id}


# --- bad files -------------------------------------------------------------------------------------------


def test_a_bad_file_is_reported_with_its_path_and_the_rest_ingests(tmp_path: Path, no_static: None) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"this is not a PDF")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a zip either")
    (folder / "测试条例(2020-01-01).md").write_text(LAW_V1, encoding="utf-8")
    (folder / "说明.txt").write_text("内部说明\n这是一份关于测试条例执行情况的内部说明文件，供参考。", encoding="utf-8")
    missing = tmp_path / "no-such-dir"
    kb = KnowledgeBase(tmp_path / "kb")
    seen: list[IngestError] = []
    report = ingest(kb, [str(folder), str(missing)], dense=False, progress=False, on_error=seen.append)
    assert seen == report.errors
    failed = {Path(e.source).name: e.reason for e in report.errors}
    assert set(failed) == {"broken.pdf", "broken.docx", "no-such-dir"}
    assert all(
        str(folder / name) in str(e) for e in report.errors for name in (Path(e.source).name,) if name != "no-such-dir"
    )
    assert "no such file" in failed["no-such-dir"]
    assert report.documents == report.added == 2
    assert {d.title for d in kb.documents()} == {"测试条例", "内部说明"}
    assert "errors 3" in report.summary()
    assert kb.lexical().search("参与测试的个人信息")


def test_an_empty_directory_is_an_error(tmp_path: Path, no_static: None) -> None:
    (tmp_path / "empty").mkdir()
    report = ingest(KnowledgeBase(tmp_path / "kb"), [str(tmp_path / "empty")], dense=False, progress=False)
    assert len(report.errors) == 1 and "no supported files" in report.errors[0].reason


# --- statutes --------------------------------------------------------------------------------------------


def test_statutes_filter_takes_only_the_named_laws(tmp_path: Path, no_static: None) -> None:
    kb = KnowledgeBase(tmp_path / "kb")
    report = ingest(kb, ["statutes:个人信息保护法，未成年人保护法"], dense=False, progress=False)
    assert report.errors == []
    assert {d.title for d in kb.documents()} == {"中华人民共和国个人信息保护法", "中华人民共和国未成年人保护法"}
    assert all(d.doc_id.startswith("lawsdb:") for d in kb.documents())
    assert [d for d, _ in iter_source("statutes:没有这部法")] == []


def test_lexical_kb_holds_exactly_the_named_laws(lexical_kb: KnowledgeBase) -> None:
    wanted = set(LEXICAL_LAWS.partition(":")[2].split(","))
    docs = lexical_kb.documents()
    assert {d.short_title for d in docs} == wanted
    assert len([d for d in docs if d.short_title == "商标法"]) == 2  # both versions of 商标法
    assert lexical_kb.lexical_ready()
    assert not lexical_kb.dense_available()  # dense=False built no vector store


def test_statutes_go_first_so_cases_link_to_them(tmp_path: Path, no_static: None) -> None:
    case = SHARED / "corpus" / "cases" / "topical_md" / "spp_guiding_141.md"
    if not case.exists():
        pytest.skip(f"shared data missing: {case}")
    kb = KnowledgeBase(tmp_path / "kb")
    # the case is listed first; the law it cites is ingested before it all the same
    report = ingest(kb, [str(case), "statutes:民法典"], dense=False, progress=False)
    assert report.errors == []
    cites = {cite for c in kb.iter_chunks() if c.source_type == "case" for cite in c.cites}
    assert "《中华人民共和国民法典》第一百七十九条" in cites
    citing = kb.chunks_citing("《中华人民共和国民法典》第一百七十九条")
    assert citing and {c.source_type for c in citing} == {"case"}
