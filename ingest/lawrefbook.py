"""Read LawRefBook Markdown files (statutes, regulations, judicial interpretations) into `LegalDocument`s.

The format (https://github.com/RanKKI/LawRefBook):

    # 中华人民共和国民法典          ← title (a second `#` line in the header names a part: `# 人格权编`)
    2020年5月28日 第十三届全国人民代表大会第三次会议通过      ← date lines: 通过/公布/发布/修正/修订/施行
    2021年1月1日 施行
    <!-- INFO END -->
    ## 第一章  一般规定                                       ← 编/分编/章/节 headings (## ### ####)
    第九百八十九条 本编调整因人格权的享有和保护产生的民事关系。   ← an article starts a paragraph
    （一）……                                                 ← 款 and 项 paragraphs belong to it

Decisions taken here (the data is hand-made and not always clean):

- An article starts only at the START of a paragraph: `第X条` / `第X条之一` followed by a space (half- or
  full-width, also `第一百二十四 条`) is always a new article. A label glued directly to the text
  (`第十条本法…`) only counts when it is the next number in sequence and the text does not read like a
  cross-reference (`第十条规定的…`). `第X条` inside a paragraph never starts an article.
- Numbers are never deduplicated: when numbering restarts or goes backwards (a document quoting another,
  an appended regulation), every article is kept, in document order. One exception, because those are not
  articles of the document: an amending article that ends announcing new text (`…增加五条，分别作为第一百
  二十三条至第一百二十七条。内容如下：`) keeps the quoted `第七节 …` / `第一百二十三条 …` paragraphs as its
  own paragraphs, up to its own next article (宪法修正案（2018年）).
- A line holding several articles separated by spaces (`…制定本规则。 第二条 凡…`, 飞行基本规则) is split at
  its sentence ends when the label inside it is the next article; a heading glued to an article
  (`## 第一章 总则 第一条 …`, or `…处理。第二章 罚则` at the end of a paragraph) is split off.
- `path` holds the heading texts above the article (for a 民法典 编 file the 编 name comes first), with
  typesetting spaces removed (`第一章  总 则` → `第一章 总则`). A short line directly under a heading
  that continues it (`## 第二章 听取和审议人民政府、人民法院和` / `人民检察院的专项工作报告`) is joined to it.
  A short `（一）动产质押` line just before an article, under a `## 四、…` heading, is a sub-heading.
  A plain `第七节 监察委员会` line is a heading too.
- Text that belongs to no article goes to `preamble`, one paragraph a line: the text before the first
  article (制定目的, the transmittal notice of a 规定, a 宪法 序言) and, after the articles, appendices —
  everything after a `附件：…`/`附：`/`附图 …` line, after a heading that is followed by no article (刑法
  附件一, a 司法建议书 template), or after a table title inside the last article (`个人所得税税率表一（…）`).
  Heading texts are kept in that appendix text.
- A document without any `第X条` paragraph (刑法修正案 numbered `一、二、`, 罪名 tables, notices) gets
  `articles=[]` and its whole body, headings included, in `preamble`: `一、` is not an article label,
  and inventing `第一条` for it would let a citation checker confirm articles that do not exist.
- `published` is the earliest 通过/公布/发布/批准 date of the header (date notes that spilled below
  INFO END are read too); `effective` is, in this order: the (latest) 施行/实施/生效 date of the header
  unless a later 修正/修订 makes it the original text's; the 公布 date when the header says 自公布之日
  施行; the `本…自X起施行` date of the last articles, or 自公布之日起施行 for an unamended text — both
  only when not older than the version (file-name date): an amended text keeps its original clause; the
  `(YYYY-MM-DD)` date of the file name; the date of the latest 修正/修订. No date at all gives None.
- `issuer` comes from the title (最高人民法院…关于), the header (…审判委员会, 国务院令, 公安部令 …), a
  bare signature line (劳动部), the 部门规章 sub-folder, or, for 行政法规, 国务院.
- `validity` is set to 已废止 by the parser only when the title, the file name or the header says so
  (已废止, （失效）); everything else is left to `assign_validity`.
- Markdown tables are kept row by row (separator rows dropped); zero-width spaces are removed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path

from kb.lawnames import PRC, short_title
from kb.models import Article, LegalDocument, SourceType
from kb.numerals import CN_NUMERAL_CHARS, parse_cn_number

INFO_END = "<!-- INFO END -->"
SKIP_FILES = frozenset({"_index.md", "SOURCE_README.md"})
SKIP_DIRS = frozenset({"案例"})

# Folder → (source_type, doc_type).
FOLDERS: dict[str, tuple[SourceType, str]] = {
    "司法解释": ("interpretation", "司法解释"),
    "行政法规": ("regulation", "行政法规"),
    "部门规章": ("regulation", "部门规章"),
    "宪法": ("statute", "宪法"),
    **{
        name: ("statute", "法律")
        for name in ("民法典", "刑法", "民法商法", "社会法", "经济法", "行政法", "诉讼与非诉讼程序法", "宪法相关法")
    },
}

_N = f"[{CN_NUMERAL_CHARS}0-9０-９]+"
_CN_SMALL = "一二三四五六七八九十"

# 第X条 / 第X条之一 at the start of a paragraph; group 3 is what follows the label.
ARTICLE_START = re.compile(rf"^第\s*({_N})\s*条(?:之({_N}))?(.*)$", re.DOTALL)
_ARTICLE_CHEAP = re.compile(rf"^第{_N}条(?:之{_N})?[ \u3000]", re.MULTILINE)
# Markdown heading; `#` must be followed by a space or end the line.
MD_HEADING = re.compile(r"^(#{1,6})(?:\s+(.*))?$")
_STRUCT_LABEL = re.compile(rf"^(第{_N}(?:分编|编|章|节|部分))\s*(.*)$")
_LIST_LABEL = re.compile(rf"^([{_CN_SMALL}]+、|[（(][{_CN_SMALL}]+[）)])\s*(.*)$")
# A heading written as a plain paragraph: 第七节 监察委员会 (a space after the label, no sentence punctuation).
PLAIN_HEADING = re.compile(rf"^第{_N}(?:分编|编|章|节)\s+[^。；，：,;:“”\"]{{1,40}}$")
# 一 sub-heading between articles: （一）动产质押
SUBHEADING = re.compile(rf"^[（(]([{_CN_SMALL}]+)[）)]\s*([^。；，：,;:“”\"、]{{2,20}})$")
_TRAILING_HEADING = re.compile(rf"^(.+[。；])\s*(第{_N}(?:分编|编|章|节)\s+[^。；，：,;:“”\"]{{1,30}})$")
_GLUED_HEADING = re.compile(rf"^(第{_N}(?:分编|编|章|节)\s*\S.*?)\s+(第{_N}条(?:之{_N})?\s.*)$")
_GLUED_ARTICLE = re.compile(rf"[。；：！？”）)][ \u3000]+第({_N})条(?:之{_N})?[ \u3000]")
_SENTENCE_GAP = re.compile(r"(?<=[。；：！？”）)])[ \u3000]+")
_QUOTE_INTRO = re.compile(r"修改为|增加|增写|补充|作为|如下")
APPENDIX_MARK = re.compile(
    r"^(?:(?:附件|附表|附录|附图)\s*[一二三四五六七八九十\d０-９]*(?:[\s：:].*)?"
    r"|附\s*[：:].{0,120})$"
)
# The title of a table or list appended to the last article without any mark: 个人所得税税率表一（综合所得适用）
_APPENDIX_TITLE = re.compile(
    r"^[^（(\d０-９一二三四五六七八九十第。；，：,;:、][^。；，：,;:]{1,38}"
    r"(?:表|目录|清单|式样|示意图|名录)[一二三四五六七八九十\d]*(?:[（(][^）)]*[）)])?$"
)
_CJK = r"\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")  # typesetting space inside a heading: 总 则
_HEADING_BREAK = re.compile(r"[。；：;:？?！!“”\"]")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
# Words after a glued 第X条 that make it a cross-reference, not a label.
_CROSS_REF_HEADS = (
    "规定",
    "所",
    "的",
    "第",
    "、",
    "，",
    ",",
    "至",
    "和",
    "或",
    "中",
    "款",
    "项",
    "及",
    "与",
    "以",
    "之",
    "（",
    "(",
    "。",
    "；",
)

_DATE = re.compile(
    r"(\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*"
    r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{1,2})-(\d{1,2})[)）]\s*$")
_NOTE_VERB = re.compile(r"通过|施行|公布|发布|修正|修订|实施")
_AMEND = re.compile(r"修正|修订|修改")
_EFFECT = re.compile(r"施行|实施|生效|执行")
_ADOPT = re.compile(r"通过|公布|发布|批准|印发|颁布|令第|号令|会议")
_FROM_PUBLICATION = re.compile(r"(?:公布|发布)之日(?:起)?(?:施行|实施|生效)")
_BODY_FORCE = re.compile(r"本[\u4e00-\u9fff]{1,8}自\s*" + _DATE.pattern + r"\s*起\s*(?:施行|实施|生效)")
_BODY_FROM_PUBLICATION = re.compile(r"本[\u4e00-\u9fff]{1,8}自(?:公布|发布)之日起(?:施行|实施|生效)")
# A note that the document itself is no longer in force (not "…同时废止", which repeals others).
_REPEALED = re.compile(r"已废止|已失效|已被废止|[（(【\[](?:废止|失效)[）)】\]]")
_REPEAL_NOTE = re.compile(r"\s*[（(【\[](?:已废止|已失效|已被废止|失效|废止)[）)】\]]\s*$")

# Issuers named in a header line or a title; first match wins, joint issuers first.
_ISSUER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"最高人民法院.*最高人民检察院|最高人民检察院.*最高人民法院"), "最高人民法院、最高人民检察院"),
    (re.compile(r"最高人民法院"), "最高人民法院"),
    (re.compile(r"最高人民检察院|检察委员会"), "最高人民检察院"),
    (re.compile(r"全国人民代表大会常务委员会"), "全国人民代表大会常务委员会"),
    (re.compile(r"全国人民代表大会"), "全国人民代表大会"),
    (re.compile(r"国务院、(?:中华人民共和国)?中央军事委员会|国务院、中央军委"), "国务院、中央军事委员会"),
    (re.compile(r"国务院|政务院"), "国务院"),
)
_ORGAN_LINE = re.compile(r"^\s*[\u4e00-\u9fff]{2,20}(?:部|委员会|总局|局|署|办公室|银行)\s*$")
_ORGAN = re.compile(
    r"(?:经|由)?(?:中华人民共和国)?([\u4e00-\u9fff、]{2,40}?(?:部|委员会|总局|局|署|办公室|银行|总会))"
    r"(?:\d{4}年)?(?:第[\d一二三四五六七八九十百]+次)?"
    r"(?:令|第\d+号令|发布|公布|印发|审议|部务会议|局务会议|室务会议|委务会议|部长办公会议|修订|修正)"
)


@dataclass
class _Header:
    titles: list[str] = field(default_factory=list)  # `#` lines: title, then parts (民法典 编)
    dates: list[str] = field(default_factory=list)  # date lines (wrapped lines joined)
    other: list[str] = field(default_factory=list)  # anything else before INFO END


@dataclass
class _Dates:
    published: str | None = None
    effective: str | None = None
    last_amended: str | None = None
    from_publication: bool = False
    latest_adopted: str | None = None


# ---------------------------------------------------------------------------------------------- public API


def looks_like_lawrefbook(text: str) -> bool:
    """Cheap check that `text` is a LawRefBook file: a `# title` first line, then the INFO END marker or
    several paragraphs that start with 第X条."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("---"):
        end = head.find("\n---", 3)
        head = head[end + 4 :].lstrip() if end != -1 else head
    if not head.startswith("# "):
        return False
    if INFO_END in text:
        return True
    return len(list(islice(_ARTICLE_CHEAP.finditer(text), 3))) >= 3


def parse_lawrefbook_file(path: Path, root: Path | None = None) -> LegalDocument:
    """Parse one LawRefBook Markdown file. Raises ValueError naming the file when it is not in that format."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read file: {e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    root = Path(root) if root is not None else path.parent
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.as_posix()
    return parse_lawrefbook_text(text, path=path, doc_id=f"file:{rel}")


def parse_lawrefbook_text(text: str, path: Path, doc_id: str | None = None) -> LegalDocument:
    """Parse LawRefBook Markdown already read into `text`; `path` gives the folder (document type), the
    file-name date, and the name used in error messages."""
    path = Path(path)
    lines = text.translate(_ZERO_WIDTH).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(line.strip() for line in lines):
        raise ValueError(f"{path}: empty file")
    header, body = _split_header(lines, path)
    body = _absorb_date_notes(header, body)
    title = _clean_title(header.titles[0])
    abolished = bool(_REPEALED.search(header.titles[0]) or _REPEALED.search(path.stem)) or any(
        _REPEALED.search(line) and len(line) <= 20 for line in header.other
    )
    parts = tuple(_norm_heading(t) for t in header.titles[1:] if _norm_heading(t))
    dates = _parse_dates(header.dates)
    articles, preamble_lines, appendix_lines = _parse_body(body, parts)
    preamble = "\n".join([*_header_text(header, title), *preamble_lines, *appendix_lines])

    tail = "\n".join([a.text for a in articles[-3:]] or [*preamble_lines[-6:]])
    effective = _effective(dates, _file_date(path), tail)

    source_type, doc_type = _classify(path, title, header)
    issuer = _issuer(path, title, header)
    doc = LegalDocument(
        doc_id=doc_id or f"file:{path.as_posix()}",
        source_type=source_type,
        doc_type=doc_type,
        title=title,
        short_title=short_title(title),
        articles=articles,
        issuer=issuer,
        published=dates.published,
        effective=effective,
        source=str(path),
        preamble=preamble,
    )
    if abolished:
        doc.validity = "已废止"
    return doc


def iter_lawrefbook(root: Path) -> Iterator[tuple[Path, LegalDocument | Exception]]:
    """Parse every LawRefBook file under `root`, in sorted order.

    Skips `_index.md`, `SOURCE_README.md`, non-Markdown files and anything under `案例/` (cases have their
    own reader). A file that fails is yielded with its exception instead of a document, so a batch goes on.
    """
    root = Path(root)
    for path in sorted(root.rglob("*.md")):
        rel_parts = path.relative_to(root).parts
        if path.name in SKIP_FILES or SKIP_DIRS.intersection(rel_parts[:-1]) or not path.is_file():
            continue
        try:
            yield path, parse_lawrefbook_file(path, root)
        except Exception as e:  # reported to the caller, never swallowed
            yield path, e


def version_key(doc: LegalDocument) -> str:
    """Key that groups versions of one document: its short title. Amendments (宪法修正案（1988年）) are
    documents of their own, so their year is kept."""
    if "修正案" in doc.title:
        t = re.sub(r"\s+", "", doc.title)
        return t.removeprefix(PRC)
    return doc.short_title or short_title(doc.title)


def assign_validity(docs: list[LegalDocument], today: date | None = None) -> None:
    """Set `validity` in place, as of `today`, among the versions of each document (same source type and
    short title):

    - 已废止 when the title, the file name or the header says so (set by the parser, kept here);
    - 尚未生效 for a version whose effective date is after today;
    - 现行有效 for the latest version in force (all files sharing that date: the 民法典 编 files, or a
      version stored twice), 已被修改 for older ones;
    - a version without an effective date is 未知, unless it is the only version (then 现行有效).
    """
    day = (today or date.today()).isoformat()
    groups: dict[tuple[str, str], list[LegalDocument]] = defaultdict(list)
    for doc in docs:
        groups[(doc.source_type, version_key(doc))].append(doc)
    for versions in groups.values():
        effective = {id(d): d.effective or _part_effective(d, versions) for d in versions}
        in_force = [e for d in versions if not _is_abolished(d) and (e := effective[id(d)]) and e <= day]
        current = max(in_force) if in_force else None
        for doc in versions:
            eff = effective[id(doc)]
            if _is_abolished(doc):
                doc.validity = "已废止"
            elif eff and eff > day:
                doc.validity = "尚未生效"
            elif eff:
                doc.validity = "现行有效" if eff == current else "已被修改"
            else:
                doc.validity = "现行有效" if len(versions) == 1 else "未知"


def _part_effective(doc: LegalDocument, versions: list[LegalDocument]) -> str | None:
    """A file that is one part of a code (民法典/婚姻家庭编.md has no 施行 line) takes the effective date
    of the other parts: same title, same adoption date, same folder."""
    if not doc.published:
        return None
    folder = Path(doc.source).parent
    dates = {
        d.effective
        for d in versions
        if d is not doc
        and d.effective
        and d.title == doc.title
        and d.published == doc.published
        and Path(d.source).parent == folder
    }
    return dates.pop() if len(dates) == 1 else None


# ---------------------------------------------------------------------------------------------- header


def _split_header(lines: list[str], path: Path) -> tuple[_Header, list[str]]:
    i = 0
    n = len(lines)
    while i < n and not lines[i].strip():
        i += 1
    if lines[i].strip() == "---":  # YAML front matter
        j = i + 1
        while j < n and lines[j].strip() != "---":
            j += 1
        i = j + 1
        while i < n and not lines[i].strip():
            i += 1
    first = lines[i].strip() if i < n else ""
    if not first.startswith("# ") or not first[2:].strip():
        raise ValueError(f"{path}: not a LawRefBook file: no '# title' line at the top (found {first[:40]!r})")
    header = _Header(titles=[first[2:].strip()])
    i += 1
    end = next((k for k in range(i, n) if lines[k].strip() == INFO_END), None)
    if end is None:
        # No marker: the header is the `#` and date lines right after the title.
        end = i
        while end < n and (not lines[end].strip() or lines[end].startswith("# ") or _is_date_line(lines[end])):
            end += 1
        body = lines[end:]
    else:
        body = lines[end + 1 :]
    open_line = False
    for raw in lines[i:end]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("# "):
            header.titles.append(line[2:].strip())
        elif open_line and header.dates:
            header.dates[-1] += line  # a date line wrapped inside 《…》
        elif _is_date_line(line):
            header.dates.append(line)
        else:
            header.other.append(line)
            continue
        last = header.dates[-1] if header.dates else ""
        open_line = (
            bool(header.dates)
            and not line.startswith("# ")
            and (
                last.count("《") > last.count("》")
                or last.count("〈") > last.count("〉")
                or last.count("<") > last.count(">")
            )
        )
    return header, body


def _absorb_date_notes(header: _Header, body: list[str]) -> list[str]:
    """Date notes that spilled below INFO END go back to the header: the tail of a wrapped date line
    (`会议通过）`) or a whole note (`（…会议通过 2008年4月17日…公布 自2008年4月23日起施行）`)."""
    k = 0
    while k < len(body):
        par = body[k].strip()
        if not par:
            k += 1
            continue
        if (
            MD_HEADING.match(par)
            or _article_start(par)
            or "。" in par
            or not par.endswith(("）", ")"))
            or not _NOTE_VERB.search(par)
            or len(par) > 200
        ):
            break
        if par.startswith(("（", "(")) and _DATE.search(par):
            header.dates.append(par)
        elif header.dates and len(par) <= 80 and not _DATE.match(par):
            header.dates[-1] += par
        else:
            break
        k += 1
    return body[k:]


def _is_date_line(line: str) -> bool:
    return bool(_DATE.search(line) or _FROM_PUBLICATION.search(line))


def _header_text(header: _Header, title: str) -> list[str]:
    """Non-date header lines worth keeping (a transmittal notice); title fragments are dropped."""
    squashed_title = re.sub(r"\s+", "", title)
    joined = "".join(re.sub(r"\s+", "", x) for x in header.other)
    if joined and joined in squashed_title:
        return []
    return [x for x in header.other if re.sub(r"\s+", "", x) not in squashed_title]


def _iso(y: str, m: str, d: str) -> str | None:
    try:
        return date(parse_cn_number(y), parse_cn_number(m), parse_cn_number(d)).isoformat()
    except ValueError:
        return None


def _parse_dates(lines: list[str]) -> _Dates:
    out = _Dates()
    adopted: list[str] = []
    effective: list[str] = []
    amended: list[str] = []
    for line in lines:
        if _FROM_PUBLICATION.search(line):
            out.from_publication = True
        matches = list(_DATE.finditer(line))
        segments: list[tuple[str, str | None]] = []
        for k, m in enumerate(matches):
            seg = line[m.end() : matches[k + 1].start() if k + 1 < len(matches) else len(line)]
            segments.append((_iso(*m.groups()) or "", _segment_kind(seg)))
        if (
            len(matches) == 1
            and not line[: matches[0].start()].strip(" （(")
            and not line[matches[0].end() :].strip(" 　）)")
        ):
            segments = [(segments[0][0], "adopt")]  # a bare date in the header: the date of issue
        # A date with no verb of its own shares the next one's (…第1841次会议、2021年7月1日…通过).
        following: str | None = None
        for k in range(len(segments) - 1, -1, -1):
            iso, kind = segments[k]
            if kind is None:
                kind = following if following != "effective" else None
            else:
                following = kind
            if not iso:
                continue
            if kind == "amend":
                amended.append(iso)
            elif kind in ("adopt", "both"):
                adopted.append(iso)
            if kind in ("effective", "both"):
                effective.append(iso)
    out.published = min(adopted) if adopted else None
    out.latest_adopted = max(adopted + amended) if adopted or amended else None
    out.effective = max(effective) if effective else None
    out.last_amended = max(amended) if amended else None
    return out


def _segment_kind(seg: str) -> str | None:
    if _AMEND.search(seg):
        return "amend"
    if _EFFECT.search(seg) and not _FROM_PUBLICATION.search(seg):
        return "both" if re.search(r"公布|发布|通过", seg) else "effective"
    if _ADOPT.search(seg):
        return "adopt"
    return None


def _file_date(path: Path) -> str | None:
    m = _FILE_DATE.search(path.stem)
    return _iso(*m.groups()) if m else None


def _effective(dates: _Dates, file_date: str | None, tail: str) -> str | None:
    """When this version came (comes) into force; `tail` is the text of the last articles.

    A date found in the text only counts when it is not older than the version itself (the file-name
    date, else the latest header date): an amended text often keeps its original 施行 clause.
    """
    version = file_date or dates.latest_adopted

    def recent(day: str | None) -> bool:
        return day is not None and (version is None or day >= version)

    # A 施行 date older than the last 修正/修订 is the original text's (宪法: 1982, amended up to 2018).
    if dates.effective and (dates.last_amended is None or dates.effective >= dates.last_amended):
        return dates.effective
    if dates.from_publication and recent(dates.latest_adopted):
        return dates.latest_adopted
    m = _BODY_FORCE.search(tail)
    body = _iso(*m.groups()) if m else None
    if recent(body):  # 本条例自2021年12月1日起施行
        return body
    if _BODY_FROM_PUBLICATION.search(tail) and dates.last_amended is None and recent(dates.latest_adopted):
        return dates.latest_adopted
    return file_date or dates.last_amended


def _clean_title(title: str) -> str:
    t = _REPEAL_NOTE.sub("", title)
    return re.sub(r"\s+", " ", t).strip()


# ---------------------------------------------------------------------------------------------- metadata


def _folder(path: Path) -> str | None:
    for part in reversed(path.parts[:-1]):
        if part in FOLDERS:
            return part
    return None


def _classify(path: Path, title: str, header: _Header) -> tuple[SourceType, str]:
    folder = _folder(path)
    if folder is not None:
        return FOLDERS[folder]
    t = title.replace(" ", "")
    if re.match(r"^(?:最高人民法院|最高人民检察院)", t) and re.search(r"解释|规定|批复|决定|答复|意见|通知", t):
        return "interpretation", "司法解释"
    if t.endswith("宪法") or "宪法修正案" in t:
        return "statute", "宪法"
    if re.match(rf"^(?:{PRC})?.*法$", t) and "办法" not in t[-3:]:
        return "statute", "法律"
    if re.search(r"(?:条例|办法|规定|细则|规则)(?:（试行）|\(试行\))?$", t):
        issuer = _issuer(path, title, header)
        if issuer in ("国务院", "国务院、中央军事委员会"):
            return "regulation", "行政法规"
        if issuer and issuer not in ("全国人民代表大会", "全国人民代表大会常务委员会"):
            return "regulation", "部门规章"
    return "document", "其他"


def _issuer(path: Path, title: str, header: _Header) -> str | None:
    t = title.replace(" ", "")
    for pattern, name in _ISSUER_PATTERNS[:3]:
        if pattern.match(t):
            return name
    if t.startswith("国务院"):
        return "国务院"
    for line in header.dates:
        for pattern, name in _ISSUER_PATTERNS:
            if pattern.search(line):
                return name
        m = _ORGAN.search(line)
        if m:
            return m.group(1)
    for line in header.other:  # a transmittal notice signed by its issuer: a line that is just 劳动部
        if _ORGAN_LINE.match(line):
            return line.strip().removeprefix(PRC)
    # 部门规章/公安部/… : the sub-folder names the ministry; 行政法规 are the State Council's by definition.
    parts = path.parts
    if "部门规章" in parts:
        k = parts.index("部门规章")
        if k + 2 < len(parts):
            return parts[k + 1]
    if _folder(path) == "行政法规":
        return "国务院"
    return None


def _is_abolished(doc: LegalDocument) -> bool:
    return (
        doc.validity == "已废止"
        or bool(_REPEALED.search(doc.title))
        or bool(_REPEALED.search(Path(doc.source).stem if doc.source else ""))
    )


# ---------------------------------------------------------------------------------------------- body


def _norm_heading(text: str) -> str:
    """'第一章  总 则' → '第一章 总则'; '四、附\u3000则' → '四、附则'; other whitespace runs → one space."""
    t = re.sub(r"\s+", " ", text).strip()
    m = _STRUCT_LABEL.match(t) or _LIST_LABEL.match(t)
    if m:
        label, rest = m.group(1), _CJK_GAP.sub("", m.group(2))
        sep = " " if label.startswith("第") and rest else ""
        return f"{label}{sep}{rest}"
    return _CJK_GAP.sub("", t)


def _article_start(par: str) -> tuple[int, int, str, bool] | None:
    """(number, suffix, text after the label, spaced) when `par` begins with an article label."""
    if not par.startswith("第"):
        return None
    m = ARTICLE_START.match(par)
    if not m:
        return None
    try:
        number = parse_cn_number(m.group(1))
        suffix = parse_cn_number(m.group(2)) if m.group(2) else 0
    except ValueError:
        return None
    if number <= 0:
        return None
    rest = m.group(3)
    spaced = not rest or rest[0].isspace() or bool(re.match(r"^第\s*\S+\s+条", par))
    return number, suffix, rest.strip(), spaced


def _is_successor(prev: tuple[int, int] | None, number: int, suffix: int) -> bool:
    if prev is None:
        return number == 1 and suffix == 0
    p_number, p_suffix = prev
    return (number == p_number + 1 and suffix == 0) or (number == p_number and suffix == p_suffix + 1)


def _parse_body(lines: list[str], parts: tuple[str, ...]) -> tuple[list[Article], list[str], list[str]]:
    """Articles, preamble paragraphs, appendix paragraphs (text after the first article that is in none)."""
    pars = [
        p
        for p in (line.strip() for line in lines)
        if p and not _TABLE_RULE.match(p) and not (p.startswith("<!--") and p.endswith("-->"))
    ]
    articles: list[Article] = []
    preamble: list[tuple[bool, str]] = []  # (is heading, text)
    appendix: list[str] = []
    pending: list[str] = []  # headings since the last article, written to the appendix if text follows
    stack: list[tuple[int, str]] = []  # (level, heading text); a （一） sub-heading is level 7
    current: tuple[int, int, list[str], tuple[str, ...]] | None = None
    last: tuple[int, int] | None = None
    since_heading = True  # no article since the last heading
    sub_ordinal = 0
    quote_of: tuple[int, int] | None = None  # the article quoting others, while in its quotation

    def close() -> None:
        nonlocal current
        if current is not None:
            number, suffix, paragraphs, path = current
            articles.append(Article(number=number, suffix=suffix, paragraphs=tuple(paragraphs), path=path))
            current = None

    def heading(level: int, text: str) -> None:
        nonlocal since_heading, sub_ordinal
        close()
        while stack and stack[-1][0] >= level:
            stack.pop()
        if text:
            if text not in ("序言", "前言"):  # a 序言 heading heads no article (澳门基本法: ## 序言, ### 第一章)
                stack.append((level, text))
            if articles:
                pending.append(text)
            else:
                preamble.append((True, text))
        since_heading = True
        sub_ordinal = 0

    k = 0
    while k < len(pars):
        par = pars[k]
        k += 1
        hm = MD_HEADING.match(par)
        if hm:
            quote_of = None
            level, text = len(hm.group(1)), (hm.group(2) or "").strip()
            # A heading with the first article glued on: ## 第一章 总则 第一条 …
            glued = _GLUED_HEADING.match(text)
            if glued:
                text = glued.group(1)
                pars.insert(k, glued.group(2))
            # A heading wrapped onto the next line (…人民法院和 / 人民检察院的专项工作报告).
            elif (
                k + 1 < len(pars)
                and _is_short_plain(pars[k])
                and not SUBHEADING.match(pars[k])
                and (_article_start(pars[k + 1]) or MD_HEADING.match(pars[k + 1]))
            ):
                text = f"{text}{pars[k]}"
                k += 1
            heading(level, _norm_heading(text))
            continue
        # A heading glued to the end of a paragraph: …依照本法处理。第二章 罚则
        tail_heading = _TRAILING_HEADING.match(par)
        if tail_heading and not _article_start(par[tail_heading.start(2) :]):
            pars[k - 1 : k] = [tail_heading.group(1), tail_heading.group(2)]
            par = pars[k - 1]
        split = _split_glued_articles(par, current[0] if current else (last[0] if last else 0))
        if split:
            pars[k - 1 : k] = split
            par = split[0]
        start = _article_start(par)
        if start is not None:
            number, suffix, rest, spaced = start
            # Articles quoted by an amendment (…分别作为第一百二十三条至第一百二十七条：) belong to it,
            # up to the amendment's next article.
            if (
                quote_of is None
                and current is not None
                and spaced
                and not _is_successor(last, number, suffix)
                and _introduces_quote(current)
            ):
                quote_of = last
            if current is not None and quote_of is not None and not _is_successor(quote_of, number, suffix):
                current[2].append(par)
                continue
            quote_of = None
            if spaced or (_is_successor(last, number, suffix) and not rest.startswith(_CROSS_REF_HEADS)):
                close()
                pending.clear()
                current = (number, suffix, [rest] if rest else [], (*parts, *(t for _, t in stack)))
                last = (number, suffix)
                since_heading = False
                continue
        if (articles or current is not None) and APPENDIX_MARK.match(par):
            heading(1, _norm_heading(par))
            continue
        sm = SUBHEADING.match(par)
        if sm and k < len(pars) and _article_start(pars[k]) is not None:
            ordinal = parse_cn_number(sm.group(1))
            if (since_heading and ordinal == 1 and stack) or (sub_ordinal and ordinal == sub_ordinal + 1):
                close()
                while stack and stack[-1][0] >= 7:
                    stack.pop()
                stack.append((7, _norm_heading(par)))
                sub_ordinal, since_heading = ordinal, False
                continue
        if PLAIN_HEADING.match(par) and quote_of is None:
            if current is not None and _introduces_quote(current):
                quote_of = last  # a quoted heading: …增加一节，作为第七节“监察委员会”…内容如下：
            elif not _quoting(current):
                heading(_plain_level(par, stack), _norm_heading(par))
                continue
        if current is not None:
            current[2].append(par)
        elif articles:
            appendix.extend(pending)
            pending.clear()
            appendix.append(par)
        else:
            preamble.append((False, par))
    close()
    if articles:
        # An unmarked appendix glued to the last article (a table title and the table).
        final = articles[-1]
        cut = next((i for i, p in enumerate(final.paragraphs) if i and _APPENDIX_TITLE.match(p)), None)
        if cut is not None:
            articles[-1] = Article(final.number, final.suffix, final.paragraphs[:cut], final.path)
            appendix[:0] = final.paragraphs[cut:]
        pre = [t for is_heading, t in preamble if not is_heading]
    else:
        pre = [t for _, t in preamble]
    return articles, pre, appendix


def _introduces_quote(current: tuple[int, int, list[str], tuple[str, ...]]) -> bool:
    """An amending article that ends by announcing new text: …增加五条，分别作为第一百二十三条至…："""
    return _quoting(current) and bool(_QUOTE_INTRO.search(current[2][-1]))


def _split_glued_articles(par: str, number: int) -> list[str] | None:
    """A line holding several articles (`…制定本规则。 第二条 凡…。 第三条 …`), split at sentence ends,
    when the first label inside it is the next article; None when the line is a single paragraph."""
    m = _GLUED_ARTICLE.search(par)
    if not m:
        return None
    try:
        inner = parse_cn_number(m.group(1))
    except ValueError:
        return None
    start = _article_start(par)
    base = start[0] if start else number
    if inner != base + 1:
        return None
    return [p.strip() for p in _SENTENCE_GAP.split(par) if p.strip()]


def _quoting(current: tuple[int, int, list[str], tuple[str, ...]] | None) -> bool:
    """Whether the current article ends with a colon, so what follows is quoted or listed text."""
    return current is not None and bool(current[2]) and current[2][-1].rstrip('“"').endswith(("：", ":"))


_KIND_RANK = {"编": 0, "分编": 1, "章": 2, "节": 3}


def _plain_level(par: str, stack: list[tuple[int, str]]) -> int:
    """Level for a heading written as a plain paragraph: below the nearest heading of a higher rank."""
    kind = re.match(rf"^第{_N}(分编|编|章|节)", par)
    rank = _KIND_RANK[kind.group(1)] if kind else 2
    for level, text in reversed(stack):
        other = re.match(rf"^第{_N}(分编|编|章|节)", text)
        if other and _KIND_RANK[other.group(1)] < rank:
            return level + 1
        if other and _KIND_RANK[other.group(1)] == rank:
            return level
    return 2


def _is_short_plain(par: str) -> bool:
    """A line short enough, and without sentence ends, to be the rest of a wrapped heading."""
    return len(par) <= 40 and not _HEADING_BREAK.search(par) and not par.startswith(("#", "|", "第", "（", "("))
