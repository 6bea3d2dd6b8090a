"""Resources the app loads once per process, the first-start build, uploads, and the answerer.

* `get_kb(home)`, `get_answerer(home)`, `get_playbooks()` are `st.cache_resource`: the catalog, the BM25 index,
  the embedder and the vector store load once per process, so a second page load (or a second user) is fast.
* `start_default_build(kb)`: on first start with an empty store, builds the default knowledge base in a thread
  (`ingest(kb, ["statutes"], dense=False)`, then `fill_dense_background`); search works as soon as the lexical
  index is written, while vectors fill in behind it.
* `ingest_uploads` / `delete_personal`: the personal collection ("mine"). A file is stored as
  `KB_HOME/uploads/<stable_upload_id>`; its name is kept only as data in `uploads/manifest.json`.
* `answerer_for(kb)`: `kb.answer.Answerer` when that module exists; until then `FallbackAnswerer`, a small
  stand-in with the same contract built from `Retriever` hits and verified citations.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from kb.models import Answer, Chunk, Source, VerifiedCitation
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, default_home

MINE = "mine"
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
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
    return answerer_for(get_kb(home))


@st.cache_resource
def get_playbooks() -> list[Any]:
    from kb.playbooks import load_playbooks

    return load_playbooks()


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
    return KBStatus(home=str(kb.home), documents=kb.document_counts(), chunks=kb.counts(),
                    last_ingest=kb.get_meta("last_ingest"), lexical_ready=kb.lexical_ready(),
                    dense_done=done, dense_total=total, dense_filling=dense_filling(kb.home),
                    embedder=embedder, store=store + " · BM25（jieba）")


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
    except Exception as exc:  # noqa: BLE001 - shown to the user, the app keeps running
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
    return source[len(prefix):].split(":", 1)[0].split(os.sep, 1)[0] or None


def _clean_error(message: str, path: Path, name: str) -> str:
    """An ingest error about the stored file, told with the user's file name."""
    return message.replace(str(path), name)


def ingest_uploads(kb: KnowledgeBase, files: Sequence[tuple[str, bytes]],
                   progress: Callable[[float, str], None] | None = None) -> list[UploadResult]:
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
        if len(data) > MAX_UPLOAD_BYTES:
            result.errors.append(f"文件过大（{len(data) / 1048576:.1f} MB），上限 {MAX_UPLOAD_MB} MB")
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
                manifest[result.upload_id] = {"name": result.name, "size": path.stat().st_size,
                                              "uploaded": datetime.now().isoformat(timespec="seconds")}
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
    """Drop the cached embeddings of deleted texts (the cache is keyed by the hash of the indexed text)."""
    from kb.models import sha256_text

    path = kb.home / "embeddings.sqlite"
    if not path.exists() or not chunks:
        return
    hashes = [sha256_text(c.index_text) for c in chunks]
    conn = sqlite3.connect(path, timeout=60)
    try:
        with conn:
            for i in range(0, len(hashes), 500):
                part = hashes[i:i + 500]
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

def answerer_for(kb: KnowledgeBase) -> Any:
    """`kb.answer.Answerer(kb)` when it exists, else the stand-in."""
    try:
        from kb.answer import Answerer  # type: ignore[import-not-found]
    except ImportError:
        return FallbackAnswerer(kb)
    return Answerer(kb)


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def supports_filters(answerer: Any) -> bool:
    return _accepts(answerer.stream, "filters")


def stream_answer(answerer: Any, question: str, persona: str, history: list[dict[str, str]],
                  filters: SearchFilters | None) -> Iterator[str | Answer]:
    """`answerer.stream(...)`, with the filters when it takes them."""
    kwargs: dict[str, Any] = {"persona": persona, "history": history}
    if filters is not None and not filters.is_empty() and supports_filters(answerer):
        kwargs["filters"] = filters
    yield from answerer.stream(question, **kwargs)


_SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")
_FOLLOW_UP = re.compile(r"^(那|那么|如果|还有|还能|还可以|他们|对方|这个|这种|这样|可以|能不能|要是|假如)")


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def best_sentence(text: str, query: str) -> str:
    """The sentence of `text` sharing most character pairs with `query` (the supporting sentence)."""
    grams = _bigrams(query)
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) >= 6]
    if not sentences:
        return text.strip()[:120]
    return max(sentences, key=lambda s: (len(grams & _bigrams(s)), -abs(len(s) - 60)))


class FallbackAnswerer:
    """Stand-in for `kb.answer.Answerer` (same `ask` / `stream` contract) until that module lands.

    It answers offline from retrieval: the playbook that fits (framed for the persona), then each retrieved source
    with its supporting sentence and a [n] marker. Every citation in the text is verified; a sentence whose
    citation does not verify is dropped and listed in `Answer.removed`.
    """

    def __init__(self, kb: KnowledgeBase, k: int = 5):
        self.kb, self.k = kb, k
        self.retriever = Retriever(kb)

    def ask(self, question: str, persona: str = "parent", history: list[dict[str, str]] | None = None,
            filters: SearchFilters | None = None) -> Answer:
        *_, answer = self.stream(question, persona, history, filters)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, persona: str = "parent", history: list[dict[str, str]] | None = None,
               filters: SearchFilters | None = None) -> Iterator[str | Answer]:
        from kb.citations import parse_citation, verify_citation, verify_text
        from ui.export import choose_playbook

        t0 = time.monotonic()
        previous = [h["content"] for h in (history or []) if h.get("role") == "user"]
        query = question
        if previous and (len(question) < 16 or _FOLLOW_UP.match(question)):
            query = previous[-1] + " " + question  # a follow-up is read with the question before it
        names = self.kb.law_names()
        hits = self.retriever.search(query, k=self.k, filters=filters)
        playbook = choose_playbook(query, get_playbooks())
        sources: list[Source] = []
        for i, hit in enumerate(hits, start=1):
            c = hit.chunk
            parsed = parse_citation(c.citation, names) if (c.article or c.case_id) else None
            check = verify_citation(parsed, self.kb, names) if parsed is not None else None
            sources.append(Source(n=i, chunk=c, verified=check.verified if check else True,
                                  status=check.status if check else "exists", quote=best_sentence(c.text, query)))
        lines = self._compose(persona, playbook, sources)
        kept, removed, citations = [], [], []
        for line in lines:
            checked = verify_text(line, self.kb, names)
            if any(not v.verified for v in checked):
                removed += [v.display for v in checked if not v.verified]
                continue
            kept.append(line)
            citations += [v for v in checked if v.display not in {c.display for c in citations}]
        markdown = "\n".join(kept).strip() or "知识库中没有找到相关的条文。"
        for start in range(0, len(markdown), 24):
            yield markdown[start:start + 24]
        yield Answer(question=question, persona=persona, markdown=markdown, citations=_dedupe(citations),
                     sources=sources, playbook_id=playbook.id if playbook else None, engine="offline",
                     notice=f"{len(removed)} 条未能核验的引用已删除" if removed else None, removed=removed,
                     elapsed_ms=(time.monotonic() - t0) * 1000)

    @staticmethod
    def _compose(persona: str, playbook: Any, sources: list[Source]) -> list[str]:
        cited = [f"- **{s.chunk.citation}**：{s.quote}[{s.n}]" for s in sources]
        if persona == "student":
            lines = ["**法律分析**", ""]
            if playbook is not None:
                lines += [f"问题类型：{playbook.title}。", "", "**规范依据与要件**", ""]
            lines += cited
            if playbook is not None:
                lines += ["", "**分析要点**", "", *[f"- {x}" for x in _SENTENCE.findall(playbook.persona_notes.student)]]
            return lines
        if persona == "ngo":
            lines = ["**宣传与援助要点**", ""]
            if playbook is not None:
                lines += [f"- {x}" for x in re.split(r"[①②③④⑤⑥⑦⑧⑨]", playbook.persona_notes.ngo) if x.strip()]
                lines += ["", "**可转介的渠道**", ""]
                lines += [f"- {s.action}：{s.body}" + (f"（{s.contact}）" if s.contact else "") for s in playbook.steps]
            lines += ["", "**依据**", "", *cited]
            return lines
        lines = []
        if playbook is not None:
            lines += [f"**先说结论**：{playbook.summary}", "", "**你可以这样做**", ""]
            lines += [f"{i}. {s.action}（{s.body}" + (f"，{s.contact}" if s.contact else "") + "）"
                      for i, s in enumerate(playbook.steps[:4], start=1)]
            lines += [""]
        lines += ["**法律是怎么规定的**", "", *cited]
        return lines


def _dedupe(citations: list[VerifiedCitation]) -> list[VerifiedCitation]:
    seen: dict[str, VerifiedCitation] = {}
    for v in citations:
        seen.setdefault(v.display, v)
    return list(seen.values())


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
    parts = [c for c in kb.article_chunks(chunk.title, chunk.article_no, chunk.article_suffix) if c.doc_id == chunk.doc_id]
    return "\n".join(c.text for c in sorted(parts, key=lambda c: c.part)) or chunk.text


def article_key(chunk: Chunk) -> str | None:
    """The formatted citation cases are indexed under (`KnowledgeBase.chunks_citing`)."""
    from kb.citations import format_citation
    from kb.models import Citation

    if chunk.article_no is None:
        return None
    return format_citation(Citation(raw="", law=chunk.title, article_no=chunk.article_no,
                                    article_suffix=chunk.article_suffix))


def citing(kb: KnowledgeBase, chunk: Chunk) -> list[Chunk]:
    """Cases and reports citing the article of `chunk`, one chunk per document."""
    key = article_key(chunk)
    if key is None:
        return []
    seen: dict[str, Chunk] = {}
    for c in kb.chunks_citing(key):
        seen.setdefault(c.doc_id, c)
    return list(seen.values())
