"""ui.render: document text is inert, quotes are highlighted, failed citations are never shown as valid."""

from __future__ import annotations

from html.parser import HTMLParser

from kb.models import Answer, Chunk, Citation, Source, VerifiedCitation
from ui import render

HOSTILE = (
    '前言<script>alert("x")</script>\n[点这里](javascript:alert(1)) ![图](http://evil.example/p.png)\n'
    "<img src=x onerror=alert(2)> **粗体** :red[红字] $x^2$ http://evil.example www.evil.example a@b.cn\n"
    "# 标题\n- 列表"
)

OUR_TAGS = {"div", "span", "b", "mark", "br", "sup"}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = TagCollector()
    parser.feed(markup)
    return parser.tags


def statute(
    text: str = "任何组织、个人不得非法收集、使用、加工、传输他人个人信息。不得非法买卖、提供或者公开他人个人信息。",
    **kw: object,
) -> Chunk:
    base: dict[str, object] = dict(
        chunk_id="c10",
        doc_id="lawsdb:pipl",
        source_type="statute",
        doc_type="法律",
        title="中华人民共和国个人信息保护法",
        short_title="个人信息保护法",
        text=text,
        path=("第一章 总则",),
        article="第十条",
        article_no=10,
        validity="现行有效",
        published="2021-08-20",
        effective="2021-11-01",
        issuer="全国人民代表大会常务委员会",
    )
    base.update(kw)
    return Chunk(**base)  # type: ignore[arg-type]


def case_chunk() -> Chunk:
    return Chunk(
        chunk_id="k1",
        doc_id="file:case",
        source_type="case",
        doc_type="检察指导案例",
        title="北京市人民检察院督促保护儿童个人信息权益行政公益诉讼案",
        short_title="检例第141号",
        text="某App在未征得儿童监护人明示同意的情况下，允许儿童注册账号。",
        case_id="检例第141号",
        case_numbers=("（2021）浙0192民初1号",),
        court="杭州互联网法院",
        date="2021-03-01",
        section="基本案情",
    )


def test_text_html_is_inert_one_line_markup() -> None:
    out = render.text_html(HOSTILE)
    assert "\n" not in out
    assert [t for t, _ in tags_of(out)] == ["br"] * HOSTILE.count("\n")
    for dangerous in ("<script", "<img", "](", "javascript:", "http://", "www.", ":red[", "$x", "**", "# "):
        assert dangerous not in out
    assert "前言" in out and "&#60;script&#62;" in out  # shown as text, not dropped


def test_md_escape_for_labels() -> None:
    out = render.md_escape("[1](javascript:x) **b** <i>")
    assert "](" not in out and "**" not in out and "<i>" not in out
    assert "\\[1\\]" in out


def test_quote_spans_exact_loose_and_by_sentence() -> None:
    text = "第一句话在这里。第二句 话在这里。第三句在这里。"
    assert render.quote_spans(text, "第一句话在这里。") == [(0, 8)]
    # whitespace in the text or the quote does not matter
    start, end = render.quote_spans(text, "第二句话在这里。")[0]
    assert text[start:end] == "第二句 话在这里。"
    # a quote of two non-adjacent sentences marks both
    assert len(render.quote_spans(text, "第一句话在这里。第三句在这里。")) == 2
    assert render.quote_spans(text, "不在文中的一句话。") == []
    assert render.quote_spans(text, "") == []


def test_highlight_marks_the_quote_and_escapes_the_rest() -> None:
    text = "<b>前文</b>。任何组织不得非法买卖个人信息。后文"
    out = render.highlight_html(text, "任何组织不得非法买卖个人信息。")
    assert "<mark>任何组织不得非法买卖个人信息。</mark>" in out
    assert [t for t, _ in tags_of(out)] == ["mark"]


def test_answer_html_markers_and_failed_citations() -> None:
    ok = Source(n=1, chunk=statute(), verified=True, quote="不得非法买卖、提供或者公开他人个人信息。")
    bad = Source(
        n=2, chunk=statute(chunk_id="c99", article="第九十九条", article_no=99), verified=False, status="not_found"
    )
    failed = VerifiedCitation(
        Citation(raw="个保法第九十九条", law="中华人民共和国个人信息保护法", article_no=99),
        "not_found",
        "《中华人民共和国个人信息保护法》第九十九条",
        note="《中华人民共和国个人信息保护法》没有第九十九条",
    )
    good = VerifiedCitation(
        Citation(raw="个保法第十条", law="中华人民共和国个人信息保护法", article_no=10),
        "exists",
        "《中华人民共和国个人信息保护法》第十条",
        chunk_ids=("c10",),
    )
    answer = Answer(
        question="q",
        persona="parent",
        markdown="依照个保法第十条[1]，不得买卖。又见个保法第九十九条[2]和[7]。\n\n"
        "<script>x</script> [链接](http://evil.example) \\<b\\> www.evil.example",
        citations=[good, failed],
        sources=[ok, bad],
    )
    out = render.answer_html(answer)
    assert '<sup class="kb-cite kb-ok"' in out and "[1]</sup>" in out
    assert "[2]✗未核验" in out  # the unverified source's marker
    assert "[7]✗" in out  # a marker with no source at all
    assert '<span class="kb-bad"' in out and "✗ 未通过核验" in out
    assert out.count("kb-ok") == 1  # nothing else looks valid
    assert "<script" not in out and "](" not in out and "http://" not in out and "www." not in out
    assert "&lt;b&gt;" in out and "\\&" not in out  # upstream backslash escapes are not shown
    assert {t for t, _ in tags_of(out)} <= OUR_TAGS


def test_source_html_statute_facts_and_highlight() -> None:
    s = Source(n=1, chunk=statute(), verified=True, quote="不得非法买卖、提供或者公开他人个人信息。")
    out = render.source_html(s)
    for fact in ("第一章 总则", "现行有效", "2021&#45;11&#45;01", "第十条", "✓ 已核验"):
        assert fact in out
    assert "<mark>不得非法买卖、提供或者公开他人个人信息。</mark>" in out
    assert {t for t, _ in tags_of(out)} <= OUR_TAGS


def test_source_html_case_shows_case_data_and_holding() -> None:
    s = Source(n=2, chunk=case_chunk(), verified=True, quote="允许儿童注册账号。")
    out = render.source_html(s, holding="网络运营者未依法履行网络保护义务的，检察机关可以提起公益诉讼。")
    for fact in ("检例第141号", "杭州互联网法院", "2021&#45;03&#45;01", "基本案情", "裁判要点", "浙0192民初1号"):
        assert fact in out


def test_unverified_source_is_never_shown_as_valid() -> None:
    for status in ("not_found", "other_version", "ambiguous", "exists"):
        s = Source(n=3, chunk=statute(), verified=False, status=status)
        assert "✓" not in render.source_label(s)
        out = render.source_html(s)
        assert "已核验" not in out.replace("未核验", "")
        assert "不能作为依据" in out
    v = VerifiedCitation(
        Citation(raw="x", law="y", article_no=1), "other_version", "《y》第一条", note="仅见于已废止的版本"
    )
    line = render.citation_line_html(v)
    assert "kb-badge warn" in line and 'class="kb-bad"' in line and "✓" not in line


def test_stream_html_neutralises_partial_text() -> None:
    assert "<script" not in render.stream_html("<script>") and "](" not in render.stream_html("[a](b")
