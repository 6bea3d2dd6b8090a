"""Mask personal data in text before anything is stored or indexed.

What is masked (each match is replaced by a fixed placeholder, never partially kept):

* ``[邮箱]``     e-mail addresses;
* ``[身份证号]`` resident identity numbers: 18 digits (last may be X) whose 7th–14th digits are a plausible
  birth date, and old 15-digit numbers with a plausible YYMMDD; also such numbers written in 6-8-4 groups
  or with the middle masked by X/*;
* ``[银行卡号]`` bank card numbers: 16–19 digits, possibly grouped by spaces or dashes, that pass the
  Luhn check;
* ``[手机号]``   mainland mobile numbers 1[3-9]X XXXX XXXX, with optional +86 / 86 / (+86) and spaces or
  dashes between the groups;
* ``[电话]``     landlines written with an area code: 0571-88888888, (0571)88888888, 010 6655 1234,
  with an optional extension (-123, 转123).

What is deliberately left alone: 案号 such as （2023）浙0192民初1234号, dates, money amounts
(a number directly followed by 元/万/亿 or preceded by 人民币 is never masked), article numbers, statistics
such as 3万余条, short service numbers (96766, 12315) and any digit run that is part of a longer one.
Digit runs are matched only whole: a mobile number is never cut out of a 16-digit card number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from kb.models import CaseDocument, CaseSection

EMAIL = "[邮箱]"
ID_NUMBER = "[身份证号]"
BANK_CARD = "[银行卡号]"
MOBILE = "[手机号]"
LANDLINE = "[电话]"

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")

# Not preceded / followed by a digit (or an ASCII letter, for the ID's check character).
_NB = r"(?<![0-9A-Za-z])(?<![0-9][ -])"
_NA = r"(?![0-9A-Za-z])"
_NA_GROUPED = r"(?![0-9A-Za-z])(?![ -][0-9])"  # a grouped run must not go on with another group
_MONEY_AFTER = re.compile(r"\s*(?:元|万|亿|美元|港元|欧元|%|‰)")
_MONEY_BEFORE = re.compile(r"(?:人民币|￥|¥|\$)\s*$")

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
    r"(?![A-Za-z])"
)

_BIRTH18 = r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID18_RE = re.compile(_NB + r"[1-9]\d{5}[ ]?" + _BIRTH18 + r"[ ]?\d{3}[0-9Xx](?![0-9A-Za-z])")
# Middle digits already hidden by the publisher (3301061990XXXX1234, 330106********1234): still an ID.
_ID18_MASKED_RE = re.compile(_NB + r"[1-9]\d{5}[0-9Xx*＊]{11}[0-9Xx](?![0-9A-Za-z])")
_ID15_RE = re.compile(_NB + r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}" + _NA)

_CARD_RE = re.compile(_NB + r"\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?" + _NA_GROUPED)

_MOBILE_RE = re.compile(
    r"(?:(?:\(\+?86\)|\+?(?<![0-9])86)[ -]?|(?<![0-9A-Za-z+])(?<![0-9][ -]))1[3-9]\d(?:[ -]?\d{4}){2}" + _NA
)

_LANDLINE_RE = re.compile(
    r"(?:\(0\d{2,3}\)|（0\d{2,3}）|"
    + _NB
    + r"0\d{2,3}[-—－ ])[ ]?[2-9]\d{2,3}[ -]?\d{4}"
    + _NA
    + r"(?:(?:-|转|ext\.?)\d{1,6})?"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(s: str) -> bool:
    digits = re.sub(r"[ -]", "", s)
    if not 16 <= len(digits) <= 19:
        return False
    # A grouped number must be grouped like a card (fours, then a short tail); a plain run needs only Luhn.
    if re.search(r"[ -]", s) and not re.fullmatch(r"\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?", s):
        return False
    return _luhn_ok(digits)


def _masked_id_ok(s: str) -> bool:
    return bool(re.search(r"[Xx*＊]", s[6:17]))


# Priority order: an earlier kind wins where two would overlap.
_RULES: tuple[tuple[re.Pattern[str], str, Callable[[str], bool] | None], ...] = (
    (_EMAIL_RE, EMAIL, None),
    (_ID18_RE, ID_NUMBER, None),
    (_ID18_MASKED_RE, ID_NUMBER, _masked_id_ok),
    (_CARD_RE, BANK_CARD, _card_ok),
    (_ID15_RE, ID_NUMBER, None),
    (_MOBILE_RE, MOBILE, None),
    (_LANDLINE_RE, LANDLINE, None),
)


def _is_money(text: str, start: int, end: int) -> bool:
    return bool(_MONEY_AFTER.match(text, end) or _MONEY_BEFORE.search(text, max(0, start - 6), start))


# Every number rule needs at least seven digits and separators in a row: only such runs (with a margin
# for '+86 ', '(0571)' and the like) are searched, which keeps masking fast on long judgments.
_DIGIT_RUN = re.compile(r"[0-9][0-9 ()（）\-—－*＊Xx]{5,}[0-9Xx]")
_MARGIN = 8


def _windows(norm: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in _DIGIT_RUN.finditer(norm):
        start, end = max(0, m.start() - _MARGIN), min(len(norm), m.end() + _MARGIN)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Spans (start, end, placeholder) of the personal data `mask_pii` would replace, in text order."""
    if not text:
        return []
    # Full-width digits are matched like ASCII ones; the translation keeps every position.
    norm = text.translate(_FULLWIDTH_DIGITS)
    windows = _windows(norm)
    taken: list[tuple[int, int, str]] = []
    for pattern, placeholder, check in _RULES:
        if placeholder == EMAIL:
            matches = list(pattern.finditer(norm)) if "@" in norm else []
        else:
            matches = [m for ws, we in windows for m in pattern.finditer(norm, ws, we)]
        for m in matches:
            start, end = m.span()
            if any(start < e and s < end for s, e, _ in taken):
                continue
            if placeholder != EMAIL and _is_money(norm, start, end):
                continue
            if check is not None and not check(m.group(0)):
                continue
            taken.append((start, end, placeholder))
    return sorted(taken)


def mask_pii(text: str) -> str:
    """Replace identity numbers, bank cards, mobile and landline numbers and e-mails with placeholders."""
    spans = find_pii(text)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, placeholder in spans:
        out.append(text[pos:start])
        out.append(placeholder)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_opt(value: str | None) -> str | None:
    return mask_pii(value) if value else value


def mask_case(doc: CaseDocument) -> CaseDocument:
    """A copy of `doc` with `mask_pii` applied to every text field (the input is not changed)."""
    return replace(
        doc,
        title=mask_pii(doc.title),
        case_id=_mask_opt(doc.case_id),
        cites=tuple(mask_pii(c) for c in doc.cites),
        sections=[CaseSection(name=mask_pii(s.name), text=mask_pii(s.text)) for s in doc.sections],
        case_numbers=tuple(mask_pii(c) for c in doc.case_numbers),
        court=_mask_opt(doc.court),
        issuer=_mask_opt(doc.issuer),
        cause=_mask_opt(doc.cause),
        keywords=tuple(mask_pii(k) for k in doc.keywords),
        holding=_mask_opt(doc.holding),
        outlet=_mask_opt(doc.outlet),
    )
