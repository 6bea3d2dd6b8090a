"""Rendering answers and sources as safe markup (pure functions, no Streamlit).

Document text is data, never markup. Two ways out of this module:

* `text_html(text)` / `source_html(...)` / `highlight_html(...)`: our own HTML, one line, every character of the
  document escaped (HTML specials, and the Markdown / GFM / Streamlit specials as numeric entities), newlines as
  `<br>`. Only this output may be passed to `st.markdown(..., unsafe_allow_html=True)`.
* `answer_html(answer)`: the answer's Markdown with HTML escaped, links, images, autolinks, math and Streamlit
  directives made inert, then the numbered citation markers [n] and failed citations turned into our badges.
* `md_escape(text)`: backslash-escaped for places that take Markdown only (expander labels, captions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kb.models import Answer, Chunk, Source, VerifiedCitation

PERSONAS: dict[str, str] = {"parent": "家长", "student": "法学学生", "ngo": "公益组织"}

SOURCE_TYPE_LABELS: dict[str, str] = {
    "statute": "法律",
    "interpretation": "司法解释",
    "regulation": "行政法规/规章",
    "case": "案例",
    "news": "新闻报道",
    "document": "我的文档",
}

VALIDITY_CHOICES: tuple[str, ...] = ("现行有效", "已被修改", "已废止", "尚未生效", "未知")

# status of a citation → (badge text, css class). Only "exists" is ever shown as valid.
STATUS_BADGES: dict[str, tuple[str, str]] = {
    "exists": ("✓ 已核验", "ok"),
    "other_version": ("⚠ 未核验：仅见于其他版本", "warn"),
    "ambiguous": ("⚠ 未核验：有歧义", "warn"),
    "not_found": ("✗ 未通过核验：知识库中没有", "bad"),
}

DISCLAIMER = "本助手提供法律信息，不构成法律意见。请以所附条文原文为准，重要决定前请咨询律师或法律援助（12348）。"

CSS = """<style>
.kb-cite{font-size:.75em;font-weight:600;padding:0 .15em;border-radius:.25em;white-space:nowrap}
.kb-cite.kb-ok{color:#0b6e35;background:#e6f4ea}
.kb-cite.kb-bad,.kb-flag{color:#b3261e;background:#fdecea}
.kb-flag{font-size:.75em;font-weight:600;padding:0 .2em;border-radius:.25em}
.kb-bad{text-decoration:line-through;text-decoration-color:#b3261e}
.kb-badge{display:inline-block;font-size:.8em;font-weight:600;padding:.05em .45em;border-radius:.6em;margin-right:.4em}
.kb-badge.ok{color:#0b6e35;background:#e6f4ea}.kb-badge.warn{color:#8a5300;background:#fff4e0}
.kb-badge.bad{color:#b3261e;background:#fdecea}
.kb-meta{font-size:.85em;color:#555;margin-bottom:.4em;line-height:1.7}
.kb-meta b{color:#333;font-weight:600}
.kb-holding{border-left:3px solid #8ab4f8;padding:.2em .6em;margin:.3em 0 .5em 0;background:#f5f8ff}
.kb-text{line-height:1.75}
.kb-text mark{background:#fff0a8;padding:0 .1em}
.kb-letter{line-height:1.8;border:1px solid #ddd;border-radius:.4em;padding:1em 1.2em;background:#fff}
</style>"""

# --------------------------------------------------------------------------------------------------
# Escaping
# --------------------------------------------------------------------------------------------------

# Every character that means something to HTML, CommonMark, GFM (autolinks, tables, strikethrough), KaTeX ($) or
# Streamlit's own Markdown directives (:red[…], :material/…:, emoji shortcodes) → a numeric character reference.
_INERT = {c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-.!|~$:@=/"}
_INERT_TABLE = str.maketrans(_INERT)
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:@&=])")


def text_html(text: str) -> str:
    """Document text as inert HTML on one line (newlines → <br>)."""
    return _NEWLINES.sub("\n", text or "").translate(_INERT_TABLE).replace("\n", "<br>")


def attr(text: str) -> str:
    """Text for an HTML attribute value in double quotes."""
    return (text or "").replace("\n", " ").translate(_INERT_TABLE)


def md_escape(text: str, keep_newlines: bool = False) -> str:
    """Text for a Markdown-only context (labels, captions, exported Markdown): specials backslash-escaped."""
    text = _NEWLINES.sub("\n", text or "")
    return _MD_SPECIAL.sub(r"\\\1", text if keep_newlines else text.replace("\n", " "))


# --------------------------------------------------------------------------------------------------
# Highlighting the supporting sentence
# --------------------------------------------------------------------------------------------------

_QUOTE_SPLIT = re.compile(r"(?<=[。！？；;!?\n])")
_SPACE = re.compile(r"\s+")


def _find_loose(text: str, needle: str) -> tuple[int, int] | None:
    """`needle` in `text` ignoring whitespace: (start, end) in `text`."""
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[i] for i in positions)
    target = _SPACE.sub("", needle)
    if not target:
        return None
    at = squeezed.find(target)
    if at < 0:
        return None
    return positions[at], positions[at + len(target) - 1] + 1


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where `quote` (the supporting sentence or sentences) sits in `text`: merged (start, end) spans.

    The whole quote first; otherwise each of its sentences of four characters or more; whitespace is ignored.
    """
    quote = (quote or "").strip()
    if not quote or not text:
        return []
    whole = _find_loose(text, quote)
    if whole:
        return [whole]
    spans: list[tuple[int, int]] = []
    for part in _QUOTE_SPLIT.split(quote):
        part = part.strip().strip("“”\"'‘’…「」")
        if len(part) >= 4:
            found = _find_loose(text, part)
            if found:
                spans.append(found)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str, quote: str) -> str:
    """Escaped text with the quoted sentence(s) in <mark>."""
    out, last = [], 0
    for start, end in quote_spans(text, quote):
        out.append(text_html(text[last:start]))
        out.append("<mark>" + text_html(text[start:end]) + "</mark>")
        last = end
    out.append(text_html(text[last:]))
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------------

_MARKER = re.compile(r"\[(\d{1,3})\]")
_ASCII_INERT = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;", ":": "&#58;", "@": "&#64;"}
# the character, with the backslash of an upstream Markdown escape (\< from `kb.answer.md_escape`) taken along
_ASCII_INERT_RE = re.compile(r"\\?([&<>$:@])")


def _neutralise_markdown(text: str) -> str:
    """Markdown stays Markdown (bold, lists, headings), but nothing in it can become HTML, a link or a directive.

    With `:` as an entity there are no reference definitions, URL autolinks, emoji codes or Streamlit directives.
    """
    text = _ASCII_INERT_RE.sub(lambda m: _ASCII_INERT[m.group(1)], _NEWLINES.sub("\n", text or ""))
    text = text.replace("](", "]&#40;")  # [text](url) and ![alt](src) are no longer links or images
    return re.sub(r"(?i)\bwww\.", "www&#46;", text)  # GFM autolink literals (http:// is gone with the colon)


def failed_citations(answer: Answer) -> list[VerifiedCitation]:
    return [v for v in answer.citations if not v.verified]


def answer_html(answer: Answer) -> str:
    """The answer's text with [n] markers as citation badges and failed citations struck through and flagged."""
    text = _neutralise_markdown(answer.markdown)
    for v in failed_citations(answer):
        label, _cls = STATUS_BADGES.get(v.status, STATUS_BADGES["not_found"])
        for raw in dict.fromkeys(r for r in (v.citation.raw, v.display) if r):
            needle = _neutralise_markdown(raw)
            if needle and needle in text:
                text = text.replace(
                    needle,
                    f'<span class="kb-bad" title="{attr(v.note or label)}">{needle}</span>'
                    f'<span class="kb-flag">{label}</span>',
                    1,
                )
                break
    by_n = {s.n: s for s in answer.sources}

    def marker(m: re.Match[str]) -> str:
        n = int(m.group(1))
        source = by_n.get(n)
        if source is None:
            return f'<sup class="kb-cite kb-bad" title="没有对应的来源">[{n}]✗</sup>'
        if source.verified:
            return f'<sup class="kb-cite kb-ok" title="{attr("已核验：" + source.chunk.citation)}">[{n}]</sup>'
        label, _cls = STATUS_BADGES.get(source.status, STATUS_BADGES["not_found"])
        return f'<sup class="kb-cite kb-bad" title="{attr(label)}">[{n}]✗未核验</sup>'

    return _MARKER.sub(marker, text)


def stream_html(partial: str) -> str:
    """A partially streamed answer, made inert (markers are styled once the answer is complete)."""
    return _neutralise_markdown(partial)


# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------


def source_badge(source: Source) -> tuple[str, str]:
    if source.verified:
        return STATUS_BADGES["exists"]
    status = source.status if source.status != "exists" else "not_found"
    return STATUS_BADGES.get(status, STATUS_BADGES["not_found"])


def source_facts(chunk: Chunk) -> list[tuple[str, str]]:
    """What a reader needs to place a source: its place in the law, validity and dates, or the case's data."""
    kind = SOURCE_TYPE_LABELS.get(chunk.source_type, chunk.source_type)
    facts: list[tuple[str, str]] = [("类别", kind + (f"·{chunk.doc_type}" if chunk.doc_type not in ("", kind) else ""))]
    if chunk.source_type in ("statute", "interpretation", "regulation"):
        facts.append(("位置", " / ".join(chunk.path) if chunk.path else "（无编章节）"))
        if chunk.article:
            facts.append(
                (
                    "条文",
                    chunk.article
                    + (f"（第{chunk.paragraph}款起）" if chunk.paragraph else "")
                    + (f"（第{chunk.part}/{chunk.parts}部分）" if chunk.parts > 1 else ""),
                )
            )
        facts.append(("效力", chunk.validity or "未知"))
        if chunk.published:
            facts.append(("公布", chunk.published))
        if chunk.effective:
            facts.append(("施行", chunk.effective))
        if chunk.issuer:
            facts.append(("制定机关", chunk.issuer))
    else:
        if chunk.case_id:
            facts.append(("案例编号", chunk.case_id))
        if chunk.case_numbers:
            facts.append(("案号", "、".join(chunk.case_numbers)))
        if chunk.court:
            facts.append(("法院", chunk.court))
        if chunk.issuer and chunk.issuer != chunk.court:
            facts.append(("发布", chunk.issuer))
        if chunk.date:
            facts.append(("日期", chunk.date))
        if chunk.cause:
            facts.append(("案由", chunk.cause))
        if chunk.section:
            facts.append(("所用部分", chunk.section))
    return facts


def source_label(source: Source) -> str:
    """Expander label (Markdown): number, verification, citation, kind and validity or date."""
    c = source.chunk
    badge, _cls = source_badge(source)
    when = c.validity if c.source_type in ("statute", "interpretation", "regulation") else (c.date or "")
    parts = [c.citation, SOURCE_TYPE_LABELS.get(c.source_type, c.source_type)]
    if when:
        parts.append(when)
    return md_escape(f"[{source.n}] {badge} · " + " · ".join(parts))


def source_html(
    source: Source, full_text: str | None = None, holding: str | None = None, cited_by: Sequence[Chunk] = ()
) -> str:
    """One source, fully: badge, facts, the case's holding, the text with the quote highlighted, cited by."""
    c = source.chunk
    badge, cls = source_badge(source)
    facts = " · ".join(f"<b>{text_html(k)}</b>：{text_html(v)}" for k, v in source_facts(c))
    out = [
        f'<div class="kb-src"><div class="kb-meta"><span class="kb-badge {cls}">{text_html(badge)}</span>{facts}</div>'
    ]
    if not source.verified:
        out.append('<div class="kb-meta"><span class="kb-badge bad">此来源未通过核验，不能作为依据</span></div>')
    if holding:
        out.append(f'<div class="kb-holding"><b>裁判要点</b>：{text_html(holding)}</div>')
    out.append(f'<div class="kb-text">{highlight_html(full_text or c.text, source.quote)}</div>')
    if cited_by:
        items = "；".join(text_html(x.citation) for x in cited_by)
        out.append(f'<div class="kb-meta"><b>引用此条的案例与报道</b>：{items}</div>')
    out.append("</div>")
    return "".join(out)


def citation_line_html(v: VerifiedCitation) -> str:
    """One citation with its verification status, for the list under an answer."""
    label, cls = STATUS_BADGES.get(v.status, STATUS_BADGES["not_found"])
    note = f"（{text_html(v.note)}）" if v.note else ""
    shown = f'<span class="kb-bad">{text_html(v.display)}</span>' if not v.verified else text_html(v.display)
    return f'<span class="kb-badge {cls}">{text_html(label)}</span>{shown}{note}'


def article_html(chunks: Iterable[Chunk], quote: str = "") -> str:
    """Parts of one article (or one case section) joined, escaped."""
    text = "\n".join(c.text for c in sorted(chunks, key=lambda c: c.part))
    return f'<div class="kb-text">{highlight_html(text, quote)}</div>'
