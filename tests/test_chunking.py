"""ingest.chunking: articles split at 款 boundaries, never mid-sentence; case sections with overlap."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from ingest.chunking import (
    MAX_ARTICLE_CHARS,
    chunk_case_document,
    chunk_legal_document,
    kuan_numbers,
    split_with_overlap,
)
from ingest.lawsdb import iter_lawsdb
from kb.models import Article, CaseDocument, CaseSection, Chunk, LegalDocument

SENTENCE_END = "。！？；!?;"


@pytest.fixture(scope="module")
def lawsdb_docs() -> list[LegalDocument]:
    return list(iter_lawsdb())


def legal(articles: list[Article], preamble: str = "") -> LegalDocument:
    return LegalDocument(
        doc_id="test:law",
        source_type="statute",
        doc_type="法律",
        title="中华人民共和国测试法",
        short_title="测试法",
        articles=articles,
        published="2020-01-01",
        effective="2020-06-01",
        validity="现行有效",
        source="test",
        preamble=preamble,
    )


def sentence(n: int, tag: str, end: str = "。") -> str:
    """A sentence of exactly n characters."""
    body = (tag * n)[: n - 1]
    return body + end


def boundaries_ok(article: Article, parts: list[Chunk], max_chars: int) -> list[str]:
    """Problems with where `parts` split `article` (empty when every break is at a 款 boundary, or — inside
    a 款 too long for one part — at a line or sentence end)."""
    problems: list[str] = []
    flat = "".join(article.paragraphs)
    assert "".join(p.text.replace("\n", "") for p in parts) == flat, "parts do not cover the article in order"
    kuans = kuan_numbers(article.paragraphs)
    kuan_size: dict[int, int] = {}
    starts: dict[int, tuple[int, int]] = {}  # offset in flat → (paragraph index, 款)
    offset = 0
    owner: list[int] = []  # 款 of each character of flat
    for i, (para, kuan) in enumerate(zip(article.paragraphs, kuans, strict=True)):
        starts[offset] = (i, kuan)
        kuan_size[kuan] = kuan_size.get(kuan, 0) + len(para) + (1 if kuan_size.get(kuan) is not None else 0)
        owner.extend([kuan] * len(para))
        offset += len(para)
    offset = 0
    for prev, nxt in pairwise(parts):
        offset += len(prev.text.replace("\n", ""))
        kuan = owner[offset]
        if nxt.paragraph != kuan:
            problems.append(f"part {nxt.part} says 款 {nxt.paragraph}, starts in 款 {kuan}")
        at_kuan_start = offset in starts and (starts[offset][0] == 0 or kuans[starts[offset][0] - 1] != kuan)
        if at_kuan_start:
            continue
        if kuan_size[kuan] <= max_chars:
            problems.append(f"款 {kuan} ({kuan_size[kuan]} chars) split between parts {prev.part} and {nxt.part}")
        elif offset not in starts and flat[offset - 1] not in SENTENCE_END:
            problems.append(f"mid-sentence break before part {nxt.part}: …{flat[offset - 10 : offset + 10]}…")
    return problems


# --- statutes ---------------------------------------------------------------------------------------


def test_short_article_is_one_chunk_with_metadata() -> None:
    art = Article(
        1034, 0, ("自然人的个人信息受法律保护。", "个人信息是……。"), ("第四编 人格权", "第六章 隐私权和个人信息保护")
    )
    [chunk] = chunk_legal_document(legal([art]))
    assert chunk.text == "自然人的个人信息受法律保护。\n个人信息是……。"
    assert chunk.article == "第一千零三十四条" and chunk.article_no == 1034 and chunk.article_suffix == 0
    assert (chunk.part, chunk.parts, chunk.paragraph) == (1, 1, None)
    assert chunk.path == art.path
    assert (chunk.title, chunk.short_title, chunk.effective, chunk.validity) == (
        "中华人民共和国测试法",
        "测试法",
        "2020-06-01",
        "现行有效",
    )
    assert chunk.citation == "《中华人民共和国测试法》第一千零三十四条"
    assert chunk.index_text.startswith(
        "中华人民共和国测试法 第四编 人格权 第六章 隐私权和个人信息保护 第一千零三十四条\n"
    )
    # the transformer sees the law's title and the body: headings and label are for the lexical index
    assert chunk.dense_text == "中华人民共和国测试法\n自然人的个人信息受法律保护。\n个人信息是……。"


def test_long_article_splits_at_kuan_boundaries() -> None:
    k1 = sentence(150, "甲") + sentence(150, "甲")  # 300
    k2_intro = sentence(60, "乙", "：")
    k2_items = ["（一）" + sentence(80, "丙", "；"), "（二）" + sentence(80, "丁", "；"), "（三）" + sentence(80, "戊")]
    k3 = sentence(90, "己")
    art = Article(7, 0, (k1, k2_intro, *k2_items, k3))
    assert kuan_numbers(art.paragraphs) == [1, 2, 2, 2, 2, 3]
    parts = chunk_legal_document(legal([art]))
    assert len(parts) == 2
    # 款 2 (intro + its 项) fits in a part, so it is never torn from its items
    assert parts[0].text == k1
    assert parts[1].text == "\n".join((k2_intro, *k2_items, k3))
    assert [(p.part, p.parts, p.paragraph) for p in parts] == [(1, 2, 1), (2, 2, 2)]
    assert {p.article for p in parts} == {"第七条"}
    assert len({p.chunk_id for p in parts}) == 2
    assert all(len(p.text) <= MAX_ARTICLE_CHARS for p in parts)
    assert boundaries_ok(art, parts, MAX_ARTICLE_CHARS) == []


def test_kuan_longer_than_the_limit_splits_at_sentence_ends() -> None:
    long_kuan = (
        "".join(sentence(70, ch) for ch in "甲乙丙丁戊己庚辛壬癸") + sentence(40, "子", "；") + sentence(30, "丑")
    )
    assert len(long_kuan) > 2 * 300
    art = Article(12, 0, ("前一款。", long_kuan, "后一款。"))
    parts = chunk_legal_document(legal([art]), max_chars=300)
    assert len(parts) >= 3
    assert all(len(p.text) <= 300 for p in parts)
    for p in parts:
        for line in p.text.split("\n"):
            assert line[-1] in SENTENCE_END, line  # every piece ends a sentence
    assert boundaries_ok(art, parts, 300) == []
    # the parts inside the long 款 all know it is 款 2
    assert [p.paragraph for p in parts][1:-1] == [2] * (len(parts) - 2)


def test_single_sentence_longer_than_the_limit_stays_whole() -> None:
    huge = "无标点" * 300 + "。"
    parts = chunk_legal_document(legal([Article(3, 0, (huge,))]), max_chars=200)
    assert [p.text for p in parts] == [huge]


def test_inserted_articles_and_repeated_labels_get_distinct_ids() -> None:
    arts = [
        Article(253, 0, ("基本条文。",)),
        Article(253, 1, ("之一的条文。",)),
        Article(1, 0, ("条约第一条。",)),
        Article(1, 0, ("另一条约第一条。",)),
    ]
    chunks = chunk_legal_document(legal(arts))
    assert [c.article for c in chunks] == ["第二百五十三条", "第二百五十三条之一", "第一条", "第一条"]
    assert len({c.chunk_id for c in chunks}) == 4
    assert chunk_legal_document(legal(arts))[0].chunk_id == chunks[0].chunk_id  # stable


def test_preamble_chunks() -> None:
    no_articles = chunk_legal_document(legal([], preamble="一、第一项决定。\n二、第二项决定。"))
    assert [(c.section, c.text, c.article) for c in no_articles] == [
        ("正文", "一、第一项决定。\n二、第二项决定。", None)
    ]
    intro = "为了保护自然人的个人信息权益，规范个人信息处理活动，促进个人信息合理利用，根据宪法，制定本规定。"
    with_articles = chunk_legal_document(legal([Article(1, 0, ("条文。",))], preamble=intro))
    assert [c.section for c in with_articles] == [None, "序言"]
    short = chunk_legal_document(legal([Article(1, 0, ("条文。",))], preamble="（2020年1月1日）"))
    assert len(short) == 1  # a date line is no preamble worth a chunk


def test_real_long_articles_split_cleanly(lawsdb_docs: list[LegalDocument]) -> None:
    split_articles = 0
    problems: list[str] = []
    for doc in lawsdb_docs:
        chunks = chunk_legal_document(doc)
        by_article: dict[str, list[Chunk]] = {}
        for c in chunks:
            if c.article and c.parts > 1:
                by_article.setdefault(c.article, []).append(c)
        articles = {a.label: a for a in doc.articles}
        for label, parts in by_article.items():
            split_articles += 1
            assert [p.part for p in parts] == list(range(1, len(parts) + 1))
            assert all(p.parts == len(parts) and p.article_no == articles[label].number for p in parts)
            problems.extend(
                f"{doc.short_title} {label}: {p}" for p in boundaries_ok(articles[label], parts, MAX_ARTICLE_CHARS)
            )
    assert split_articles > 50
    assert problems == []


def test_consumer_law_56_splits_into_two_parts(lawsdb_docs: list[LegalDocument]) -> None:
    doc = next(d for d in lawsdb_docs if d.title == "中华人民共和国消费者权益保护法")
    parts = [c for c in chunk_legal_document(doc) if c.article == "第五十六条"]
    assert [(p.part, p.parts) for p in parts] == [(1, 2), (2, 2)]
    # 款 1 (intro and ten 项) is longer than a part: it breaks between two 项 lines, and part 2 knows
    # it starts inside 款 1
    assert parts[0].paragraph == 1 and parts[1].paragraph == 1
    assert parts[0].text.startswith("经营者有下列情形之一") and parts[0].text.endswith("；")
    assert re.match(r"（[一二三四五六七八九十]+）", parts[1].text)
    assert parts[1].text.split("\n")[-1].startswith("经营者有前款规定情形的")


def test_chunk_ids_unique_across_all_of_lawsdb(lawsdb_docs: list[LegalDocument]) -> None:
    ids: dict[str, str] = {}
    total = 0
    for doc in lawsdb_docs:
        for c in chunk_legal_document(doc):
            total += 1
            assert c.chunk_id not in ids, (c.chunk_id, ids.get(c.chunk_id), doc.doc_id, c.article)
            ids[c.chunk_id] = f"{doc.doc_id} {c.article or c.section} {c.part}"
            assert re.fullmatch(r"[0-9a-f]{20}", c.chunk_id)
    assert total > 25_000


# --- cases ------------------------------------------------------------------------------------------


def case(sections: list[CaseSection], holding: str | None = None) -> CaseDocument:
    return CaseDocument(
        doc_id="case:test",
        source_type="case",
        doc_type="指导案例",
        title="某某诉某公司案",
        sections=sections,
        case_id="指导案例999号",
        court="北京互联网法院",
        date="2022-01-01",
        holding=holding,
        cites=("《中华人民共和国个人信息保护法》第十三条",),
    )


def test_long_case_section_splits_with_overlap() -> None:
    sentences = [sentence(45, ch) for ch in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"]
    text = "".join(sentences[:11]) + "\n" + "".join(sentences[11:])
    parts = split_with_overlap(text, max_chars=200, overlap=80)
    assert len(parts) > 4
    assert all(len(p) <= 200 for p in parts)
    for prev, nxt in pairwise(parts):
        carried = [s for s in sentences if s in prev and s in nxt]
        assert carried, "no overlap between consecutive parts"
        assert sum(len(s) for s in carried) <= 80
        assert prev.endswith("".join(carried)) and nxt.startswith("".join(carried))
    # every sentence is kept, in order, none cut
    seen = [s for p in parts for s in sentences if s in p]
    assert list(dict.fromkeys(seen)) == sentences


def test_short_section_is_one_part() -> None:
    assert split_with_overlap("第一句。第二句。", 600, 80) == ["第一句。第二句。"]


def test_case_chunks_carry_the_case_header() -> None:
    long_reasoning = "".join(sentence(50, ch) for ch in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰")
    doc = case(
        [CaseSection("基本案情", "原告某某诉称。"), CaseSection("裁判理由", long_reasoning), CaseSection("空", "  ")],
        holding="处理个人信息应当取得个人同意。",
    )
    chunks = chunk_case_document(doc)
    assert chunks[0].section == "裁判要点" and chunks[0].text == "处理个人信息应当取得个人同意。"
    reasoning = [c for c in chunks if c.section == "裁判理由"]
    assert len(reasoning) == 2 and [c.part for c in reasoning] == [1, 2]
    assert all(c.parts == 2 for c in reasoning)
    assert "空" not in {c.section for c in chunks}
    for c in chunks:
        assert (c.case_id, c.court, c.date, c.source_type, c.validity) == (
            "指导案例999号",
            "北京互联网法院",
            "2022-01-01",
            "case",
            "现行有效",
        )
        assert c.cites == ("《中华人民共和国个人信息保护法》第十三条",)
        assert c.article is None
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert chunks[1].citation == "某某诉某公司案（指导案例999号）"
