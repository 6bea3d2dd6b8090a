"""Validity (时效性) of legal documents, derived from dates and repeal clauses — never from a stored word.

A document is, on a given day:
- 尚未生效 if its version comes into force later;
- 已被修改 if a newer version of the same document (same short title) is already in force;
- 已废止 if a document in force says "《X》…同时废止" (or "…废止") of it, from that document's date of force;
- 现行有效 otherwise (with at least one known date), else 未知.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from kb.lawnames import law_key
from kb.models import LegalDocument

_QUOTED = re.compile(r"《([^《》]{2,80})》")
_FORCE_DATE = re.compile(r"自\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*起\s*施行")


def _repeal_sentences(text: str) -> list[str]:
    """The sentences (text between 。) that say 废止. A split, not a regex: `[^。]*?废止[^。]*` retried from
    every character of a long sentence without 废止 took seconds per law (quadratic backtracking)."""
    return [sentence for sentence in text.split("。") if "废止" in sentence]


def _repealed_names(sentence: str) -> list[str]:
    # Only names quoted BEFORE the word 废止 are repealed ("…《X》同时废止"); the document doing the
    # repealing is never quoted there.
    head = sentence[: sentence.rfind("废止")]
    return [m.group(1).strip() for m in _QUOTED.finditer(head)]


def repeal_records(docs: Iterable[LegalDocument]) -> dict[str, tuple[str, str]]:
    """Map exact title → (date of repeal, title of the repealing document).

    Only 附则-style clauses count: a sentence with 废止 in the last articles of a document, or one that
    also says when the repealing document comes into force.
    """
    records: dict[str, tuple[str, str]] = {}
    for doc in docs:
        tail = doc.articles[-3:] if doc.articles else []
        texts = [a.text for a in tail] or [doc.preamble[-2000:]]
        for text in texts:
            for sent in _repeal_sentences(text):
                if "修订、废止" in sent or "修改或者废止" in sent:
                    continue
                m = _FORCE_DATE.search(text)
                when = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else doc.effective
                if not when:
                    continue
                for name in _repealed_names(sent):
                    if name != doc.title:
                        records.setdefault(name, (when, doc.title))
    return records


def assign_validity(
    docs: list[LegalDocument], today: date | None = None, repeals: dict[str, tuple[str, str]] | None = None
) -> None:
    """Set `validity` on every document, in place, as of `today`."""
    day = (today or date.today()).isoformat()
    repeals = repeal_records(docs) if repeals is None else repeals
    groups: dict[tuple[str, str], list[LegalDocument]] = defaultdict(list)
    for doc in docs:
        groups[(doc.source_type, law_key(doc.title))].append(doc)
    for versions in groups.values():
        dated = sorted((d for d in versions if d.effective), key=lambda d: d.effective or "")
        in_force = [d for d in dated if (d.effective or "") <= day]
        current = in_force[-1] if in_force else None
        for doc in versions:
            if doc.effective and doc.effective > day:
                doc.validity = "尚未生效"
            elif current is not None and doc is not current and (doc.effective or "") < (current.effective or ""):
                doc.validity = "已被修改"
            elif doc.effective or len(versions) == 1:
                doc.validity = "现行有效"
            else:
                doc.validity = "未知"
            repeal = repeals.get(doc.title)
            if (
                repeal
                and repeal[0] <= day
                and doc.validity in ("现行有效", "未知")
                and (doc.effective or "") < repeal[0]
            ):
                doc.validity = "已废止"
