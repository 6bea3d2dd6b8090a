"""Parsed documents → chunks with legal metadata.

Statutes: one chunk per 条; an article longer than `max_chars` is split at 款 boundaries (a 款 that is
itself too long splits at sentence ends, never mid-sentence), each part knowing its article and first 款.
Cases and news: one chunk per section; a long section splits at sentence ends with a little overlap.
"""

from __future__ import annotations

import hashlib
import re

from kb.models import CaseDocument, Chunk, LegalDocument

MAX_ARTICLE_CHARS = 500  # e5-small reads 512 tokens; one CJK character is about one token
MAX_SECTION_CHARS = 600
SECTION_OVERLAP_CHARS = 80

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_ITEM = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")


def chunk_id(doc_id: str, key: str, part: int) -> str:
    return hashlib.sha1(f"{doc_id}|{key}|{part}".encode()).hexdigest()[:20]


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def pack(pieces: list[str], max_chars: int, sep: str = "") -> list[list[int]]:
    """Greedy grouping of consecutive pieces into groups of at most max_chars (a lone long piece stays whole)."""
    groups: list[list[int]] = []
    size = 0
    for i, piece in enumerate(pieces):
        if groups and size + len(sep) + len(piece) <= max_chars:
            groups[-1].append(i)
            size += len(sep) + len(piece)
        else:
            groups.append([i])
            size = len(piece)
    return groups


def kuan_numbers(paragraphs: tuple[str, ...] | list[str]) -> list[int]:
    """The 款 each paragraph belongs to (项 lines such as （一）… belong to the 款 before them)."""
    numbers, current = [], 0
    for p in paragraphs:
        if not _ITEM.match(p) or current == 0:
            current += 1
        numbers.append(current)
    return numbers


def split_long_paragraph(text: str, max_chars: int) -> list[str]:
    sentences = split_sentences(text)
    return ["".join(sentences[i] for i in g) for g in pack(sentences, max_chars)]


def chunk_legal_document(doc: LegalDocument, max_chars: int = MAX_ARTICLE_CHARS) -> list[Chunk]:
    """One chunk per 条 (parts for long ones); a document without 条 is chunked by paragraphs."""
    base = dict(
        doc_id=doc.doc_id,
        source_type=doc.source_type,
        doc_type=doc.doc_type,
        title=doc.title,
        short_title=doc.short_title,
        issuer=doc.issuer,
        published=doc.published,
        effective=doc.effective,
        validity=doc.validity,
        source=doc.source,
    )
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for article in doc.articles:
        label = article.label  # computed (Chinese numerals) on each access: once per article here
        # A document that quotes another (a treaty inside a decision) can repeat a label: keep both.
        seen[label] = seen.get(label, 0) + 1
        key = label if seen[label] == 1 else f"{label}#{seen[label]}"
        # Units are (text, 款 number): a whole 款 (with its 项 lines) when it fits, so parts break at 款
        # boundaries; an over-long 款 becomes several units of one 款 (its lines, long lines by sentences).
        by_kuan: dict[int, list[str]] = {}
        for para, kuan in zip(article.paragraphs, kuan_numbers(article.paragraphs), strict=True):
            by_kuan.setdefault(kuan, []).append(para)
        units: list[tuple[str, int]] = []
        for kuan, paras in by_kuan.items():
            if len("\n".join(paras)) <= max_chars:
                units.append(("\n".join(paras), kuan))
                continue
            for para in paras:
                pieces = split_long_paragraph(para, max_chars) if len(para) > max_chars else [para]
                units.extend((piece, kuan) for piece in pieces)
        groups = pack([u[0] for u in units], max_chars, sep="\n")
        for part, group in enumerate(groups, start=1):
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, key, part),
                    text="\n".join(units[i][0] for i in group),
                    path=article.path,
                    article=label,
                    article_no=article.number,
                    article_suffix=article.suffix,
                    paragraph=units[group[0]][1] if len(groups) > 1 else None,
                    part=part,
                    parts=len(groups),
                    **base,  # type: ignore[arg-type]
                )
            )
    preamble = doc.preamble.strip()
    if preamble and (not doc.articles or len(preamble) >= 30):
        paragraphs = [p.strip() for p in preamble.split("\n") if p.strip()]
        pieces = [u for p in paragraphs for u in (split_long_paragraph(p, max_chars) if len(p) > max_chars else [p])]
        groups = pack(pieces, max_chars, sep="\n")
        for part, group in enumerate(groups, start=1):
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, "正文" if not doc.articles else "序言", part),
                    text="\n".join(pieces[i] for i in group),
                    section="正文" if not doc.articles else "序言",
                    part=part,
                    parts=len(groups),
                    **base,  # type: ignore[arg-type]
                )
            )
    return chunks


def split_with_overlap(text: str, max_chars: int, overlap: int) -> list[str]:
    """Split at sentence ends; each part after the first repeats the last sentences (≤ overlap chars)."""
    sentences = [s for p in text.split("\n") if p.strip() for s in (split_sentences(p.strip()) or [p.strip()])]
    if sum(len(s) for s in sentences) <= max_chars:
        return ["".join(sentences)] if len(text) <= max_chars else ["\n".join(p for p in text.split("\n") if p.strip())]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for s in sentences:
        if current and size + len(s) > max_chars:
            parts.append("".join(current))
            carry: list[str] = []
            for prev in reversed(current):
                if sum(len(c) for c in carry) + len(prev) > overlap:
                    break
                carry.insert(0, prev)
            current, size = carry, sum(len(c) for c in carry)
        current.append(s)
        size += len(s)
    if current:
        parts.append("".join(current))
    return parts


def chunk_case_document(
    doc: CaseDocument, max_chars: int = MAX_SECTION_CHARS, overlap: int = SECTION_OVERLAP_CHARS
) -> list[Chunk]:
    """One chunk per section (parts for long ones); every chunk carries the case header as metadata."""
    base = dict(
        doc_id=doc.doc_id,
        source_type=doc.source_type,
        doc_type=doc.doc_type,
        title=doc.title,
        short_title=doc.case_id or doc.title,
        issuer=doc.issuer,
        published=doc.date,
        validity="现行有效" if doc.source_type == "case" else "未知",
        source=doc.source,
        case_id=doc.case_id,
        case_numbers=doc.case_numbers,
        court=doc.court,
        date=doc.date,
        case_type=doc.case_type,
        cause=doc.cause,
        cites=doc.cites,
    )
    sections = list(doc.sections)
    if doc.holding and not any(s.name in ("裁判要点", "要旨", "裁判要旨") for s in sections):
        from kb.models import CaseSection

        sections.insert(0, CaseSection("裁判要点", doc.holding))
    chunks: list[Chunk] = []
    for index, section in enumerate(sections):
        if not section.text.strip():
            continue
        parts = split_with_overlap(section.text, max_chars, overlap)
        for part, text in enumerate(parts, start=1):
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, f"{index}:{section.name}", part),
                    text=text,
                    section=section.name,
                    part=part,
                    parts=len(parts),
                    **base,  # type: ignore[arg-type]
                )
            )
    return chunks
