"""Hostile and broken input: a generated corpus of bad files ingested beside good ones.

The corpus (`corpus` fixture, generated once per module) holds an empty file, random binary named .txt
and .md, a truncated PDF, a .docx that is not a zip, one without a Word document, a zip-bomb .docx, a
file mixing UTF-8 and GBK lines, a 200 MB text file, JSONL files with a 50 MB line, a line nested
100,000 levels deep and bad lines between good ones, HTML nested 100,000 levels deep, file and folder
names with control characters, undecodable bytes and `..` segments (a name cannot hold '/' and '..'
itself cannot be created, so backslashes stand in), symlink loops, symlinks leaving the
folder, a broken symlink, a folder symlink to its parent and a named pipe — and good files: a
LawRefBook law, a guiding case, plain user notes, GBK and UTF-16 text, a file with a very long name.

Ingested into a real knowledge base that already holds documents, in-process and through the CLI:
every bad file is reported by its (printable) path with a specific reason that quotes no content, the
good files are stored, and what was stored before is intact. Peak memory is measured in a child
process against a baseline (`test_big_files_keep_memory_bounded`).

Policy (see `ingest.readers`): files over KB_MAX_FILE_MB (default 20) are refused by size, checked
with fstat before any read; JSONL is streamed and each line held to the same limit. Symlinks that
leave the folder or loop are reported, not followed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.cases import iter_case_jsonl
from ingest.pipeline import IngestReport, ingest
from ingest.readers import (
    DEFAULT_MAX_FILE_MB,
    ReaderError,
    iter_sources,
    max_file_bytes,
    printable,
    read_document_text,
    read_limited,
)
from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
MAX_ENV = "KB_MAX_FILE_MB"
# Planted in the content of bad files: no error message may quote it.
CANARY = "保密标记XYZZY"

LAW_MD = """# 测试条例

2020年1月1日 国务院公布

2020年3月1日 施行

<!-- INFO END -->

## 第一章 总则

第一条 为了规范测试活动，保护参与者的合法权益，制定本条例。

第二条 参与测试的个人信息，应当依法处理，不得非法出售或者提供给他人。
"""

CASE_MD = """# 指导案例9001号：张某诉某摄影公司个人信息保护纠纷案

【关键词】民事/个人信息保护/新生儿信息

【裁判要点】
摄影公司未经同意获取新生儿父母的联系方式并推销，构成侵害个人信息权益。

【基本案情】
张某的孩子出生后，某摄影公司多次致电推销新生儿摄影服务。

【裁判理由】
法院认为，被告处理个人信息未取得个人同意，应当承担停止侵害、赔偿损失的责任。
"""

NOTES = "家长的维权笔记\n孩子出生第二天就接到摄影公司的推销电话。\n准备向市场监管部门投诉。"
GBK_TEXT = "国标编码的笔记\n这份笔记用GBK编码保存，内容是关于个人信息保护的思考。"
UTF16_TEXT = "双字节编码的笔记\n这份笔记用UTF-16保存，带字节顺序标记。"
LONG_NAME = ("关于新生儿个人信息被泄露后如何维权的长篇笔记" * 4)[:82] + ".txt"  # 250 bytes: the limit is 255
OLD_NOTES = "旧的维权笔记\n这份笔记在坏文件出现之前就已经入库。\n其中记录了投诉的经过。"


def guiding_record(number: int, **extra: object) -> str:
    record = {
        "id": f"spc_guiding:{number}",
        "kind": "spc_guiding",
        "number": number,
        "title": f"甲诉乙个人信息保护纠纷案{number}",
        "full_text": f"### 指导案例{number}号：甲诉乙个人信息保护纠纷案\n\n裁判要点\n\n要点。\n\n基本案情\n\n案情。",
        **extra,
    }
    return json.dumps(record, ensure_ascii=False)


@dataclass
class Corpus:
    root: Path
    outside: Path  # a folder beside the root, reached only through symlinks
    # relative path (inside root) → what its error must say; JSONL: line → what
    bad: dict[str, str] = field(default_factory=dict)
    bad_lines: dict[str, dict[int, str]] = field(default_factory=dict)
    fifo: Path | None = None

    def path(self, rel: str) -> Path:
        return self.root / rel


def write_text_file(path: Path, size: int) -> None:
    """Lines of ordinary Chinese text, just under `size` bytes (whole lines), written in 1 MB blocks."""
    line = "第一千零三十四条　自然人的个人信息受法律保护。\n".encode()
    block = line * (MB // len(line))
    with path.open("wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.write(line * ((size % len(block)) // len(line)))


def write_long_line_jsonl(path: Path, line_bytes: int) -> None:
    """A JSONL file whose first line is one valid record of about `line_bytes` bytes, then a good line."""
    piece = "案" * (MB // 3)
    with path.open("w", encoding="utf-8") as f:
        f.write('{"id": "spc_guiding:9201", "full_text": "')
        for _ in range(line_bytes // len(piece.encode())):
            f.write(piece)
        f.write('"}\n')
        f.write(guiding_record(9202) + "\n")


def truncated_pdf(path: Path) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    whole = path.with_suffix(".whole")
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(whole))
    c.setFont("STSong-Light", 12)
    c.drawString(60, 780, CANARY)
    c.showPage()
    c.save()
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 2])


def zip_bomb_docx(path: Path, unpacked: int) -> None:
    """A .docx whose Word document unpacks to `unpacked` bytes of zeros (written in blocks)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            block = b"\0" * MB
            for _ in range(unpacked // MB):
                f.write(block)


def build_corpus(root: Path, outside: Path) -> Corpus:
    root.mkdir()
    outside.mkdir()
    corpus = Corpus(root, outside)
    rng = random.Random(6)

    def good(rel: str, text: str, encoding: str = "utf-8") -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))

    def bad(rel: str, data: bytes | None, reason: str) -> Path:
        path = root / rel
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        corpus.bad[rel] = reason
        return path

    # --- good files, some of them hostile in form but readable
    good("条例.md", LAW_MD)
    good("指导案例.md", CASE_MD)
    good("笔记.txt", NOTES)
    good("gbk.txt", GBK_TEXT, "gbk")
    good("utf16.txt", UTF16_TEXT, "utf-16")  # Python writes the BOM
    good(LONG_NAME, NOTES.replace("家长的维权笔记", "很长文件名的笔记"))
    os.symlink("条例.md", root / "别名.md")  # a file symlink inside the folder: the same file, read once

    # --- broken content
    bad("empty.txt", b"", "empty (no text)")
    bad("random.txt", rng.randbytes(64 * 1024), "binary data, not text")
    bad("random.md", bytes(b for b in rng.randbytes(64 * 1024) if b), "binary data, not text")
    truncated_pdf(bad("truncated.pdf", None, "truncated PDF"))
    bad("not-a-zip.docx", f"这不是Word文件：{CANARY}".encode(), "not a valid .docx (not a zip archive)")
    with zipfile.ZipFile(bad("no-document.docx", None, "no Word document inside the zip"), "w") as z:
        z.writestr("readme.txt", CANARY)
    zip_bomb_docx(bad("zip-bomb.docx", None, "zip bomb"), 96 * MB)
    mixed = f"第一行是UTF-8：{CANARY}\n".encode() * 3 + f"这一行是GBK：{CANARY}\n".encode("gbk")
    bad("mixed.txt", mixed, "mixed encodings (line 1 is UTF-8, line 4 is not)")
    # The file that held the notes stored before (see `stored_kb`) is now junk: the stored notes must stay.
    bad("旧笔记.txt", rng.randbytes(4096), "binary data, not text")
    html = "<html><body>" + "<div>" * 100_000 + CANARY + "</div>" * 100_000 + "</body></html>"
    bad("deep.html", html.encode(), "invalid HTML (past the parser's limits")
    write_text_file(bad("huge.txt", None, "too large (200.0 MB; the limit is 20 MB, set KB_MAX_FILE_MB"), 200 * MB)

    # --- JSONL: bad lines cost their line only
    write_long_line_jsonl(root / "long-line.jsonl", 50 * MB)
    corpus.bad_lines["long-line.jsonl"] = {1: "line too large (over the 20 MB limit; set KB_MAX_FILE_MB"}
    (root / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n" + guiding_record(9301) + "\n")
    corpus.bad_lines["deep.jsonl"] = {1: "invalid JSON (nested too deeply)"}
    lines = [
        guiding_record(9401).encode(),
        f'{{"id": "broken", "full_text": "{CANARY}'.encode(),  # truncated JSON
        guiding_record(9402, note=CANARY).encode("gbk"),  # a line in another encoding
        b"[1, 2, 3]",
        guiding_record(9403).encode(),
    ]
    (root / "mixed-lines.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    corpus.bad_lines["mixed-lines.jsonl"] = {
        2: "invalid JSON (",
        3: "not UTF-8",
        4: "not a JSON object (list)",
    }

    # --- hostile names (the content is fine: the name alone is refused)
    for name in (
        "line\nbreak.txt",
        "carriage\rreturn.txt",
        "esc\x1b[2Jclear.md",
        "bell\x07.txt",
        "del\x7f.txt",
        "sep\u2028arator.txt",
        "tab\tname.txt",
    ):
        bad(name, NOTES.encode(), "file name contains control characters")
    bad("..\\..\\evil.txt", NOTES.encode(), "file name contains a '..' path segment")
    bad("a\\..\\..\\evil.md", NOTES.encode(), "file name contains a '..' path segment")
    undecodable = os.fsdecode(b"bad-\xff\xfe.txt")
    bad(undecodable, NOTES.encode(), "file name is not valid UTF-8")
    bad("folder\x1b]0;pwned\x07", None, "folder name contains control characters")
    (root / "folder\x1b]0;pwned\x07").mkdir()
    (root / "folder\x1b]0;pwned\x07" / "inside.txt").write_text(NOTES)  # not reached: its folder is refused

    # --- symlinks and special files
    (outside / "secret.txt").write_text(f"外部文件\n{CANARY}", encoding="utf-8")
    (outside / "folder").mkdir()
    (outside / "folder" / "more.txt").write_text(f"外部文件\n{CANARY}", encoding="utf-8")
    os.symlink("loop-b.txt", bad("loop-a.txt", None, "symlink loop (not followed)"))
    os.symlink("loop-a.txt", bad("loop-b.txt", None, "symlink loop (not followed)"))
    os.symlink(outside / "secret.txt", bad("outside.txt", None, "outside the folder (not followed)"))
    os.symlink("../outside-relative/secret.txt", bad("relative-outside.txt", None, "outside the folder"))
    os.symlink(outside / "folder", bad("outside-folder", None, "outside the folder (not followed)"))
    os.symlink("missing.txt", bad("broken.txt", None, "broken symlink"))
    (root / "sub").mkdir()
    os.symlink("..", bad("sub/up", None, "symlink loop (links to a folder that contains it"))
    os.symlink(".", bad("sub/self", None, "symlink loop (links to a folder that contains it"))
    os.mkfifo(bad("pipe.txt", None, "not a regular file (named pipe)"))
    corpus.fifo = root / "pipe.txt"
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    base = tmp_path_factory.mktemp("hostile")
    (base / "outside-relative").mkdir()
    (base / "outside-relative" / "secret.txt").write_text(f"外部文件\n{CANARY}", encoding="utf-8")
    made = build_corpus(base / "corpus", base / "outside")
    yield made
    for name in ("huge.txt", "long-line.jsonl", "zip-bomb.docx"):  # 350 MB: do not keep them around
        (made.root / name).unlink(missing_ok=True)


Snapshot = dict[str, tuple[str, tuple[tuple[str, str], ...]]]


def snapshot(kb: KnowledgeBase) -> Snapshot:
    """doc_id → (title, its chunks' ids and texts): what must survive a bad batch unchanged."""
    return {
        d.doc_id: (d.title, tuple(sorted((c.chunk_id, c.text) for c in kb.document_chunks(d.doc_id))))
        for d in kb.documents()
    }


@pytest.fixture
def stored_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBase:
    """A knowledge base that already holds a national law and a user's notes stored as `旧笔记.txt`
    (the corpus holds a junk file of that name now)."""
    monkeypatch.setenv("KB_STATIC", "0")
    monkeypatch.delenv("KB_CHROMA_URL", raising=False)
    before = tmp_path / "before"
    before.mkdir()
    (before / "旧笔记.txt").write_text(OLD_NOTES, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    report = ingest(kb, ["statutes:个人信息保护法", str(before)], dense=False, progress=False)
    assert report.errors == [] and report.documents == 2
    return kb


def errors_by_source(report: IngestReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for err in report.errors:
        found.setdefault(err.source, []).append(err.reason)
    return found


def check_errors(corpus: Corpus, errors: dict[str, list[str]]) -> None:
    """Each bad file (and bad JSONL line) reported once by its printable path with its reason; nothing
    else reported; no message quotes content or carries a control character."""
    expected = {printable(corpus.path(rel)) for rel in [*corpus.bad, *corpus.bad_lines]}
    assert set(errors) == expected
    for rel, reason in corpus.bad.items():
        source = printable(corpus.path(rel))
        [message] = errors[source]
        assert not message.startswith(f"{source}: ") and reason in message, (rel, message)  # path said once
    for rel, reasons in corpus.bad_lines.items():
        source = printable(corpus.path(rel))
        assert len(errors[source]) == len(reasons)
        for line, reason in reasons.items():
            assert any(m.startswith(f"{source}:{line}: ") and reason in m for m in errors[source]), (rel, line)
    for messages in errors.values():
        for message in messages:
            assert CANARY not in message and "案案案" not in message
            assert message.isprintable(), repr(message)


GOOD_TITLES = {
    "测试条例",
    "张某诉某摄影公司个人信息保护纠纷案",
    "家长的维权笔记",
    "国标编码的笔记",
    "双字节编码的笔记",
    "很长文件名的笔记",
}
GOOD_CASE_IDS = {"case:spc_guiding:9202", "case:spc_guiding:9301", "case:spc_guiding:9401", "case:spc_guiding:9403"}


def check_good_files_stored(kb: KnowledgeBase, before: Snapshot) -> None:
    after = snapshot(kb)
    for doc_id, stored in before.items():  # nothing stored before is lost or changed
        assert after.get(doc_id) == stored, doc_id
    new = {doc_id: after[doc_id] for doc_id in set(after) - set(before)}
    titles = {title for title, _ in new.values()}
    assert titles >= GOOD_TITLES
    assert set(new) >= GOOD_CASE_IDS
    assert f"file:{LONG_NAME}" in new
    assert len(new) == len(GOOD_TITLES) + len(GOOD_CASE_IDS)  # the symlinked law once; nothing from outside
    everything = "\n".join(text for _, chunks in after.values() for _, text in chunks)
    assert CANARY not in everything and "外部文件" not in everything
    assert kb.lexical().search("旧的维权笔记 投诉的经过")  # the old notes are still found


def test_bad_files_are_reported_and_good_files_stored(corpus: Corpus, stored_kb: KnowledgeBase) -> None:
    before = snapshot(stored_kb)
    assert any(title == "旧的维权笔记" for title, _ in before.values())
    assert corpus.fifo is not None
    # the named pipe is also given directly: opening it for reading must not wait for a writer
    report = ingest(stored_kb, [str(corpus.root), str(corpus.fifo)], dense=False, progress=False)
    errors = errors_by_source(report)
    fifo = printable(corpus.fifo)
    assert errors[fifo] == ["not a regular file (named pipe)"] * 2  # in the walk, and given directly
    errors[fifo] = errors[fifo][:1]
    check_errors(corpus, errors)
    check_good_files_stored(stored_kb, before)
    assert report.documents == len(GOOD_TITLES) + len(GOOD_CASE_IDS)


def test_cli_reports_bad_files_and_stores_good_ones(corpus: Corpus, stored_kb: KnowledgeBase) -> None:
    before = snapshot(stored_kb)
    env = {**os.environ, "KB_STATIC": "0", "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-m", "ingest", str(corpus.root), "--no-dense", "--quiet", "--home", str(stored_kb.home)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert done.returncode == 1
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # strict: printable, valid UTF-8
    assert "\x1b" not in out + err and "\x07" not in out + err
    failed = [line.removeprefix("  failed: ") for line in out.splitlines() if line.startswith("  failed: ")]
    n_errors = len(corpus.bad) + sum(len(lines) for lines in corpus.bad_lines.values())
    assert len(failed) == n_errors  # one line each: no name broke a line in two
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == n_errors
    for rel, reason in corpus.bad.items():
        source = printable(corpus.path(rel))
        assert f"{source}: {source}: " not in out  # `source: reason`: the path once
        assert any(line.startswith(source) and reason in line for line in failed), rel
    assert "line\\nbreak.txt" in out and "bad-\\xff\\xfe.txt" in out and "esc\\x1b[2Jclear.md" in out
    assert f"errors {n_errors}" in out
    check_good_files_stored(KnowledgeBase(stored_kb.home), before)


# ---------------------------------------------------------------------------------------------------
# Memory


def peak_rss_mb(cmd: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> tuple[int, float]:
    """(exit code, peak resident memory in MB) of one child process. `os.wait4` gives this child's own
    rusage; RUSAGE_CHILDREN would report the largest of all children this process ever waited for."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s: {cmd}")
            time.sleep(0.05)
    except BaseException:  # a timeout, or pytest-timeout interrupting: leave no child behind
        proc.kill()
        os.wait4(proc.pid, 0)
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


MEMORY_BOUND_MB = 64


def test_big_files_keep_memory_bounded(corpus: Corpus, tmp_path: Path) -> None:
    """Ingesting a folder with the 200 MB text file and the JSONL with a 50 MB line peaks within
    MEMORY_BOUND_MB of ingesting the same folder without them. The bound is well below either file: the
    big text is refused by its size before a byte is read, and of the long line no more than the 20 MB
    limit is ever held."""
    baseline, big = tmp_path / "baseline", tmp_path / "big"
    for folder in (baseline, big):
        folder.mkdir()
        (folder / "笔记.txt").write_text(NOTES, encoding="utf-8")
    for name in ("huge.txt", "long-line.jsonl"):
        os.link(corpus.path(name), big / name)  # the corpus's files, without copying 250 MB
    env = {**os.environ, "KB_STATIC": "0"}
    env.pop(MAX_ENV, None)
    runs = {}
    for folder in (baseline, big):
        cmd = [sys.executable, "-m", "ingest", str(folder), "--no-dense", "--quiet", "--home", str(folder) + "-kb"]
        runs[folder.name] = peak_rss_mb(cmd, env, tmp_path / f"{folder.name}.log")
    assert runs["baseline"][0] == 0
    assert runs["big"][0] == 1
    log = (tmp_path / "big.log").read_text(encoding="utf-8")
    assert "huge.txt: too large (200.0 MB" in log and "long-line.jsonl:1: line too large" in log
    assert "documents 2 (added 2" in log  # the notes, and the good record after the long line
    growth = runs["big"][1] - runs["baseline"][1]
    print(f"peak RSS: baseline {runs['baseline'][1]:.0f} MB, with the big files {runs['big'][1]:.0f} MB")
    assert growth < MEMORY_BOUND_MB, runs


# ---------------------------------------------------------------------------------------------------
# The pieces


def test_size_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notes.txt"
    write_text_file(path, 2 * MB)
    monkeypatch.delenv(MAX_ENV, raising=False)
    assert max_file_bytes() == DEFAULT_MAX_FILE_MB * MB
    assert read_document_text(path).startswith("第一千零三十四条")
    monkeypatch.setenv(MAX_ENV, "1")
    with pytest.raises(ReaderError, match=r"too large \(2\.0 MB; the limit is 1 MB, set KB_MAX_FILE_MB"):
        read_document_text(path)
    monkeypatch.setenv(MAX_ENV, "0.5")
    assert max_file_bytes() == MB // 2
    for nonsense in ("lots", "-3", "0"):
        monkeypatch.setenv(MAX_ENV, nonsense)
        assert max_file_bytes() == DEFAULT_MAX_FILE_MB * MB


def test_reading_stops_at_the_limit_when_the_size_lies() -> None:
    status = Path("/proc/self/status")  # a regular file whose stat size is 0
    if not status.exists():
        pytest.skip("no /proc")
    assert status.stat().st_size == 0
    with pytest.raises(ReaderError, match="too large"):
        read_limited(status, limit=16)
    assert read_limited(status, limit=MB).startswith(b"Name:")


def test_a_long_jsonl_line_is_skipped_and_the_file_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_ENV, "1")
    path = tmp_path / "cases.jsonl"
    write_long_line_jsonl(path, 3 * MB)
    items = list(iter_case_jsonl(path))
    assert [type(i).__name__ for i in items] == ["CaseRecordError", "CaseDocument"]
    assert str(items[0]) == f"{path}:1: line too large (over the 1 MB limit; set KB_MAX_FILE_MB to change it)"


def test_devices_and_pipes_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    [item] = list(iter_case_jsonl(fifo))
    assert str(item) == f"{fifo}:0: not a regular file (named pipe)"
    if Path("/dev/zero").exists():
        with pytest.raises(ReaderError, match=r"not a regular file \(character device\)"):
            read_limited("/dev/zero")


def test_printable_escapes_what_a_terminal_would_obey() -> None:
    assert printable("a\nb\rc\x1b[2Jd\x07") == "a\\nb\\rc\\x1b[2Jd\\x07"
    assert printable("报告\u202etxt.exe") == "报告\\u202etxt.exe"  # right-to-left override
    assert printable(os.fsdecode(b"bad-\xff.txt")) == "bad-\\xff.txt"
    assert printable("普通的 文件名（1）.md") == "普通的 文件名（1）.md"


def test_deep_folders_are_walked(tmp_path: Path) -> None:
    # Deeper than Python's recursion limit (1000): the walk is iterative. So are making and removing the
    # folders here (Path.mkdir(parents=True) and shutil.rmtree recurse).
    levels = [tmp_path]
    for _ in range(1100):
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    notes = levels[-1] / "notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    try:
        assert list(iter_sources([tmp_path])) == [notes]
    finally:
        notes.unlink()
        for level in reversed(levels[1:]):
            level.rmdir()
