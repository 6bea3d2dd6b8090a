"""Files and directories → parsed documents: route each file to the parser that fits it.

- `.jsonl` → one court case per line (`ingest.cases.iter_case_jsonl`);
- a LawRefBook-style Markdown (`# title` … `<!-- INFO END -->`, articles 第X条) → `ingest.lawrefbook`;
- text that looks like a court case or judgment → `ingest.cases.parse_case_markdown`;
- text that looks like a news report → `ingest.news.parse_news`;
- anything else readable → a user document, chunked by paragraphs.
Personal data (ID, phone, bank card numbers, e-mail) is masked in cases, news and user documents unless
`mask_pii=False`. A bad file yields an exception naming it; the batch goes on. Document text is never
written to logs or error messages, and paths in them are `printable` (control characters escaped).
What is refused before parsing — files over KB_MAX_FILE_MB, symlinks leaving the folder or looping,
named pipes, hostile file names, binary data, mixed encodings — is described in `ingest.readers`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.readers import printable
from kb.models import CaseDocument, CaseSection, LegalDocument

Parsed = LegalDocument | CaseDocument


class SourceError(Exception):
    """A source that could not be ingested: `str()` names the path (`printable`) and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path, self.reason = str(path), reason


def _rel_id(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def user_document(text: str, path: Path, doc_id: str) -> CaseDocument:
    """A document that is neither law, case nor news: paragraphs grouped into sections by blank lines."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    title = paragraphs[0][:80] if paragraphs else path.stem
    body = paragraphs[1:] if len(paragraphs) > 1 else paragraphs
    sections: list[CaseSection] = []
    current: list[str] = []
    size = 0
    for p in body:
        if current and size + len(p) > 1200:
            sections.append(CaseSection(f"第{len(sections) + 1}部分", "\n".join(current)))
            current, size = [], 0
        current.append(p)
        size += len(p)
    if current:
        sections.append(CaseSection(f"第{len(sections) + 1}部分", "\n".join(current)))
    return CaseDocument(
        doc_id=doc_id, source_type="document", doc_type="用户文档", title=title, sections=sections, source=str(path)
    )


def parse_file(path: Path, root: Path, mask_pii: bool = True) -> Iterator[Parsed | Exception]:
    """Parsed documents of one file (several for a .jsonl), or exceptions for what failed."""
    from ingest import cases, pii, readers

    if path.suffix.lower() == ".jsonl":
        for item in cases.iter_case_jsonl(path):
            if isinstance(item, CaseDocument) and mask_pii:
                item = pii.mask_case(item)
            yield item
        return
    try:
        text = readers.read_document_text(path)
    except readers.ReaderError as exc:
        yield exc
        return
    except OSError as exc:
        yield SourceError(path, f"unreadable ({exc.strerror or type(exc).__name__})")
        return
    except ValueError as exc:  # its message may quote the file: the type only
        yield SourceError(path, f"cannot read: {type(exc).__name__}")
        return
    try:
        parsed = parse_text(text, path, f"file:{_rel_id(path, root)}", mask_pii)
    except Exception as exc:  # a parser tripping over odd text costs this file, never the batch
        yield SourceError(path, f"cannot parse: {type(exc).__name__}")
        return
    yield parsed


def parse_text(text: str, path: Path, doc_id: str, mask_pii: bool = True) -> Parsed:
    """The text of one file as a law (LawRefBook), a case, a news report or a user document."""
    from ingest import cases, lawrefbook, news, pii

    if path.suffix.lower() in (".md", ".txt") and lawrefbook.looks_like_lawrefbook(text):
        return lawrefbook.parse_lawrefbook_text(text, path, doc_id=doc_id)
    if cases.looks_like_case(text):
        doc = cases.parse_case_markdown(text, source=str(path))
        # A case file that names its record (topical_md's `case:spc_guiding:192`) keeps that id, so
        # ingesting it beside the JSONL export stores the case once.
        if not doc.doc_id.startswith("case:"):
            doc.doc_id = doc_id
    elif news.looks_like_news(text):
        doc = news.parse_news(text, source=str(path))
        doc.doc_id = doc_id
    else:
        doc = user_document(text, path, doc_id)
    return pii.mask_case(doc) if mask_pii else doc


def iter_path(path: Path, mask_pii: bool = True) -> Iterator[tuple[str, Parsed | Exception]]:
    """Everything under `path` (a file or a directory, walked recursively in sorted order), each with
    its origin: the file's path, `printable`, so that reports can print it as it is. Entries the walk
    refuses (symlinks leaving the folder or looping, named pipes, bad names; see
    `ingest.readers.iter_sources`) come as exceptions, like files that fail to parse."""
    from ingest import readers

    if not os.path.lexists(path):  # a broken or looping symlink exists: reading it says which
        yield printable(path), SourceError(path, "no such file or directory")
        return
    root = path if path.is_dir() else path.parent
    found = False
    for item in readers.iter_sources([path]):
        file = item.path if isinstance(item, readers.ReaderError) else item
        if file.name in ("_index.md", "SOURCE_README.md") or "案例" in _rel_parts(file, root)[:1]:
            continue  # LawRefBook navigation pages; its 案例 folder duplicates the case JSONL exports
        found = True
        if isinstance(item, readers.ReaderError):
            yield printable(file), item
            continue
        for parsed in parse_file(file, root, mask_pii):
            yield printable(file), parsed
    if not found and path.is_dir():
        yield printable(path), SourceError(path, "no supported files (.md .txt .docx .pdf .html .jsonl)")


def _rel_parts(path: Path, root: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return ()


def stable_upload_id(name: str, data: bytes) -> str:
    """Id of an uploaded file: its content hash, so the file name never becomes a path."""
    return hashlib.sha256(data).hexdigest()[:16] + Path(name).suffix.lower()[:8]
