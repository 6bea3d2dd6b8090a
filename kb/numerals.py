"""Chinese numerals as used in article numbers (第一千二百六十条), both ways.

`parse_cn_number` reads 零〇一二两三四五六七八九十百千万 and ASCII/full-width digits;
`format_cn_number` writes the form Chinese legal texts use (十 for 10–19 at the head, 一十 inside:
一百一十, 一千零一十). Round-trips for every integer 0–99,999.
"""

from __future__ import annotations

import re

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "两": 2,
    "贰": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "万"

_WRITE_DIGITS = "零一二三四五六七八九"


def parse_cn_number(text: str) -> int:
    """Parse a Chinese or Arabic numeral string ('一千零三十四', '1034', '１０３４') to an int.

    Raises ValueError for anything else, so a caller never gets a silently wrong article number.
    """
    s = text.strip().translate(_FULLWIDTH)
    if not s:
        raise ValueError("empty numeral")
    if s.isdigit():
        return int(s)
    if "万" in s:
        high, _, low = s.partition("万")
        return parse_cn_number(high or "一") * 10000 + (parse_cn_number(low) if low else 0)
    total, digit, seen_digit = 0, 0, False
    for ch in s:
        if ch in _DIGITS:
            digit, seen_digit = _DIGITS[ch], True
        elif ch in _UNITS:
            unit = _UNITS[ch]
            total += (digit if seen_digit else 1) * unit
            digit, seen_digit = 0, False
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    # Digit-by-digit forms like 二〇二三 (years) have no unit characters.
    if not any(ch in _UNITS for ch in s) and len(s) > 1:
        return int("".join(str(_DIGITS[ch]) for ch in s))
    return total + digit


def format_cn_number(n: int) -> str:
    """Write n (0 ≤ n < 100,000) the way statutes number articles: 1260 → 一千二百六十."""
    if n < 0 or n >= 100_000:
        raise ValueError(f"out of range for an article number: {n}")
    if n == 0:
        return "零"
    if n >= 10000:
        high, low = divmod(n, 10000)
        rest = _format_below_10000(low, leading=False) if low else ""
        if low and low < 1000:
            rest = "零" + rest
        return _format_below_10000(high, leading=True) + "万" + rest
    return _format_below_10000(n, leading=True)


def _format_below_10000(n: int, leading: bool) -> str:
    out: list[str] = []
    pending_zero = False
    started = False
    for unit_value, unit_char in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit_value)
        if d == 0:
            if started:
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if unit_value == 10 and d == 1 and not started and leading:
            out.append("十")  # 十二, not 一十二, at the head of the number
        else:
            out.append(_WRITE_DIGITS[d] + unit_char)
        started = True
    return "".join(out)


def article_label(number: int, suffix: int = 0) -> str:
    """第N条, or 第N条之M for inserted articles (刑法第二百五十三条之一)."""
    label = f"第{format_cn_number(number)}条"
    return f"{label}之{format_cn_number(suffix)}" if suffix else label


_ARTICLE_REF = re.compile(r"第([零〇一二两三四五六七八九十百千万\d０-９]+)条(?:之([一二三四五六七八九十]+))?")


def find_article_ref(value: object) -> tuple[int, int] | None:
    """The first 第N条(之M) in `value` as (N, M); an int is taken as N. None when there is none."""
    if isinstance(value, int):
        return value, 0
    m = _ARTICLE_REF.search(str(value or ""))
    if not m:
        return None
    return parse_cn_number(m.group(1)), parse_cn_number(m.group(2)) if m.group(2) else 0
