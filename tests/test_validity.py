"""ingest.validity: validity derived from dates and repeal clauses, never from the db's status column."""

from __future__ import annotations

import copy
import random
import re
import sqlite3
from datetime import date

import pytest

from ingest.lawsdb import default_db_path, iter_lawsdb
from ingest.validity import _repeal_sentences, assign_validity, repeal_records
from kb.models import Article, LegalDocument

XF = "中华人民共和国刑法"
SB = "中华人民共和国商标法"
HB = "中华人民共和国环境保护法"
ST = "中华人民共和国生态环境法典"
DAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def lawsdb_docs() -> list[LegalDocument]:
    return list(iter_lawsdb())


@pytest.fixture(scope="module")
def repeals(lawsdb_docs: list[LegalDocument]) -> dict[str, tuple[str, str]]:
    return repeal_records(lawsdb_docs)


def as_of(docs: list[LegalDocument], day: date, repeals: dict[str, tuple[str, str]]) -> list[LegalDocument]:
    fresh = copy.deepcopy(docs)
    assign_validity(fresh, today=day, repeals=repeals)
    return fresh


@pytest.fixture(scope="module")
def on_day(lawsdb_docs: list[LegalDocument], repeals: dict[str, tuple[str, str]]) -> list[LegalDocument]:
    return as_of(lawsdb_docs, DAY, repeals)


def versions(docs: list[LegalDocument], title: str) -> list[LegalDocument]:
    return sorted((d for d in docs if d.title == title), key=lambda d: d.effective or "")


def db_status(title: str) -> list[str]:
    conn = sqlite3.connect(f"file:{default_db_path()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT status FROM laws WHERE law_name = ? AND doc_type NOT IN ('修正案', '修改决定') "
            "ORDER BY version_date",
            (title,),
        ).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def test_criminal_law_is_in_force_although_the_db_says_amended(on_day: list[LegalDocument]) -> None:
    assert db_status(XF) == ["已被修改"]
    [xf] = versions(on_day, XF)
    assert xf.validity == "现行有效"


def test_trademark_law_2026_revision_not_yet_in_force(on_day: list[LegalDocument]) -> None:
    assert db_status(SB) == ["历史版本", "现行有效"]  # the db calls the future text current
    old, new = versions(on_day, SB)
    assert (old.published, new.published) == ("2019-04-23", "2026-06-26")
    assert new.validity == "尚未生效"
    assert old.validity == "现行有效"


def test_trademark_law_once_the_revision_takes_effect(
    lawsdb_docs: list[LegalDocument], repeals: dict[str, tuple[str, str]]
) -> None:
    old, new = versions(as_of(lawsdb_docs, date(2027, 1, 1), repeals), SB)
    assert (old.validity, new.validity) == ("已被修改", "现行有效")


def test_environmental_protection_law_repealed_by_the_code(
    on_day: list[LegalDocument], repeals: dict[str, tuple[str, str]]
) -> None:
    assert repeals[HB] == ("2026-08-15", ST)
    [hb] = versions(on_day, HB)
    [code] = versions(on_day, ST)
    assert code.effective == "2026-08-15"
    assert code.validity == "现行有效"
    assert hb.validity == "已废止"


def test_environmental_protection_law_in_force_before_the_code(
    lawsdb_docs: list[LegalDocument], repeals: dict[str, tuple[str, str]]
) -> None:
    early = as_of(lawsdb_docs, date(2026, 1, 1), repeals)
    [hb] = versions(early, HB)
    [code] = versions(early, ST)
    assert hb.validity == "现行有效"
    assert code.validity == "尚未生效"
    # the day the code takes effect, the old law is repealed
    [hb] = versions(as_of(lawsdb_docs, date(2026, 8, 15), repeals), HB)
    assert hb.validity == "已废止"


def test_civil_code_repeals_the_nine_old_civil_laws(
    on_day: list[LegalDocument], repeals: dict[str, tuple[str, str]]
) -> None:
    for old in ("婚姻法", "继承法", "民法通则", "收养法", "担保法", "合同法", "物权法", "侵权责任法", "民法总则"):
        assert repeals["中华人民共和国" + old] == ("2021-01-01", "中华人民共和国民法典"), old


def test_constitutional_amendments_are_not_versions_of_each_other(on_day: list[LegalDocument]) -> None:
    amendments = [d for d in on_day if d.title.startswith("中华人民共和国宪法修正案")]
    assert len(amendments) == 5
    assert {d.validity for d in amendments} == {"现行有效"}
    constitution = versions(on_day, "中华人民共和国宪法")
    assert [d.validity for d in constitution] == ["已被修改", "现行有效"]


def test_validity_counts_on_the_whole_db(on_day: list[LegalDocument]) -> None:
    counts: dict[str, int] = {}
    for d in on_day:
        counts[d.validity] = counts.get(d.validity, 0) + 1
    assert counts.get("未知", 0) == 0
    assert counts["现行有效"] > 300
    assert counts["已废止"] >= 10  # the environmental laws merged into 生态环境法典
    assert counts["尚未生效"] >= 1


def test_today_defaults_to_the_current_date() -> None:
    doc = LegalDocument(
        doc_id="a",
        source_type="statute",
        doc_type="法律",
        title="某法",
        short_title="某法",
        articles=[],
        effective="9999-01-01",
    )
    assign_validity([doc])
    assert doc.validity == "尚未生效"


def _doc(
    doc_id: str, title: str, effective: str | None, articles: list[Article] | None = None, source_type: str = "statute"
) -> LegalDocument:
    return LegalDocument(
        doc_id=doc_id,
        source_type=source_type,
        doc_type="法律",
        title=title,  # type: ignore[arg-type]
        short_title=title,
        articles=articles or [],
        effective=effective,
    )


def test_rules_on_small_documents() -> None:
    repealing = [Article(1, 0, ("本法自2020年6月1日起施行。《旧法》同时废止。",))]
    docs = [
        _doc("v1", "中华人民共和国某法（2010修正）", "2010-01-01"),
        _doc("v2", "中华人民共和国某法", "2018-01-01"),
        _doc("v3", "中华人民共和国某法", "2030-01-01"),
        _doc("old", "旧法", "2000-01-01"),
        _doc("new", "新法", "2020-06-01", repealing),
        _doc("undated", "无日期的规定", None),
        _doc("twin1", "两个版本都无日期", None),
        _doc("twin2", "两个版本都无日期", None),
    ]
    assign_validity(docs, today=date(2025, 1, 1))
    got = {d.doc_id: d.validity for d in docs}
    assert got == {
        "v1": "已被修改",
        "v2": "现行有效",
        "v3": "尚未生效",
        "old": "已废止",
        "new": "现行有效",
        "undated": "现行有效",
        "twin1": "未知",
        "twin2": "未知",
    }
    assign_validity(docs, today=date(2019, 1, 1))
    assert docs[3].validity == "现行有效"  # not yet repealed


def test_a_repeal_clause_needs_the_quoted_name_before_the_word() -> None:
    doc = _doc(
        "a",
        "甲法",
        "2020-01-01",
        [
            Article(1, 0, ("国务院依照《甲法》的规定制定、修改或者废止行政法规。",)),
            Article(2, 0, ("本法自2020年1月1日起施行。",)),
        ],
    )
    assert repeal_records([doc]) == {}
    doc2 = _doc(
        "b", "乙法", "2021-01-01", [Article(1, 0, ("本法自2021年3月1日起施行。1990年公布的《丙条例》同时废止。",))]
    )
    assert repeal_records([doc2]) == {"丙条例": ("2021-03-01", "乙法")}


def test_repeal_sentences_are_those_the_old_pattern_found() -> None:
    # `_repeal_sentences` replaced a regex that backtracked for seconds on a long sentence without 废止:
    # the sentences it finds must be the pattern's, on odd texts and on the closing articles of every law.
    pattern = re.compile(r"[^。]*?(?:同时|予以|即行|一并)?废止[^。]*")
    rng = random.Random(7)
    texts = ["", "。", "废止", "。。废止。", "《甲法》同时废止。《乙法》废止", "本法自2020年1月1日起施行。\n废止"]
    texts += ["".join(rng.choice("。废止同时予以《》甲\n ") for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    # (short ones: on a long one the old pattern takes seconds, which is why it went)
    texts += [a.text for doc in iter_lawsdb() for a in doc.articles[-3:] if len(a.text) < 1500]
    for text in texts:
        assert _repeal_sentences(text) == pattern.findall(text), text
