"""Resources the app loads once per process, the first-start build, uploads, and the answerer.

* `get_kb(home)`, `get_answerer(home)` are `st.cache_resource`: the catalog, the BM25 index, the embedder and
  the vector store load once per process, so a second page load (or a second user) is fast. `get_playbooks()`
  hands out `kb.playbooks.shipped_playbooks`, which is read once per process already.
* `start_default_build(kb)`: on first start with an empty store, builds the default knowledge base in a thread
  (`ingest(kb, ["statutes"], dense=False)`, then `fill_dense_background`); search works as soon as the lexical
  index is written, while vectors fill in behind it.
* `ingest_uploads` / `delete_personal`: the personal collection ("mine"). A file is stored as
  `KB_HOME/uploads/<stable_upload_id>`; its name is kept only as data in `uploads/manifest.json`.
* `answerer_for(kb)`: `kb.answer.Answerer` (offline composer, or an LLM when `KB_LLM_*` is set) over a
  `FilteredRetriever`, so the sidebar's filters narrow what the answer retrieves; `stream_answer` runs one turn of
  a `kb.conversation.Conversation` (follow-up questions keep their context).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from kb.models import Answer, Chunk
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, default_home, text_hash

MINE = "mine"
UPLOAD_SUFFIXES: tuple[str, ...] = (".md", ".txt", ".docx", ".pdf", ".html", ".htm", ".jsonl")
LAW_TYPES: tuple[str, ...] = ("statute", "interpretation", "regulation")


def kb_home() -> Path:
    return default_home()


def default_sources() -> list[str]:
    """What the first start builds: `KB_DEFAULT_SOURCES` (';'-separated ingest sources), else all national laws."""
    raw = os.environ.get("KB_DEFAULT_SOURCES", "").strip()
    return [s.strip() for s in raw.split(";") if s.strip()] or ["statutes"]


# --------------------------------------------------------------------------------------------------
# Cached resources
# --------------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner="正在加载知识库…")
def get_kb(home: str) -> KnowledgeBase:
    kb = KnowledgeBase(Path(home))
    if kb.chunk_count() and kb.get_meta("default_kb") != "building":
        kb.lexical()  # load (or rebuild) the BM25 index now, not on the first question
    return kb


@st.cache_resource(show_spinner="正在加载问答引擎…")
def get_answerer(home: str) -> Any:
    answerer = answerer_for(get_kb(home))
    # Playbook routing embeds every playbook situation once per machine (~6 s): start it now, not on the
    # first question.
    threading.Thread(target=lambda: answerer.composer.index, name="playbook-routing", daemon=True).start()
    return answerer


def get_playbooks() -> list[Any]:
    from kb.playbooks import shipped_playbooks

    return list(shipped_playbooks())


@st.cache_resource
def _jobs() -> dict[str, BuildJob]:
    return {}


_JOBS_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------------


@dataclass
class KBStatus:
    home: str
    documents: dict[str, int]
    chunks: dict[str, int]
    last_ingest: str | None
    lexical_ready: bool
    dense_done: int
    dense_total: int
    dense_filling: bool
    embedder: str
    store: str
    trained_questions: int = 0  # questions `python -m kb train` learnt from (its question memory); 0 = untrained

    @property
    def dense_complete(self) -> bool:
        return self.dense_total > 0 and self.dense_done >= self.dense_total


def kb_status(kb: KnowledgeBase) -> KBStatus:
    from ingest.dense import dense_filling
    from kb.embeddings import DEFAULT_EMBEDDER

    done, total = kb.dense_status()
    embedder = os.environ.get("KB_EMBEDDER") or DEFAULT_EMBEDDER
    if kb._embedder is not None or kb.dense_available():
        from kb.embeddings import embedder_name

        embedder = embedder_name(kb.embedder)
    chroma_url = os.environ.get("KB_CHROMA_URL")
    store = f"Chroma 服务 {chroma_url}" if chroma_url else f"Chroma（本地 {kb.home / 'chroma'}）"
    return KBStatus(
        home=str(kb.home),
        documents=kb.document_counts(),
        chunks=kb.counts(),
        last_ingest=kb.get_meta("last_ingest"),
        lexical_ready=kb.lexical_ready(),
        dense_done=done,
        dense_total=total,
        dense_filling=dense_filling(kb.home),
        embedder=embedder,
        store=store + " · BM25（jieba）",
        trained_questions=trained_questions(kb),
    )


def max_upload_bytes() -> int:
    """The app's upload limit: the ingest's file limit (`KB_MAX_FILE_MB`, default 20), which would refuse a
    larger file anyway."""
    from ingest.readers import max_file_bytes

    return max_file_bytes()


def max_upload_mb() -> int:
    """`max_upload_bytes` in whole megabytes, as the upload widget takes them (rounded down, at least 1; the
    exact limit is checked again on every file)."""
    return max(1, max_upload_bytes() // (1024 * 1024))


def trained_questions(kb: KnowledgeBase) -> int:
    """How many questions this knowledge base's retriever learnt from (`python -m kb train`), 0 if none.

    The status panel asks every 5 s while the transformer index fills: the memory is read again only when
    its directory changed (`kb train` replaces it whole)."""
    from kb.memory import MEMORY_DIR

    directory = kb.home / MEMORY_DIR
    try:
        info = directory.stat()
    except OSError:
        return 0
    return _memory_size(str(directory), info.st_ino, info.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _memory_size(directory: str, inode: int, mtime_ns: int) -> int:
    from kb.memory import QuestionMemory

    try:
        memory = QuestionMemory.load(Path(directory))
    except ValueError:
        return 0
    return len(memory) if memory is not None else 0


# --------------------------------------------------------------------------------------------------
# First start: build the default knowledge base
# --------------------------------------------------------------------------------------------------


@dataclass
class BuildJob:
    home: str
    sources: list[str]
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None
    summary: str = ""
    dense_started: bool = False
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.finished is None


def needs_default_build(kb: KnowledgeBase) -> bool:
    """An empty store, or a first build that was interrupted."""
    return kb.chunk_count() == 0 or kb.get_meta("default_kb") == "building"


def _run_build(job: BuildJob, kb: KnowledgeBase) -> None:
    from ingest.dense import fill_dense_background
    from ingest.pipeline import ingest

    try:
        kb.set_meta("default_kb", "building")
        report = ingest(kb, job.sources, dense=False, progress=False)
        kb.set_meta("default_kb", "done")
        job.summary = report.summary()
        if report.errors:
            job.error = "；".join(str(e) for e in report.errors[:3])
        job.dense_started = fill_dense_background(kb.home)
    except Exception as exc:
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.monotonic()


def build_job(kb: KnowledgeBase) -> BuildJob | None:
    return _jobs().get(str(kb.home))


def start_default_build(kb: KnowledgeBase) -> BuildJob:
    """Start (once per process and home) the build of the default knowledge base in a thread."""
    with _JOBS_LOCK:
        jobs = _jobs()
        job = jobs.get(str(kb.home))
        if job is None or (not job.running and needs_default_build(kb) and job.error is None):
            job = BuildJob(home=str(kb.home), sources=default_sources())
            job.thread = threading.Thread(target=_run_build, args=(job, kb), name="kb-default-build", daemon=True)
            jobs[str(kb.home)] = job
            job.thread.start()
        return job


@st.cache_resource
def ensure_dense_filling(home: str) -> bool:
    """Once per process: if some chunks lack vectors and no filler runs, start one in the background."""
    from ingest.dense import dense_filling, fill_dense_background

    kb = get_kb(home)
    done, total = kb.dense_status()
    if total and done < total and not dense_filling(kb.home):
        return fill_dense_background(kb.home)
    return False


# --------------------------------------------------------------------------------------------------
# The personal collection ("mine")
# --------------------------------------------------------------------------------------------------


@dataclass
class UploadResult:
    name: str  # as the user's browser sent it: data, never a path
    upload_id: str = ""
    documents: int = 0
    chunks: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.documents > 0 and not self.errors


def uploads_dir(kb: KnowledgeBase) -> Path:
    return kb.home / "uploads"


def _manifest_path(kb: KnowledgeBase) -> Path:
    return uploads_dir(kb) / "manifest.json"


def read_manifest(kb: KnowledgeBase) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_manifest_path(kb).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_manifest(kb: KnowledgeBase, manifest: dict[str, dict[str, Any]]) -> None:
    path = _manifest_path(kb)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def upload_id_of(kb: KnowledgeBase, source: str) -> str | None:
    """The upload a document came from (its `source` is the stored path, `:line` for JSONL records)."""
    prefix = str(uploads_dir(kb)) + os.sep
    if not source.startswith(prefix):
        return None
    return source[len(prefix) :].split(":", 1)[0].split(os.sep, 1)[0] or None


def _clean_error(message: str, path: Path, name: str) -> str:
    """An ingest error about the stored file, told with the user's file name."""
    return message.replace(str(path), name)


def ingest_uploads(
    kb: KnowledgeBase, files: Sequence[tuple[str, bytes]], progress: Callable[[float, str], None] | None = None
) -> list[UploadResult]:
    """Check, store and ingest uploaded files into the personal collection, one ingest run for the batch.

    Each file gets its own result: a rejected or unparsable file reports its error and leaves nothing behind.
    """
    from ingest.files import stable_upload_id
    from ingest.pipeline import ingest

    def step(fraction: float, text: str) -> None:
        if progress:
            progress(min(1.0, fraction), text)

    results: list[UploadResult] = []
    stored: dict[str, tuple[UploadResult, Path]] = {}
    folder = uploads_dir(kb)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, data) in enumerate(files):
        result = UploadResult(name=name)
        results.append(result)
        step(0.5 * i / max(1, len(files)), f"检查 {name}")
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            result.errors.append(f"不支持的文件类型 {suffix or '（无扩展名）'}；支持 {' '.join(UPLOAD_SUFFIXES)}")
            continue
        if len(data) > max_upload_bytes():
            result.errors.append(f"文件过大（{len(data) / 1048576:.1f} MB），上限 {max_upload_mb()} MB")
            continue
        if not data.strip():
            result.errors.append("空文件")
            continue
        result.upload_id = stable_upload_id(name, data)
        path = folder / result.upload_id
        if not path.exists():
            tmp = folder / (result.upload_id + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        stored[str(path)] = (result, path)
    if stored:
        step(0.5, f"解析 {len(stored)} 个文件并更新检索索引（大的知识库约需一分钟）…")
        report = ingest(kb, list(stored), dense=False, collection=MINE, progress=False)
        for err in report.errors:
            if err.source in stored:
                result, path = stored[err.source]
                result.errors.append(_clean_error(f"{err.reason}", path, result.name))
        by_upload: dict[str, list[Any]] = {}
        for doc in kb.documents():
            uid = upload_id_of(kb, doc.source)
            if uid:
                by_upload.setdefault(uid, []).append(doc)
        counts = dict(kb._conn().execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
        manifest = read_manifest(kb)
        for result, path in stored.values():
            docs = by_upload.get(result.upload_id, [])
            result.documents = len(docs)
            result.chunks = sum(int(counts.get(d.doc_id, 0)) for d in docs)
            if docs:
                manifest[result.upload_id] = {
                    "name": result.name,
                    "size": path.stat().st_size,
                    "uploaded": datetime.now().isoformat(timespec="seconds"),
                }
            else:
                if not result.errors:
                    result.errors.append("没有可以索引的文字")
                path.unlink(missing_ok=True)
        _write_manifest(kb, manifest)
        from ingest.dense import fill_dense_background

        if any(r.documents for r in results):
            fill_dense_background(kb.home)
    step(1.0, "完成")
    return results


@dataclass
class PersonalDoc:
    doc_id: str
    title: str
    source_type: str
    doc_type: str
    upload_id: str | None
    file_name: str
    chunks: int


def personal_documents(kb: KnowledgeBase) -> list[PersonalDoc]:
    manifest = read_manifest(kb)
    counts = dict(kb._conn().execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
    out = []
    for d in kb.documents():
        if d.collection != MINE:
            continue
        uid = upload_id_of(kb, d.source)
        name = manifest.get(uid or "", {}).get("name", "") or (uid or "")
        out.append(PersonalDoc(d.doc_id, d.title, d.source_type, d.doc_type, uid, name, int(counts.get(d.doc_id, 0))))
    return out


def _purge_cached_vectors(kb: KnowledgeBase, chunks: Sequence[Chunk]) -> None:
    """Drop the cached embeddings of deleted texts (the cache is keyed by the hash of the embedded text)."""
    path = kb.embedding_cache_path
    if not path.exists() or not chunks:
        return
    hashes = [text_hash(c) for c in chunks]
    conn = sqlite3.connect(path, timeout=60)
    try:
        with conn:
            for i in range(0, len(hashes), 500):
                part = hashes[i : i + 500]
                conn.execute(f"DELETE FROM vectors WHERE hash IN ({','.join('?' * len(part))})", part)
    except sqlite3.OperationalError:
        pass  # no cache table yet
    finally:
        conn.close()


def delete_personal(kb: KnowledgeBase, doc_ids: Sequence[str] | None = None) -> int:
    """Delete personal documents (all when `doc_ids` is None) everywhere: catalog, vectors, the embedding cache,
    the lexical index (rebuilt now) and the stored files. Returns the number of chunks removed."""
    mine = {d.doc_id: d for d in personal_documents(kb)}
    targets = [d for d in (doc_ids if doc_ids is not None else list(mine)) if d in mine]
    if not targets:
        return 0
    chunks = [c for d in targets for c in kb.document_chunks(d)]
    removed = kb.delete_documents(targets)
    main_texts = {c.content_hash for c in kb.iter_chunks()}
    _purge_cached_vectors(kb, [c for c in chunks if c.content_hash not in main_texts])
    still_used = {upload_id_of(kb, d.source) for d in kb.documents()}
    manifest = read_manifest(kb)
    for uid in {mine[d].upload_id for d in targets} - still_used:
        if uid:
            (uploads_dir(kb) / uid).unlink(missing_ok=True)
            manifest.pop(uid, None)
    _write_manifest(kb, manifest)
    kb.lexical()
    return removed


# --------------------------------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------------------------------


class FilteredRetriever(Retriever):
    """A `Retriever` whose default filters are set per thread: Streamlit runs each session's script in its own
    thread, so one shared answerer can serve sessions with different filters."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._local = threading.local()

    def use(self, filters: SearchFilters | None) -> None:
        self._local.filters = filters if filters is not None and not filters.is_empty() else None

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None) -> list[Any]:
        return super().search(
            query, k=k, filters=filters if filters is not None else getattr(self._local, "filters", None)
        )


def answerer_for(kb: KnowledgeBase) -> Any:
    """`kb.answer.Answerer` over a `FilteredRetriever`; with an LLM when one is configured (`KB_LLM_*`)."""
    from kb.answer import Answerer
    from kb.llm import LLMConfig

    llm = LLMConfig.from_env()
    return Answerer(kb, retriever=FilteredRetriever(kb), playbooks=get_playbooks(), llm=llm, use_llm=llm is not None)


def new_conversation(answerer: Any, persona: str = "parent") -> Any:
    from kb.conversation import Conversation

    return Conversation(answerer, persona=persona)


def stream_answer(
    conversation: Any, question: str, persona: str, filters: SearchFilters | None
) -> Iterator[str | Answer]:
    """The conversation's answer to `question` (text pieces, then the `Answer`), retrieval under `filters`."""
    retriever = getattr(getattr(conversation.answerer, "composer", None), "retriever", None)
    if isinstance(retriever, FilteredRetriever):
        retriever.use(filters)
    try:
        yield from conversation.stream(question, persona=persona)
    finally:
        if isinstance(retriever, FilteredRetriever):
            retriever.use(None)


# --------------------------------------------------------------------------------------------------
# Lookups for the views
# --------------------------------------------------------------------------------------------------


def case_holding(kb: KnowledgeBase, chunk: Chunk) -> str | None:
    """The 裁判要点 / 要旨 of the case a chunk belongs to."""
    if chunk.source_type != "case":
        return None
    from ingest.cases import HOLDING_SECTIONS

    for c in kb.document_chunks(chunk.doc_id):
        if c.section in HOLDING_SECTIONS:
            return c.text
    return None


def full_unit_text(kb: KnowledgeBase, chunk: Chunk) -> str:
    """The whole article a chunk is part of (long articles are split), else the chunk's text."""
    if chunk.article_no is None or chunk.parts <= 1:
        return chunk.text
    parts = [
        c for c in kb.article_chunks(chunk.title, chunk.article_no, chunk.article_suffix) if c.doc_id == chunk.doc_id
    ]
    return "\n".join(c.text for c in sorted(parts, key=lambda c: c.part)) or chunk.text


def article_key(chunk: Chunk) -> str | None:
    """The formatted citation cases are indexed under (`KnowledgeBase.chunks_citing`)."""
    from kb.citations import format_citation
    from kb.models import Citation

    if chunk.article_no is None:
        return None
    return format_citation(
        Citation(raw="", law=chunk.title, article_no=chunk.article_no, article_suffix=chunk.article_suffix)
    )


def citing(kb: KnowledgeBase, chunk: Chunk) -> list[Chunk]:
    """Cases and reports citing the article of `chunk`, one chunk per document."""
    key = article_key(chunk)
    if key is None:
        return []
    seen: dict[str, Chunk] = {}
    for c in kb.chunks_citing(key):
        seen.setdefault(c.doc_id, c)
    return list(seen.values())
