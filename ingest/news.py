"""News reports about cases: title, outlet, date, body sections, the cases they mention.

`parse_news(text, source=…)` → `CaseDocument` with source_type "news" and doc_type "新闻报道":

* title — the first meaningful line (metadata lines such as 来源/编辑/日期, bare dates and one-word
  labels are skipped); short lines right after it are subtitles and open the first section;
* outlet — a 来源/稿源/出处 line, else a closing "（央视新闻）"-style credit at the end of the report,
  else a "新华社…电" or "本报讯" dateline;
* date — a 日期/时间/发布时间 line or a bare date line (2024-04-17, 2024年4月17日); a report that gives
  none gets None (a day such as "4月16日" inside the story has no year and is not a publication date);
* sections — the report's own sub-headings: a circled number (① … ⑳) or 一、 on a line of its own with
  the heading on the next line, "①heading", 【heading】, "## heading", or a short line without sentence
  punctuation followed by body text. A column label followed directly by another heading (法治聚焦,
  新闻延伸) is dropped, other stacked headings are kept as the first line of the section. Text before the
  first heading is 导语. Sections longer than MAX_SECTION_CHARS are split at paragraph boundaries
  ("…（续）"); a report without headings is cut into 正文 sections of about that size;
* case_numbers — the 案号 and guiding-case numbers (指导案例N号, 检例第N号) it mentions.

Web-page leftovers are removed: paragraphs broken in the middle of a sentence are joined again, and the
run of short lines after the last real paragraph (QR-code and follow-us footers) is dropped, as are
short lines about 扫码/关注/公众号/阅读原文.
"""

from __future__ import annotations

import re

from ingest.cases import extract_case_references
from kb.models import CaseDocument, CaseSection

MAX_SECTION_CHARS = 1200
DOC_TYPE = "新闻报道"

_EDGE = "\u3000\xa0\u2002\u2003\u2009\u200b\t \ufeff"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_META_LINE = re.compile(
    r"^(?:【\s*)?(来源|来源于|稿源|出处|信息来源|新闻来源|编辑|责任编辑|责编|主编|编审|审核|审校|校对|监制|作者|"
    r"记者|通讯员|撰稿|文字|摄影|图片|图|视频|日期|发布日期|发布时间|发表时间|时间|更新时间|原标题|原文标题)"
    r"\s*(?:】\s*)?[：:丨|]\s*(.*)$"
)
_META_FIELD = re.compile(
    r"(来源|稿源|出处|编辑|责任编辑|责编|作者|记者|通讯员|日期|发布时间|发表时间|时间)\s*[：:丨|]\s*"
)
_DATE_LINE = re.compile(
    r"^(?:发布于|发表于|更新于)?\s*((?:19|20)\d{2}[-/.年]\s*\d{1,2}[-/.月]\s*\d{1,2}日?)"
    r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
    r"(?:\s*(?:星期|周)[一二三四五六日天])?\s*$"
)
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_BOILERPLATE = re.compile(
    r"扫码|二维码|长按|识别|关注我们|关注|公众号|阅读原文|点击|转载|版权|免责声明|推荐阅读|往期|分享|点赞|在看|"
    r"下载客户端|客户端|订阅|投稿|欢迎|更多精彩|更多惊喜|热门推荐"
)
_CREDIT = re.compile(r"[（(]\s*([^（）()\d]{2,14}?)\s*[）)]\s*$")
_OUTLET_WORD = re.compile(
    r"新闻|日报|晚报|早报|时报|周刊|报|网|社|台|电视|广播|央视|新华|人民|法院|检察|发布|客户端|在线|观察|之声"
)
_DATELINE = re.compile(r"^(?:(新华社|中新社|人民网|央视网|中新网)[^，。]{0,12}?电|(本报讯))")
_SENTENCE_END = "。！？!?；;…”」』）)"
_JOURNALISM = re.compile(r"记者|据了解|据介绍|日前|近日|获悉|报道|本报讯|通讯员|新华社|央视新闻|责任编辑")


def _clean(line: str) -> str:
    return line.strip(_EDGE)


def _iso(y: str, m: str, d: str) -> str | None:
    yy, mm, dd = int(y), int(m), int(d)
    if 1900 <= yy <= 2100 and 1 <= mm <= 12 and 1 <= dd <= 31:
        return f"{yy:04d}-{mm:02d}-{dd:02d}"
    return None


def _first_date(text: str) -> str | None:
    m = _DATE.search(text)
    return _iso(*m.groups()) if m else None


def _is_sentence(p: str) -> bool:
    return len(p) >= 30 or bool(re.search(r"[。！？；]", p))


def _is_heading_text(p: str) -> bool:
    """A short line that can be a heading: no sentence punctuation, no closing credit."""
    if not 2 <= len(p) <= 32:
        return False
    if re.search(r"[。；;]", p) or p[-1] in "，,：:、":
        return False
    return not re.fullmatch(r"[\d\s.,%]+", p)


def _join_broken(paras: list[str]) -> list[str]:
    """Paragraphs cut in the middle of a sentence by the web page ('…要求3' + '名侵犯…') are joined."""
    out: list[str] = []
    for p in paras:
        if out:
            prev = out[-1]
            broken = (
                prev[-1] not in _SENTENCE_END
                and (re.search(r"[，,]", prev) or len(prev) >= 40)
                and not prev.startswith(("【", "#"))
                and p[0] not in _CIRCLED
                and not re.match(r"^[一二三四五六七八九十]+[、.．]", p)
            )
            if broken:
                out[-1] = prev + p
                continue
        out.append(p)
    return out


def _is_credit(p: str) -> bool:
    m = _CREDIT.fullmatch(p) if p.startswith(("（", "(")) else None
    return bool(m and _OUTLET_WORD.search(m.group(1)))


def _drop_footer(paras: list[str]) -> list[str]:
    last = max((i for i, p in enumerate(paras) if _is_sentence(p) or _is_credit(p)), default=len(paras) - 1)
    kept = paras[: last + 1]
    return [p for p in kept if not (len(p) < 30 and _BOILERPLATE.search(p))]


def parse_news(text: str, *, source: str) -> CaseDocument:
    """Parse a news report (plain text as copied from a web page or an app) into a `CaseDocument`."""
    lines = [_clean(x) for x in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    paras = [x for x in lines if x]

    outlet: str | None = None
    date: str | None = None
    body: list[str] = []
    for p in paras:
        m = _META_LINE.match(p)
        if m:
            label, value = m.group(1), m.group(2).strip()
            fields = {f.group(1): f.end() for f in _META_FIELD.finditer(p)}
            if label in ("来源", "来源于", "稿源", "出处", "信息来源", "新闻来源") and value and outlet is None:
                outlet = re.split(r"\s{1,}|[|丨]|(?:编辑|作者|记者|日期|时间)[：:]", value)[0].strip() or None
            elif "来源" in fields and outlet is None:
                outlet = re.split(r"\s|[|丨]", p[fields["来源"] :].strip())[0] or None
            if date is None:
                date = _first_date(p)
            continue
        if _DATE_LINE.match(p):
            date = date or _first_date(p)
            continue
        body.append(p)

    body = _drop_footer(body)
    body = _join_broken(body)
    if not body:
        body = [p for p in paras if p] or ["（空）"]

    # Title: the first line that is not a label; then subtitles until the first real paragraph.
    title_idx = next((i for i, p in enumerate(body) if len(p) >= 4 and not p.startswith(tuple(_CIRCLED))), 0)
    title = re.sub(r"^#+\s*", "", body[title_idx]).strip("【】")
    rest = body[title_idx + 1 :]
    subtitles: list[str] = []
    while rest and _is_heading_text(rest[0]) and len(rest) > 1 and not rest[0].startswith(tuple(_CIRCLED)):
        subtitles.append(rest.pop(0))

    if outlet is None:
        for p in reversed(rest[-3:] if rest else []):
            m = _CREDIT.search(p)
            if m and _OUTLET_WORD.search(m.group(1)):
                outlet = m.group(1).strip()
                break
    if outlet is None:
        for p in body[:5]:
            m = _DATELINE.match(p)
            if m:
                outlet = m.group(1) or None
                break

    sections = _sections(rest, title, subtitles)
    all_text = "\n".join(body)
    return CaseDocument(
        doc_id=f"file:{source}",
        source_type="news",
        doc_type=DOC_TYPE,
        title=title,
        sections=sections,
        case_id=None,
        case_numbers=tuple(extract_case_references(all_text)),
        court=None,
        issuer=outlet,
        date=date,
        outlet=outlet,
        source=source,
    )


def _heading_of(p: str) -> str | None:
    m = re.match(r"^#{1,6}\s*(.+)$", p) or re.match(r"^【([^】]{2,30})】$", p)
    if m:
        return m.group(1).strip()
    m = re.match(r"^[" + _CIRCLED + r"]\s*(.{2,32})$", p)
    if m and _is_heading_text(m.group(1)):
        return m.group(1).strip()
    m = re.match(r"^[一二三四五六七八九十]{1,3}[、.．]\s*(.{2,32})$", p)
    if m and _is_heading_text(m.group(1)):
        return m.group(1).strip()
    return None


def _sections(paras: list[str], title: str, subtitles: list[str]) -> list[CaseSection]:
    # Mark headings.
    items: list[tuple[str, str]] = []  # ("h", name) or ("p", text)
    i = 0
    while i < len(paras):
        p = paras[i]
        nxt = paras[i + 1] if i + 1 < len(paras) else None
        if re.fullmatch(r"[" + _CIRCLED + r"]|[一二三四五六七八九十]{1,3}[、.．]?", p):
            if nxt is not None and _is_heading_text(nxt):
                items.append(("h", nxt))
                i += 2
                continue
            i += 1
            continue
        if p == title:
            i += 1
            continue
        h = _heading_of(p)
        if h is None and _is_heading_text(p) and nxt is not None and not re.search(r"[，,？?！!]", p):
            h = p
        items.append(("h", h) if h else ("p", p))
        i += 1

    # Group: a run of headings names the section by its last heading.
    groups: list[tuple[str, list[str]]] = []
    lead: list[str] = list(subtitles)
    pending: list[str] = []
    for kind, value in items:
        if kind == "h":
            pending.append(value)
            continue
        if pending:
            name = pending[-1]
            carried = [h for h in pending[:-1] if len(h) > 6 and h != title]
            groups.append((name, [*carried, value]))
            pending = []
        elif groups:
            groups[-1][1].append(value)
        else:
            lead.append(value)
    if lead:
        groups.insert(0, ("导语" if groups else "正文", lead))

    out: list[CaseSection] = []
    for name, ps in groups:
        out.extend(_split_long(name, ps))
    return out


def _split_long(name: str, paras: list[str]) -> list[CaseSection]:
    parts: list[list[str]] = [[]]
    size = 0
    for p in paras:
        if parts[-1] and size + len(p) > MAX_SECTION_CHARS:
            parts.append([])
            size = 0
        parts[-1].append(p)
        size += len(p) + 1
    return [CaseSection(name if i == 0 else f"{name}（续）", "\n".join(ps)) for i, ps in enumerate(parts) if ps]


def looks_like_news(text: str) -> bool:
    """Heuristic: a news report, not a case, a judgment or a statute.

    Points: +2 for a 来源/编辑/记者/日期 line, a "新华社…电" or "本报讯" dateline; +1 for a closing outlet
    credit such as "（央视新闻）"; +1 for two or more journalistic phrases (记者, 据了解, 近日, 获悉, 报道 …).
    A text with a judgment header, case headings (【裁判要点】, 基本案情 …) or three or more lines starting
    with 第…条 is never news. True at 2 points."""
    if not text or not text.strip():
        return False
    from ingest.cases import looks_like_case

    if looks_like_case(text):
        return False
    if len(re.findall(r"(?m)^\s*第[一二三四五六七八九十百千零〇\d]+条", text)) >= 3:
        return False
    paras = [_clean(x) for x in text.split("\n") if _clean(x)]
    score = 0
    if any(_META_LINE.match(p) for p in paras[:8] + paras[-8:]) or any(_DATELINE.match(p) for p in paras[:5]):
        score += 2
    tail = [p for p in paras if _is_sentence(p)][-3:]
    if any((m := _CREDIT.search(p)) and _OUTLET_WORD.search(m.group(1)) for p in tail):
        score += 1
    if len(_JOURNALISM.findall(text)) >= 2:
        score += 1
    return score >= 2
