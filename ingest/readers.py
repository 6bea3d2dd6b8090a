"""Read the files users have (text, Word, PDF, web pages) into plain text.

`read_document_text(path)` picks a reader by extension; `iter_sources(paths)` lists the files to read and
reports the entries it refuses; `walk_sources(paths)` lists only the files. Every failure is a
`ReaderError(path, reason)`: the reason says what is wrong with the file and never quotes its content,
and `str()` shows the path with control characters escaped (`printable`), so errors can be logged and
shown safely.

JSONL exports of court cases are records rather than one document; they are listed by `walk_sources`
but read by `ingest.cases.iter_case_jsonl`, not here.

Limits (hostile or broken input)
* Size: a document file larger than `KB_MAX_FILE_MB` (default 20, the app's upload limit) is refused,
  not streamed. Every reader needs the whole document: a PDF's cross-reference table sits at its end, a
  .docx is a zip, and a text file becomes one catalog document written atomically with a fingerprint of
  all its chunks. Streaming a text file in pieces would turn one file into many documents; and a 200 MB
  text is never one legal document but a dump or a mistake that would swamp the lexical index. The size
  is checked with `fstat` before anything is read, and reading stops at the limit even when the size
  lies (/proc files, a file that grows). A .docx that unpacks to more than four times the limit is
  refused as well (a zip bomb). JSONL is streamed line by line, so its size is free; each of its lines
  is held to the same limit (`ingest.cases.iter_case_jsonl`).
* Only regular files are read. Files are opened without blocking and checked with `fstat`, so a named
  pipe, a device or a socket is reported instead of hanging the batch (or reading /dev/zero forever).
* Symlinks (`iter_sources`): a file symlink is followed when its target stays inside the folder being
  walked; a symlink that leaves the folder, a broken one, a symlink loop and a folder symlink that
  points back at a folder containing it are reported and not followed. A folder symlink to another
  folder inside the walk is not followed either: that folder is walked at its own place.
* Names: a file name with control characters (newline, ESC, …), with bytes that are not UTF-8, or with
  a `..` segment between backslashes (a Windows path smuggled into a name) is reported, not ingested:
  the name would become the document's id and source.
* Encodings: UTF-8 (with or without BOM), UTF-16/32 with a BOM, GB18030 (GBK, GB2312) and whatever
  charset-normalizer recognises. Binary data (control bytes) and a file mixing UTF-8 lines with lines in
  another encoding are refused rather than decoded into mojibake.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

TEXT_SUFFIXES: frozenset[str] = frozenset({".txt", ".md"})
HTML_SUFFIXES: frozenset[str] = frozenset({".html", ".htm"})
JSONL_SUFFIXES: frozenset[str] = frozenset({".jsonl"})
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | {".docx", ".pdf"})
DEFAULT_MAX_FILE_MB = 20
MAX_FILE_ENV = "KB_MAX_FILE_MB"
# A .docx is a zip: its parts may unpack to this many times the file limit (XML markup is verbose).
DOCX_UNPACKED_FACTOR = 4

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_MB = 1024 * 1024


def printable(value: Path | str) -> str:
    """`value` (a path, usually) as one safe line: control characters, line separators and invisible
    format characters (bidi overrides, …) escaped as \\n, \\x1b, \\u202e; bytes of a file name that
    are not UTF-8 shown as \\xNN. A crafted file name can then neither forge log lines nor drive the
    terminal, and printing never fails on an undecodable name."""
    out: list[str] = []
    for ch in str(value):
        category = unicodedata.category(ch)
        if category not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(ch)
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


class ReaderError(Exception):
    """A file that cannot be turned into text. `str()` is "{path}: {reason}", the path `printable`."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{printable(path)}: {reason}")

    def __str__(self) -> str:
        return f"{printable(self.path)}: {self.reason}"


def max_file_bytes() -> int:
    """The largest document file read, and the longest JSONL line: `KB_MAX_FILE_MB` megabytes (default
    20). A value that is not a positive number means the default."""
    try:
        mb = float(os.environ.get(MAX_FILE_ENV, "") or DEFAULT_MAX_FILE_MB)
    except ValueError:
        mb = DEFAULT_MAX_FILE_MB
    return int((mb if mb > 0 else DEFAULT_MAX_FILE_MB) * _MB)


def too_large_reason(size: int | None, limit: int) -> str:
    """The reason given for a file (or JSONL line) over the limit; `size` None when only a lower bound
    is known."""
    if size is None:
        return f"too large (over the {limit / _MB:g} MB limit; set {MAX_FILE_ENV} to change it)"
    return f"too large ({size / _MB:.1f} MB; the limit is {limit / _MB:g} MB, set {MAX_FILE_ENV} to change it)"


_FILE_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "not a regular file (named pipe)"),
    (stat.S_ISSOCK, "not a regular file (socket)"),
    (stat.S_ISCHR, "not a regular file (character device)"),
    (stat.S_ISBLK, "not a regular file (block device)"),
)


def _kind_problem(mode: int) -> str | None:
    for test, reason in _FILE_KINDS:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "not a regular file"


def _os_reason(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "not found"
    if isinstance(e, PermissionError):
        return "unreadable (permission denied)"
    if e.errno == errno.ELOOP:
        return "symlink loop (not followed)"
    return f"unreadable ({e.strerror or type(e).__name__})"


def open_source(path: Path | str) -> tuple[BinaryIO, int]:
    """(binary file, size in bytes) of a regular file. Opened non-blocking and checked with `fstat`
    before any read: opening a named pipe normally waits for a writer, forever in a batch."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ReaderError(path, _os_reason(e)) from None
    try:
        info = os.fstat(fd)
        problem = _kind_problem(info.st_mode)
        if problem:
            raise ReaderError(path, problem)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: Path | str, limit: int | None = None) -> bytes:
    """All bytes of a regular file of at most `limit` bytes (default `max_file_bytes()`); a larger one
    is refused by its size before any byte is read, and reading stops at the limit if the size lied."""
    path = Path(path)
    limit = max_file_bytes() if limit is None else limit
    handle, size = open_source(path)
    with handle:
        if size > limit:
            raise ReaderError(path, too_large_reason(size, limit))
        try:
            data = handle.read(limit + 1)
        except OSError as e:
            raise ReaderError(path, _os_reason(e)) from None
    if len(data) > limit:
        raise ReaderError(path, too_large_reason(None, limit))
    return data


def normalize_newlines(text: str) -> str:
    """\\r\\n, \\r and the Unicode line/paragraph separators become \\n; a leading BOM is dropped."""
    return _NEWLINES.sub("\n", text.lstrip("\ufeff"))


def _nonempty(path: Path, text: str) -> str:
    if not text.strip():
        raise ReaderError(path, "empty (no text)")
    return text


# Bytes that never occur in text in an ASCII-compatible encoding (UTF-8, GB18030, Big5, Shift-JIS …):
# C0 controls except tab, newlines and form feed, plus DEL. ESC (\x1b) counts: terminal escapes are not text.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0E, 0x0F, *range(0x10, 0x20), 0x7F])
_BINARY_SHARE = 0.01  # more control bytes than this is binary data; a stray few are tolerated
_UTF8_EVIDENCE = 4  # non-ASCII characters a line needs to count as UTF-8 when the file as a whole is not
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _control_share(data: bytes) -> float:
    return (len(data) - len(data.translate(None, _CONTROL_BYTES))) / max(1, len(data))


def _mixed_encoding(data: bytes) -> tuple[int, int] | None:
    """(a UTF-8 line, a line that is not) when some lines are clearly UTF-8 and others are not, both
    1-based; None otherwise. Called once decoding the whole as UTF-8 failed."""
    utf8_line = bad_line = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            bad_line = bad_line or number
        else:
            # A line of GBK text is valid UTF-8 only by rare chance, and then only a short one.
            if not utf8_line and sum(1 for ch in decoded if ord(ch) > 0x7F) >= _UTF8_EVIDENCE:
                utf8_line = number
        if utf8_line and bad_line:
            return utf8_line, bad_line
    return None


def decode_text(data: bytes, path: Path | str = "<bytes>") -> str:
    """Decode bytes of a text file: UTF-16/32 with a BOM; else UTF-8 (with or without BOM), then GB18030
    (covers GBK/GB2312), both strictly, then whatever charset-normalizer finds. Refused (ReaderError):
    binary data, and a file mixing UTF-8 lines with lines in another encoding, which any single
    encoding would turn partly into mojibake (GB18030 decodes most UTF-8 bytes without complaint)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise ReaderError(
                    path, f"undecodable text (bad {encoding.upper()} after its byte order mark)"
                ) from None
    if b"\x00" in data:
        raise ReaderError(path, "binary data, not text (undecodable: NUL bytes)")
    share = _control_share(data)
    if share > _BINARY_SHARE:
        raise ReaderError(path, f"binary data, not text (undecodable: {share:.0%} control bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    mixed = _mixed_encoding(data)
    if mixed:
        raise ReaderError(
            path,
            f"mixed encodings (line {mixed[0]} is UTF-8, line {mixed[1]} is not); save the file in one encoding",
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    raise ReaderError(path, "undecodable text (not UTF-8, GB18030 or any detectable encoding)")


def read_text_file(path: Path | str) -> str:
    """A .txt/.md file as text with \\n newlines (at most `max_file_bytes()` of it)."""
    path = Path(path)
    data = read_limited(path)
    if not data.strip():
        raise ReaderError(path, "empty (no text)")
    return _nonempty(path, normalize_newlines(decode_text(data, path)))


def read_docx(path: Path | str) -> str:
    """Paragraphs and table cells of a .docx body, in document order (one table row per line, cells
    separated by a tab; merged cells once). Refused: a file over `max_file_bytes()`, and one whose
    parts unpack to more than `DOCX_UNPACKED_FACTOR` times that (python-docx loads every part)."""
    path = Path(path)
    limit = max_file_bytes()
    handle, size = open_source(path)
    with handle:
        if size > limit:
            raise ReaderError(path, too_large_reason(size, limit))
        if not zipfile.is_zipfile(handle):
            raise ReaderError(path, "not a valid .docx (not a zip archive)")
        try:
            with zipfile.ZipFile(handle) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            raise ReaderError(path, "not a valid .docx (damaged zip archive)") from None
        if unpacked > DOCX_UNPACKED_FACTOR * limit:
            raise ReaderError(
                path,
                f"not a valid .docx (unpacks to {unpacked / _MB:.0f} MB, more than {DOCX_UNPACKED_FACTOR} times "
                f"the {limit / _MB:g} MB limit: a zip bomb?)",
            )
        handle.seek(0)
        try:
            import docx
            from docx.opc.exceptions import PackageNotFoundError
        except ImportError:  # pragma: no cover - dependency is declared
            raise ReaderError(path, "python-docx is not installed") from None
        try:
            document = docx.Document(handle)
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
    data = read_limited(path)
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
    visible text (lxml) when trafilatura finds no main content. A page past the HTML parser's limits
    (nested over 256 levels, a text run over 10 MB) is refused: the parser drops the rest, silently."""
    path = Path(path)
    data = read_limited(path)
    if not data.strip():
        raise ReaderError(path, "empty (no text)")
    root = _html_tree(data, path)
    text = ""
    try:
        import trafilatura

        text = (
            trafilatura.extract(
                data, include_comments=False, include_tables=True, favor_precision=True, deduplicate=False
            )
            or ""
        )
    except Exception:
        text = ""
    if not text.strip():
        text = _html_visible_text(root)
    return _nonempty(path, normalize_newlines(text).strip("\n"))


_HTML_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe")


def _html_tree(data: bytes, path: Path) -> Any:
    import lxml.html
    from lxml import etree

    parser = lxml.html.HTMLParser()
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        raise ReaderError(path, "invalid HTML") from None
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        reason = "past the parser's limits, e.g. nested over 256 levels: part of the page would be lost"
        raise ReaderError(path, f"invalid HTML ({reason})")
    return root


def _html_visible_text(root: Any) -> str:
    from lxml import etree

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


def name_problem(name: str, kind: str = "file") -> str | None:
    """Why a file (or folder) name is refused, or None. A name becomes part of a document's id and
    source, is shown in the app and printed in reports: control characters (newline, ESC, …) could forge
    lines or drive a terminal, bytes that are not UTF-8 cannot be stored at all, and a `..` segment
    between backslashes is a Windows path smuggled into a name (zip-slip)."""
    if any(unicodedata.category(ch) == "Cs" for ch in name):
        return f"{kind} name is not valid UTF-8 (rename it)"
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        return f"{kind} name contains control characters (rename it)"
    if ".." in name.split("\\"):
        return f"{kind} name contains a '..' path segment (rename it)"
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class _Folder:
    """A folder the walk descends into."""

    path: Path


def _judge_link(path: Path, supported: bool, root_real: str) -> Path | ReaderError | None:
    """A symlink met in a walk: its target file when that stays inside the walked folder; a reason
    when it leaves the folder, is broken or loops; None when it is no business of ours."""
    try:
        info = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return ReaderError(path, "symlink loop (not followed)")
        if isinstance(e, FileNotFoundError):
            return ReaderError(path, "broken symlink (its target does not exist)") if supported else None
        return ReaderError(path, _os_reason(e)) if supported else None
    is_dir = stat.S_ISDIR(info.st_mode)
    if not (is_dir or supported):
        return None
    target = os.path.realpath(path)
    if not _inside(target, root_real):
        return ReaderError(path, f"symlink to {printable(target)}, outside the folder (not followed)")
    if is_dir:
        if _inside(os.path.realpath(path.parent), target):
            return ReaderError(path, "symlink loop (links to a folder that contains it; not followed)")
        return None  # a folder inside the walk: its files are walked at their own place
    problem = _kind_problem(info.st_mode)
    return ReaderError(path, problem) if problem else path


def _judge(entry: os.DirEntry[str], root_real: str) -> Path | _Folder | ReaderError | None:
    """What a walk does with one directory entry: a file to read, a `_Folder` to descend into, a
    reason it is refused, or None to pass over it (hidden, or not a supported kind of file)."""
    path = Path(entry.path)
    supported = path.suffix.lower() in SUPPORTED_SUFFIXES
    try:
        is_link = entry.is_symlink()
        is_dir = not is_link and entry.is_dir(follow_symlinks=False)
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as e:
        return ReaderError(path, _os_reason(e)) if supported else None
    if not (supported or is_dir or is_link):
        return None
    # A bad name is reported even on a hidden entry: the name itself is what the user must see.
    problem = name_problem(entry.name, "folder" if is_dir else "file")
    if problem:
        return ReaderError(path, problem)
    if entry.name.startswith("."):
        return None  # hidden files and folders (.git, editor backups)
    if is_dir:
        return _Folder(path)
    if is_link:
        return _judge_link(path, supported, root_real)
    problem = _kind_problem(mode)  # a named pipe or a device with a .txt name
    return ReaderError(path, problem) if problem else path


def _listing(directory: Path) -> list[os.DirEntry[str]] | ReaderError:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as e:
        return ReaderError(directory, f"cannot list the folder: {_os_reason(e)}")


def iter_sources(paths: Iterable[Path | str]) -> Iterator[Path | ReaderError]:
    """Files to ingest, and a `ReaderError` for each entry refused on the way. Files given directly are
    yielded whatever their extension (reading reports an unsupported one); folders are walked
    recursively in sorted name order (iteratively: depth is no limit), yielding their supported,
    non-hidden regular files. Refused, with the reason: symlinks that leave the folder, loop or are
    broken, named pipes, devices and sockets, names with control characters, undecodable bytes or `..`
    segments (`name_problem`), folders that cannot be listed. Each file is yielded once."""
    seen: set[str] = set()

    def once(p: Path) -> bool:
        key = os.path.realpath(p)
        if key in seen:
            return False
        seen.add(key)
        return True

    def walk(root: Path) -> Iterator[Path | ReaderError]:
        root_real = os.path.realpath(root)
        first = _listing(root)
        if isinstance(first, ReaderError):
            yield first
            return
        stack = [iter(first)]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            found = _judge(entry, root_real)
            if isinstance(found, _Folder):
                listing = _listing(found.path)
                if isinstance(listing, ReaderError):
                    yield listing
                else:
                    stack.append(iter(listing))
            elif isinstance(found, ReaderError) or (found is not None and once(found)):
                yield found

    for raw in paths:
        p = Path(raw)
        if any(unicodedata.category(ch) == "Cs" for ch in str(p)):
            yield ReaderError(p, "path is not valid UTF-8 (rename it)")
        elif p.is_dir():
            if once(p):
                yield from walk(p)
        elif problem := name_problem(p.name):
            yield ReaderError(p, problem)
        elif once(p):
            yield p


def walk_sources(paths: Iterable[Path | str]) -> Iterator[Path]:
    """The files of `iter_sources(paths)`, without the entries it refuses."""
    for found in iter_sources(paths):
        if isinstance(found, Path):
            yield found
