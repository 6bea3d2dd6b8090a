"""Readers: real files generated in tmp_path (Word, PDF with a CJK text layer, scanned-like PDF, HTML,
GB18030 and UTF-8-BOM text) and every error the readers promise."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from ingest import readers
from ingest.readers import (
    SUPPORTED_SUFFIXES,
    ReaderError,
    decode_text,
    read_document_text,
    read_text_file,
    walk_sources,
)

JUDGMENT_LINES = [
    "浙江省杭州市互联网法院",
    "民事判决书",
    "（2023）浙0192民初1234号",
    "原告：张某某，男，住浙江省杭州市。",
    "本院认为，被告未按约提供服务，应当承担违约责任。",
]


# ---------------------------------------------------------------------------------------------------
# text files


def test_utf8_text_and_newlines(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes("第一行\r\n第二行\r第三行\n".encode())
    assert read_text_file(p) == "第一行\n第二行\n第三行\n"


def test_utf8_bom_text(tmp_path: Path) -> None:
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf" + "《中华人民共和国民法典》第一千零三十四条".encode())
    text = read_document_text(p)
    assert text == "《中华人民共和国民法典》第一千零三十四条"
    assert not text.startswith("\ufeff")


def test_gb18030_text(tmp_path: Path) -> None:
    body = "自然人的个人信息受法律保护。\n第一千零三十四条　个人信息是以电子或者其他方式记录的各种信息。\n"
    p = tmp_path / "gbk.txt"
    p.write_bytes(body.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")
    assert read_document_text(p) == body


def test_gbk_markdown(tmp_path: Path) -> None:
    p = tmp_path / "notes.md"
    p.write_bytes("# 标题\n\n正文：侵害个人信息。".encode("gbk"))
    assert read_document_text(p) == "# 标题\n\n正文：侵害个人信息。"


def test_utf16_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "u16.txt"
    p.write_bytes("个人信息保护法".encode("utf-16"))
    assert read_document_text(p) == "个人信息保护法"


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(ReaderError) as e:
        read_document_text(p)
    assert e.value.path == p
    assert "empty" in e.value.reason
    assert str(e.value) == f"{p}: {e.value.reason}"


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    p = tmp_path / "blank.md"
    p.write_text(" \n\u3000\n\t\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="empty"):
        read_document_text(p)


def test_binary_junk_is_undecodable(tmp_path: Path) -> None:
    p = tmp_path / "junk.txt"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ReaderError, match="undecodable"):
        read_document_text(p)


def test_decode_text_prefers_utf8() -> None:
    assert decode_text("案号（2023）浙0192民初1234号".encode()) == "案号（2023）浙0192民初1234号"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="not found"):
        read_document_text(tmp_path / "nope.txt")
    d = tmp_path / "dir.txt"
    d.mkdir()
    with pytest.raises(ReaderError):
        read_document_text(d)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "secret.txt"
    p.write_text("内容", encoding="utf-8")
    p.chmod(0)
    if os.geteuid() == 0:
        # Root reads any file (CI runs as root): the open fails as it would for anyone else.
        real_open = os.open

        def denied(path: Any, *args: Any, **kwargs: Any) -> int:
            if Path(path) == p:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(readers.os, "open", denied)
    with pytest.raises(ReaderError, match=r"secret\.txt: unreadable \(permission denied\)"):
        read_document_text(p)


def test_unsupported_extension(tmp_path: Path) -> None:
    for name in ("table.xlsx", "old.doc", "noext"):
        p = tmp_path / name
        p.write_bytes(b"whatever")
        with pytest.raises(ReaderError, match="unsupported extension"):
            read_document_text(p)


def test_jsonl_is_left_to_the_case_module(tmp_path: Path) -> None:
    p = tmp_path / "cases.jsonl"
    p.write_text('{"id": "x"}\n', encoding="utf-8")
    assert ".jsonl" in SUPPORTED_SUFFIXES
    with pytest.raises(ReaderError, match="iter_case_jsonl"):
        read_document_text(p)


def test_error_messages_never_quote_the_document(tmp_path: Path) -> None:
    secret = "张三的身份证号330106199001011234"
    p = tmp_path / "x.docx"
    p.write_text(secret, encoding="utf-8")  # not a zip
    with pytest.raises(ReaderError) as e:
        read_document_text(p)
    assert "张三" not in str(e.value) and "3301" not in str(e.value)


# ---------------------------------------------------------------------------------------------------
# Word


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("民事起诉状", level=1)
    document.add_paragraph("原告：张某某，男，住浙江省杭州市。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "诉讼请求"
    table.cell(0, 1).text = "判令被告退还服务费5000元"
    table.cell(1, 0).text = "事实与理由"
    table.cell(1, 1).text = "被告未按约提供服务"
    merged = document.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 2)).text = "合并单元格只出现一次"
    document.add_paragraph("此致　浙江省杭州市互联网法院")
    p = tmp_path / "complaint.docx"
    document.save(str(p))

    text = read_document_text(p)
    lines = text.split("\n")
    assert lines[0] == "民事起诉状"
    assert "诉讼请求\t判令被告退还服务费5000元" in lines
    assert "事实与理由\t被告未按约提供服务" in lines
    assert text.count("合并单元格只出现一次") == 1
    assert text.index("原告") < text.index("诉讼请求") < text.index("事实与理由") < text.index("此致")


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "fake.docx"
    p.write_text("这不是Word文件", encoding="utf-8")
    with pytest.raises(ReaderError, match="not a zip"):
        read_document_text(p)


def test_zip_without_word_document(tmp_path: Path) -> None:
    import zipfile

    p = tmp_path / "other.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ReaderError, match=r"not a valid \.docx"):
        read_document_text(p)


def test_empty_docx(tmp_path: Path) -> None:
    import docx

    p = tmp_path / "empty.docx"
    docx.Document().save(str(p))
    with pytest.raises(ReaderError, match="empty"):
        read_document_text(p)


# ---------------------------------------------------------------------------------------------------
# PDF


def _cjk_pdf(path: Path, lines: list[str], pages: int = 1) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    for page in range(pages):
        c.setFont("STSong-Light", 12)
        y = 780
        for line in lines:
            c.drawString(60, y, line)
            y -= 20
        c.drawString(60, 60, f"第{page + 1}页")
        c.showPage()
    c.save()


def test_pdf_with_cjk_text_layer(tmp_path: Path) -> None:
    p = tmp_path / "judgment.pdf"
    _cjk_pdf(p, JUDGMENT_LINES, pages=2)
    text = read_document_text(p)
    for line in JUDGMENT_LINES:
        assert line in text
    assert "第1页" in text and "第2页" in text
    assert text.index("第1页") < text.index("第2页")


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    p = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(p))
    c.rect(100, 100, 300, 400, fill=1)  # what a scan looks like to a text extractor: drawing, no text
    c.showPage()
    c.showPage()  # and an empty page
    c.save()
    with pytest.raises(ReaderError) as e:
        read_document_text(p)
    assert e.value.reason == "no text layer (scanned PDF?)"


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_pdf(tmp_path: Path, keep: float) -> None:
    whole = tmp_path / "whole.pdf"
    _cjk_pdf(whole, JUDGMENT_LINES)
    data = whole.read_bytes()
    p = tmp_path / "truncated.pdf"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ReaderError, match=r"truncated|invalid"):
        read_document_text(p)


def test_pdf_with_garbage_body(tmp_path: Path) -> None:
    p = tmp_path / "broken.pdf"
    p.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 100 + b"\n%%EOF\n")
    with pytest.raises(ReaderError, match=r"invalid PDF|no text layer"):
        read_document_text(p)


def test_not_a_pdf(tmp_path: Path) -> None:
    p = tmp_path / "fake.pdf"
    p.write_text("这是一个文本文件", encoding="utf-8")
    with pytest.raises(ReaderError, match="not a PDF"):
        read_document_text(p)


# ---------------------------------------------------------------------------------------------------
# HTML

ARTICLE = [
    "杭州互联网法院审理了一起个人信息保护民事公益诉讼案，该案涉及的新生儿个人信息高达3万余条。法院判令三名被告在国家级媒体上公开赔礼道歉。",
    "法院审理认为，本案涉案的新生儿个人信息包含出生日期、性别、父母姓名及联系方式等，足以识别到特定的新生儿及其父母，属于民法典所保护的公民个人信息。",
    "三名被告以牟利为目的，在未征得个人同意的情况下，非法买卖、使用特定人群的相关个人信息，侵害了社会公共利益，应当承担相应的民事责任。",
]


def test_html_main_text_without_navigation(tmp_path: Path) -> None:
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>新闻</title>'
        "<style>.x{color:red}</style><script>var tracking = 1;</script></head><body>"
        '<nav><ul><li><a href="/">网站首页</a></li><li><a href="/news">新闻中心栏目</a></li>'
        '<li><a href="/about">联系我们页面</a></li></ul></nav>'
        "<header><div>某某法院门户网站导航栏</div></header>"
        "<article><h1>杭州互联网法院审结一起个人信息保护公益诉讼案</h1>"
        + "".join(f"<p>{p}</p>" for p in ARTICLE)
        + "</article><aside>相关链接侧栏推荐</aside><footer><p>版权所有 备案号京ICP备00000000号</p></footer>"
        "</body></html>"
    )
    p = tmp_path / "page.html"
    p.write_text(html, encoding="utf-8")
    text = read_document_text(p)
    for para in ARTICLE:
        assert para in text
    for junk in ("网站首页", "新闻中心栏目", "联系我们页面", "导航栏", "版权所有", "tracking", "color:red", "侧栏"):
        assert junk not in text


def test_html_fallback_to_visible_text(tmp_path: Path) -> None:
    # Too little for trafilatura to call it an article: the visible text comes out, without scripts and nav.
    p = tmp_path / "tiny.htm"
    p.write_text(
        "<html><body><nav>菜单</nav><script>x=1</script><div>第一千零三十四条</div><p>个人信息受法律保护</p>"
        "</body></html>",
        encoding="utf-8",
    )
    text = read_document_text(p)
    assert "第一千零三十四条" in text and "个人信息受法律保护" in text
    assert "菜单" not in text and "x=1" not in text


def test_html_in_gbk(tmp_path: Path) -> None:
    html = (
        '<html><head><meta charset="gbk"></head><body><article>'
        + "".join(f"<p>{p}</p>" for p in ARTICLE)
        + "</article></body></html>"
    )
    p = tmp_path / "gbk.html"
    p.write_bytes(html.encode("gbk"))
    text = read_document_text(p)
    assert ARTICLE[0] in text


def test_empty_html(tmp_path: Path) -> None:
    p = tmp_path / "empty.html"
    p.write_text("<html><body><script>var a=1;</script></body></html>", encoding="utf-8")
    with pytest.raises(ReaderError, match="empty"):
        read_document_text(p)


# ---------------------------------------------------------------------------------------------------
# walking sources


def test_walk_sources(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "b_dir" / "deep").mkdir(parents=True)
    (root / ".hidden_dir").mkdir()
    for rel in ("a.txt", "c.pdf", "b_dir/x.docx", "b_dir/deep/y.html", "b_dir/z.JSONL", "d.md"):
        (root / rel).write_text("x", encoding="utf-8")
    (root / ".secret.txt").write_text("x", encoding="utf-8")
    (root / ".hidden_dir" / "in_hidden.txt").write_text("x", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "b_dir" / "loop").symlink_to(root, target_is_directory=True)  # a loop: not followed
    (root / "link.txt").symlink_to(root / "a.txt")  # same file again: yielded once
    (root / "broken.txt").symlink_to(root / "missing.txt")
    direct = tmp_path / "report.xlsx"
    direct.write_bytes(b"x")

    found = list(walk_sources([root, direct, root / "a.txt"]))
    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    assert rel == [
        "docs/a.txt",
        "docs/b_dir/deep/y.html",
        "docs/b_dir/x.docx",
        "docs/b_dir/z.JSONL",
        "docs/c.pdf",
        "docs/d.md",
        "report.xlsx",  # given directly: yielded so that reading it reports the unsupported extension
    ]
    with pytest.raises(ReaderError, match="unsupported extension"):
        read_document_text(direct)


def test_walk_missing_path_is_yielded_for_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    assert list(walk_sources([missing])) == [missing]
    with pytest.raises(ReaderError, match="not found"):
        read_document_text(missing)
