"""kb.citations: parsing the ways people cite Chinese law, formatting, and verification.

Verification runs against a tiny in-memory catalog implementing `ArticleCatalog`; the real store
has its own tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import pytest

from kb.citations import (
    ArticleCatalog,
    format_citation,
    parse_citation,
    parse_citations,
    resolve_law_name,
    verify_citation,
    verify_text,
)
from kb.lawnames import LawNameIndex
from kb.models import Chunk, Citation, VerifiedCitation

MF = "中华人民共和国民法典"
GB = "中华人民共和国个人信息保护法"
XF = "中华人民共和国刑法"
XB = "中华人民共和国消费者权益保护法"
RL = "最高人民法院关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定"
SX = "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释"
QX = "最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释"
SJ = "最高人民法院关于适用《中华人民共和国民法典》时间效力的若干规定"


def key(c: Citation) -> tuple[object, ...]:
    """What a citation means, without where it was found."""
    if c.case_id:
        return ("case", c.case_id)
    return (c.law, c.article_no, c.article_suffix, c.paragraph, c.item)


def A(
    law: str | None, no: int, suffix: int = 0, para: int | None = None, item: int | None = None
) -> tuple[object, ...]:
    return (law, no, suffix, para, item)


def CASE(case_id: str) -> tuple[object, ...]:
    return ("case", case_id)


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------

PARSE_CASES = [
    ("《中华人民共和国民法典》第一千零三十四条第二款", [A(MF, 1034, para=2)]),
    ("民法典1034条", [A(MF, 1034)]),
    ("民法典第1034条", [A(MF, 1034)]),
    ("民法典第１０３４条", [A(MF, 1034)]),
    ("民法典１０３４条", [A(MF, 1034)]),
    ("民法典 第 1034 条", [A(MF, 1034)]),
    ("个保法第13条", [A(GB, 13)]),
    ("《个人信息保护法》第十三条第一款第（二）项", [A(GB, 13, para=1, item=2)]),
    ("《个人信息保护法》第十三条第一款第(二)项", [A(GB, 13, para=1, item=2)]),
    ("《个人信息保护法》第13条第1款第2项", [A(GB, 13, para=1, item=2)]),
    ("刑法第253条之一", [A(XF, 253, 1)]),
    ("刑法第二百五十三条之一", [A(XF, 253, 1)]),
    ("刑法第二百五十三条之一第一款", [A(XF, 253, 1, para=1)]),
    ("刑法第253条", [A(XF, 253)]),
    ("《中华人民共和国刑法（2020修正）》第二百八十七条之一", [A(XF, 287, 1)]),
    ("《解释》第五条", [A("解释", 5)]),
    (f"《{RL}》第二条", [A(RL, 2)]),
    ("依据《最高人民法院关于适用〈中华人民共和国民法典〉时间效力的若干规定》第一条", [A(SJ, 1)]),
    ("消保法第55条", [A(XB, 55)]),
    ("适用消法第五十五条", [A(XB, 55)]),
    ("劳动合同法第82条", [A("中华人民共和国劳动合同法", 82)]),
    ("刑诉法第54条", [A("中华人民共和国刑事诉讼法", 54)]),
    ("民法通则第106条", [A("中华人民共和国民法通则", 106)]),
    ("数据安全法第三十二条第一款", [A("中华人民共和国数据安全法", 32, para=1)]),
    ("香港基本法第23条", [A("香港基本法", 23)]),
    ("国务院关于经营者集中申报标准的规定第三条", [A("国务院关于经营者集中申报标准的规定", 3)]),
    # law names do not swallow the words before them
    ("依照民法典第1165条", [A(MF, 1165)]),
    ("根据中华人民共和国个人信息保护法第13条", [A(GB, 13)]),
    ("被告违反了个人信息保护法第十条的规定", [A(GB, 10)]),
    ("按照《民法典》第1165条第1款", [A(MF, 1165, para=1)]),
    ("《民法典》中第1034条", [A(MF, 1034)]),
    ("原告依照网络安全法第四十一条主张权利", [A("中华人民共和国网络安全法", 41)]),
    ("依据某某省物业管理条例第12条", [A("某某省物业管理条例", 12)]),
    # lists and ranges
    ("民法典第一千一百八十三条、第一千一百八十四条", [A(MF, 1183), A(MF, 1184)]),
    ("《民法典》第一千一百六十五条、第一千一百六十六条和第一千一百六十七条", [A(MF, 1165), A(MF, 1166), A(MF, 1167)]),
    ("民法典第1183条、1184条", [A(MF, 1183), A(MF, 1184)]),
    ("民法典第二十条至第二十三条", [A(MF, 20), A(MF, 23)]),
    ("民法典第二十条至二十三条", [A(MF, 20), A(MF, 23)]),
    ("民法典第20至23条", [A(MF, 20), A(MF, 23)]),
    ("民法典第1034、1035条", [A(MF, 1034), A(MF, 1035)]),
    ("民法典第1、2、3条第二款", [A(MF, 1), A(MF, 2), A(MF, 3, para=2)]),
    (
        "网络安全法第四十条至第四十五条规定了个人信息保护义务",
        [A("中华人民共和国网络安全法", 40), A("中华人民共和国网络安全法", 45)],
    ),
    (
        "劳动合同法第八十二条第一款、第二款，劳动法第50条",
        [
            A("中华人民共和国劳动合同法", 82, para=1),
            A("中华人民共和国劳动合同法", 82, para=2),
            A("中华人民共和国劳动法", 50),
        ],
    ),
    ("民法典第1034条第二款、第三款", [A(MF, 1034, para=2), A(MF, 1034, para=3)]),
    ("《个人信息保护法》第十三条第一款第（二）项、第（三）项", [A(GB, 13, para=1, item=2), A(GB, 13, para=1, item=3)]),
    ("个保法第13条和民法典第1034条", [A(GB, 13), A(MF, 1034)]),
    # 同法 / 本法 / 该条例 and bare articles
    ("刑法第253条之一，同法第285条", [A(XF, 253, 1), A(XF, 285)]),
    (
        "《网络数据安全管理条例》第二条规定了适用范围，依照该条例第十条",
        [A("网络数据安全管理条例", 2), A("网络数据安全管理条例", 10)],
    ),
    ("依照本法第五条", [A(None, 5)]),
    ("第一千零三十四条规定", [A(None, 1034)]),
    ("第十三条第二项", [A(None, 13, item=2)]),
    ("民法典第1165条规定了过错责任，第1166条规定了无过错责任。", [A(MF, 1165), A(MF, 1166)]),
    ("民法典第1165条规定了过错责任。第1166条规定了无过错责任。", [A(MF, 1165), A(None, 1166)]),
    # cases
    ("指导案例192号", [CASE("指导案例192号")]),
    ("指导性案例第17号", [CASE("指导案例17号")]),
    ("最高人民法院指导案例17号", [CASE("指导案例17号")]),
    ("指导案例第１９２号", [CASE("指导案例192号")]),
    ("第24号指导案例", [CASE("指导案例24号")]),
    ("检例第141号", [CASE("检例第141号")]),
    ("检例141号", [CASE("检例第141号")]),
    ("最高人民检察院指导性案例第141号", [CASE("检例第141号")]),
    ("最高检第141号指导性案例", [CASE("检例第141号")]),
    ("指导案例一九二号", [CASE("指导案例192号")]),
    ("参见指导案例192号及检例第141号，并依照民法典第1034条", [CASE("指导案例192号"), CASE("检例第141号"), A(MF, 1034)]),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[t for t, _ in PARSE_CASES])
def test_parse(text: str, expected: list[tuple[object, ...]]) -> None:
    assert [key(c) for c in parse_citations(text)] == expected


FALSE_POSITIVES = [
    "2021年第3期",
    "2021年第3号公告",
    "中华人民共和国国务院令第752号",
    "（2021）京01民终123号",
    "这是第一条建议",
    "走第一条路",
    "第一次、第二名",
    "共有3条",
    "这两条规定很重要",
    "民法典共1260条",
    "依照民法典的规定",
    "第三款",
    "第（二）项",
    "本条例自公布之日起施行",
    "个人信息保护法",
    "第一条件",
    "统一条例",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_no_false_positives(text: str) -> None:
    assert parse_citations(text) == []


OTHER_DOCUMENTS = [
    # a 第X条 right after a document that is no law belongs to it, never to the law cited before
    ("《民法典》第一千零三十四条，而公司章程第五条第二款规定", [A(MF, 1034)]),
    ("依照《民法典》第一千零三十四条，以及小区业主公约第五条的约定", [A(MF, 1034)]),
    ("《劳动合同法》第三十九条，根据劳动合同第五条", [A("中华人民共和国劳动合同法", 39)]),
    ("救助公约第十三条、民法典第一百八十条", [A(MF, 180)]),
    # … and so do the articles continuing it in the same sentence
    ("《民法典》第一千零三十四条，员工手册第三条、第五条第二款规定", [A(MF, 1034)]),
    ("员工手册第三条规定，第五条也规定。民法典第五条", [A(MF, 5)]),
    # a law named after it is cited as usual; a bare article after a law still inherits it
    (
        "员工手册第三条违反劳动合同法第四条、第五条",
        [A("中华人民共和国劳动合同法", 4), A("中华人民共和国劳动合同法", 5)],
    ),
    ("《民法典》第一千零三十四条规定个人信息，第一千零三十五条规定处理原则", [A(MF, 1034), A(MF, 1035)]),
]


@pytest.mark.parametrize(("text", "expected"), OTHER_DOCUMENTS, ids=[t for t, _ in OTHER_DOCUMENTS])
def test_articles_of_other_documents_are_no_citations(text: str, expected: list[tuple[object, ...]]) -> None:
    assert [key(c) for c in parse_citations(text)] == expected


def test_this_rule_means_the_document_being_parsed_when_the_caller_names_it() -> None:
    rule = "证券交易所会员管理规则"
    assert [key(c) for c in parse_citations("违反本规则第五条、第六条的，依照证券法第二百条", context_law=rule)] == [
        A(rule, 5),
        A(rule, 6),
        A("中华人民共和国证券法", 200),
    ]
    # without one, 本协议 / 本规则 are some document of the writer's: no citation, and never the last law
    assert [key(c) for c in parse_citations("《民法典》第五百条。依照本协议第六条")] == [A(MF, 500)]
    assert [key(c) for c in parse_citations("基本规则第三条", context_law=rule)] == []


def test_a_stored_title_ending_like_another_document_still_resolves() -> None:
    title = "上海证券交易所股票上市规则"
    names = LawNameIndex([MF, title])
    assert [key(c) for c in parse_citations("民法典第五条，上海证券交易所股票上市规则第三条", names)] == [
        A(MF, 5),
        A(title, 3),
    ]


def test_bare_number_after_a_case_is_no_article() -> None:
    assert [key(c) for c in parse_citations("见指导案例192号、3条")] == [CASE("指导案例192号")]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("第一千零三十四条", 1034),
        ("第十一条", 11),
        ("第11条", 11),
        ("第一百零一条", 101),
        ("第一〇三四条", 1034),
    ],
)
def test_numbers_are_taken_whole(text: str, number: int) -> None:
    found = parse_citations(text)
    assert [c.article_no for c in found] == [number]
    assert found[0].raw == text


def test_spans_cover_the_citation_not_the_lead_in() -> None:
    text = "法院认为，依照民法典第1165条的规定，被告应当赔偿；违反《个人信息保护法》第十三条第一款第（二）项。"
    first, second = parse_citations(text)
    assert first.raw == "民法典第1165条"
    assert text[first.start : first.end] == first.raw
    assert second.raw == "《个人信息保护法》第十三条第一款第（二）项"
    assert text[second.start : second.end] == second.raw


def test_list_members_have_their_own_spans() -> None:
    text = "民法典第一千一百八十三条、第一千一百八十四条"
    first, second = parse_citations(text)
    assert (first.raw, second.raw) == ("民法典第一千一百八十三条", "第一千一百八十四条")
    assert text[second.start : second.end] == "第一千一百八十四条"


def test_case_span() -> None:
    text = "可参考最高人民法院指导案例17号。"
    (c,) = parse_citations(text)
    assert c.law is None and c.article_no is None
    assert c.raw == "最高人民法院指导案例17号" and text[c.start : c.end] == c.raw


def test_253_and_253_1_are_distinct() -> None:
    plain = parse_citation("刑法第253条")
    inserted = parse_citation("刑法第253条之一")
    assert plain is not None and inserted is not None
    assert (plain.article_no, plain.article_suffix) == (253, 0)
    assert (inserted.article_no, inserted.article_suffix) == (253, 1)
    assert plain.article == "第二百五十三条" and inserted.article == "第二百五十三条之一"


def test_context_law() -> None:
    assert [key(c) for c in parse_citations("本法第五条", context_law="个保法")] == [A(GB, 5)]
    assert [key(c) for c in parse_citations("第五条", context_law="个保法")] == [A(GB, 5)]
    # 本法 is the context law; 同法 is the law cited last.
    text = "民法典第1034条。本法第2条。同法第3条。"
    assert [key(c) for c in parse_citations(text, context_law="刑法")] == [A(MF, 1034), A(XF, 2), A(XF, 3)]
    assert [key(c) for c in parse_citations("民法典第1034条。同法第3条。", context_law="刑法")] == [
        A(MF, 1034),
        A(MF, 3),
    ]
    assert [key(c) for c in parse_citations("同法第3条", context_law="刑法")] == [A(XF, 3)]
    # without a context, 本法 falls back to the law cited last
    assert [key(c) for c in parse_citations(text)] == [A(MF, 1034), A(MF, 2), A(MF, 3)]
    # an explicit law in the same sentence beats the context
    assert [key(c) for c in parse_citations("民法典第1条、第2条", context_law="刑法")] == [A(MF, 1), A(MF, 2)]


def test_parse_citation_first_or_none() -> None:
    c = parse_citation("请查 个保法第13条 和 民法典第1034条")
    assert c is not None and key(c) == A(GB, 13)
    assert parse_citation("没有任何引用") is None
    assert parse_citation("") is None


# --------------------------------------------------------------------------------------------------
# Resolution with a LawNameIndex
# --------------------------------------------------------------------------------------------------

INDEX_TITLES = [MF, GB, XF, XB, RL, SX, QX, "中华人民共和国高等教育法"]


@pytest.fixture(scope="module")
def names() -> LawNameIndex:
    return LawNameIndex(INDEX_TITLES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("个保法第13条", [A(GB, 13)]),
        ("依照民法典第1165条", [A(MF, 1165)]),
        ("根据高等教育法第3条", [A("中华人民共和国高等教育法", 3)]),
        ("关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定第二条", [A(RL, 2)]),
        ("《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》第九十条", [A(SX, 90)]),
        ("《最高人民法院关于适用〈民事诉讼法〉的解释》第九十条", [A(SX, 90)]),  # the law's short name inside
        ("《解释》第五条", [A("解释", 5)]),
        ("劳动合同法第82条", [A("中华人民共和国劳动合同法", 82)]),  # not in the index: ABBREVIATIONS
        ("《某某办法》第3条", [A("某某办法", 3)]),
    ],
)
def test_parse_with_index(names: LawNameIndex, text: str, expected: list[tuple[object, ...]]) -> None:
    assert [key(c) for c in parse_citations(text, names)] == expected


def test_resolve_law_name(names: LawNameIndex) -> None:
    assert resolve_law_name("个保法") == GB
    assert resolve_law_name("《中华人民共和国民法典》") == MF
    assert resolve_law_name("民法典", names) == MF
    assert resolve_law_name("不存在的法") == "不存在的法"
    assert resolve_law_name("最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释") == SX


INTERPRETATIONS = [
    "最高人民法院关于审理人身损害赔偿案件适用法律若干问题的解释",
    "最高人民法院关于审理铁路运输人身损害赔偿纠纷案件适用法律若干问题的解释",
    "最高人民法院关于修改《最高人民法院关于审理铁路运输人身损害赔偿纠纷案件适用法律若干问题的解释》的决定",
    "最高人民法院关于审理民间借贷案件适用法律若干问题的规定",
    "最高人民法院关于新民间借贷司法解释适用范围问题的批复",
    "最高人民法院关于确定民事侵权精神损害赔偿责任若干问题的解释",
    "最高人民法院关于审理国家赔偿案件确定精神损害赔偿责任适用法律若干问题的解释",
    "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
    "最高人民法院关于适用《中华人民共和国民事诉讼法》执行程序若干问题的解释",
    "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）",
    "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（二）",
    "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释",
    MF,
]


@pytest.mark.parametrize(
    ("nickname", "title"),
    [
        ("民法典担保制度解释", "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释"),
        ("民间借贷规定", "最高人民法院关于审理民间借贷案件适用法律若干问题的规定"),
        ("民间借贷司法解释", "最高人民法院关于审理民间借贷案件适用法律若干问题的规定"),
        # the general interpretation, not the railway one that also contains 人身损害赔偿
        ("人身损害赔偿解释", "最高人民法院关于审理人身损害赔偿案件适用法律若干问题的解释"),
        ("精神损害赔偿解释", "最高人民法院关于确定民事侵权精神损害赔偿责任若干问题的解释"),
        # the law's own interpretation, not one on its 执行程序
        ("民诉法解释", "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释"),
        ("民法典婚姻家庭编解释（一）", "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）"),
        ("婚姻家庭编解释(二)", "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（二）"),
    ],
)
def test_interpretation_nicknames_resolve_to_one_document(nickname: str, title: str) -> None:
    assert LawNameIndex(INTERPRETATIONS).resolve(nickname) == [title]


@pytest.mark.parametrize("nickname", ["民法典解释", "婚姻家庭编解释", "刑法解释", "借贷规定规定", "解释"])
def test_unknown_or_ambiguous_nicknames_resolve_to_nothing(nickname: str) -> None:
    assert LawNameIndex(INTERPRETATIONS).resolve(nickname) == []


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("citation", "text"),
    [
        (
            Citation(raw="", law=GB, article_no=13, paragraph=1, item=2),
            "《中华人民共和国个人信息保护法》第十三条第一款第（二）项",
        ),
        (Citation(raw="", law=MF, article_no=1034), "《中华人民共和国民法典》第一千零三十四条"),
        (Citation(raw="", law=XF, article_no=253, article_suffix=1), "《中华人民共和国刑法》第二百五十三条之一"),
        (Citation(raw="", law=None, article_no=13), "第十三条"),
        (Citation(raw="", law=None, case_id="指导案例192号"), "指导案例192号"),
        (Citation(raw="", law=None, case_id="检例第141号"), "检例第141号"),
        (
            Citation(raw="", law=SJ, article_no=1),
            "《最高人民法院关于适用〈中华人民共和国民法典〉时间效力的若干规定》第一条",
        ),
    ],
)
def test_format(citation: Citation, text: str) -> None:
    assert format_citation(citation) == text


def test_format_of_parsed_abbreviation() -> None:
    c = parse_citation("个保法第13条")
    assert c is not None
    assert format_citation(c) == "《中华人民共和国个人信息保护法》第十三条"


ROUND_TRIP = [
    Citation(raw="", law=MF, article_no=1034),
    Citation(raw="", law=MF, article_no=1034, paragraph=2),
    Citation(raw="", law=GB, article_no=13, paragraph=1, item=2),
    Citation(raw="", law=GB, article_no=13, item=7),
    Citation(raw="", law=XF, article_no=253, article_suffix=1),
    Citation(raw="", law=XF, article_no=120, article_suffix=6, paragraph=1),
    Citation(raw="", law=MF, article_no=1260),
    Citation(raw="", law=MF, article_no=10),
    Citation(raw="", law=MF, article_no=110),
    Citation(raw="", law=MF, article_no=1010),
    Citation(raw="", law=RL, article_no=2),
    Citation(raw="", law=SJ, article_no=1),
    Citation(raw="", law="解释", article_no=5),
    Citation(raw="", law=None, article_no=13),
    Citation(raw="", law=None, case_id="指导案例192号"),
    Citation(raw="", law=None, case_id="检例第141号"),
]


@pytest.mark.parametrize("citation", ROUND_TRIP, ids=format_citation)
def test_round_trip(citation: Citation) -> None:
    text = format_citation(citation)
    parsed = parse_citations(text)
    assert len(parsed) == 1
    assert replace(parsed[0], raw="", start=0, end=0) == citation
    assert (parsed[0].raw, parsed[0].start, parsed[0].end) == (text, 0, len(text))


@pytest.mark.parametrize("citation", ROUND_TRIP[:12], ids=format_citation)
def test_round_trip_with_index(names: LawNameIndex, citation: Citation) -> None:
    parsed = parse_citations(format_citation(citation), LawNameIndex([*INDEX_TITLES, SJ]))
    assert [replace(p, raw="", start=0, end=0) for p in parsed] == [citation]


# --------------------------------------------------------------------------------------------------
# Verification against a fake catalog
# --------------------------------------------------------------------------------------------------


def _chunk(
    cid: str,
    doc_id: str,
    title: str,
    number: int | None,
    text: str,
    suffix: int = 0,
    validity: str = "现行有效",
    effective: str | None = None,
    part: int = 1,
    parts: int = 1,
    paragraph: int | None = None,
    case_id: str | None = None,
) -> Chunk:
    return Chunk(
        chunk_id=cid,
        doc_id=doc_id,
        source_type="case" if case_id else "statute",
        doc_type="指导案例" if case_id else "法律",
        title=title,
        short_title=title,
        text=text,
        article=None if number is None else f"第{number}条",
        article_no=number,
        article_suffix=suffix,
        validity=validity,
        effective=effective,
        part=part,
        parts=parts,
        paragraph=paragraph,
        case_id=case_id,
    )


PI_13 = (
    "符合下列情形之一的，个人信息处理者方可处理个人信息：\n"
    "（一）取得个人的同意；\n"
    "（二）为订立、履行个人作为一方当事人的合同所必需；\n"
    "（三）为履行法定职责或者法定义务所必需；\n"
    "（四）为应对突发公共卫生事件，或者紧急情况下为保护自然人的生命健康和财产安全所必需；\n"
    "（五）为公共利益实施新闻报道、舆论监督等行为，在合理的范围内处理个人信息；\n"
    "（六）依照本法规定在合理的范围内处理个人自行公开或者其他已经合法公开的个人信息；\n"
    "（七）法律、行政法规规定的其他情形。\n"
    "依照本法其他有关规定，处理个人信息应当取得个人同意，但是有前款第二项至第七项规定情形的，不需取得个人同意。"
)

CHUNKS = [
    _chunk(
        "mf-1034",
        "mf",
        MF,
        1034,
        "自然人的个人信息受法律保护。\n"
        "个人信息是以电子或者其他方式记录的能够单独或者与其他信息结合识别特定自然人的各种信息。\n"
        "个人信息中的私密信息，适用有关隐私权的规定；没有规定的，适用有关个人信息保护的规定。",
    ),
    # a long article stored in two parts; the second starts at 第二款
    _chunk(
        "mf-1165-1",
        "mf",
        MF,
        1165,
        "行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任。",
        part=1,
        parts=2,
        paragraph=1,
    ),
    _chunk(
        "mf-1165-2",
        "mf",
        MF,
        1165,
        "依照法律规定推定行为人有过错，其不能证明自己没有过错的，应当承担侵权责任。",
        part=2,
        parts=2,
        paragraph=2,
    ),
    _chunk("gb-13", "gb", GB, 13, PI_13),
    _chunk("xf-253", "xf", XF, 253, "邮政工作人员私自开拆或者隐匿、毁弃邮件、电报的，处二年以下有期徒刑或者拘役。"),
    _chunk(
        "xf-253-1",
        "xf",
        XF,
        253,
        "违反国家有关规定，向他人出售或者提供公民个人信息，情节严重的，……\n"
        "违反国家有关规定，将在履行职责或者提供服务过程中获得的公民个人信息，出售或者提供给他人的，依照前款的规定从重处罚。",
        suffix=1,
    ),
    # 消费者权益保护法: the 2009 version (已被修改) and the current one
    _chunk(
        "xb09-49",
        "xb2009",
        XB,
        49,
        "经营者提供商品或者服务有欺诈行为的，应当按照消费者的要求增加赔偿……",
        validity="已被修改",
        effective="2009-08-27",
    ),
    _chunk("xb09-55", "xb2009", XB, 55, "本法自1994年1月1日起施行。", validity="已被修改", effective="2009-08-27"),
    _chunk(
        "xb13-55",
        "xb2013",
        XB,
        55,
        "经营者提供商品或者服务有欺诈行为的，应当按照消费者的要求增加赔偿……\n"
        "经营者明知商品或者服务存在缺陷，仍然向消费者提供……",
        effective="2014-03-15",
    ),
    # a law not yet in force, and one whose validity is unknown
    _chunk(
        "new-1",
        "new",
        "中华人民共和国未来法",
        1,
        "为了规范未来，制定本法。",
        validity="尚未生效",
        effective="2099-01-01",
    ),
    _chunk("unk-1", "unk", "某某省物业管理条例", 12, "业主有权查阅物业服务资料。", validity="未知"),
    # two interpretations, both with 第五条; only one with 第十条
    _chunk("sx-5", "sx", SX, 5, "民事诉讼法第十八条第二项规定的重大涉外案件，包括……"),
    _chunk("qx-5", "qx", QX, 5, "非法获取、出售或者提供公民个人信息，具有下列情形之一的……"),
    _chunk("qx-10", "qx", QX, 10, "实施侵犯公民个人信息犯罪，不属于“情节特别严重”……"),
    _chunk(
        "rl-2",
        "rl",
        RL,
        2,
        "信息处理者处理人脸信息有下列情形之一的，人民法院应当认定属于侵害人格权益的行为：\n"
        "（一）在宾馆、商场、银行等经营场所违反法律、行政法规的规定使用人脸识别技术进行人脸验证、辨识或者分析；\n"
        "（二）未公开处理人脸信息的规则或者未明示处理的目的、方式、范围；",
    ),
    _chunk(
        "case-192", "case192", "李某、郭某阳诉郭某和、童某某继承纠纷案", None, "裁判要点……", case_id="指导案例192号"
    ),
]


class FakeCatalog:
    """An `ArticleCatalog` over a list of chunks."""

    def __init__(self, chunks: Iterable[Chunk]):
        self.chunks = list(chunks)

    def law_titles(self) -> list[str]:
        return list(dict.fromkeys(c.title for c in self.chunks if c.source_type != "case"))

    def article_chunks(self, title: str, number: int, suffix: int = 0) -> list[Chunk]:
        return [c for c in self.chunks if c.title == title and c.article_no == number and c.article_suffix == suffix]

    def case_chunks(self, case_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.case_id == case_id]


@pytest.fixture(scope="module")
def catalog() -> FakeCatalog:
    return FakeCatalog(CHUNKS)


def test_fake_catalog_is_an_article_catalog(catalog: FakeCatalog) -> None:
    assert isinstance(catalog, ArticleCatalog)


def _verify(text: str, catalog: FakeCatalog, names: LawNameIndex | None = None) -> VerifiedCitation:
    c = parse_citation(text, names)
    assert c is not None, text
    return verify_citation(c, catalog, names)


VERIFY_CASES = [
    ("《民法典》第1034条", "exists", ("mf-1034",)),
    ("民法典第一千零三十四条第三款", "exists", ("mf-1034",)),
    ("《民法典》第1438条", "not_found", ()),
    ("民法典第1034条第五款", "not_found", ()),
    ("民法典第1034条第四款", "not_found", ()),
    ("民法典第1165条第二款", "exists", ("mf-1165-1", "mf-1165-2")),
    ("民法典第1165条第三款", "not_found", ()),
    ("个保法第13条", "exists", ("gb-13",)),
    ("个保法第13条第二款", "exists", ("gb-13",)),
    ("个保法第13条第三款", "not_found", ()),
    ("《个人信息保护法》第十三条第一款第（七）项", "exists", ("gb-13",)),
    ("《个人信息保护法》第十三条第一款第（八）项", "not_found", ()),
    ("《个人信息保护法》第十三条第二款第（一）项", "not_found", ()),
    ("《个人信息保护法》第十三条第（二）项", "exists", ("gb-13",)),
    ("刑法第253条之一", "exists", ("xf-253-1",)),
    ("刑法第253条", "exists", ("xf-253",)),
    ("刑法第253条之二", "not_found", ()),
    ("刑法第253条之一第二款", "exists", ("xf-253-1",)),
    ("消保法第55条", "exists", ("xb13-55",)),
    ("消保法第55条第二款", "exists", ("xb13-55",)),
    ("消保法第49条", "other_version", ("xb09-49",)),
    ("未来法第1条", "other_version", ("new-1",)),
    ("《某某省物业管理条例》第12条", "exists", ("unk-1",)),
    ("《解释》第五条", "ambiguous", ("sx-5", "qx-5")),
    ("《解释》第十条", "exists", ("qx-10",)),
    ("《解释》第九十九条", "not_found", ()),
    (f"《{RL}》第二条第（二）项", "exists", ("rl-2",)),
    ("《人脸识别规定》第二条", "exists", ("rl-2",)),  # a nickname: [topic][kind] of one interpretation
    ("《不存在法》第1条", "not_found", ()),
    ("第1034条", "not_found", ()),
    ("指导案例192号", "exists", ("case-192",)),
    ("检例第141号", "not_found", ()),
]


@pytest.mark.parametrize("with_index", [False, True], ids=["no-index", "index"])
@pytest.mark.parametrize(("text", "status", "chunk_ids"), VERIFY_CASES, ids=[t for t, *_ in VERIFY_CASES])
def test_verify(catalog: FakeCatalog, text: str, status: str, chunk_ids: tuple[str, ...], with_index: bool) -> None:
    names = LawNameIndex(catalog.law_titles()) if with_index else None
    v = _verify(text, catalog, names)
    assert v.status == status, v.note
    assert v.chunk_ids == chunk_ids
    assert v.verified == (status == "exists")


def test_verify_display_and_title(catalog: FakeCatalog) -> None:
    v = _verify("个保法第13条", catalog)
    assert v.display == "《中华人民共和国个人信息保护法》第十三条"
    assert v.title == GB
    v = _verify("《解释》第十条", catalog)
    assert v.title == QX
    assert v.display == f"《{QX}》第十条"
    v = _verify("刑法第253条之一", catalog)
    assert v.display == "《中华人民共和国刑法》第二百五十三条之一"


def test_verify_notes(catalog: FakeCatalog) -> None:
    v = _verify("消保法第49条", catalog)
    assert "已被修改" in v.note and v.title == XB
    assert "尚未生效" in _verify("未来法第1条", catalog).note
    v = _verify("《解释》第五条", catalog)
    assert v.title is None and QX in v.note
    assert "《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》" in v.note  # nested title written 〈〉
    v = _verify("民法典第1034条第五款", catalog)
    assert v.title == MF and "第五款" in v.note
    assert v.display == "《中华人民共和国民法典》第一千零三十四条第五款"
    assert "不存在法" in _verify("《不存在法》第1条", catalog).note


def test_paragraph_only_in_an_old_version(catalog: FakeCatalog) -> None:
    old = _chunk("old-7", "old", "中华人民共和国测试法", 7, "第一款。\n第二款。", validity="已废止")
    new = _chunk("new-7", "new", "中华人民共和国测试法", 7, "只有一款。")
    cat = FakeCatalog([old, new])
    c = parse_citation("《中华人民共和国测试法》第七条")
    assert c is not None
    assert verify_citation(c, cat).chunk_ids == ("new-7",)
    v = verify_citation(replace(c, paragraph=2), cat)
    assert v.status == "other_version" and v.chunk_ids == ("old-7",) and "已废止" in v.note


def test_verify_text(catalog: FakeCatalog) -> None:
    answer = (
        "根据《中华人民共和国个人信息保护法》第十三条第一款第（一）项，处理个人信息须取得同意；"
        "民法典第1034条、第1438条也有规定。刑法第253条之一，同法第二百五十三条之二。可参考指导案例192号。"
    )
    results = verify_text(answer, catalog)
    assert [(v.citation.raw, v.status) for v in results] == [
        ("《中华人民共和国个人信息保护法》第十三条第一款第（一）项", "exists"),
        ("民法典第1034条", "exists"),
        ("第1438条", "not_found"),
        ("刑法第253条之一", "exists"),
        ("同法第二百五十三条之二", "not_found"),
        ("指导案例192号", "exists"),
    ]
    assert results[2].display == "《中华人民共和国民法典》第一千四百三十八条"
    assert results[0].to_json()["verified"] is True


# --------------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------------


def test_parsing_a_long_answer_is_fast(names: LawNameIndex) -> None:
    para = (
        "根据《中华人民共和国个人信息保护法》第十三条第一款第（二）项的规定，处理个人信息应当取得个人同意。"
        "处理个人信息应当遵循合法、正当、必要和诚信原则，不得通过误导、欺诈、胁迫等方式处理个人信息。"
        "依照民法典第1165条、第1166条，行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任；"
        "参见指导案例192号。"
    )
    text = (para * 20)[:2000]
    assert len(parse_citations(text, names)) > 10
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            parse_citations(text, names)
        best = min(best, (time.perf_counter() - t0) / 10)
    assert best < 0.002


def test_a_shortened_name_is_not_read_as_the_law_its_end_names() -> None:
    """调解仲裁法 ends in 仲裁法, but it is short for 劳动争议调解仲裁法: a student's note citing 调解仲裁法第十六条
    (支付令) was linked to 仲裁法第十六条, which exists and says something else."""
    arbitration, labour = "中华人民共和国仲裁法", "中华人民共和国劳动争议调解仲裁法"
    names = LawNameIndex([arbitration, labour, "中华人民共和国民法典"])
    (c,) = parse_citations("程序：调解仲裁法第十六条", names)
    assert (c.law, c.article_no) == (labour, 16)
    assert [x.law for x in parse_citations("依照仲裁法第十六条、民法典第一千零三十四条", names)] == [
        arbitration,
        "中华人民共和国民法典",
    ]
    # two laws end in 调解仲裁法: the name stays as written, and verification reports it
    rural = "中华人民共和国农村土地承包经营纠纷调解仲裁法"
    (c,) = parse_citations("调解仲裁法第十六条", LawNameIndex([arbitration, labour, rural]))
    assert c.law == "调解仲裁法"


def test_a_numbered_interpretation_in_prose_is_its_own_document() -> None:
    """保险法解释（二）第九条 once inherited 保险法 from the citation before it and was linked to 保险法第九条
    (the regulator), which exists and says something else; with the interpretation held it resolves to it,
    without it the name stays as written (verification then reports it, and the answer drops the clause)."""
    insurance = "中华人民共和国保险法"
    second = "最高人民法院关于适用《中华人民共和国保险法》若干问题的解释（二）"
    text = "免责条款（保险法第十七条第二款，保险法解释（二）第九条、第十一条）"
    laws = [(c.law, c.article_no) for c in parse_citations(text, LawNameIndex([insurance, second]))]
    assert laws == [(insurance, 17), (second, 9), (second, 11)]
    laws = [(c.law, c.article_no) for c in parse_citations(text, LawNameIndex([insurance]))]
    assert laws == [(insurance, 17), ("保险法解释（二）", 9), ("保险法解释（二）", 11)]


def test_a_bare_name_with_a_version_note() -> None:
    names = LawNameIndex(["中华人民共和国医师法", "中华人民共和国传染病防治法"])
    found = parse_citations("医师法第五十六条、传染病防治法（2025修订）第一百一十条第二款", names)
    assert [(c.law, c.article_no, c.paragraph) for c in found] == [
        ("中华人民共和国医师法", 56, None),
        ("中华人民共和国传染病防治法", 110, 2),
    ]


def test_an_interpretations_nickname_in_prose() -> None:
    """A whole nickname after a lead-in word resolves (民间借贷规定, 担保法解释); a tail of a longer name does
    not (省工伤保险规定 is a province's rules), nor does a name that tells no document apart (上述司法解释)."""
    loans = "最高人民法院关于审理民间借贷案件适用法律若干问题的规定"
    guarantee = "最高人民法院关于适用《中华人民共和国担保法》若干问题的解释"
    injury = "最高人民法院关于审理工伤保险行政案件若干问题的规定"
    fraud = "最高人民法院关于审理证券市场虚假陈述侵权民事赔偿案件的若干规定"
    names = LawNameIndex([loans, guarantee, injury, fraud, "中华人民共和国民法典"])

    def laws(text: str) -> list[str | None]:
        return [c.law for c in parse_citations(text, names)]

    assert laws("举证分配见民间借贷规定第九条") == [loans]
    assert laws("依照担保法解释第二十条") == [guarantee]
    assert laws("依据省工伤保险规定第七条") == ["省工伤保险规定"]
    assert laws("虚假陈述规定第六条，上述司法解释第二十八条") == [fraud, "上述司法解释"]  # not guessed
