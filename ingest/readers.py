"""Read the files users have (text, Word, PDF, web pages) into plain text.

`read_document_text(path)` picks a reader by extension; `walk_sources(paths)` lists the files to read.
Every failure is a `ReaderError(path, reason)`: the reason says what is wrong with the file and never
quotes its content, so errors can be logged and shown safely.

JSONL exports of court cases are records rather than one document; they are listed by `walk_sources`
but read by `ingest.cases.iter_case_jsonl`, not here.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

TEXT_SUFFIXES: frozenset[str] = frozenset({".txt", ".md"})
HTML_SUFFIXES: frozenset[str] = frozenset({".html", ".htm"})
JSONL_SUFFIXES: frozenset[str] = frozenset({".jsonl"})
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | {".docx", ".pdf"}
)

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")


class ReaderError(Exception):
    """A file that cannot be turned into text. `str()` is "{path}: {reason}"."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def normalize_newlines(text: str) -> str:
    """\\r\\n, \\r and the Unicode line/paragraph separators become \\n; a leading BOM is dropped."""
    return _NEWLINES.sub("\n", text.lstrip("\ufeff"))


def _nonempty(path: Path, text: str) -> str:
    if not text.strip():
        raise ReaderError(path, "empty (no text)")
    return text


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ReaderError(path, "not found") from None
    except IsADirectoryError:
        raise ReaderError(path, "is a directory") from None
    except PermissionError:
        raise ReaderError(path, "unreadable (permission denied)") from None
    except OSError as e:
        raise ReaderError(path, f"unreadable ({e.strerror or type(e).__name__})") from None


def decode_text(data: bytes, path: Path | str = "<bytes>") -> str:
    """Decode bytes of a text file: UTF-8 (with or without BOM), then GB18030 (covers GBK/GB2312),
    both strictly, then whatever charset-normalizer finds. UTF-16 with a BOM is honoured."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ReaderError(path, "undecodable text (bad UTF-16)") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        text = str(best)
        if "\x00" not in text:
            return text
    raise ReaderError(path, "undecodable text (not UTF-8, GB18030 or any detectable encoding)")


def read_text_file(path: Path | str) -> str:
    """A .txt/.md file as text with \\n newlines."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise ReaderError(path, "empty (no text)")
    return _nonempty(path, normalize_newlines(decode_text(data, path)))


def read_docx(path: Path | str) -> str:
    """Paragraphs and table cells of a .docx body, in document order (one table row per line, cells
    separated by a tab; merged cells once)."""
    path = Path(path)
    if not path.exists():
        raise ReaderError(path, "not found")
    if not zipfile.is_zipfile(path):
        raise ReaderError(path, "not a valid .docx (not a zip archive)")
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError:  # pragma: no cover - dependency is declared
        raise ReaderError(path, "python-docx is not installed") from None
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile):
        raise ReaderError(path, "not a valid .docx (no Word document inside the zip)") from None
    except Exception as e:  # lxml errors on a damaged part, …
        raise ReaderError(path, f"not a valid .docx ({type(e).__name__})") from None
    lines: list[str] = []
    _docx_block_lines(document.element.body, document, lines)
    return _nonempty(path, normalize_newlines("\n".join(lines)))


def _docx_block_lines(element, parent, lines: list[str]) -> None:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, parent).text)
        elif tag == "tbl":
            table = Table(child, parent)
            for row in table.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    sub: list[str] = []
                    _docx_block_lines(cell._tc, cell, sub)
                    text = "\n".join(s for s in sub if s.strip()).strip()
                    if text:
                        cells.append(text)
                if cells:
                    lines.append("\t".join(cells))
        elif tag == "sdt":  # content controls wrap ordinary paragraphs and tables
            content = child.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}sdtContent")
            if content is not None:
                _docx_block_lines(content, parent, lines)


def read_pdf(path: Path | str) -> str:
    """The text layer of a PDF, page by page. A PDF without one (scanned) is an error, not empty text."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise ReaderError(path, "empty (no text)")
    if b"%PDF-" not in data[:1024]:
        raise ReaderError(path, "not a PDF (no %PDF header)")
    if b"%%EOF" not in data[-2048:]:
        raise ReaderError(path, "truncated PDF (no %%EOF marker at the end)")
    import logging

    import pypdf
    from pypdf.errors import PdfReadError

    pypdf_logger = logging.getLogger("pypdf")
    old_level = pypdf_logger.level
    pypdf_logger.setLevel(logging.ERROR)  # its warnings on damaged files are noise, not failures
    try:
        from io import BytesIO

        reader = pypdf.PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ReaderError(path, "encrypted PDF (needs a password)")
            except ReaderError:
                raise
            except Exception:
                raise ReaderError(path, "encrypted PDF (cannot decrypt)") from None
        pages: list[str] = []
        for page in reader.pages:
            pages.append(page.extract_text() or "")
    except ReaderError:
        raise
    except PdfReadError as e:
        raise ReaderError(path, f"invalid PDF ({type(e).__name__})") from None
    except Exception as e:  # pypdf raises many kinds on damaged files
        raise ReaderError(path, f"invalid PDF ({type(e).__name__})") from None
    finally:
        pypdf_logger.setLevel(old_level)
    text = normalize_newlines("\n\n".join(p.strip("\n") for p in pages))
    if not text.strip():
        raise ReaderError(path, "no text layer (scanned PDF?)")
    return text


def read_html(path: Path | str) -> str:
    """The main text of a web page (trafilatura), without navigation, headers or footers; the whole
    visible text (lxml) when trafilatura finds no main content."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise ReaderError(path, "empty (no text)")
    text = ""
    try:
        import trafilatura

        text = trafilatura.extract(
            data, include_comments=False, include_tables=True, favor_precision=True, deduplicate=False
        ) or ""
    except Exception:
        text = ""
    if not text.strip():
        text = _html_visible_text(data, path)
    return _nonempty(path, normalize_newlines(text).strip("\n"))


_HTML_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe")


def _html_visible_text(data: bytes, path: Path) -> str:
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        raise ReaderError(path, "invalid HTML") from None
    for el in [*root.iter(*_HTML_DROP), *root.iter(etree.Comment)]:
        if el.getparent() is not None:
            el.drop_tree()
    body = root.find("body")
    node = body if body is not None else root
    blocks = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "td")
    for el in node.iter(*blocks):
        el.tail = ("\n" + el.tail) if el.tail else "\n"
    text = node.text_content()
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def read_document_text(path: Path | str) -> str:
    """Text of one document, by extension (see SUPPORTED_SUFFIXES)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return read_text_file(path)
    if suffix == ".docx":
        return read_docx(path)
    if suffix == ".pdf":
        return read_pdf(path)
    if suffix in HTML_SUFFIXES:
        return read_html(path)
    if suffix in JSONL_SUFFIXES:
        raise ReaderError(path, "JSONL holds case records: read it with ingest.cases.iter_case_jsonl")
    if suffix == ".doc":
        raise ReaderError(path, "unsupported extension .doc (save it as .docx)")
    raise ReaderError(path, f"unsupported extension {suffix or '(none)'}")


def walk_sources(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files to ingest: files given directly (whatever their extension, so that an unsupported one is
    reported by `read_document_text`), and the supported, non-hidden files under directories, walked
    recursively in sorted name order. Directory symlinks inside a walk are not followed (no loops);
    file symlinks are. Each file is yielded once."""
    seen: set[str] = set()

    def key(p: Path) -> str:
        try:
            return str(p.resolve())
        except OSError:
            return str(p.absolute())

    def once(p: Path) -> bool:
        k = key(p)
        if k in seen:
            return False
        seen.add(k)
        return True

    def walk(directory: Path) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            p = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(p)
                elif entry.is_file(follow_symlinks=True) and p.suffix.lower() in SUPPORTED_SUFFIXES and once(p):
                    yield p
            except OSError:
                continue

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            if once(p):
                yield from walk(p)
        elif once(p):
            yield p
