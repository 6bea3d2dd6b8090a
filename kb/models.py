"""Typed records that flow through the pipeline.

source files → `LegalDocument` / `CaseDocument` (parsed) → `Chunk` (with legal metadata) → indexes →
`Hit` (retrieval) → `Citation` / `VerifiedCitation` → `Answer`.

Legal terms stay in Chinese where they are the precise word: 条 (article), 款 (paragraph of an
article), 项 (numbered item), 编/章/节 (book/chapter/section headings), 案号 (court case number).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kb.numerals import article_label

SourceType = Literal["statute", "interpretation", "regulation", "case", "news", "document"]
SOURCE_TYPES: tuple[str, ...] = ("statute", "interpretation", "regulation", "case", "news", "document")

Validity = Literal["现行有效", "已被修改", "已废止", "尚未生效", "未知"]


def sha256_text(text: str) -> str:
    """Content hash used for incremental ingest and embedding dedup."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Article:
    """One 条 of a statute, interpretation or regulation, as parsed (before chunking)."""

    number: int  # 253 for both 第二百五十三条 and 第二百五十三条之一
    suffix: int  # 0, or 1 for 之一, 2 for 之二
    paragraphs: tuple[str, ...]  # its 款 (and 项 lines), in order
    path: tuple[str, ...] = ()  # 编/章/节 headings above it

    @property
    def label(self) -> str:
        return article_label(self.number, self.suffix)

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass
class LegalDocument:
    """A statute, judicial interpretation or regulation with its articles."""

    doc_id: str  # stable id: "lawsdb:<law id>" or "file:<relative path>"
    source_type: SourceType
    doc_type: str  # 法律 / 宪法 / 司法解释 / 行政法规 / 部门规章 …
    title: str
    short_title: str
    articles: list[Article]
    issuer: str | None = None
    published: str | None = None  # ISO date
    effective: str | None = None  # ISO date
    validity: Validity = "未知"
    source: str = ""  # file path or "laws.db#<law id>"
    preamble: str = ""  # text before the first article (制定目的 of an interpretation, …)


@dataclass(frozen=True)
class CaseSection:
    name: str  # 基本案情, 裁判理由, 裁判要点 …
    text: str


@dataclass
class CaseDocument:
    """A court case (guiding, gazette, typical, a judgment) or a news report."""

    doc_id: str
    source_type: SourceType  # "case" or "news" (or "document" for other user files)
    doc_type: str  # 指导案例 / 检察指导案例 / 公报案例 / 典型案例 / 判决书 / 新闻报道 …
    title: str
    sections: list[CaseSection]
    case_id: str | None = None  # 指导案例192号, 检例第141号, or the first 案号
    case_numbers: tuple[str, ...] = ()
    court: str | None = None
    issuer: str | None = None
    date: str | None = None  # ISO date of judgment / release / publication
    case_type: str | None = None  # 民事 / 刑事 / 行政 / 公益诉讼 …
    cause: str | None = None  # 案由
    keywords: tuple[str, ...] = ()
    holding: str | None = None  # 裁判要点 / 要旨
    cites: tuple[str, ...] = ()  # normalized citations of the statutes it mentions
    outlet: str | None = None  # for news
    source: str = ""


@dataclass
class Chunk:
    """The unit stored in both indexes. One per 条 (or per part of a long 条), or per case section."""

    chunk_id: str
    doc_id: str
    source_type: SourceType
    doc_type: str
    title: str
    short_title: str
    text: str
    path: tuple[str, ...] = ()
    article: str | None = None  # 第一千零三十四条
    article_no: int | None = None
    article_suffix: int = 0
    paragraph: int | None = None  # first 款 in this chunk (1-based) when the article is split
    part: int = 1
    parts: int = 1
    issuer: str | None = None
    published: str | None = None
    effective: str | None = None
    validity: str = "未知"
    source: str = ""
    # cases and news
    case_id: str | None = None
    case_numbers: tuple[str, ...] = ()
    court: str | None = None
    date: str | None = None
    case_type: str | None = None
    cause: str | None = None
    section: str | None = None
    cites: tuple[str, ...] = ()
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = sha256_text(self.text)

    @property
    def citation(self) -> str:
        """How this chunk is cited in Chinese legal writing."""
        if self.article:
            return f"《{self.title}》{self.article}"
        if self.case_id:
            return f"{self.title}（{self.case_id}）" if self.case_id not in self.title else self.title
        return f"《{self.title}》" + (f"·{self.section}" if self.section else "")

    @property
    def index_head(self) -> str:
        """Title, place in the law (编/章/节), article label or case section: what `index_text` starts with."""
        return " ".join(p for p in (self.title, *self.path, self.article or "", self.section or "") if p)

    @property
    def index_text(self) -> str:
        """Text of the lexical index (and of a case or report's transformer vector): title, place in the law,
        label, body."""
        return f"{self.index_head}\n{self.text}"

    @property
    def dense_text(self) -> str:
        """Text given to the transformer: for an article, the law's title and the body only. The 编/章/节
        headings and the label pull one chapter's articles toward each other and away from the question: on
        STARD train questions within one law the transformer finds the right article more often without them
        (`python -m evals.dense_text`: 民法典, 642 questions, MRR@10 .543 → .573)."""
        return f"{self.title}\n{self.text}" if self.article else self.index_text

    def to_json(self) -> dict[str, Any]:
        """What a search hit or an answer's source tells a client about its chunk (CLI --json, the app)."""
        return {
            "source_type": self.source_type,
            "title": self.title,
            "article": self.article,
            "case_id": self.case_id,
            "citation": self.citation,
            "text": self.text,
            "chunk_id": self.chunk_id,
            "path": list(self.path),
            "validity": self.validity,
            "effective": self.effective,
            "court": self.court,
            "date": self.date,
            "section": self.section,
        }

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("path", "case_numbers", "cites"):
            row[key] = list(row[key])
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Chunk:
        data = dict(row)
        for key in ("path", "case_numbers", "cites"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


@dataclass
class Hit:
    """One retrieval result."""

    rank: int
    chunk: Chunk
    score: float
    signals: dict[str, int] = field(default_factory=dict)  # rank in each fused list (dense, bm25, cite)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            **self.chunk.to_json(),
            "score": round(self.score, 6),
            "doc_type": self.chunk.doc_type,
            "signals": self.signals,
        }


@dataclass(frozen=True)
class Citation:
    """A citation as found in text, normalized. `law` is the canonical title when it could be resolved."""

    raw: str
    law: str | None  # canonical full title, or the name as written if unknown
    article_no: int | None = None
    article_suffix: int = 0
    paragraph: int | None = None  # 款
    item: int | None = None  # 项
    case_id: str | None = None
    start: int = 0
    end: int = 0

    @property
    def article(self) -> str | None:
        return article_label(self.article_no, self.article_suffix) if self.article_no else None


CitationStatus = Literal["exists", "other_version", "not_found", "ambiguous"]


@dataclass(frozen=True)
class VerifiedCitation:
    citation: Citation
    status: CitationStatus
    display: str  # formatted the way Chinese legal writing does
    title: str | None = None  # title of the matched document in the store
    chunk_ids: tuple[str, ...] = ()
    note: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "exists"

    def to_json(self) -> dict[str, Any]:
        c = self.citation
        return {
            "raw": c.raw,
            "citation": self.display,
            "title": self.title,
            "article": c.article,
            "paragraph": c.paragraph,
            "item": c.item,
            "case_id": c.case_id,
            "status": self.status,
            "verified": self.verified,
            "note": self.note,
            "chunk_ids": list(self.chunk_ids),
        }


Persona = Literal["parent", "student", "ngo"]


@dataclass
class Source:
    """A numbered source of an answer: [n] in the text points here."""

    n: int
    chunk: Chunk
    verified: bool  # the cited article / case exists in the knowledge base
    status: str = "exists"  # CitationStatus of the citation that points here
    quote: str = ""  # the sentence(s) of the chunk that support the claim

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **self.chunk.to_json(),
            "verified": self.verified,
            "status": self.status,
            "quote": self.quote,
        }


@dataclass
class Answer:
    """What the assistant says: Markdown with [n] markers, its verified citations and numbered sources."""

    question: str
    persona: str
    markdown: str
    citations: list[VerifiedCitation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    playbook_id: str | None = None
    engine: str = "offline"  # offline / llm
    notice: str | None = None  # e.g. "LLM unavailable; offline answer", "2 unverifiable citations removed"
    removed: list[str] = field(default_factory=list)  # citations dropped because they did not verify
    elapsed_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "persona": self.persona,
            "answer": self.markdown,
            "citations": [
                {
                    "citation": v.display,
                    "title": v.title,
                    "article": v.citation.article,
                    "case_id": v.citation.case_id,
                    "verified": v.verified,
                    "status": v.status,
                }
                for v in self.citations
            ],
            "sources": [s.to_json() for s in self.sources],
            "playbook": self.playbook_id,
            "engine": self.engine,
            "notice": self.notice,
            "removed": self.removed,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
