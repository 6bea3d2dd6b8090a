"""Court cases: guiding cases, procuratorate guiding cases, gazette and typical cases, ordinary judgments.

Entry points
* `extract_case_numbers(text)` — every 案号 in a text, normalised, in order of first appearance.
* `parse_case_markdown(text, source=…, meta=…)` — one case written as Markdown or plain text (the
  ``full_text`` of the shared JSONL, a ``topical_md`` file with its front matter, a judgment a user has).
* `iter_case_jsonl(path, mapping)` — one `CaseDocument` per JSONL line; a bad line yields an exception
  (`CaseRecordError`) instead of stopping the batch.
* `looks_like_case(text)` — routing of plain files.

What counts as a 案号 (`extract_case_numbers`)
  （year）+ court abbreviation + case-type characters + [字]第N号, in full- or half-width brackets or
  〔〕: （2023）浙0192民初1234号, (2021)最高法民申123号, （2012）西民四初字第438号, （2006）沪高民三(知)终字
  第110号. The part between the year and the number must contain a case-type character (民 刑 行 执 赔 知
  商 经 破 监 环 认 催 保 提 限 协 核 督 救 清, or a maritime court's 海法) and none of the characters that
  mark other numbered papers (证 公证书, 鉴 鉴定书, 仲 仲裁, 检 procuratorate, 罚/查/处/税 administrative
  decisions, 办, 规, 函, 令, 发, 年, 月, 日). The court abbreviation is optional because the Supreme People's
  Court's numbers before 2016 have none: （2009）民申字第1164号 is a 案号.
  Not 案号: 文号 of documents (国发〔2020〕1号, 法释〔2020〕26号 — the issuer stands before the bracket
  and nothing stands between the year and the number), notarial and appraisal numbers ((2010)沪东证经字
  第9110号, (2012)病鉴字第105号), dates, and bare (2005)第02026号.
  Normal form: full-width （）, ASCII digits, no spaces: （2006）沪高民三（知）终字第110号.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ingest.readers import ReaderError, max_file_bytes, open_source, printable, too_large_reason
from kb.models import CaseDocument, CaseSection
from kb.numerals import parse_cn_number

# ---------------------------------------------------------------------------------------------------
# 案号

_FW_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_CASE_NO_RE = re.compile(
    r"[（(〔［\[]\s*((?:19|20)\d{2}|[１２][０-９]{3})\s*[）)〕］\]]"
    r"[ \t\u3000]*([\u4e00-\u9fff0-9０-９A-Za-z（）() \t\u3000]{1,24}?)"
    r"[ \t\u3000]*(第?)[ \t\u3000]*([0-9０-９]{1,8}(?:[-—－][0-9０-９]{1,4})?)[ \t\u3000]*号"
    r"(之[一二三四五六七八九十]{1,3})?"
)
_CASE_TYPE_CHARS = frozenset("民刑行执赔知商经破监环认催保提限协核督救清")
_NOT_CASE_CHARS = frozenset("证鉴仲检罚查处税办规函令发年月日")
_SPACES = re.compile(r"[ \t\u3000]+")


def _case_no_body_ok(body: str) -> bool:
    if not body or body.startswith("第") or body.isdigit():
        return False
    if any(ch in _NOT_CASE_CHARS for ch in body):
        return False
    return any(ch in _CASE_TYPE_CHARS for ch in body) or "海法" in body


def _normalize_case_no(year: str, body: str, di: str, num: str, suffix: str | None) -> str:
    body = _SPACES.sub("", body).translate(_FW_DIGITS).replace("(", "（").replace(")", "）")
    num = re.sub(r"[—－]", "-", num.translate(_FW_DIGITS))
    return f"（{year.translate(_FW_DIGITS)}）{body}{di}{num}号{suffix or ''}"


def iter_case_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, normalised 案号) for every 案号 in `text`, duplicates included."""
    for m in _CASE_NO_RE.finditer(text):
        year, body, di, num, suffix = m.groups()
        body_clean = _SPACES.sub("", body)
        if not _case_no_body_ok(body_clean):
            continue
        yield m.start(), m.end(), _normalize_case_no(year, body, di, num, suffix)


def extract_case_numbers(text: str) -> list[str]:
    """All 案号 in `text`, normalised to full-width （）, deduplicated, in order of first appearance."""
    out: list[str] = []
    seen: set[str] = set()
    for _, _, no in iter_case_numbers(text or ""):
        if no not in seen:
            seen.add(no)
            out.append(no)
    return out


def normalize_case_number(raw: str) -> str | None:
    """The normal form of one 案号, or None if `raw` is not one."""
    found = extract_case_numbers(raw)
    return found[0] if found else None


_GUIDING_RE = re.compile(r"指导(?:性)?案例\s*第?\s*([0-9０-９]+|[一二三四五六七八九十百零〇两]+)\s*号")
_SPP_RE = re.compile(r"检例\s*第\s*([0-9０-９]+|[一二三四五六七八九十百零〇两]+)\s*号")


def _num(s: str) -> int | None:
    try:
        return parse_cn_number(s)
    except ValueError:
        return None


def extract_case_references(text: str) -> list[str]:
    """案号 plus references to guiding cases (指导案例N号, 检例第N号), deduplicated, in text order."""
    found: list[tuple[int, str]] = [(s, no) for s, _, no in iter_case_numbers(text)]
    for m in _GUIDING_RE.finditer(text):
        n = _num(m.group(1))
        if n:
            found.append((m.start(), f"指导案例{n}号"))
    for m in _SPP_RE.finditer(text):
        n = _num(m.group(1))
        if n:
            found.append((m.start(), f"检例第{n}号"))
    out: list[str] = []
    for _, ref in sorted(found, key=lambda x: x[0]):
        if ref not in out:
            out.append(ref)
    return out


_TYPE_FROM_CHAR = {
    "刑": "刑事",
    "行": "行政",
    "执": "执行",
    "赔": "国家赔偿",
    "民": "民事",
    "商": "民事",
    "经": "民事",
    "破": "民事",
    "清": "民事",
    "环": "民事",
}


def case_type_from_number(case_no: str) -> str | None:
    """民事/刑事/行政/执行/国家赔偿 from the case-type character of a normalised 案号."""
    m = re.match(r"（\d{4}）(.+?)第?[\d-]+号", case_no)
    if not m:
        return None
    body = m.group(1)
    if "海法" in body:
        return "民事"
    for ch in body.replace("（知）", ""):
        if ch in _TYPE_FROM_CHAR:
            return _TYPE_FROM_CHAR[ch]
    if "知" in body:
        return "民事"
    return None


# ---------------------------------------------------------------------------------------------------
# Kinds of case collections

DOC_TYPES: dict[str, str] = {
    "spc_guiding": "指导案例",
    "spp_guiding": "检察指导案例",
    "spc_gazette": "公报案例",
    "spc_typical": "典型案例",
    "lrb_case": "典型案例",
    "typical": "典型案例",
    "ncs_spp_joint_guiding": "监察检察联合指导案例",
}
DEFAULT_ISSUERS: dict[str, str] = {
    "指导案例": "最高人民法院",
    "检察指导案例": "最高人民检察院",
    "公报案例": "最高人民法院公报",
    "典型案例": "最高人民法院",
    "监察检察联合指导案例": "国家监察委员会、最高人民检察院",
}

# ---------------------------------------------------------------------------------------------------
# Section headings

HOLDING_SECTIONS = ("裁判要点", "要旨", "裁判摘要", "案例要旨", "裁判要旨")
RELATED_LAW = "相关法条"
_RELATED_LAW_ALIASES = frozenset(
    {
        "相关法条",
        "相关规定",
        "相关法律规定",
        "相关立法",
        "相关法律",
        "法律规定",
        "相关法律法规",
        "相关条文",
        "司法解释相关法条",
        "司法解释相关条文",
        "相关法律条文",
        "法律依据",
    }
)
KNOWN_SECTIONS: frozenset[str] = frozenset(
    {
        *HOLDING_SECTIONS,
        *_RELATED_LAW_ALIASES,
        "关键词",
        "基本案情",
        "简要案情",
        "案情回顾",
        "案情简介",
        "案件事实",
        "裁判结果",
        "裁判理由",
        "判决理由",
        "法院裁判",
        "处理结果",
        "案件结果",
        "诉讼过程",
        "诉讼过程和结果",
        "诉前程序",
        "终审判决",
        "终审结果",
        "指导意义",
        "典型意义",
        "案例分析",
        "适用解析",
        "法官解读",
        "法官说法",
        "专家点评",
        "案例评析",
        "检察机关履职过程",
        "检察机关履职情况",
        "检察履职情况",
        "监察、检察履职情况",
        "检察机关监督情况",
        "检察工作情况",
        "指控与证明犯罪",
        "抗诉理由",
        "建议再审理由",
        "核准追诉案件办理过程",
        "调查核实和督促履职",
        "发现线索和调查核实",
        "检察听证过程",
        "检察听证情况",
        "不批准逮捕理由",
        "不批准逮捕的理由",
        "不起诉的理由",
        "检察机关的意见和理由",
        "提出检察建议",
        "支持提起变更抚养权诉讼",
        "申请人请求",
        "原告诉讼请求",
        "争议焦点",
    }
)
_CONTENT_SECTIONS = KNOWN_SECTIONS - set(HOLDING_SECTIONS) - {"关键词"}

_CN_INDEX = r"[一二三四五六七八九十]{1,3}[、.．]"
_MD_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*$")
_BRACKET_HEADING = re.compile(r"^[【［]\s*([^】］]{1,24}?)\s*[】］]\s*[。：:]?\s*(.*)$")
_ASCII_BRACKET_HEADING = re.compile(r"^\[\s*([^\]]{1,24}?)\s*\]\s*[。：:]?\s*(?!\()(.*)$")
_BOLD_HEADING = re.compile(r"^\*\*\s*([^*]{1,24}?)\s*[：:]?\s*\*\*\s*[：:]?\s*(.*)$")
_KEYWORD_LINE = re.compile(r"^关\s*键\s*词\s*[：:]?\s*(.*)$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SPLIT_BRACKET = re.compile(r"【([^】\n]{0,12})\n[\s]*([^】\n]{0,12})】")
_EDGE_SPACES = "\u3000\xa0\u2002\u2003\u2009\u200b\t \ufeff"
_SENTENCE_PUNCT = re.compile(r"[，。；！？,;!?]")
_URL_LINE = re.compile(r"^(?:原文网址|原文链接|来源网址|信息来源)[：:]\s*\S+$")
_RELEASE_LINE = re.compile(r"^[（(].*?(?:讨论通过|发布)[^）)]*[）)]$")
_GUIDING_LABEL_LINE = re.compile(r"^[（(]?\s*(?:检例第\s*\S+?\s*号|指导(?:性)?案例\s*\S+?\s*号)\s*[）)]?$")


_WS = re.compile(r"\s+")


def _squash(name: str) -> str:
    return _WS.sub("", name).strip("：:。．.")


def canonical_section_name(name: str) -> str:
    """Heading as written → the name used in `CaseSection`: whitespace removed (要 旨 → 要旨), and every
    heading of related statutes (相关规定, 相关法律规定, 司法解释相关法条 …) named 相关法条."""
    n = _squash(name)
    n = re.sub(r"^" + _CN_INDEX, "", n)
    return RELATED_LAW if n in _RELATED_LAW_ALIASES else n


def _clean_line(line: str) -> str:
    line = line.strip(_EDGE_SPACES).replace("\\*", "*")
    return line


@dataclass
class _Block:
    name: str | None
    lines: list[str]
    level: int = 0  # markdown level for ## headings, 0 otherwise


def _heading(line: str) -> tuple[str, str, int] | None:
    """(name, inline remainder, md level) if `line` is a section heading."""
    if len(line) > 30 and line[0] not in "#【［[*关":
        return None  # a paragraph: most lines, so decide fast
    m = _MD_HEADING.match(line)
    if m:
        text = m.group(2).replace("**", "").strip(_EDGE_SPACES)
        return (text, "", len(m.group(1))) if text else None
    for pattern in (_BRACKET_HEADING, _ASCII_BRACKET_HEADING):
        m = pattern.match(line)
        if m and not _SENTENCE_PUNCT.search(m.group(1)):
            return m.group(1), m.group(2), 0
    m = _BOLD_HEADING.match(line)
    if m and canonical_section_name(m.group(1)) in KNOWN_SECTIONS:
        return m.group(1), m.group(2), 0
    plain = line.replace("**", "")
    m = _KEYWORD_LINE.match(plain)
    if m:
        return "关键词", m.group(1), 0
    squashed = _squash(plain)
    if squashed in KNOWN_SECTIONS and len(plain) <= 24:
        return squashed, "", 0
    m = re.match(r"^" + _CN_INDEX + r"\s*(.{2,16})$", plain)
    if m and _squash(m.group(1)) in KNOWN_SECTIONS:
        return m.group(1), "", 0
    return None


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0 or end > 5000:
        return {}, text
    meta: dict[str, Any] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            continue
        value = value.strip()
        parsed: Any = value
        if value.startswith(("[", "{")):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            parsed = value[1:-1]
        meta[key.strip()] = parsed
    rest = text[end + 4 :]
    return meta, rest.removeprefix("\n")


def _prepare_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = _HTML_COMMENT.sub("\n", text)
    for _ in range(2):
        text = _SPLIT_BRACKET.sub(lambda m: f"【{m.group(1).strip()}{m.group(2).strip()}】", text)
    # Pages flattened by a scraper keep paragraphs apart only by a run of spaces: split there.
    text = re.sub(r"(?<=\S)[ \u3000\xa0]{4,}(?=\S)", "\n", text)
    return [_clean_line(line) for line in text.split("\n")]


def _split_blocks(lines: list[str]) -> list[_Block]:
    blocks = [_Block(None, [])]
    for line in lines:
        if not line:
            continue
        h = _heading(line)
        if h is None:
            blocks[-1].lines.append(line.replace("**", "") if line.count("**") >= 2 else line)
            continue
        name, rest, level = h
        blocks.append(_Block(name, [rest] if rest.strip() else [], level))
    return blocks


# ---------------------------------------------------------------------------------------------------
# Values: missing markers, dates, keywords, related statutes

_MISSING = {"", "none", "null", "nan", "n/a", "na", "undefined", "无", "-"}


def _present(value: Any) -> Any:
    """None for null, 'None', 'null', '' and empty containers; the value otherwise (strings stripped)."""
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        return None if v.lower() in _MISSING else v
    if isinstance(value, (list, tuple)):
        items = [x for x in (_present(v) for v in value) if x is not None]
        return items or None
    return value


_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISO_RE = re.compile(r"((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_CN_DATE_RE = re.compile(
    r"([一二三四五六七八九〇○零Ｏ]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日"
)


def _iso(y: int, m: int, d: int) -> str | None:
    if 1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return None


def parse_date(text: str | None) -> str | None:
    """The first date in `text` (2011年12月20日, 2011-12-20, 二〇〇一年六月二十二日) as ISO, else None."""
    if not text:
        return None
    text = text.translate(_FW_DIGITS)
    found: list[tuple[int, str]] = []
    for rx in (_DATE_RE, _ISO_RE):
        m = rx.search(text)
        if m:
            iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if iso:
                found.append((m.start(), iso))
    m = _CN_DATE_RE.search(text)
    if m:
        iso = _cn_date(m)
        if iso:
            found.append((m.start(), iso))
    return min(found)[1] if found else None


def _cn_date(m: re.Match[str]) -> str | None:
    year = m.group(1).replace("○", "〇").replace("Ｏ", "〇")
    try:
        return _iso(parse_cn_number(year), parse_cn_number(m.group(2)), parse_cn_number(m.group(3)))
    except ValueError:
        return None


def split_keywords(value: Any) -> tuple[str, ...]:
    """'民事/居间合同/违约', '行贿  串通投标', one per line, or a list → a tuple of keywords."""
    value = _present(value)
    if value is None:
        return ()
    parts = value if isinstance(value, list) else [value]
    out: list[str] = []
    for part in parts:
        for kw in re.split(r"[\s/／;；,，、|]+", str(part)):
            kw = kw.strip("。.：:")
            if kw and kw not in out:
                out.append(kw)
    if len(out) == 1:  # '民事居间合同二手房买卖违约' (no separators): at least the case type comes apart
        m = re.match(r"^(民事诉讼|刑事诉讼|行政诉讼|民事|刑事|行政|国家赔偿)(.{2,})$", out[0])
        if m:
            out = [m.group(1), m.group(2)]
    return tuple(out)


_NOT_LAW_LINE = re.compile(
    r"^(?:办案检察院|承办检察官|案例撰写人|撰写人|编写人|审判人员|生效裁判审判人员|[（(]生效裁判审判人员)"
)


def split_related_law(text: str | None) -> list[str]:
    """The related-statutes text of a case → one citation per item (line), numbering and notes dropped."""
    if not text:
        return []
    out: list[str] = []
    for raw in re.split(r"\n+", text):
        line = _clean_line(raw).replace("**", "")
        line = re.sub(r"^(?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、．]\s*", "", line).strip()
        if not line or _NOT_LAW_LINE.match(line):
            continue
        line = line.rstrip("。；;")
        if line and line not in out:
            out.append(line)
    return out


_COURT_SUFFIX = re.compile(
    r"(?:人民法院|知识产权法院|互联网法院|金融法院|海事法院|铁路运输法院|运输法院|军事法院|法院)$"
)
_COURT_BAD = re.compile(
    r"公司|事实|审理|请求|关于|受理|管辖|告知|一审|二审|原审|第一审|参加|对在|该|由|经|后|同日|被|超出|票据"
)


def valid_court(value: Any) -> str | None:
    """A court name as given in heuristic metadata, or None when it is not one (一审法院, 人民法院, …)."""
    v = _present(value)
    if not isinstance(v, str):
        return None
    v = _SPACES.sub("", v)
    if v == "最高人民法院":
        return v
    if not (4 <= len(v) <= 30) or not _COURT_SUFFIX.search(v) or not re.fullmatch(r"[\u4e00-\u9fff（）]+", v):
        return None
    head = _COURT_SUFFIX.sub("", v)
    if re.search(r"^经济技术开发区|^经开区", head):
        pass
    elif _COURT_BAD.search(head):
        return None
    if not re.search(r"[省市县区州盟旗]|海事|知识产权|互联网|金融|铁路|运输|军事|最高|林区|农垦|矿区", v):
        return None
    return v


_COURT_IN_TEXT = re.compile(
    r"((?:最高|[\u4e00-\u9fff]{2,20}?(?:省|自治区|市|县|区|州|盟|旗))"
    r"[\u4e00-\u9fff]{0,12}?(?:人民法院|知识产权法院|互联网法院|金融法院|海事法院|运输法院))"
    r"(?:于|在|经审理|审理|作出|依照|认为|判决|裁定)"
)

# ---------------------------------------------------------------------------------------------------
# Ordinary judgments (判决书 / 裁定书) and the judgment narrative of gazette cases

_PARTY_ROLES = (
    "原告|被告|第三人|上诉人|被上诉人|申请人|被申请人|再审申请人|申请再审人|再审被申请人|申诉人|被申诉人|"
    "公诉机关|原公诉机关|抗诉机关|被告人|原审被告人|原审原告|原审被告|原审第三人|赔偿请求人|赔偿义务机关|"
    "复议机关|申请执行人|被执行人|案外人|起诉人|公益诉讼起诉人|附带民事诉讼原告人|附带民事诉讼被告人|"
    "附带民事诉讼原告|被告单位|上诉单位|复议申请人|罪犯|原审上诉人|原审被上诉人|二审上诉人|二审被上诉人|"
    "一审原告|一审被告|一审第三人|被附条件不起诉人"
)
_PARTY_ROLE = r"(?:" + _PARTY_ROLES + r"|反诉原告|反诉被告)(?:[（(][^）)]{0,24}[）)])*"
_PARTY_LINE = re.compile(
    r"^(?:" + _PARTY_ROLE + r"(?:、" + _PARTY_ROLE + r")*[：:]"
    # criminal judgments: '被告人李效时，男，53岁，…'
    r"|(?:公诉机关|原公诉机关|抗诉机关|公益诉讼起诉人)[\u4e00-\u9fff（）]{2,30}(?:人民检察院|检察院)[。.，,]?$"
    r"|(?:被告人|罪犯|被告单位|原审被告人|上诉人（原审被告人）)[\u4e00-\u9fff·•某XＸ×]{1,12}[，,]"
    r"(?:男|女|\d|汉族|住|原系|系|曾用名|绰号|出生|[一二三四五六七八九十]+岁))"
)
_AGENT_LINE = re.compile(
    r"^[^：:，。]{0,10}?(?:法定代表人|负责人|主要负责人|代表人|诉讼代表人|委托代理人|委托诉讼代理人|诉讼代理人|法定代理人|"
    r"指定代理人|辩护人|指定辩护人|共同委托代理人|出庭检察员|检察员|经营者|投资人|执行事务合伙人)[：:]"
)
_DOC_KIND_LINE = re.compile(
    r"^(民事|刑事|行政|执行|国家赔偿|刑事附带民事|赔偿)?(判决书|裁定书|调解书|决定书|支付令|通知书)$"
)
_COURT_LINE = re.compile(r"^[\u4e00-\u9fff（）]{2,30}(?:人民法院|法院)$")
_FACTS_LINE = re.compile(
    r"^[^。；]{0,30}?(?:(?:经审理|审理|一审|二审|再审|经审查|本院|法院|经)[，,]?查明|认定(?:的)?事实如下|认定事实[：:]|"
    r"(?:经审理|本院)确认(?:的)?事实如下)"
)
_REASON_LINE = re.compile(
    r"^(?:本院|[^，。：:；]{0,30}?法院|法院)(?:经审理|审理|一审|二审|再审|经审查|审查|生效裁判|经审理后)?认为"
)
_RESULT_LEAD = re.compile(r"(?:判决|裁定|决定|判令|调解协议|判处|裁决)(?:如下)?[：:]$")
_APPEAL_LINE = re.compile(r"不服.{0,40}?(?:提起上诉|提出上诉|申请再审|提出抗诉|申诉|申请复议)|上诉称|申诉称|抗诉称")
_CLAIM_LINE = re.compile(r"诉称|辩称|诉讼请求|起诉称|指控|上诉请求|答辩称|述称|再审请求|申请称")
_SIGNATURE_LINE = re.compile(r"^(?:审\s*判\s*长|审\s*判\s*员|代理审判员|人民陪审员|书\s*记\s*员|法官助理|执\s*行\s*员)")
_CN_DATE_LINE = re.compile(
    r"^[一二三四五六七八九〇○零Ｏ]{4}\s*年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日$"
)
_ONE_CASE_LINE = re.compile(r"一案|提起公诉|提起诉讼|向本院起诉|立案后|立案受理|受理后")

JUDGMENT_SECTIONS = ("当事人", "审理经过", "诉辩意见", "审理查明", "本院认为", "裁判结果")


def _judgment_sections(lines: list[str]) -> tuple[list[CaseSection], dict[str, Any]]:
    """Split the body of a judgment into 当事人 / 审理经过 / 诉辩意见 / 审理查明 / 本院认为 / 裁判结果.

    Returns the sections and what the header told: court, doc kind (民事判决书 …), 案号 line, date."""
    info: dict[str, Any] = {}
    body: list[str] = []
    header_done = False
    for i, line in enumerate(lines):
        if not header_done and i < 8 and not _PARTY_LINE.match(line):
            sq = _SPACES.sub("", line)
            if _COURT_LINE.match(sq) and "court" not in info:
                info["court"] = sq
                continue
            if _DOC_KIND_LINE.match(sq) and "doc_kind" not in info:
                info["doc_kind"] = sq
                continue
            if extract_case_numbers(sq) and len(sq) <= 40 and "案号" not in info:
                info["案号"] = extract_case_numbers(sq)[0]
                continue
        header_done = True
        body.append(line)

    sections: list[tuple[str, list[str]]] = []
    current: str | None = None

    def start(name: str) -> None:
        nonlocal current
        current = name
        sections.append((name, []))

    pending_result = False
    for line in body:
        is_party = bool(_PARTY_LINE.match(line)) and not re.search(r"称|认为|请求", line.split("：")[0].split(":")[0])
        if _CN_DATE_LINE.match(_SPACES.sub("", line)):
            iso = _cn_date(_CN_DATE_RE.match(_SPACES.sub("", line)))  # type: ignore[arg-type]
            if iso:
                info["date"] = iso
        if pending_result:
            start("裁判结果")
            pending_result = False
        elif is_party and current in (None, "首部", "当事人"):
            if current != "当事人":
                start("当事人")
        elif current == "当事人" and _AGENT_LINE.match(line):
            pass
        elif current == "当事人" or current is None:
            if current is None and not _ONE_CASE_LINE.search(line) and not _CLAIM_LINE.search(line):
                start("首部")
            elif _CLAIM_LINE.search(line) and not _ONE_CASE_LINE.search(line):
                start("诉辩意见")
            else:
                start("审理经过")
        elif _REASON_LINE.match(line):
            if current != "本院认为":
                start("本院认为")
        elif _FACTS_LINE.match(line):
            if current != "审理查明":
                start("审理查明")
        elif (current == "裁判结果" and _APPEAL_LINE.search(line) and not re.match(r"^(?:如|可在|当事人如)", line)) or (
            current in ("审理经过", "首部") and _CLAIM_LINE.search(line)
        ):
            start("诉辩意见")
        assert current is not None
        sections[-1][1].append(line)
        if _RESULT_LEAD.search(line) and current != "裁判结果":
            pending_result = True
    out = [CaseSection(name, "\n".join(ls)) for name, ls in sections if ls]
    return out, info


def _looks_like_judgment(lines: list[str]) -> bool:
    head = lines[:12]
    if any(_DOC_KIND_LINE.match(_SPACES.sub("", x)) for x in head):
        return True
    party = sum(1 for x in lines[:60] if _PARTY_LINE.match(x))
    if party >= 2:
        return True
    reason = any(_REASON_LINE.match(x) for x in lines)
    result = any(_RESULT_LEAD.search(x) for x in lines)
    return party >= 1 and (reason or result)


# ---------------------------------------------------------------------------------------------------
# 案由 (cause of action) and 罪名

_ORG_SUFFIX = re.compile(
    r"(?:股份有限公司|有限责任公司|有限公司|分公司|支公司|公司|集团|银行|支行|分行|信用社|信用合作联社|合作社|"
    r"村民委员会|居民委员会|委员会|管委会|管理局|分局|局|人民政府|政府|街道办事处|办事处|办公室|中心|医院|"
    r"卫生院|学校|大学|学院|幼儿园|研究院|研究所|事务所|派出所|工厂|厂|商店|超市|商场|协会|基金会|商会|商行|"
    r"经营部|门市部|管理处|出版社|报社|杂志社|电视台|检察院|法院|广场|影楼|机构|酒店|饭店|俱乐部|书店|"
    r"营业部|代表处|联合会|农科所|实业|海关|研究会|工会|社|所|店|部|站|场)"
)
_STRONG_ORG = re.compile(r"有限公司|有限责任公司|股份有限|分公司|支公司|人民政府|管理局|分行|支行|合作社|事务所")
_CAUSE_STARTS = (
    "买卖",
    "合同",
    "借款",
    "民间借贷",
    "金融借款",
    "借贷",
    "租赁",
    "融资租赁",
    "房屋",
    "商品房",
    "建设工程",
    "建设用地",
    "居间",
    "中介",
    "委托",
    "代理",
    "保证",
    "担保",
    "抵押",
    "质押",
    "运输",
    "海上",
    "水路",
    "航空",
    "保险",
    "承揽",
    "加工",
    "技术",
    "劳动",
    "劳务",
    "追索",
    "确认",
    "人身",
    "生命",
    "健康",
    "身体",
    "名誉",
    "荣誉",
    "肖像",
    "隐私",
    "姓名",
    "人格",
    "个人信息",
    "一般人格",
    "侵害",
    "侵犯",
    "侵权",
    "损害",
    "财产",
    "物权",
    "所有权",
    "共有",
    "相邻",
    "排除妨害",
    "妨害",
    "返还",
    "恢复",
    "不当得利",
    "无因管理",
    "股东",
    "股权",
    "公司决议",
    "公司解散",
    "公司证照",
    "公司盈余",
    "公司关联",
    "请求",
    "撤销",
    "合伙",
    "离婚",
    "婚姻",
    "婚约",
    "抚养",
    "扶养",
    "赡养",
    "继承",
    "遗嘱",
    "法定继承",
    "遗赠",
    "分家析产",
    "机动车",
    "交通事故",
    "医疗",
    "产品",
    "环境",
    "污染",
    "生态",
    "船舶",
    "票据",
    "信用证",
    "证券",
    "期货",
    "不正当竞争",
    "垄断",
    "捆绑",
    "商标",
    "专利",
    "著作权",
    "计算机软件",
    "植物新品种",
    "集成电路",
    "技术秘密",
    "商业秘密",
    "网络",
    "服务",
    "教育机构",
    "物业",
    "供用",
    "储蓄",
    "银行卡",
    "追偿",
    "代位",
    "债权",
    "债务",
    "破产",
    "清算",
    "工伤",
    "社会保险",
    "养老",
    "执行",
    "案外人",
    "申请",
    "行政",
    "不履行",
    "要求",
    "履行",
    "赔偿",
    "补偿",
    "拆迁",
    "征收",
    "安置",
    "土地",
    "农村土地",
    "承包",
    "宅基地",
    "信息网络",
    "虚假宣传",
    "仿冒",
    "侵占",
    "旅游",
    "餐饮",
    "消费",
    "网络购物",
    "邮寄",
    "快递",
    "教育",
    "培训",
    "竞业",
    "第三人撤销",
    "异议",
    "分期付款",
    "电信",
    "营业",
    "定作",
    "仓储",
    "保管",
    "赠与",
    "使用权",
    "出资",
    "增资",
    "决议",
    "知情权",
    "盈余",
    "损失",
    "违约",
    "名称",
    "作品",
    "发明",
    "实用新型",
    "外观设计",
    "特许经营",
    "联营",
    "存单",
    "国家赔偿",
    "政府信息",
    "工商",
    "质量",
    "停止",
    "滥用",
    "公益",
    "共同海损",
    "船员",
    "港口",
    "光船",
    "定期租船",
    "航次",
    "提单",
    "货物",
    "多式联运",
    "货运代理",
    "信息",
    "物件",
    "饲养动物",
    "建筑物",
    "高度危险",
    "义务帮工",
    "提供劳务",
    "教育培训",
    "民事",
    "诉讼",
    "排除",
    "解除",
    "变更",
    "终止",
    "无效",
    "效力",
    "权属",
    "分割",
    "收养",
    "监护",
    "探望",
    "同居",
    "夫妻",
    "共同财产",
    "债",
    "欺诈",
    "缔约",
    "预约",
    "悬赏",
    "拍卖",
    "招标",
    "投标",
    "串通",
    "演出",
    "出版",
    "广告",
    "网络服务",
    "储运",
    "典当",
    "信托",
    "基金",
    "理财",
    "保理",
    "融资",
    "独立保函",
    "保函",
    "电子商务",
    "平台",
    "数据",
    "域名",
    "虚拟财产",
    "不动产",
    "登记",
    "行政处罚",
    "行政许可",
    "行政协议",
    "行政补偿",
    "行政赔偿",
    "行政强制",
    "行政复议",
    "行政决定",
    "拆除",
    "强制",
    "处罚",
    "复议",
    "补助",
    "抚恤",
    "退休",
    "待遇",
    "医疗损害",
    "人身损害",
    "生命权",
    "健康权",
    "身体权",
    "其他",
    "署名",
    "收回",
    "拒绝",
    "不予",
    "责令",
    "颁发",
    "注销",
    "吊销",
    "批准",
    "审批",
    "核准",
    "规划",
    "认定",
    "答复",
    "不作为",
    "社会保障",
    "工伤认定",
    "别除权",
    "取回权",
    "撤销仲裁",
    "申请撤销",
    "确认仲裁",
    "海难救助",
    "救助",
    "打捞",
    "给付",
    "道路",
    "铁路",
    "刑事赔偿",
    "司法赔偿",
    "船舶油污",
    "油污",
    "海域",
    "水域",
    "矿业权",
    "探矿权",
    "采矿权",
    "林木",
    "林地",
)
_CAUSE_START_RE = re.compile("|".join(sorted(map(re.escape, _CAUSE_STARTS), key=len, reverse=True)))
_SUE_RE = re.compile(r"(?<![之上申起公抗败胜投控])诉(?!讼|前|称|求|至|请|由)")


def _cause_from_title(title: str) -> str | None:
    """'上海中原物业顾问有限公司诉陶德华居间合同纠纷案' → '居间合同纠纷'; '… 诉 …工商行政管理局行政处罚案'
    → '行政处罚'. None when the title does not say it."""
    t = re.sub(r"（[^）]{0,20}）|\([^)]{0,20}\)", "", title).strip()
    if not re.search(r"(?:案|纠纷|之诉)$", t):
        return None  # a headline ('劳动者…是否有权…'), not a case name
    t = re.sub(r"(?:一案|案件|案)$", "", t).strip()
    t = re.sub(r"(?:上诉|再审|申诉|抗诉|申请再审|二审|一审|重审)$", "", t).strip()
    t = re.sub(r"^(?:指导(?:性)?案例\d+号|检例第\d+号)[：:\s]*", "", t)
    m = _SUE_RE.search(t) or re.search(r"不服", t) or re.search(r"与", t)
    rest = t[m.end() :] if m else t
    if not rest:
        return None
    if re.search(r"\s", rest):  # gazette layout: '…有限公司 商品房预售合同纠纷'
        tail = re.split(r"\s+", rest.strip())[-1]
        if tail and _CAUSE_START_RE.match(tail):
            return tail
    rest = re.sub(r"\s+", "", rest)
    # Where the parties end: after the last 等, else after an organisation's name (the last first),
    # else after a person's name of one to four characters.
    cuts: list[tuple[int, bool]] = []
    if "等" in rest:
        cuts.append((rest.rindex("等") + 1, True))
    cuts += [(m.end(), True) for m in reversed(list(_ORG_SUFFIX.finditer(rest)))]
    starts = [0] + [m.end() for m in re.finditer("、", rest)]
    cuts += [(start + i, False) for start in starts for i in range(5)]
    for cut, after_party in cuts:
        tail = re.sub(r"^(?:为|因|就|关于)", "", rest[cut:])
        if len(tail) < 2 or _STRONG_ORG.search(tail) or "等" in tail:
            continue
        if _CAUSE_START_RE.match(tail):
            return tail
        if after_party and len(tail) >= 4 and re.search(r"(?:纠纷|之诉)$", tail):
            # '…出版社音像大世界侵犯著作权纠纷': the party's name may go on after the suffix.
            inner = _CAUSE_START_RE.search(tail, 1, 8)
            return tail[inner.start() :] if inner and len(tail) - inner.start() >= 4 else tail
    return None


_CRIME_LEAD = frozenset('犯以嫌成定为、的和及与是或，,“"「（(')


def crimes_in(text: str, title: str) -> list[str]:
    """罪名 named in `title` and written as 'X罪' in `text` after 犯/以/涉嫌/构成/定/… (longest first).

    '施某某等17人聚众斗殴案' with '…以涉嫌聚众斗殴罪…' in the text → ['聚众斗殴罪']."""
    if "罪" not in text:
        return []
    t = re.sub(r"（[^）]{0,20}）|\([^)]{0,20}\)", "", title)
    windows: set[str] = set()
    for m in re.finditer("罪", text):
        p = m.start()
        for k in range(2, 20):
            if p - k - 1 < 0:
                break
            ch = text[p - k]
            if not ("\u4e00" <= ch <= "\u9fff" or ch == "、") or ch == "罪":
                break
            if text[p - k - 1] in _CRIME_LEAD:
                windows.add(text[p - k : p])
    spans: list[tuple[int, int]] = []
    for i in range(len(t)):
        for j in range(min(len(t), i + 19), i + 1, -1):
            if t[i:j] in windows:
                spans.append((i, j))
                break
    kept: list[tuple[int, int]] = []
    for i, j in sorted(spans, key=lambda s: s[0] - s[1]):
        if all(j <= a or i >= b for a, b in kept):
            kept.append((i, j))
    return [t[i:j].strip("、") + "罪" for i, j in sorted(kept)]


def _case_type(title: str, keywords: tuple[str, ...], numbers: list[str], text: str) -> str | None:
    """公益诉讼 (title) > the keyword line's type word > 行政/国家赔偿 in the title > the 案号's type
    character > the title's shape (纠纷/之诉 → 民事, a crime named → 刑事, …) > the text's parties."""
    if "公益诉讼" in title:
        return "公益诉讼"
    if keywords:
        first = keywords[0]
        for key, value in (
            ("民事", "民事"),
            ("刑事", "刑事"),
            ("行政", "行政"),
            ("国家赔偿", "国家赔偿"),
            ("执行", "执行"),
        ):
            if first.startswith(key) and len(first) <= 6:
                return value
    if "行政" in title:
        return "行政"
    if re.search(r"国家赔偿|刑事赔偿|司法赔偿|赔偿委员会", title):
        return "国家赔偿"
    if re.search(r"纠纷|之诉", title):
        return "民事"
    for no in numbers:
        kind = case_type_from_number(no)
        if kind:
            return kind
    if "诉" in title and re.search(r"(?:局|政府|委员会|办公室|办事处|管理处|派出所|海关|大队|支队)", title):
        return "行政"
    if "执行" in title and re.search(r"异议|复议|监督|申请执行", title):
        return "执行"
    if crimes_in(text, title) or text.count("被告人") >= 2 or "犯罪嫌疑人" in text:
        return "刑事"
    if "诉" in title or text.count("原告") >= 2:
        return "民事"
    return None


# ---------------------------------------------------------------------------------------------------
# The parser


def _strip_title(raw: str) -> str:
    t = raw.replace("**", "").strip(_EDGE_SPACES + "#")
    t = re.sub(r"^[（(]\s*检例第\s*\S+?\s*号\s*[）)]\s*", "", t)
    t = re.sub(r"^指导(?:性)?案例\s*\S+?\s*号\s*[：:]\s*", "", t)
    t = re.sub(r"(?<=[\u4e00-\u9fff）])\s+(?=[\u4e00-\u9fff（])", "", t)
    return t.strip()


def _title_like(text: str) -> bool:
    t = _strip_title(text)
    return bool(t) and len(t) <= 80 and t.endswith("案") and bool(re.search(r"诉|与|罪|案$", t))


def _section_text(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line.strip()).strip()


def parse_case_markdown(text: str, *, source: str, meta: dict[str, Any] | None = None) -> CaseDocument:
    """Parse one case (Markdown or plain text) into a `CaseDocument`.

    `meta` carries what an export already knows (keys: id, doc_id, kind, doc_type, number, title,
    issuer, date/release_date, court/trial_court, case_numbers, keywords, holding, related_law,
    headline); values 'None'/null/'' count as missing, and heuristic values are checked (a court must look
    like a court, a 案号 like a 案号). A YAML front matter (topical_md files) is read the same way.
    """
    if not text or not text.strip():
        raise ValueError("empty case text")
    front, body_text = _front_matter(text)
    info: dict[str, Any] = {k: _present(v) for k, v in front.items()}
    for k, v in (meta or {}).items():
        pv = _present(v)
        if pv is not None:
            info[k] = pv
    if "release_date" in info and "date" not in info:
        info["date"] = info["release_date"]
    if "trial_court" in info and "court" not in info:
        info["court"] = info["trial_court"]

    lines = _prepare_lines(body_text)
    blocks = _split_blocks(lines)

    # -- title and preamble -------------------------------------------------------------------
    md_title: str | None = None
    subtitle: str | None = None
    sections_raw: list[tuple[str, list[str]]] = []
    preamble = blocks[0].lines
    for b in blocks[1:]:
        if b.level and b.name is not None:
            if md_title is None and not sections_raw and canonical_section_name(b.name) not in KNOWN_SECTIONS:
                md_title = b.name
                if b.lines:
                    preamble = preamble + b.lines
                continue
            if not sections_raw and _title_like(b.name) and canonical_section_name(b.name) not in KNOWN_SECTIONS:
                subtitle = subtitle or b.name
                preamble = preamble + b.lines
                continue
        sections_raw.append((canonical_section_name(b.name or ""), b.lines))

    all_text = "\n".join(x for x in lines if x)
    number = info.get("number")
    kind = info.get("kind")
    if isinstance(kind, str) and kind not in DOC_TYPES and ":" in str(info.get("id", "")):
        kind = None
    if kind is None and isinstance(info.get("id"), str) and ":" in info["id"]:
        prefix = info["id"].split(":", 1)[0]
        kind = prefix if prefix in DOC_TYPES else None
    doc_type = info.get("doc_type") or (DOC_TYPES.get(kind) if isinstance(kind, str) else None)

    head_text = "\n".join([md_title or "", str(info.get("display_title") or ""), *preamble[:6]])
    guiding_no = _GUIDING_RE.search(head_text)
    spp_no = _SPP_RE.search(head_text)
    if doc_type is None:
        if spp_no:
            doc_type = "检察指导案例"
        elif guiding_no:
            doc_type = "指导案例"

    # -- judgment mode: no content headings, the narrative of a judgment ----------------------------
    judgment_info: dict[str, Any] = {}
    has_content = any(name in _CONTENT_SECTIONS for name, _ in sections_raw)
    if not has_content:
        body_lines: list[str] = []
        holding_lines: list[str] | None = None
        kept: list[tuple[str, list[str]]] = []
        for name, ls in sections_raw:
            if name in HOLDING_SECTIONS and holding_lines is None:
                cut = next((i for i, x in enumerate(ls) if _PARTY_LINE.match(x)), None)
                if cut is None and len(ls) > 3:
                    cut = next(
                        (i for i, x in enumerate(ls) if i > 0 and (_REASON_LINE.match(x) or _CLAIM_LINE.search(x))),
                        None,
                    )
                holding_lines = ls if cut is None else ls[:cut]
                kept.append((name, holding_lines))
                body_lines.extend([] if cut is None else ls[cut:])
            elif name == "关键词":
                kept.append((name, ls))
            else:
                body_lines.extend(([name] if name else []) + ls)
        if not sections_raw:
            body_lines = [x for x in preamble if not _is_preamble_meta(x)]
            preamble = [x for x in preamble if _is_preamble_meta(x)]
        if body_lines and _looks_like_judgment(body_lines):
            jsections, judgment_info = _judgment_sections(body_lines)
            sections_raw = kept + [(s.name, s.text.split("\n")) for s in jsections]
        elif body_lines:
            sections_raw = [*kept, ("正文", body_lines)]
        else:
            sections_raw = kept

    # -- keywords, holding, related law -------------------------------------------------------
    keywords: tuple[str, ...] = ()
    sections: list[CaseSection] = []
    for name, ls in sections_raw:
        text_ = _section_text(ls)
        if name == "关键词":
            keywords = keywords or split_keywords(ls)
            continue
        if not text_:
            continue
        if name == RELATED_LAW:
            items = split_related_law(text_)
            if not items:
                continue
            text_ = "\n".join(items)
        sections.append(CaseSection(name or "正文", text_))
    if not keywords:
        keywords = split_keywords(info.get("keywords"))

    holding = next((s.text for s in sections if s.name in HOLDING_SECTIONS), None) or info.get("holding")
    if not any(s.name == RELATED_LAW for s in sections):
        items = split_related_law(info.get("related_law"))
        if items:
            sections.append(CaseSection(RELATED_LAW, "\n".join(items)))

    # -- title ------------------------------------------------------------------------------------
    title = info.get("title") or info.get("case_title")
    if not title and doc_type == "典型案例":
        title = subtitle or info.get("headline")
    title = title or subtitle or md_title
    if not title:
        title = _judgment_title(all_text, judgment_info)
    title = _strip_title(str(title))

    # -- 案号 -------------------------------------------------------------------------------------
    numbers: list[str] = []
    meta_numbers = info.get("case_numbers") or []
    if isinstance(meta_numbers, str):
        meta_numbers = [meta_numbers]
    for raw in meta_numbers:
        for no in extract_case_numbers(str(raw)):
            if no not in numbers:
                numbers.append(no)
    if judgment_info.get("案号") and judgment_info["案号"] not in numbers:
        numbers.insert(0, judgment_info["案号"])
    for no in extract_case_numbers(all_text):
        if no not in numbers:
            numbers.append(no)

    # -- doc type when nothing said it ------------------------------------------------------------
    if doc_type is None:
        if judgment_info.get("doc_kind"):
            k = judgment_info["doc_kind"]
            doc_type = "裁定书" if "裁定" in k else "调解书" if "调解" in k else "决定书" if "决定" in k else "判决书"
        elif "最高人民法院公报" in all_text[:2000] or any(s.name == "裁判摘要" for s in sections):
            doc_type = "公报案例"
        elif any(s.name == "监察、检察履职情况" for s in sections):
            doc_type = "监察检察联合指导案例"
        elif any(s.name == "典型意义" for s in sections) or "典型案例" in all_text[:500]:
            doc_type = "典型案例"
        elif judgment_info or _looks_like_judgment(lines[:80]):
            doc_type = "判决书"
        else:
            doc_type = "案例"

    # -- case id ----------------------------------------------------------------------------------
    case_id: str | None = None
    n = _num(str(number)) if number is not None else None
    if doc_type == "指导案例":
        if n is None and guiding_no:
            n = _num(guiding_no.group(1))
        case_id = f"指导案例{n}号" if n else None
    elif doc_type == "检察指导案例":
        if n is None and spp_no:
            n = _num(spp_no.group(1))
        case_id = f"检例第{n}号" if n else None
    if case_id is None:
        case_id = numbers[0] if numbers else title

    # -- court, issuer, date ----------------------------------------------------------------------
    court = valid_court(info.get("court")) or valid_court(judgment_info.get("court"))
    if court is None:
        m = _COURT_IN_TEXT.search(all_text)
        court = valid_court(m.group(1)) if m else None
    issuer = info.get("issuer") or DEFAULT_ISSUERS.get(doc_type)
    if issuer is None and doc_type in ("判决书", "裁定书", "调解书", "决定书"):
        issuer = court
    date = parse_date(str(info["date"])) if info.get("date") else None
    if date is None:
        m = re.search(r"讨论通过\s*(\d{4}年\d{1,2}月\d{1,2}日)\s*发布", all_text[:3000])
        date = parse_date(m.group(1)) if m else None
    if date is None and judgment_info.get("date"):
        date = judgment_info["date"]
    if date is None and doc_type in ("公报案例", "典型案例", "判决书", "裁定书"):
        found = re.findall(r"于\s*((?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*(?:作出|判决|裁定)", all_text)
        date = parse_date(found[-1]) if found else None

    # -- case type and cause --------------------------------------------------------------------
    raw_title = str(info.get("title") or info.get("case_title") or subtitle or md_title or title)
    case_type = _case_type(title, keywords, numbers, all_text)
    cause = _cause(raw_title, title, case_type, all_text)

    doc_id = info.get("doc_id")
    if not doc_id:
        rid = info.get("id") or _front_matter_id(info)
        doc_id = f"case:{rid}" if rid else f"file:{source}"

    return CaseDocument(
        doc_id=str(doc_id),
        source_type="case",
        doc_type=doc_type,
        title=title,
        sections=sections,
        case_id=case_id,
        case_numbers=tuple(numbers),
        court=court,
        issuer=issuer,
        date=date,
        case_type=case_type,
        cause=cause,
        keywords=keywords,
        holding=holding,
        cites=(),
        source=source,
    )


def _is_preamble_meta(line: str) -> bool:
    return bool(_URL_LINE.match(line) or _RELEASE_LINE.match(line) or _GUIDING_LABEL_LINE.match(line))


def _front_matter_id(info: dict[str, Any]) -> str | None:
    """The id the same case has in the shared JSONL, from a topical_md header (kind + number/source)."""
    kind = info.get("kind")
    if not isinstance(kind, str) or kind not in DOC_TYPES:
        return None
    number = info.get("number")
    if kind in ("spc_guiding", "spp_guiding") and number is not None and _num(str(number)):
        return f"{kind}:{_num(str(number))}"
    path = info.get("source_path")
    return f"{kind}:{Path(str(path)).name}" if path else None


def _judgment_title(all_text: str, judgment_info: dict[str, Any]) -> str:
    m = re.search(r"(?:^|\n)(?:原告|上诉人|申请人|再审申请人)?([^\n，。]{2,80}?(?:纠纷|之诉)?)一案", all_text)
    if m:
        t = re.sub(r"（[^）]{0,30}）", "", m.group(1))
        t = re.sub(r"(?:被上诉人|上诉人|被申请人|申请人|原审|原告|被告|第三人)", "", t)
        t = re.sub(r"^.*?(?:本院受理|受理)", "", t).strip("，,")
        if 4 <= len(t) <= 60:
            return t + "案"
    m = re.search(r"指控被告人([^，。、\s]{1,10}?)(?:犯|涉嫌)([^，。\s]{2,20}?罪)", all_text)
    if m:
        return f"{m.group(1)}{m.group(2)[:-1]}案"
    parts = [judgment_info.get("court") or "", judgment_info.get("doc_kind") or ""]
    head = "".join(parts)
    return head or (all_text.strip().split("\n", 1)[0][:60] if all_text.strip() else "（无标题）")


def _cause(raw_title: str, title: str, case_type: str | None, text: str) -> str | None:
    m = re.search(r"案由[：:]\s*([^\s，。；]{2,30})", text[:3000])
    if m:
        return m.group(1)
    crimes = crimes_in(text, title) if case_type in ("刑事", "公益诉讼", None) else []
    if crimes and (case_type == "刑事" or not re.search(r"纠纷", title)):
        return "、".join(crimes)
    cause = _cause_from_title(raw_title) or _cause_from_title(title)
    if cause:
        return cause
    if crimes:
        return "、".join(crimes)
    m = re.search(r"(?:发生|因)([^\s，。；“”]{2,24}?纠纷)", text[:6000])
    if m and _CAUSE_START_RE.match(m.group(1)):
        return m.group(1)
    return None


# ---------------------------------------------------------------------------------------------------
# JSONL exports


class CaseRecordError(Exception):
    """A JSONL line that could not become a case. Names the file and line; never quotes the record."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{printable(path)}:{line}: {reason}")

    def __str__(self) -> str:
        return f"{printable(self.path)}:{self.line}: {self.reason}"


# Our field → the names other exports use for it, tried in order after any explicit mapping.
_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "case_id", "uuid"),
    "kind": ("kind",),
    "number": ("number",),
    "title": ("title", "case_title", "name"),
    "display_title": ("display_title",),
    "headline": ("headline",),
    "issuer": ("issuer",),
    "date": ("release_date", "date", "judgment_date"),
    "court": ("trial_court", "court"),
    "case_numbers": ("case_numbers", "case_number", "案号"),
    "keywords": ("keywords",),
    "holding": ("holding",),
    "related_law": ("related_law",),
    "category": ("category",),
    "full_text": ("full_text", "text", "content", "body"),
    "doc_type": ("doc_type",),
}


def _record_meta(record: dict[str, Any], mapping: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    mapping = mapping or {}
    for field, aliases in _FIELD_ALIASES.items():
        names = ([mapping[field]] if field in mapping else []) + list(aliases)
        for name in names:
            value = _present(record.get(name))
            if value is not None:
                meta[field] = value
                break
    for field, name in mapping.items():  # fields we do not know by default
        if field not in meta and _present(record.get(name)) is not None:
            meta[field] = _present(record[name])
    return meta


def _kind_from_path(path: Path) -> str | None:
    stem = path.stem.lower()
    if "typical" in stem:
        return "spc_typical"
    for kind in ("ncs_spp_joint_guiding", "spc_guiding", "spp_guiding", "spc_gazette"):
        if kind in stem:
            return kind
    return None


def case_from_record(
    record: dict[str, Any], *, source: str, mapping: dict[str, str] | None = None, default_kind: str | None = None
) -> CaseDocument:
    """One JSONL record → `CaseDocument` (raises ValueError when it has no text)."""
    meta = _record_meta(record, mapping)
    text = meta.pop("full_text", None)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("record has no full text")
    if "kind" not in meta:
        rid = str(meta.get("id", ""))
        prefix = rid.split(":", 1)[0] if ":" in rid else ""
        meta["kind"] = prefix if prefix in DOC_TYPES else default_kind
    if meta.get("kind") in ("lrb_case", "typical"):
        meta["kind"] = "spc_typical"
    return parse_case_markdown(text, source=source, meta=meta)


_MB = 1024 * 1024


def _jsonl_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; None for a line longer than `limit` bytes, whose rest is
    skipped piece by piece so that no more than `limit` bytes of it are ever held."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (piece := handle.readline(_MB)) and not piece.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, line


def _json_record(line: bytes, first: bool) -> dict[str, Any] | str:
    """The JSON object on one line, or the reason it is not one (never quoting the line)."""
    try:
        text = line.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 (save the file as UTF-8)"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        return f"invalid JSON ({e.msg}, column {e.colno})"
    except RecursionError:  # json's C scanner gives up on deep nesting; it must not end the batch
        return "invalid JSON (nested too deeply)"
    if not isinstance(record, dict):
        return f"not a JSON object ({type(record).__name__})"
    return record


def iter_case_jsonl(path: Path, mapping: dict[str, str] | None = None) -> Iterator[CaseDocument | Exception]:
    """One `CaseDocument` per line of a JSONL export; a bad line yields a `CaseRecordError` (file and
    line number, no content) and the batch goes on. `mapping` maps our field names (title, full_text,
    case_numbers, date, court, …) to the export's own, e.g. {"title": "case_title"}.

    The file is streamed: its size is free, each line is held to `max_file_bytes()` (KB_MAX_FILE_MB) and
    a longer one is skipped without being read whole. Each line is decoded on its own, so a line in
    another encoding costs that line only. A named pipe or device is refused, not read (line 0)."""
    path = Path(path)
    default_kind = _kind_from_path(path)
    limit = max_file_bytes()
    try:
        handle, _size = open_source(path)
    except ReaderError as e:
        yield CaseRecordError(path, 0, e.reason)
        return
    with handle:
        try:
            for lineno, line in _jsonl_lines(handle, limit):
                if line is None:
                    yield CaseRecordError(path, lineno, f"line {too_large_reason(None, limit)}")
                    continue
                if not line.strip():
                    continue
                record = _json_record(line, first=lineno == 1)
                if isinstance(record, str):
                    yield CaseRecordError(path, lineno, record)
                    continue
                try:
                    yield case_from_record(
                        record, source=f"{path}:{lineno}", mapping=mapping, default_kind=default_kind
                    )
                except Exception as e:  # one bad record must not stop the batch
                    reason = str(e) if isinstance(e, ValueError) and "record" in str(e) else type(e).__name__
                    yield CaseRecordError(path, lineno, f"cannot parse case ({reason})")
        except OSError as e:
            yield CaseRecordError(path, 0, f"unreadable ({e.strerror or type(e).__name__})")


# ---------------------------------------------------------------------------------------------------
# Routing


_CASE_HEADINGS = re.compile(
    r"(?:^|\n)\s*(?:#+\s*|[【［]\s*|\*\*)?(?:裁判要点|裁判摘要|案例要旨|裁判要旨|要\s*旨|基本案情|裁判理由|裁判结果|指导意义|"
    r"检察机关履职过程|相关法条|典型意义|简要案情)"
)


def looks_like_case(text: str) -> bool:
    """True for a court case or judgment: a 判决书/裁定书 header, a guiding-case label, two or more of the
    section headings cases use, or a judgment's parties together with 本院认为 / 判决如下."""
    if not text:
        return False
    head = text[:1500]
    if re.search(r"(?:判决书|裁定书|调解书)\s*\n", head) and extract_case_numbers(head):
        return True
    first_lines = "\n".join([x for x in head.split("\n") if x.strip()][:3])
    if _GUIDING_RE.search(first_lines) or _SPP_RE.search(first_lines):
        return True
    headings = len(_CASE_HEADINGS.findall(text[:20000]))
    if headings >= 2:
        return True
    lines = [_clean_line(x) for x in text[:20000].split("\n") if x.strip()]
    parties = sum(1 for x in lines[:80] if _PARTY_LINE.match(x))
    if headings and parties:
        return True
    judged = re.search(r"(?:本院|法院)[^。\n]{0,15}认为|判决如下|裁定如下|作出(?:如下)?(?:判决|裁定)", text)
    return parties >= 2 and bool(judged)


def count_kinds(docs: list[CaseDocument]) -> Counter[str]:
    """doc_type → number of documents (handy in reports and tests)."""
    return Counter(d.doc_type for d in docs)
