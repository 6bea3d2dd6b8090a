"""Chinese legal citations: find them in text, write them in house style, check them against the store.

Grammar (what `parse_citations` recognizes; ``N`` is a numeral: ASCII or full-width digits, or
Chinese numerals 一千零三十四 / 一〇三四)::

    citation   := [LAW] ARTICLE [PARA] [ITEM]
                | CASE
    LAW        := "《" name "》" [的|中|中的]         -- 《解释》: the name as written
                | bare-name [SERIAL] [VERSION]        -- CJK run ending in 法 法典 条例 规定 解释 办法
                                                      --   通则 总则 细则 决定, directly before ARTICLE;
                                                      --   SERIAL （二） after 解释/规定 (保险法解释（二）),
                                                      --   VERSION （2025修订）
                | REF                                 -- 本法 同法 该法 此法 上述/前述…法, 本条例 …
    ARTICLE    := "第" N (SEP1 ["第"] N)* "条" ["之" N] -- 第二百五十三条之一 → (253, suffix 1);
                                                      --   SEP1: 至 到 - ~ — 、 和 及 与 (第1034、1035条)
                | N "条" ["之" N]                      -- only right after a LAW or inside a list
    PARA       := ["第"] N "款"
    ITEM       := ["第"] ("（" N "）" | N) "项"
    CASE       := [最高人民法院|最高法|最高人民检察院|最高检] [发布的] [第N批] CASEID
    CASEID     := (指导案例 | 指导性案例) ["第"] N "号"    → 指导案例N号
                | "第" N "号" (指导案例 | 指导性案例)      → 指导案例N号
                | "检例" ["第"] N "号"                    → 检例第N号
                  (a 指导性案例 after 最高人民检察院/最高检 → 检例第N号)
    list       := citation (SEP continuation)*        -- SEP: 、 ， , ； 和 及 以及 与 或 或者 至 到 - ~ —
    continuation := ARTICLE [PARA] [ITEM] | PARA [ITEM] | ITEM

Decisions:

* Law names. A bare run of CJK characters is trimmed from the left: a run containing 中华人民共和国 /
  最高人民法院 / 最高人民检察院 / 国务院 starts there; otherwise the longest tail the `LawNameIndex`
  (or, without one, `ABBREVIATIONS` and its short titles) knows wins (依照民法典 → 民法典); otherwise
  the run is cut after the last lead-in word (根据 依照 违反 按照 适用 … and the particles 的 了 是 在 和
  与 及 或). A known tail is not taken when the characters before it continue it into the end of other
  titles (调解仲裁法 is no 仲裁法: one such title is the law, several keep the name as written). A run ending
  in 解释/规定 may be an interpretation's nickname (民间借贷规定, 人脸识别规定: the longest tail the index
  resolves, two characters or more before 解释/规定). Resolution: `LawNameIndex` → its title (several
  different titles → the name is kept as written, so `verify_citation` reports the ambiguity); then the
  `ABBREVIATIONS` table → 中华人民共和国 + short title; otherwise the name as written (spaces and a
  revision note removed, a nested 〈〉 stored as 《》).
* Inheritance. A continuation in a list (民法典第1183条、第1184条; 第1034条第二款、第三款; 第（二）项、
  第（三）项) inherits the law (and the article / 款 for 款- and 项-only items). A bare 第X条 inherits the
  law of the previous citation in the same sentence (no 。！？ or line break between them); otherwise it
  gets `context_law`, else None. 本法/本条例… mean `context_law` when given, else the most recent law;
  同法/该法/上述… mean the most recent law, else `context_law`.
* Ranges. 第二十条至第二十三条 and 第20至23条 yield the two endpoints only (two citations); the
  interior is not expanded (第1条至第1260条 would be 1,260 citations) — that is left to the caller.
  When several numbers share one 条 (第20至23条, 第1034、1035条) every citation carries the whole span,
  and a 之N / 款 / 项 after 条 belongs to the last number only.
* False positives. Numbers are taken whole (no 第一条 out of 第一千零三十四条 or 1条 out of 第11条), 条 must
  not start a word such as 条件/条例/条约/条路/条建议 (这是第一条建议 is no citation), an article must be
  1–9999, a number without 第 needs a law name or list right before it (共有3条 is not a citation), and
  only 条/款/项/号 forms count, so dates and issues (2021年第3期) never match.

Verification: `verify_citation` looks the law up among `catalog.law_titles()` (through a
`LawNameIndex`; a generic name such as 《解释》/《规定》 matches every title ending with it), fetches the
article's chunks from every matching title, and keeps the versions whose text has the cited 款 / 项
(款 = a paragraph not starting with （N）; 项 = such a line under its 款). Status: ``exists`` if a kept
version is 现行有效 or 未知; ``other_version`` if the article is only in versions with another validity
(the note says which); ``ambiguous`` if it exists under more than one title; ``not_found`` otherwise.

款 are counted per version from the article's chunks joined in `part` order (a chunk that records
the 款 it starts at, `Chunk.paragraph`, fixes the count from there on). Limitation: a 款 so long that
ingest split it at a sentence end counts as two, so an over-long 款 index can pass.

All functions are pure (no I/O besides the catalog passed in); regexes are compiled once.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol, runtime_checkable

from kb.lawnames import ABBREVIATIONS, PRC, LawNameIndex, clean_title, parse_nickname
from kb.models import Chunk, Citation, VerifiedCitation
from kb.numerals import CN_NUMERAL_CHARS, article_label, format_cn_number, parse_cn_number

__all__ = [
    "ArticleCatalog",
    "format_citation",
    "parse_citation",
    "parse_citations",
    "resolve_law_name",
    "verify_citation",
    "verify_text",
]

# --------------------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------------------

_SP = r"[ \t\u3000]*"
_DIG = "0-9０-９"
_CN = re.escape(CN_NUMERAL_CHARS)
_NUM = rf"(?:[{_DIG}]{{1,5}}|[{_CN}]{{1,10}})"
# A number written without 第 must not start with 两 (两条 = "two articles") or 万.
_NUM_BARE = rf"(?:[{_DIG}]{{1,5}}|[零〇一二三四五六七八九十百千]{{1,10}})"
_SUFFIX = r"[一二三四五六七八九十]{1,3}"
_RANGE_SEP = r"(?:至|到|-|－|~|～|—|–)"
_INNER_SEP = rf"(?:{_RANGE_SEP}|、|和|及|与)"  # 第20至23条, 第1034、1035条 (one 条 for several numbers)
# 条 that begins an ordinary word: 条件, 条例, 第一条路, 第二条建议 …
_NOT_ARTICLE = r"(?!件|例|约|幅|线|路|街|河|鱼|船|腿|命|道|狗|消息|新闻|建议|意见|理由|途径|经验|短信|微博|评论)"


def _item_re(group: str) -> str:
    """第（二）项 / 第二项 / （二）项, the numeral captured in `group` or `group`b."""
    return rf"(?:第?{_SP}[（(]{_SP}(?P<{group}>{_NUM}){_SP}[）)]|第{_SP}(?P<{group}b>{_NUM})){_SP}项"


_ANCHOR = re.compile(
    # every citation starts with one of these: a cheap test that fails fast everywhere else
    rf"(?=[最指检第{_DIG}{_CN}])"
    # case citations
    rf"(?:(?P<case>(?P<cpre>最高人民法院|最高法院|最高法|最高人民检察院|最高检)?(?:发布的?)?(?:第[{_DIG}{_CN}]{{1,6}}批)?"
    rf"(?:(?:指导性案例|指导案例){_SP}第?{_SP}(?P<cn1>{_NUM}){_SP}号"
    rf"|检例{_SP}第?{_SP}(?P<cn2>{_NUM}){_SP}号"
    rf"|第{_SP}(?P<cn3>{_NUM}){_SP}号(?:指导性案例|指导案例)))"
    # articles
    rf"|(?P<art>(?:第{_SP}(?P<a1>{_NUM})(?P<more>(?:{_SP}{_INNER_SEP}{_SP}第?{_SP}{_NUM})*)"
    rf"|(?<![{_DIG}{_CN}第])(?P<a2>{_NUM_BARE})){_SP}条{_NOT_ARTICLE}"
    rf"(?:之(?P<suf>{_SUFFIX})(?![款项]))?"
    rf"(?:{_SP}第?{_SP}(?P<para>{_NUM}){_SP}款)?"
    rf"(?:{_SP}{_item_re('item')})?)"
    # continuations: 第三款[第（一）项], 第（二）项
    rf"|(?P<ponly>第{_SP}(?P<p1>{_NUM}){_SP}款(?:{_SP}{_item_re('pitem')})?)"
    rf"|(?P<ionly>{_item_re('iitem')}))"
)

_NUMERAL = re.compile(rf"[{_DIG}]+|[{_CN}]+")
# What may stand between two members of a list.
_LIST_GAP = re.compile(r"[ \t\u3000]*(?:、|，|,|；|;|和|及|以及|与|或|或者|并|暨|至|到|-|－|~|～|—|–)?[ \t\u3000]*")
_SENTENCE_END = re.compile(r"[。！？!?\n]")

_LAW_SUFFIXES = ("法", "法典", "条例", "规定", "解释", "办法", "通则", "总则", "细则", "决定")
# Documents that are no law: a 第X条 right after one (员工手册第三条, 公司章程第五条, 救助公约第十三条) is that
# document's article, never the previous law's, and is no citation of ours.
_OTHER_DOCUMENTS = (
    "章程", "公约", "规约", "合同", "协议", "协议书", "手册", "制度", "守则", "须知", "条款", "说明书", "公告",
    "决议", "遗嘱", "承诺书", "保证书", "通知书", "合约", "契约", "规则", "标准", "指南", "方案", "计划",
)  # fmt: skip
_ISSUER_STARTS = (PRC, "最高人民法院", "最高人民检察院", "国务院")
_LEAD_IN = re.compile(
    r"根据|依据|依照|按照|参照|遵照|对照|比照|违反|违背|适用|援引|引用|参见|详见|结合|符合|以及|或者|并且|而且"
    r"|同时|此外|另外|其中|例如|比如|了|的|是|即|和|与|及|或|在"
)
# 本法 means the law being discussed (context first); 同法/该法/上述… mean the one cited last.
_SUFFIX_ALT = "|".join(sorted(_LAW_SUFFIXES, key=len, reverse=True))
_REF = re.compile(rf"(本|同|该部|该|此|上述|前述|这一|这部)(?:{_SUFFIX_ALT})$")
# Characters after which 本法/该法 is a reference (依照本法) rather than the tail of a name (基本法).
_REF_BEFORE = set("据照反按用见依于即了的是在和与及或并而但也均应需须由将为从对比")
# Words ending in 法 that are no law name.
_NOT_NAMES = {
    "依法",
    "合法",
    "违法",
    "非法",
    "方法",
    "做法",
    "说法",
    "看法",
    "立法",
    "司法",
    "执法",
    "守法",
    "用法",
    "写法",
    "想法",
    "手法",
    "办法",
    "规定",
    "解释",
    "决定",
    "法典",
}
# Names that stand for any document of their kind (《解释》第五条): matched against title endings.
_GENERIC_NAMES = {
    "解释",
    "司法解释",
    "规定",
    "若干规定",
    "办法",
    "条例",
    "实施条例",
    "细则",
    "实施细则",
    "意见",
    "指导意见",
    "批复",
    "决定",
    "通知",
}
_TRAILING_ORDINAL = re.compile(r"[（(][一二三四五六七八九十]+[）)]$")
_REVISION_NOTE = re.compile(r"[（(][^（）()]*(?:修正|修订|修改)[^（）()]*[）)]$")
_ITEM_LINE = re.compile(rf"^[（(]([{_DIG}{_CN}]+)[）)]")
_LABEL_LINE = re.compile(rf"^第[{_DIG}{_CN}]+条(?:之[{_CN}]+)?$")

_CURRENT = ("现行有效", "未知")
_SHORT_TITLES = frozenset(ABBREVIATIONS.values())
_KNOWN_LONGEST = len(PRC) + max(map(len, (*ABBREVIATIONS, *_SHORT_TITLES)))
_MAX_RUN = 60
_SERIAL_BEFORE = re.compile(r"[（(][一二三四五六七八九十]{1,3}[）)]")
_NUMBERED_KINDS = ("解释", "规定", "批复", "决定", "纪要")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]*")


@lru_cache(maxsize=4096)
def _number(s: str | None, limit: int = 9999) -> int | None:
    if not s:
        return None
    try:
        n = parse_cn_number(s)
    except ValueError:
        return None
    return n if 0 < n <= limit else None


# --------------------------------------------------------------------------------------------------
# Law names
# --------------------------------------------------------------------------------------------------


def _known_short(name: str) -> str | None:
    """The short title a name stands for according to ABBREVIATIONS (民法典, 个保法, 中华人民共和国刑法)."""
    if name in ABBREVIATIONS:
        return ABBREVIATIONS[name]
    if name in _SHORT_TITLES:
        return name
    if name.startswith(PRC) and len(name) > len(PRC):
        rest = name[len(PRC) :]
        if rest in ABBREVIATIONS or rest in _SHORT_TITLES:
            return ABBREVIATIONS.get(rest, rest)
    return None


def _as_written(name: str) -> str:
    """The name as written, normalized: no spaces, nested 〈〉 stored as 《》, no revision note."""
    s = re.sub(r"\s+", "", name).replace("〈", "《").replace("〉", "》")
    return _REVISION_NOTE.sub("", s)


_ALIAS_CACHE: weakref.WeakKeyDictionary[LawNameIndex, tuple[int, frozenset[str], int]] = weakref.WeakKeyDictionary()


_MEMO_CACHE: weakref.WeakKeyDictionary[LawNameIndex, tuple[int, dict[str, _Law | None]]] = weakref.WeakKeyDictionary()
_MEMO_WITHOUT_INDEX: dict[str, _Law | None] = {}
_MEMO_LIMIT = 20000


def _memo_for(names: LawNameIndex | None) -> dict[str, _Law | None]:
    """The law each name run resolves to, kept per law-name index across calls (an answer's audit parses
    every line; resolving a run can read every title), and made afresh when the index grows."""
    if names is None:
        memo = _MEMO_WITHOUT_INDEX
    else:
        cached = _MEMO_CACHE.get(names)
        if cached is None or cached[0] != len(names.titles):
            cached = (len(names.titles), {})
            _MEMO_CACHE[names] = cached
        memo = cached[1]
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    return memo


def _alias_set(names: LawNameIndex) -> tuple[frozenset[str], int]:
    """Every clean key `names.resolve` accepts (and the longest one), so name tails test cheaply."""
    cached = _ALIAS_CACHE.get(names)
    if cached is not None and cached[0] == len(names.titles):
        return cached[1], cached[2]
    aliases: set[str] = set()
    for title in names.titles:
        aliases |= LawNameIndex.aliases(title)
    aliases |= {abbr for abbr, short in ABBREVIATIONS.items() if short in aliases}
    aliases |= {PRC + a for a in aliases if not a.startswith(PRC)}
    result = frozenset(aliases)
    longest = max(map(len, result), default=0)
    _ALIAS_CACHE[names] = (len(names.titles), result, longest)
    return result, longest


def _resolve_with_index(name: str, names: LawNameIndex) -> str | None:
    titles = names.resolve(name)
    if not titles:
        return None
    if len({clean_title(t) for t in titles}) == 1:
        return titles[0]
    return _as_written(name)  # several different documents: keep the name, verification reports it


def resolve_law_name(name: str, names: LawNameIndex | None = None) -> str:
    """Canonical title for a law name: index title, else 中华人民共和国 + known short title, else as written."""
    if names is not None:
        hit = _resolve_with_index(name, names)
        if hit is not None:
            return hit
    short = _known_short(clean_title(name))
    if short is not None:
        return PRC + short
    return _as_written(name)


@dataclass(frozen=True)
class _Law:
    kind: str  # "law" | "this" (本法) | "prev" (同法/该法) | "other" (a document that is no law: 员工手册)
    # | "this-other" (本规则, 本协议: the document being parsed, if the caller names it)
    value: str | None
    start: int  # offset in the text (in a memo: offset in the run)


def _bracket_start(text: str, close: int, lo: int) -> int | None:
    """Index of the 《 matching the 》 at `close`, honouring (mis)nested 《》."""
    depth = 0
    for k in range(close, max(lo, close - 200) - 1, -1):
        ch = text[k]
        if ch == "》":
            depth += 1
        elif ch == "《":
            depth -= 1
            if depth == 0:
                return k
        elif ch == "\n":
            return None
    return None


_VERSION_NOTE_BEFORE = re.compile(r"[（(][^（）()]{0,20}(?:修订|修正|修改|年)[^（）()]{0,8}[）)]")


def _law_before(text: str, pos: int, lo: int, names: LawNameIndex | None, memo: dict[str, _Law | None]) -> _Law | None:
    """The law name that ends right before `pos` (an article), not reaching back past `lo`."""
    i = pos
    while i > lo and text[i - 1] in " \t\u3000":
        i -= 1
    if i <= lo:
        return None
    # 《…》, optionally followed by a version note (（2020年修订）) and by 的 / 中 / 中的
    j = i
    if text[j - 1] in "）)":
        m = _VERSION_NOTE_BEFORE.search(text, max(lo, j - 24), j)
        if m and m.end() == j and m.start() > lo and text[m.start() - 1] == "》":
            j = m.start()
        elif m and m.end() == j and m.start() > lo and _CJK_RUN.fullmatch(text[m.start() - 1]):
            # a bare name with a version note: 传染病防治法（2025修订）第一百一十条 (else 第一百一十条 would
            # inherit the previous citation's law)
            i = j = m.start()
    if text[j - 1] in "的中":
        for link in ("中的", "中", "的"):
            if text.endswith(link, lo, j) and j - len(link) - 1 >= lo and text[j - len(link) - 1] == "》":
                j -= len(link)
                break
    if text[j - 1] == "》":
        k = _bracket_start(text, j - 1, lo)
        if k is None or j - 1 - k <= 1:
            return None
        name = text[k + 1 : j - 1]
        key = "《" + name
        if key not in memo:
            memo[key] = _Law("law", resolve_law_name(name, names), 0)
        found = memo[key]
        return _Law("law", found.value, k) if found is not None else None
    # a numbered interpretation named in prose: 保险法解释（二）, 婚姻家庭编解释（一）
    serial = _SERIAL_BEFORE.search(text, max(lo, i - 6), i)
    if serial is not None and serial.end() == i:
        return _numbered_document(text, serial.start(), lo, serial.group(0), names)
    # a bare run of CJK characters
    run = _run_before(text, i, lo)
    n = len(run)
    if n < 2:
        return None
    if run not in memo:
        if run.endswith(_LAW_SUFFIXES):
            memo[run] = _bare_law(run, names)
        elif run.endswith(_OTHER_DOCUMENTS):
            memo[run] = _indexed_tail(run, names) or _other_document(run)
        else:
            memo[run] = None
    found = memo[run]
    return _Law(found.kind, found.value, i - n + found.start) if found is not None else None


def _run_before(text: str, end: int, lo: int) -> str:
    """The run of CJK characters that ends at `end` (at most _MAX_RUN long, not reaching back past `lo`)."""
    seg = text[max(lo, end - _MAX_RUN) : end]
    n = _CJK_RUN.match(seg[::-1]).end()  # type: ignore[union-attr]  # `*` always matches
    return seg[len(seg) - n :]


def _numbered_document(text: str, j: int, lo: int, serial: str, names: LawNameIndex | None) -> _Law | None:
    """The document a run of CJK characters ending in 解释/规定/… names with the serial (（二）) that follows it at
    `j`: the longest tail the index resolves, else the name as written after any lead-in word. Either way a
    bare 第X条 after it is that document's: 保险法解释（二）第九条 once inherited 保险法 and was linked to
    保险法第九条, which says something else."""
    run = _run_before(text, j, lo)
    n = len(run)
    if n < 2 or not run.endswith(_NUMBERED_KINDS):
        return None
    if names is not None:
        for st in range(len(run) - 1):
            hit = _resolve_with_index(run[st:] + serial, names)
            if hit is not None:
                return _Law("law", hit, j - n + st)
    st = _after_lead_in(run)
    return _Law("law", _as_written(run[st:] + serial), j - n + st) if len(run) - st >= 2 else None


def _bare_law(run: str, names: LawNameIndex | None) -> _Law | None:
    """The law a run of CJK characters ending in 法/条例/… names; `start` is its offset in the run."""
    # 1. a run naming the issuer or the state starts there
    cut = max(run.rfind(s) for s in _ISSUER_STARTS)
    if cut >= 0:
        return _Law("law", resolve_law_name(run[cut:], names), cut)
    # 2. the longest tail the index knows, then the longest tail ABBREVIATIONS knows
    indexed = _indexed_tail(run, names) or _nickname_tail(run, names)
    if indexed is not None:
        return indexed
    for st in range(max(0, len(run) - _KNOWN_LONGEST), len(run) - 1):
        short = _known_short(run[st:])
        if short is not None:
            return _Law("law", PRC + short, st)
    # 3. 本法 / 同法 / 该法 …
    tail = run[-8:]
    ref = _REF.search(tail)
    if ref is not None:
        st = len(run) - len(tail) + ref.start()
        if st == 0 or run[st - 1] in _REF_BEFORE:
            return _Law("this" if ref.group(1) == "本" else "prev", None, st)
    # 4. cut after the last lead-in word
    st = _after_lead_in(run)
    name = run[st:]
    if len(name) < 2 or name in _NOT_NAMES:
        return None
    return _Law("law", _as_written(name), st)


def _indexed_tail(run: str, names: LawNameIndex | None) -> _Law | None:
    """The longest tail of `run` that the knowledge base's law-name index resolves to one title; unless the
    characters before that tail continue it into the end of other titles (`_truncated_name`)."""
    if names is None:
        return None
    aliases, longest = _alias_set(names)
    for st in range(max(0, len(run) - longest), len(run) - 1):
        if run[st:] in aliases:
            hit = _resolve_with_index(run[st:], names)
            if hit is not None:
                return _truncated_name(run, st, hit, names) or _Law("law", hit, st)
    return None


def _nickname_tail(run: str, names: LawNameIndex | None) -> _Law | None:
    """An interpretation's nickname ending a run (民间借贷规定, 人脸识别规定, 担保法解释), after any lead-in word
    or 见 ("举证分配见民间借贷规定第九条"). Only a whole name counts, never an arbitrary tail (省工伤保险规定 is
    a province's rules, not the SPC's 工伤保险 rules), and only one that names its law (担保法解释) or a topic
    of four characters or more: 补充规定, 赔偿规定, 上述司法解释 name nothing the index can tell apart."""
    if names is None or not run.endswith(_NUMBERED_KINDS):
        return None
    st = max(_after_lead_in(run), _after_see(run))
    name = run[st:]
    nick = parse_nickname(name)
    if nick is None or (nick.law is None and len(nick.topic) < 4):
        return None
    hit = _resolve_with_index(name, names)
    return _Law("law", hit, st) if hit is not None else None


def _after_see(run: str) -> int:
    """After the last 见 of a run that is no 意见 (参见 and 详见 are lead-in words already)."""
    i = run.rfind("见")
    return i + 1 if i >= 0 and not run.startswith("意", i - 1) else 0


def _truncated_name(run: str, st: int, hit: str, names: LawNameIndex) -> _Law | None:
    """A shortened name the index does not know, whose end it does: 调解仲裁法 ends in 仲裁法, but 调解仲裁法
    is the end of 劳动争议调解仲裁法 (and of 农村土地承包经营纠纷调解仲裁法), not 仲裁法. The longest run[k:]
    (k < st) that ends other titles wins: one such title is the law; several keep the name as written, so
    verification reports it instead of linking the wrong law."""
    others = {t: clean for t in names.titles if (clean := clean_title(t)) != clean_title(hit)}
    for k in range(st):
        name = run[k:]
        titles = {t for t, clean in others.items() if clean.endswith(name)}
        if titles:
            if len({others[t] for t in titles}) == 1:
                return _Law("law", min(titles), k)
            return _Law("law", _as_written(name), k)
    return None


def _other_document(run: str) -> _Law:
    """A run ending in a document that is no law: "this-other" for 本规则 / 本协议 (the document being parsed,
    when the caller says which), else "other"."""
    st = _after_lead_in(run)
    for doc in _OTHER_DOCUMENTS:
        if run.endswith("本" + doc):
            at = len(run) - len(doc) - 1
            if at == 0 or run[at - 1] in _REF_BEFORE:  # 依照本规则, not 基本规则
                return _Law("this-other", None, at)
    return _Law("other", None, st)


def _after_lead_in(run: str) -> int:
    """Where a name starts in `run`: after its last lead-in word (根据, 违反, 的 …), else at 0."""
    st = 0
    for m in _LEAD_IN.finditer(run):
        st = m.end()
    return st


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def _case_citation(m: re.Match[str]) -> Citation | None:
    n = _number(m.group("cn1") or m.group("cn2") or m.group("cn3"), 99999)
    if n is None:
        return None
    procuratorate = m.group("cn2") is not None or m.group("cpre") in ("最高人民检察院", "最高检")
    case_id = f"检例第{n}号" if procuratorate else f"指导案例{n}号"
    return Citation(raw=m.group(0), law=None, case_id=case_id, start=m.start(), end=m.end())


def _item(m: re.Match[str], group: str) -> int | None:
    return _number(m.group(group) or m.group(group + "b"), 99)


def parse_citations(text: str, names: LawNameIndex | None = None, context_law: str | None = None) -> list[Citation]:
    """Every citation in `text`, in order (see the module docstring for the grammar).

    `names` resolves law names to the titles a knowledge base holds; `context_law` is the law that
    本法 and a bare 第X条 refer to (e.g. when parsing the text of that law itself).
    """
    context = resolve_law_name(context_law, names) if context_law else None
    out: list[Citation] = []
    prev: Citation | None = None
    foreign = False  # `prev` is another document's article (员工手册第三条), not emitted
    last_law: str | None = None
    memo = _memo_for(names)
    for m in _ANCHOR.finditer(text):
        if m.group("case"):
            c = _case_citation(m)
            if c is not None:
                out.append(c)
                prev, foreign = c, False
            continue
        gap_from = prev.end if prev is not None else 0
        gap = text[gap_from : m.start()]
        in_list = prev is not None and _LIST_GAP.fullmatch(gap) is not None
        same_sentence = prev is not None and _SENTENCE_END.search(gap) is None

        if m.group("art"):
            law_ref = _law_before(text, m.start(), gap_from, names, memo)
            if m.group("a2") and law_ref is None and not (in_list and prev is not None and prev.article_no):
                continue  # 共有3条: a bare number needs a law or a list of articles before it
            first = _number(m.group("a1") or m.group("a2"))
            if first is None:
                continue
            if law_ref is not None and law_ref.kind == "this-other" and context:
                law_ref = _Law("law", context, law_ref.start)  # 本规则第五条 inside that rule's own text
            if (law_ref is not None and law_ref.kind in ("other", "this-other")) or (
                law_ref is None and foreign and (in_list or same_sentence)
            ):
                # another document's article, or one continuing it (员工手册第三条、第五条): no law's article
                prev, foreign = Citation(raw=m.group(0), law=None, article_no=first, start=m.start(), end=m.end()), True
                continue
            if law_ref is None:
                inherited = prev.law if prev is not None and (in_list or same_sentence) else None
                law = inherited or context
            elif law_ref.kind == "law":
                law = law_ref.value
            elif law_ref.kind == "this":
                law = context or last_law
            else:
                law = last_law or context
            start = law_ref.start if law_ref is not None else m.start()
            raw = text[start : m.end()]
            suffix = _number(m.group("suf"), 99) or 0
            para = _number(m.group("para"), 99)
            item = _item(m, "item")
            if m.group("more"):  # 第20至23条, 第1034、1035条: one citation per number, whole span each
                numbers = [first, *(n for n in map(_number, _NUMERAL.findall(m.group("more"))) if n)]
                for n in numbers[:-1]:
                    out.append(Citation(raw=raw, law=law, article_no=n, start=start, end=m.end()))
                first = numbers[-1]
            c = Citation(
                raw=raw,
                law=law,
                article_no=first,
                article_suffix=suffix,
                paragraph=para,
                item=item,
                start=start,
                end=m.end(),
            )
        else:
            if prev is None or prev.article_no is None or not in_list:
                continue
            if foreign:
                prev = replace(prev, end=m.end())  # 公司章程第五条第二款: still the other document's
                continue
            if m.group("ponly"):
                para = _number(m.group("p1"), 99)
                if para is None:
                    continue
                c = replace(prev, raw=m.group(0), paragraph=para, item=_item(m, "pitem"), start=m.start(), end=m.end())
            else:
                item = _item(m, "iitem")
                if item is None:
                    continue
                c = replace(prev, raw=m.group(0), item=item, start=m.start(), end=m.end())
        out.append(c)
        prev, foreign = c, False
        if c.law:
            last_law = c.law
    return out


def parse_citation(text: str, names: LawNameIndex | None = None) -> Citation | None:
    """The first citation in `text` (for a lookup box), or None."""
    found = parse_citations(text, names)
    return found[0] if found else None


def _book(title: str) -> str:
    """《title》, a title nested inside it written 〈…〉."""
    return "《" + title.replace("《", "〈").replace("》", "〉") + "》"


def format_citation(c: Citation) -> str:
    """Chinese legal style: 《中华人民共和国个人信息保护法》第十三条第一款第（二）项, 指导案例192号.

    A nested title is written 〈…〉 inside the outer 《》. Without a law: 第十三条.
    """
    if c.case_id:
        return c.case_id
    out = []
    if c.law:
        out.append(_book(c.law))
    if c.article_no:
        out.append(article_label(c.article_no, c.article_suffix))
        if c.paragraph:
            out.append(f"第{format_cn_number(c.paragraph)}款")
        if c.item:
            out.append(f"第（{format_cn_number(c.item)}）项")
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


@runtime_checkable
class ArticleCatalog(Protocol):
    """What verification needs from a store (kb.store.KnowledgeBase implements it)."""

    def law_titles(self) -> Iterable[str]:
        """Titles of the statutes, interpretations and regulations held."""
        ...

    def article_chunks(self, title: str, number: int, suffix: int) -> list[Chunk]:
        """All stored chunks of that article in documents with exactly that title, every version."""
        ...

    def case_chunks(self, case_id: str) -> list[Chunk]:
        """All stored chunks of the case 指导案例N号 / 检例第N号."""
        ...


def _structure(text: str) -> list[int]:
    """The 款 of an article's text, each as its number of 项 (（一）… lines)."""
    kuan: list[int] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or _LABEL_LINE.match(line):
            continue
        if _ITEM_LINE.match(line) and kuan:
            kuan[-1] += 1
        else:
            kuan.append(0)
    return kuan


def _version_has(chunks: list[Chunk], paragraph: int | None, item: int | None) -> bool:
    """Whether one version's chunks (parts of one article) hold the cited 款 and 项."""
    if paragraph is None and item is None:
        return True
    ordered = sorted(chunks, key=lambda ch: ch.part)
    kuan = _structure("\n".join(ch.text for ch in ordered))
    # A part that starts at a known 款 (long articles are split) fixes the count from there on.
    for ch in ordered:
        if ch.paragraph:
            tail = _structure(ch.text)
            if ch.paragraph - 1 + len(tail) > len(kuan):
                kuan = [0] * (ch.paragraph - 1) + tail
    if paragraph is not None and paragraph > len(kuan):
        return False
    if item is None:
        return True
    if paragraph is not None:
        return item <= kuan[paragraph - 1]
    return any(item <= n for n in kuan)


def _versions(chunks: list[Chunk]) -> list[list[Chunk]]:
    """Chunks grouped into versions (one document each; a repeated label starts again at part 1)."""
    groups: dict[str, list[list[Chunk]]] = {}
    for ch in chunks:
        seqs = groups.setdefault(ch.doc_id, [])
        if not seqs or ch.part <= 1 or any(c.part == ch.part for c in seqs[-1]):
            seqs.append([ch])
        else:
            seqs[-1].append(ch)
    return [seq for seqs in groups.values() for seq in seqs]


class _Verifier:
    """Verification state shared by the citations of one text (titles and index built once)."""

    def __init__(self, catalog: ArticleCatalog, names: LawNameIndex | None):
        self.catalog = catalog
        self.names = names
        self._titles: list[str] | None = None
        self._title_set: frozenset[str] = frozenset()
        self._own_index: LawNameIndex | None = None

    @property
    def titles(self) -> list[str]:
        if self._titles is None:
            self._titles = list(dict.fromkeys(self.catalog.law_titles()))
            self._title_set = frozenset(self._titles)
        return self._titles

    @property
    def own_index(self) -> LawNameIndex:
        if self._own_index is None:
            # A knowledge base keeps this index per generation; building it costs ~50 ms a check otherwise.
            kept = getattr(self.catalog, "law_names", None)
            self._own_index = kept() if callable(kept) else LawNameIndex(self.titles)
        return self._own_index

    def candidates(self, law: str) -> list[str]:
        """Titles in the catalog that `law` may name."""
        titles = self.titles
        if law in self._title_set:
            return [law]
        found: list[str] = []
        if self.names is not None:
            found = [t for t in self.names.resolve(law) if t in self._title_set]
        if not found:
            found = self.own_index.resolve(law)
        if not found:
            key = clean_title(law)
            if key in _GENERIC_NAMES:
                found = [t for t in titles if _TRAILING_ORDINAL.sub("", clean_title(t)).endswith(key)]
        return list(dict.fromkeys(found))

    def verify(self, c: Citation) -> VerifiedCitation:
        if c.case_id:
            chunks = self.catalog.case_chunks(c.case_id)
            if chunks:
                return VerifiedCitation(
                    c, "exists", c.case_id, title=chunks[0].title, chunk_ids=tuple(ch.chunk_id for ch in chunks)
                )
            return VerifiedCitation(c, "not_found", c.case_id, note=f"知识库中没有{c.case_id}")
        display = format_citation(c)
        if c.article_no is None:
            return VerifiedCitation(c, "not_found", display, note="未指明条文")
        if not c.law:
            return VerifiedCitation(c, "not_found", display, note="未指明法律名称")
        titles = self.candidates(c.law)
        if not titles:
            return VerifiedCitation(c, "not_found", display, note=f"知识库中没有{_book(c.law)}")

        label = article_label(c.article_no, c.article_suffix)
        matched: dict[str, list[Chunk]] = {}  # title → chunks of the versions that hold the cited unit
        reasons: list[str] = []
        for title in titles:
            chunks = self.catalog.article_chunks(title, c.article_no, c.article_suffix)
            if not chunks:
                continue
            good = [ch for v in _versions(chunks) if _version_has(v, c.paragraph, c.item) for ch in v]
            if good:
                matched[title] = good
            else:
                unit = format_citation(replace(c, law=None))[len(label) :]
                reasons.append(f"{_book(title)}{label}没有{unit}")

        if not matched:
            only = titles[0] if len(titles) == 1 else None
            shown = format_citation(replace(c, law=only)) if only else display
            note = (
                "；".join(reasons)
                if reasons
                else (f"{_book(only)}没有{label}" if only else f"{_book(c.law)}所指的文件中都没有{label}")
            )
            return VerifiedCitation(c, "not_found", shown, title=only, note=note)

        if len(matched) > 1:
            listed = "、".join(_book(t) for t in matched)
            return VerifiedCitation(
                c,
                "ambiguous",
                display,
                chunk_ids=tuple(ch.chunk_id for chs in matched.values() for ch in chs),
                note=f"{_book(c.law)}可指多个文件，均有{label}：{listed}",
            )

        title, chunks = next(iter(matched.items()))
        shown = format_citation(replace(c, law=title))
        note = f"按条文确定为{_book(title)}" if len(titles) > 1 else ""
        current = [ch for ch in chunks if ch.validity in _CURRENT]
        if current:
            return VerifiedCitation(
                c, "exists", shown, title=title, chunk_ids=tuple(ch.chunk_id for ch in current), note=note
            )
        states = "、".join(
            dict.fromkeys(ch.validity + (f"（施行日期{ch.effective}）" if ch.effective else "") for ch in chunks)
        )
        other = f"该条仅见于{states}的版本，现行版本中没有"
        return VerifiedCitation(
            c,
            "other_version",
            shown,
            title=title,
            chunk_ids=tuple(ch.chunk_id for ch in chunks),
            note=f"{note}；{other}" if note else other,
        )


def verify_citation(c: Citation, catalog: ArticleCatalog, names: LawNameIndex | None = None) -> VerifiedCitation:
    """Check one citation against the catalog (see the module docstring for the statuses)."""
    return _Verifier(catalog, names).verify(c)


def verify_text(text: str, catalog: ArticleCatalog, names: LawNameIndex | None = None) -> list[VerifiedCitation]:
    """Extract every citation of `text` and verify it."""
    verifier = _Verifier(catalog, names)
    index = names if names is not None else verifier.own_index
    return [verifier.verify(c) for c in parse_citations(text, index)]


def article_key(v: VerifiedCitation) -> str:
    """The article a verified citation points to, formatted without 款/项: 《title》第N条. It keys the
    `cites` links between cases and articles, and the evidence of an answer."""
    c = v.citation
    return format_citation(replace(c, law=v.title or c.law, paragraph=None, item=None))
