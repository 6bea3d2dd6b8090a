"""The knowledge base on disk: a chunk catalog (SQLite), a lexical index (BM25) and a vector store (Chroma).

Layout under `KB_HOME` (default: `.kb/` in the project directory):
- `catalog.sqlite` — the record of truth: documents and chunks with their legal metadata. Citation lookup
  and verification read it, so they work as soon as parsing is done.
- `lexical-<generation>/` + `lexical.current` — BM25 index, rebuilt when the catalog's generation changes
  (by one thread of one process at a time: `index.lock`; see `KnowledgeBase.lexical` for what readers do meanwhile).
- `chroma/` — a persistent Chroma collection (cosine, telemetry off, our embedder always passed), filled
  from the catalog by `fill_dense` in resumable batches; or a Chroma server when `KB_CHROMA_URL` is set.
  Each vector carries the hash of the text it was made from, so the store is reconciled against the
  catalog by content, not just by id.
- `embeddings.sqlite` — cache of vectors by text hash: identical texts are embedded once.

Validity is not stored per chunk: it is derived from the documents' dates and repeal records when the
knowledge base is opened (see `ingest.validity`), so it is always as of today.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np
from langchain_core.embeddings import Embeddings

from kb.faults import checkpoint
from kb.lawnames import LawNameIndex
from kb.models import Chunk, sha256_text

if TYPE_CHECKING:
    from kb.embeddings import CachedEmbeddings

LAW_TYPES = ("statute", "interpretation", "regulation")
_BUMP_LAWS = (
    "INSERT INTO meta VALUES ('laws_generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source_type TEXT, doc_type TEXT, title TEXT, short_title TEXT,
    published TEXT, effective TEXT, source TEXT, fingerprint TEXT, n_chunks INTEGER,
    repeals TEXT, collection TEXT DEFAULT 'main', ingested_at TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT, seq INTEGER, source_type TEXT, title TEXT,
    article_no INTEGER, article_suffix INTEGER, case_id TEXT, content_hash TEXT, data TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(title, article_no, article_suffix);
CREATE INDEX IF NOT EXISTS chunks_case ON chunks(case_id);
CREATE TABLE IF NOT EXISTS cites (chunk_id TEXT, citation TEXT);
CREATE INDEX IF NOT EXISTS cites_citation ON cites(citation);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def default_home() -> Path:
    env = os.environ.get("KB_HOME")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / ".kb"


@dataclass
class DocRecord:
    """One row of the documents table: what validity and status need to know of a document."""

    doc_id: str
    source_type: str
    doc_type: str
    title: str
    short_title: str
    published: str | None = None
    effective: str | None = None
    source: str = ""
    repeals: dict[str, str] = field(default_factory=dict)  # title it repeals → date
    collection: str = "main"
    validity: str = "未知"


@dataclass
class UpsertResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    chunks_written: int = 0


def fingerprint(chunks: list[Chunk], rows: list[dict[str, Any]] | None = None) -> str:
    """Hash of a document's chunks; `rows` = their `to_row()` when the caller has them already."""
    rows = rows if rows is not None else [c.to_row() for c in chunks]
    return sha256_text(
        "\n".join(
            f"{c.chunk_id}:{c.content_hash}:{json.dumps(row, ensure_ascii=False, sort_keys=True)}"
            for c, row in zip(chunks, rows, strict=True)
        )
    )


class KnowledgeBase:
    """Open (or create) the knowledge base under `home`. Heavy parts (embedder, Chroma) load lazily."""

    def __init__(
        self,
        home: Path | None = None,
        embedder: Embeddings | None = None,
        chroma_url: str | None = None,
        today: date | None = None,
        static: bool | None = None,
    ):
        self.home = Path(home) if home else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.today = today
        self._embedder = embedder
        self._chroma_url = chroma_url if chroma_url is not None else os.environ.get("KB_CHROMA_URL")
        self._local = threading.local()
        self._lock = threading.RLock()
        self._vectorstore: Any = None
        self._cached_embedder: CachedEmbeddings | None = None
        self._dense_ready_generation = -1  # the catalog generation whose every chunk had a vector (`dense_ready`)
        self._lexical: Any = None
        self._lexical_generation = -1
        self._tokenizer: Any = None
        self._tokenizer_titles: frozenset[str] | None = None  # the law names its dictionary holds
        self._snapshot: tuple[int, Any, Any] | None = None  # (generation, lexical, static) last handed out
        self._writer_lock: Any = None  # `ingest.lock`, held shared from this instance's first write to its rebuild
        self._writer_guard = threading.Lock()
        self._static_index: Any = None
        self._unseen_words: Any = None  # `kb.static.UnseenWords`, made on first use
        self.index_seconds: dict[str, float] = {}  # steps of the last index rebuild (tokenize, bm25, static_…)
        self.show_progress = True
        self._validity: dict[str, str] = {}
        self._validity_generation = -1
        self._validity_laws: str | None = None  # `laws_signature` the validity was derived from
        with self._conn() as conn:
            conn.executescript(SCHEMA)
        # Whether this KB keeps a static-embedding index: an explicit choice is remembered by the KB itself.
        if static is not None:
            self.set_meta("static", "1" if static else "0")
        stored = self.get_meta("static")
        self.static = static_enabled() if stored is None else stored == "1"

    # --- SQLite -----------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.home / "catalog.sqlite", timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def generation(self) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._conn() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- writing ----------------------------------------------------------------------------------
    def upsert_document(self, record: DocRecord, chunks: list[Chunk]) -> str:
        """Store a document and its chunks atomically. Returns 'added', 'replaced' or 'unchanged'."""
        self._begin_write()
        rows = [c.to_row() for c in chunks]  # once: the fingerprint and the stored row both need it (and it is slow)
        fp = fingerprint(chunks, rows)
        conn = self._conn()
        with self._lock, conn:
            row = conn.execute(
                "SELECT fingerprint, source_type FROM documents WHERE doc_id = ?", (record.doc_id,)
            ).fetchone()
            if row and row[0] == fp:
                return "unchanged"
            if record.source_type in LAW_TYPES or (row and row[1] in LAW_TYPES):
                conn.execute(_BUMP_LAWS)  # see `laws_signature`
            if row:
                # Chunk ids are stable across versions of a document, so `fill_dense` would keep the vectors of
                # the old text: drop them first (a crash after this only leaves vectors missing, which it refills).
                old_ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (record.doc_id,))]
                if old_ids and self.dense_available():
                    self.vectorstore.delete(ids=old_ids)
                self._delete_rows(conn, [record.doc_id])
            conn.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,datetime('now'))",
                (
                    record.doc_id,
                    record.source_type,
                    record.doc_type,
                    record.title,
                    record.short_title,
                    record.published,
                    record.effective,
                    record.source,
                    fp,
                    len(chunks),
                    json.dumps(record.repeals, ensure_ascii=False),
                    record.collection,
                ),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        c.chunk_id,
                        c.doc_id,
                        i,
                        c.source_type,
                        c.title,
                        c.article_no,
                        c.article_suffix,
                        c.case_id,
                        c.content_hash,
                        json.dumps(row, ensure_ascii=False),
                    )
                    for i, (c, row) in enumerate(zip(chunks, rows, strict=True))
                ],
            )
            conn.executemany(
                "INSERT INTO cites VALUES (?, ?)", [(c.chunk_id, cite) for c in chunks for cite in c.cites]
            )
            conn.execute(
                "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
                "SET value = CAST(value AS INTEGER) + 1"
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_ingest', datetime('now'))")
            checkpoint("parse.uncommitted")  # everything written, nothing committed: a crash must roll it all back
        return "replaced" if row else "added"

    @staticmethod
    def _delete_rows(conn: sqlite3.Connection, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            conn.execute(
                "DELETE FROM cites WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE doc_id = ?)", (doc_id,)
            )
            conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def delete_documents(self, doc_ids: list[str]) -> int:
        """Remove documents from the catalog, the lexical index (on next use) and the vector store."""
        self._begin_write()
        conn = self._conn()
        with self._lock:
            ids = [r[0] for d in doc_ids for r in conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (d,))]
            with conn:
                self._delete_rows(conn, doc_ids)
                conn.execute(
                    "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
                    "SET value = CAST(value AS INTEGER) + 1"
                )
                conn.execute(_BUMP_LAWS)
            if ids and self.dense_available():
                self.vectorstore.delete(ids=ids)
        return len(ids)

    # --- reading ----------------------------------------------------------------------------------
    def _row_to_chunk(self, data: str) -> Chunk:
        """A stored row as a chunk with today's validity (call `_refresh_validity` once before a batch)."""
        chunk = Chunk.from_row(json.loads(data))
        chunk.validity = self._validity.get(chunk.doc_id, chunk.validity)
        return chunk

    def get_chunks(self, chunk_ids: list[str]) -> list[Chunk]:
        """Chunks by id, in the order asked (unknown ids are skipped)."""
        if not chunk_ids:
            return []
        found: dict[str, Chunk] = {}
        conn = self._conn()
        self._refresh_validity()
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i : i + 500]
            rows = conn.execute(
                f"SELECT chunk_id, data FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update({cid: self._row_to_chunk(data) for cid, data in rows})
        return [found[c] for c in chunk_ids if c in found]

    def iter_chunks(self, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[Chunk]:
        self._refresh_validity()
        for (data,) in self._conn().execute(f"SELECT data FROM chunks {where} ORDER BY doc_id, seq", params):
            yield self._row_to_chunk(data)

    def documents(self) -> list[DocRecord]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc_id, source_type, doc_type, title, short_title, published, effective, source, repeals, "
                "collection FROM documents ORDER BY doc_id"
            )
            .fetchall()
        )
        return [
            DocRecord(
                doc_id=r[0],
                source_type=r[1],
                doc_type=r[2],
                title=r[3],
                short_title=r[4],
                published=r[5],
                effective=r[6],
                source=r[7],
                repeals=json.loads(r[8] or "{}"),
                collection=r[9],
            )
            for r in rows
        ]

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        return list(self.iter_chunks("WHERE doc_id = ?", (doc_id,)))

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT source_type, COUNT(*) FROM chunks GROUP BY source_type").fetchall()
        return {k: int(v) for k, v in rows}

    def document_counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT source_type, COUNT(*) FROM documents GROUP BY source_type").fetchall()
        return {k: int(v) for k, v in rows}

    def chunk_count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    # --- validity (as of today) -------------------------------------------------------------------
    def validity_of(self, doc_id: str, default: str = "未知") -> str:
        self._refresh_validity()
        return self._validity.get(doc_id, default)

    def _refresh_validity(self) -> None:
        gen = self.generation()
        if gen == self._validity_generation:
            return
        # Validity depends on the laws alone: a generation that only added cases (most of a full ingest,
        # where every case stored reads the articles it cites) keeps what was derived.
        signature = self.laws_signature()
        if signature == self._validity_laws:
            self._validity_generation = gen
            return
        from ingest.validity import assign_validity

        docs = [d for d in self.documents() if d.source_type in ("statute", "interpretation", "regulation")]
        repeals = {title: (when, d.title) for d in docs for title, when in d.repeals.items()}
        assign_validity(docs, today=self.today, repeals=repeals)  # type: ignore[arg-type]
        self._validity = {d.doc_id: d.validity for d in docs}
        self._validity_generation, self._validity_laws = gen, signature

    def laws_signature(self) -> str:
        """Changes whenever a law (statute, interpretation, regulation) is added, replaced or deleted: what
        validity and the links from cases to articles depend on. Storing a case or a report leaves it as it
        was. (A counter kept with the documents: comparing the laws themselves cost milliseconds a call.)
        A catalog written before the counter existed falls back to the generation: always changed."""
        laws = self.get_meta("laws_generation")
        return f"laws {laws}" if laws is not None else f"generation {self.generation()}"

    # --- citation catalog (kb.citations.ArticleCatalog) -------------------------------------------
    def law_titles(self) -> list[str]:
        """Titles of the statutes, interpretations and regulations held (cached per catalog generation:
        every citation check asks)."""
        gen = self.generation()
        cached = getattr(self, "_law_titles", None)
        if cached is None or cached[0] != gen:
            rows = self._conn().execute(
                "SELECT DISTINCT title FROM documents WHERE source_type IN ('statute','interpretation','regulation')"
            )
            cached = self._law_titles = (gen, [r[0] for r in rows])
        return list(cached[1])

    def law_names(self) -> LawNameIndex:
        gen = self.generation()
        cached = getattr(self, "_law_names", None)
        if cached is None or cached[0] != gen:
            self._law_names = (gen, LawNameIndex(self.law_titles()))
        return self._law_names[1]

    def article_chunks(self, title: str, number: int, suffix: int = 0) -> list[Chunk]:
        return list(
            self.iter_chunks("WHERE title = ? AND article_no = ? AND article_suffix = ?", (title, number, suffix))
        )

    def case_chunks(self, case_id: str) -> list[Chunk]:
        """A case by its id (指导案例192号, 检例第141号, a 案号), or a news report by `report_id`."""
        title = report_title(case_id)
        if title is not None:
            return list(self.iter_chunks("WHERE source_type = 'news' AND title = ?", (title,)))
        return list(self.iter_chunks("WHERE case_id = ?", (case_id,)))

    def has_source_type(self, source_type: str) -> bool:
        """Whether any chunk of this type is stored (`counts`, cached per catalog generation)."""
        cache: tuple[int, dict[str, int]] | None = getattr(self, "_types_cache", None)
        if cache is None or cache[0] != self.generation():
            cache = self._types_cache = (self.generation(), self.counts())
        return cache[1].get(source_type, 0) > 0

    def chunks_citing(self, citation: str) -> list[Chunk]:
        """Chunks of cases and reports whose text cites `citation` (a formatted 《title》第N条)."""
        rows = self._conn().execute("SELECT DISTINCT chunk_id FROM cites WHERE citation = ?", (citation,))
        return self.get_chunks([r[0] for r in rows])

    # --- lexical index ----------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from kb.lexical import LegalTokenizer

            titles = self.law_titles()
            self._tokenizer = LegalTokenizer(titles)
            self._tokenizer_titles = frozenset(titles)
        return self._tokenizer

    def lexical(self) -> Any:
        """The BM25 index for the current catalog generation (loaded, or rebuilt and saved).

        While the catalog is newer than the index in memory, a reader that has one keeps answering from it (stale
        but whole) as long as a writer is still at work (it holds `ingest.lock` from its first write until it has
        built the new index, or until its process ends) or another thread or process is building the index: it
        never rebuilds once per document of someone else's ingest. The thread that wrote, or a process with no
        index yet, waits for the new one."""
        return self._fresh_indexes()[0]

    def static_index(self) -> Any:
        """The static-embedding index of the current generation, or None when static search is off."""
        return self._fresh_indexes()[1]

    def lexical_and_static(self) -> tuple[Any, Any]:
        """Both indexes of one generation, taken together (a search must not pair two generations)."""
        return self._fresh_indexes()

    def _fresh_indexes(self) -> tuple[Any, Any]:
        snapshot = self._snapshot  # one attribute: a lexical index never comes with another generation's static
        if snapshot is not None and snapshot[1] is not self._lexical:
            snapshot = None  # being replaced, or reset on purpose (`kb._lexical = None` forces a rebuild): wait
        gen = self.generation()
        if snapshot is not None and snapshot[0] == gen:
            self._end_write()  # (if this thread wrote: nothing changed, or the index is built already)
            return snapshot[1], snapshot[2]
        stale: tuple[Any, Any] | None = None  # what a reader may keep answering from meanwhile
        if snapshot is not None and not getattr(self._local, "wrote", False):
            stale = (snapshot[1], snapshot[2])
        if stale is not None and self._writing_elsewhere():
            return stale
        if not self._lock.acquire(blocking=stale is None):
            assert stale is not None  # (a blocking acquire always succeeds)
            return stale  # another thread is building it
        try:
            with home_lock(self.home / "index.lock", blocking=stale is None) as held:
                if not held:
                    assert stale is not None
                    return stale  # another process is building it
                titles = self.law_titles()
                if self._tokenizer is not None and frozenset(titles) != self._tokenizer_titles:
                    # New laws: their names must be whole tokens here too, as in a fresh process. Built, then swapped
                    # in (other threads keep using the old one meanwhile instead of each building their own).
                    from kb.lexical import LegalTokenizer

                    self._tokenizer, self._tokenizer_titles = LegalTokenizer(titles), frozenset(titles)
                lexical, static = self._indexes()
                self._snapshot = (self._lexical_generation, lexical, static)
                self._end_write()
                return lexical, static
        finally:
            self._lock.release()

    def _begin_write(self) -> None:
        """Before a catalog write: this thread will wait for the new index, readers elsewhere will not (`lexical`)."""
        self._local.wrote = True
        with self._writer_guard:
            if self._writer_lock is None:
                handle = (self.home / "ingest.lock").open("a")
                fcntl.flock(handle, fcntl.LOCK_SH)  # shared: several writers may be at work at once
                self._writer_lock = handle

    def _end_write(self) -> None:
        """After this thread's writes are in an index (or changed nothing): readers may rebuild again."""
        if not getattr(self._local, "wrote", False):
            return
        self._local.wrote = False
        with self._writer_guard:
            if self._writer_lock is not None:
                fcntl.flock(self._writer_lock, fcntl.LOCK_UN)
                self._writer_lock.close()
                self._writer_lock = None

    def _writing_elsewhere(self) -> bool:
        """Whether a writer (another process, or another thread of this one) holds `ingest.lock`."""
        with home_lock(self.home / "ingest.lock", blocking=False) as free:
            return not free

    def _indexes(self) -> tuple[Any, Any]:
        from kb.lexical import LexicalIndex

        gen = self.generation()
        with self._lock:
            if self._lexical is not None and self._lexical_generation == gen:
                return self._lexical, self._static_index
            loaded = LexicalIndex.load(self.home, self.tokenizer)
            if loaded and loaded[1] == gen:
                static = self._load_static_index(LexicalIndex.current_dir(self.home), loaded[0].chunk_ids)
                if static is not None or not self.static:
                    self._lexical, self._lexical_generation = loaded
                    self._static_index = static
                    self._remove_leftovers(gen)
                    return self._lexical, self._static_index
            from kb.static import StaticIndex, corpus_tokens

            timer = _Timer()
            ids, tokens, static_tokens = corpus_tokens(self.tokenizer, self.iter_chunks())  # in worker processes
            timer.lap("tokenize")
            index = LexicalIndex.build_from_tokens(ids, tokens, self.tokenizer)
            timer.lap("bm25")
            extras: dict[str, Any] = {}
            static = None
            if self.static and ids:
                model = self.static_model(static_tokens)
                timer.lap("static_table")
                static = StaticIndex(ids, model.encode_tokens(static_tokens).astype("float32"))
                timer.lap("static_vectors")
                extras = {"static": static.matrix, "static_name": model.name}
            index.save(self.home, gen, extras)
            timer.lap("save")
            self.index_seconds = timer.seconds  # where the last rebuild spent its time (evals/ingest_bench)
            self._lexical, self._lexical_generation, self._static_index = index, gen, static
            self._remove_leftovers(gen)
            return index, static

    def _remove_leftovers(self, generation: int) -> None:
        """What a crash in the last step of an index save leaves behind, once the new index is in use."""
        from kb.lexical import LexicalIndex
        from kb.static import StaticModel

        LexicalIndex.remove_older(self.home, generation)
        for name in ("static-trained", "static-distilled"):
            StaticModel.remove_aside(self.home / name)

    def _load_static_index(self, directory: Path | None, chunk_ids: list[str]) -> Any:
        if directory is None or not self.static:
            return None
        import numpy as np

        from kb.static import StaticIndex

        try:
            name = (directory / "static_name").read_text(encoding="utf-8").strip()
            model = self.static_model(None)
            if model is None or model.name != name:
                return None
            return StaticIndex(chunk_ids, np.load(directory / "static.npy").astype(np.float32))
        except (OSError, ValueError):
            return None

    def static_model(self, corpus_tokens: list[list[str]] | None) -> Any:
        """The static embedder: a trained table if `kb train` made one, else the distilled one (built and
        cached on first use from `corpus_tokens`; None when it does not exist and no tokens are given)."""
        from kb.static import StaticModel, build_vocab, distill

        cached = getattr(self, "_static_model", None)
        if cached is not None and corpus_tokens is None:
            return cached
        counts = build_vocab(corpus_tokens) if corpus_tokens is not None else None
        for name in ("static-trained", "static-distilled"):
            model = StaticModel.load(self.home / name)
            if model is not None and (
                name == "static-trained"
                or counts is None
                # a table saved before `center` was kept is made again (its vectors come from the cache)
                or (not self._vocab_grew(model, counts) and model.center is not None)
            ):
                self._static_model = model
                return model
        if counts is None:
            return None
        from ingest.pipeline import Progress
        from kb.embeddings import CachedEmbeddings, embedder_name
        from kb.static import query_teacher

        with query_teacher(self.embedder) as base:  # the same vectors, from one single-threaded process per core
            teacher = CachedEmbeddings(base, self.embedding_cache_path, batch_size=256)
            model = distill(
                counts,
                teacher,
                progress=Progress("static embedder", enabled=self.show_progress),
                name=f"static-{embedder_name(self.embedder)}-{len(counts)}",
                teacher_name=embedder_name(self.embedder),
            )
        model.save(self.home / "static-distilled")
        self._static_model = model
        return model

    def static_query_vector(self, text: str, unseen_words: bool = False) -> Any:
        """The static embedder's vector of a query (None without a table). With `unseen_words`, the query's
        words outside the table's vocabulary are embedded by the transformer and placed in the table's space
        (`kb.static.UnseenWords`) instead of dropped."""
        model = self.static_model(None)
        if model is None:
            return None
        tokens = self.tokenizer.precise(text)
        unseen = None
        if unseen_words:
            if self._unseen_words is None:
                from kb.static import UnseenWords

                self._unseen_words = UnseenWords(self.embedder)
            unseen = self._unseen_words.vectors(model, tokens)
        return model.encode_tokens([tokens], unseen)[0]

    @staticmethod
    def _vocab_grew(model: Any, counts: Any) -> bool:
        """A corpus with many frequent tokens the table lacks (new document kinds) gets a new table."""
        missing = sum(1 for t in counts if t not in model.vocab)
        return missing > 0.1 * max(1, len(counts))

    def lexical_ready(self) -> bool:
        pointer = self.home / "lexical.current"
        return (
            pointer.exists()
            and (self.home / pointer.read_text().strip() / "generation").exists()
            and int((self.home / pointer.read_text().strip() / "generation").read_text()) == self.generation()
        )

    @property
    def embedding_cache_path(self) -> Path:
        """Vector cache: $KB_EMBED_CACHE (a cache shared by several knowledge bases) or KB_HOME/embeddings.sqlite."""
        env = os.environ.get("KB_EMBED_CACHE")
        return Path(env).expanduser() if env else self.home / "embeddings.sqlite"

    # --- dense index ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embeddings:
        if self._embedder is None:
            from kb.embeddings import make_embedder

            self._embedder = make_embedder()
        return self._embedder

    @property
    def cached_embedder(self) -> CachedEmbeddings:
        """The embedder behind this knowledge base's vector cache (`embedding_cache_path`): one per instance,
        shared by the vector store, the dense fill and whatever else embeds through the cache."""
        with self._lock:
            if self._cached_embedder is None:
                from kb.embeddings import CachedEmbeddings

                self._cached_embedder = CachedEmbeddings(self.embedder, self.embedding_cache_path)
            return self._cached_embedder

    def collection_name(self) -> str:
        from kb.embeddings import embedder_name

        safe = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in embedder_name(self.embedder))
        if self._chroma_url:
            # A server holds the collections of many knowledge bases: name ours by this KB's id.
            return f"kb-{self.kb_id()}-{safe}"[:60]
        return f"kb-{safe}"[:60]

    def kb_id(self) -> str:
        """A random id given to this knowledge base when it was created (kept in its catalog)."""
        kid = self.get_meta("kb_id")
        if kid is None:
            import uuid

            kid = uuid.uuid4().hex[:12]
            self.set_meta("kb_id", kid)
        return kid

    @property
    def vectorstore(self) -> Any:
        """The langchain-chroma vector store (embedded persistent client, or HttpClient for KB_CHROMA_URL)."""
        if self._vectorstore is None:
            import chromadb
            from chromadb.config import Settings
            from langchain_chroma import Chroma

            settings = Settings(anonymized_telemetry=False)
            if self._chroma_url:
                from urllib.parse import urlparse

                url = urlparse(self._chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 8000,
                    ssl=url.scheme == "https",
                    settings=settings,
                )
            else:
                client = chromadb.PersistentClient(path=str(self.home / "chroma"), settings=settings)
            self._vectorstore = Chroma(
                collection_name=self.collection_name(),
                client=client,
                embedding_function=self.cached_embedder,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
        return self._vectorstore

    def dense_available(self) -> bool:
        """True when a vector store exists for this embedder (it may still be filling)."""
        return self._vectorstore is not None or self._chroma_url is not None or (self.home / "chroma").exists()

    def dense_ids(self) -> set[str]:
        return set(self.dense_text_hashes())

    def dense_text_hashes(self) -> dict[str, str | None]:
        """Id → hash of the text each stored vector was made from (None for vectors stored without one)."""
        collection = self.vectorstore._collection
        found: dict[str, str | None] = {}
        total = collection.count()
        for offset in range(0, total, 5000):
            got = collection.get(include=["metadatas"], limit=5000, offset=offset)
            for cid, meta in zip(got["ids"], got["metadatas"] or [None] * len(got["ids"]), strict=True):
                value = (meta or {}).get("text_hash")
                found[cid] = value if isinstance(value, str) else None
        return found

    def dense_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every stored transformer vector: (chunk ids, one row each). What `kb train` fits its query adapter
        against; ~40 MB for the 26k statute chunks."""
        collection = self.vectorstore._collection
        ids: list[str] = []
        rows: list[np.ndarray] = []
        total = collection.count()
        for offset in range(0, total, 5000):
            got = collection.get(include=["embeddings"], limit=5000, offset=offset)
            ids.extend(got["ids"])
            rows.append(np.asarray(got["embeddings"], dtype=np.float32))
        matrix = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return ids, matrix

    def dense_ready(self) -> bool:
        """True when every chunk of the catalog has its transformer vector. Search uses the dense index only
        then: a partly filled one holds the first few thousand chunks the background fill reached, and its
        nearest neighbours among those outrank the right article from BM25 and the static embedder (after
        `make run`, "商家把我的手机号卖给别人了" found 军人地位和权益保障法 first at 320 of 26,078 vectors).
        Once complete, the answer is kept for the catalog generation; until then it is counted per call."""
        if not self.dense_available():
            return False
        generation = self.generation()
        if self._dense_ready_generation == generation:
            return True
        done, total = self.dense_status()
        if total and done >= total:
            self._dense_ready_generation = generation
            return True
        return False

    def dense_status(self) -> tuple[int, int]:
        """(chunks with vectors, chunks in the catalog)."""
        done = self.vectorstore._collection.count() if self.dense_available() else 0
        return done, self.chunk_count()

    def _dense_plan(self) -> tuple[list[Chunk], int, list[str], int]:
        """What `fill_dense` has to do: the chunks to embed (no vector, or a vector of another text: an older
        chunk text or an older choice of `dense_text`), how many of those have such an outdated vector, the
        ids of vectors whose chunk the catalog no longer has, and the catalog's chunk count."""
        present = self.dense_text_hashes()
        catalog_ids: set[str] = set()
        todo: list[Chunk] = []
        outdated = 0
        for chunk in self.iter_chunks():
            catalog_ids.add(chunk.chunk_id)
            if chunk.chunk_id not in present:
                todo.append(chunk)
            elif (stored := present[chunk.chunk_id]) is not None and stored != text_hash(chunk):
                todo.append(chunk)  # a vector of another text under this id: overwritten by the fill (upsert)
                outdated += 1
        stale = sorted(set(present) - catalog_ids)  # chunks deleted or replaced since their vector was stored
        return todo, outdated, stale, len(catalog_ids)

    def dense_outdated(self) -> int:
        """Chunks whose stored vector was made from another text: the next `fill_dense` redoes them; until
        then search uses them as they are (`python -m kb status` shows the count)."""
        if not self.dense_available():
            return 0
        return self._dense_plan()[1]

    def fill_dense(self, progress: Callable[[int, int], None] | None = None, batch_size: int | None = None) -> int:
        """Make the vector store match the catalog: embed every chunk without a vector of its current text,
        drop vectors of chunks the catalog no longer has. Resumable, batch by batch (`batch_size`, default
        $KB_DENSE_BATCH or 64). Returns the number of chunks embedded.

        There is no separate record of progress: the store's ids and text hashes are compared with the
        catalog on every run, so whatever an interruption left (a batch written in part, a vector of a
        chunk whose document was replaced or deleted meanwhile) is repaired by the next run."""
        batch_size = batch_size or int(os.environ.get("KB_DENSE_BATCH") or 64)
        store = self.vectorstore
        todo, _, stale, total = self._dense_plan()
        for i in range(0, len(stale), 5000):
            store.delete(ids=stale[i : i + 5000])
        done = total - len(todo)
        if progress:
            progress(done, total)
        for batch in length_sorted_batches(todo, batch_size):
            texts = [c.dense_text for c in batch]
            vectors = self.cached_embedder.embed_documents(texts)  # cached by text hash as they are computed
            checkpoint("dense.embedded")
            # upsert, not add: a batch that an interrupted run stored in part is simply written again
            store._collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors,
                metadatas=[dense_metadata(c) for c in batch],
                documents=texts,
            )
            checkpoint("dense.stored")
            done += len(batch)
            if progress:
                progress(done, total)
        return len(todo)

    def dense_search(
        self, query: str, k: int = 100, where: dict[str, Any] | None = None, vector: list[float] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunks by the transformer; `vector` is the query's embedding when the caller has it."""
        if not self.dense_available() or self.vectorstore._collection.count() == 0:
            return []
        if vector is None:
            vector = self.embedder.embed_query(query)
        return self.dense_search_vectors([vector], k, where)[0]

    def dense_search_vectors(
        self, vectors: list[list[float]], k: int = 100, where: dict[str, Any] | None = None
    ) -> list[list[tuple[str, float]]]:
        """Nearest chunks of each query vector, in one Chroma call (the query adapter's moved vector goes with
        the question's own: one call costs ~3 ms, two ~5.5)."""
        if not self.dense_available() or not vectors:
            return [[] for _ in vectors]
        # an empty collection answers with empty lists: no count first (dense_search counts before embedding)
        result = self.vectorstore._collection.query(
            query_embeddings=vectors, n_results=k, where=where or None, include=["distances"]
        )
        return [
            [(cid, 1.0 - float(d)) for cid, d in zip(ids, dists, strict=True)]
            for ids, dists in zip(result["ids"], result["distances"], strict=True)
        ]


REPORT_PREFIX = "报道"


def report_id(title: str) -> str:
    """How an answer cites a news report: 报道《title》. Reports have no 案号; the title is their id."""
    return f"{REPORT_PREFIX}《{title}》"


def report_title(case_id: str) -> str | None:
    """The title inside a `report_id`, or None for any other id."""
    if case_id.startswith(REPORT_PREFIX + "《") and case_id.endswith("》"):
        return case_id[len(REPORT_PREFIX) + 1 : -1] or None
    return None


def length_sorted_batches(chunks: list[Chunk], batch_size: int, window: int = 16) -> Iterator[list[Chunk]]:
    """Batches of `batch_size` chunks, sorted by text length within each run of `window` batches.

    The transformer pads a batch to its longest text: batches of similar lengths embed ~20% more passages
    a second (measured on 192 random statute/interpretation/regulation chunks: 10.2 → 12.1 passages/s).
    Sorting within windows, not globally, keeps the catalog's order roughly (laws first, as ingested)."""
    span = batch_size * window
    for start in range(0, len(chunks), span):
        part = sorted(chunks[start : start + span], key=lambda c: len(c.dense_text))
        for i in range(0, len(part), batch_size):
            yield part[i : i + batch_size]


@contextlib.contextmanager
def home_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive lock on `path` across processes (flock); yields False when `blocking` is off and it is held."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Timer:
    """Wall time of consecutive steps: `lap(name)` closes the step that began at the previous lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = now - self._last
        self._last = now


def static_enabled() -> bool:
    """Static-embedding search is on unless KB_STATIC=0."""
    return os.environ.get("KB_STATIC", "1") != "0"


def text_hash(chunk: Chunk) -> str:
    """Hash of the text a chunk's vector is made from (its `dense_text`): a vector of another text is redone."""
    return sha256_text(chunk.dense_text)


def dense_metadata(chunk: Chunk) -> dict[str, Any]:
    """The metadata Chroma keeps for filtering (scalars only), and the hash of the embedded text."""
    meta: dict[str, Any] = {
        "text_hash": text_hash(chunk),
        "doc_id": chunk.doc_id,
        "source_type": chunk.source_type,
        "title": chunk.title,
        "doc_type": chunk.doc_type,
    }
    if chunk.article_no is not None:
        meta["article_no"] = chunk.article_no
    if chunk.case_id:
        meta["case_id"] = chunk.case_id
    if chunk.date:
        meta["date"] = chunk.date
    return meta


def iter_in_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
