"""Court cases: 案号 extraction, each kind of case in the shared JSONL, the full 1,431-case pass, the
topical Markdown files, exports with other field names, bad lines, and a synthetic ordinary judgment."""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import pytest

from ingest.cases import (
    CaseRecordError,
    case_type_from_number,
    extract_case_numbers,
    extract_case_references,
    iter_case_jsonl,
    looks_like_case,
    normalize_case_number,
    parse_case_markdown,
    split_keywords,
    split_related_law,
    valid_court,
)
from kb.models import CaseDocument


def _shared_dir() -> Path | None:
    here = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("KB_SHARED_DIR"), here.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "corpus" / "cases").is_dir():
            return Path(candidate)
    return None


SHARED = _shared_dir()
CASES = SHARED / "corpus" / "cases" if SHARED else Path("/nonexistent")
needs_corpus = pytest.mark.skipif(SHARED is None, reason="shared case corpus not found")


# ---------------------------------------------------------------------------------------------------
# 案号

CASE_NUMBER_FORMS = [
    # (as written, normal form)
    ("（2023）浙0192民初1234号", "（2023）浙0192民初1234号"),
    ("(2021)最高法民申123号", "（2021）最高法民申123号"),
    ("（2019）最高法知民终993号", "（2019）最高法知民终993号"),
    ("（2012）西民四初字第438号", "（2012）西民四初字第438号"),
    ("〔2020〕京0105民初12345号", "（2020）京0105民初12345号"),
    ("[2018]沪01民终1号", "（2018）沪01民终1号"),
    ("［2017］苏05刑终88号", "（2017）苏05刑终88号"),
    ("（２０２２）粤０３０６民初１２３号", "（2022）粤0306民初123号"),
    ("（2021） 沪0120 刑初 828号", "（2021）沪0120刑初828号"),
    ("（2020）最高法知民终993号", "（2020）最高法知民终993号"),
    ("（2017）最高法民终626号", "（2017）最高法民终626号"),
    ("（2016）京73行初3047号", "（2016）京73行初3047号"),
    ("（2016）苏1182执异5号", "（2016）苏1182执异5号"),
    ("（2015）皖执字第00036号", "（2015）皖执字第00036号"),
    ("（2019）最高法行申1234号", "（2019）最高法行申1234号"),
    ("（2020）最高法刑核12345678号", "（2020）最高法刑核12345678号"),
    ("（2018）苏01协外认8号", "（2018）苏01协外认8号"),
    ("（2009）民申字第1164号", "（2009）民申字第1164号"),  # SPC before 2016: no court abbreviation
    ("（2000）民终字第115号", "（2000）民终字第115号"),
    ("（2000）交提字第3号", "（2000）交提字第3号"),
    ("（2006）沪高民三(知)终字第110号", "（2006）沪高民三（知）终字第110号"),
    ("（2009）虹民三（民）初字第912号", "（2009）虹民三（民）初字第912号"),
    ("（2006)金堂行初字第3号", "（2006）金堂行初字第3号"),
    ("（2011）新刑未初字第29号", "（2011）新刑未初字第29号"),
    ("（2013）鞍民三初字第66号", "（2013）鞍民三初字第66号"),
    ("（2014）辽民二终字第00183号", "（2014）辽民二终字第00183号"),
    ("（1996）苏经初字第78—1号", "（1996）苏经初字第78-1号"),
    ("（1994）大海法事保字第4-3号", "（1994）大海法事保字第4-3号"),
    ("（2011）津海法事初字第115号", "（2011）津海法事初字第115号"),
    ("（2013）甬余催字第4号", "（2013）甬余催字第4号"),
    ("（1998）川立保字第9号", "（1998）川立保字第9号"),
    ("（2005）云法民二督字第16号", "（2005）云法民二督字第16号"),
    ("（2012）辽立一民再终字第1号", "（2012）辽立一民再终字第1号"),
    ("（2018）最高法赔监12号", "（2018）最高法赔监12号"),
    ("（2014）万法环公初字第00001号", "（2014）万法环公初字第00001号"),
    ("（2023）京0491民初1号之一", "（2023）京0491民初1号之一"),
]

NOT_CASE_NUMBERS = [
    "国发〔2020〕1号",  # 文号 of a State Council document: issuer before the bracket
    "法释〔2020〕26号",  # judicial interpretation number
    "京政发〔2021〕3号",
    "（2005）第02026号",  # bare number of an administrative decision
    "成工商金堂处字（2005）第02026号",
    "（2010）沪东证经字第9110号",  # notarial certificate
    "（2012）病鉴字第105号",  # appraisal report
    "（2004）京仲裁字第0492号",  # arbitration award
    "（2000）高检技鉴第05号",
    "（2018）字第411号",
    "（2000）年第008号",
    "2021年5月10日",
    "（2020年5月13日）",
    "（2019）",
    "第1234号",
    "民法典第一千零三十四条",
    "（2017）昆山市不动产权第004XXXX号",
]


@pytest.mark.parametrize(("written", "normal"), CASE_NUMBER_FORMS)
def test_case_number_forms(written: str, normal: str) -> None:
    assert extract_case_numbers(f"本院于2023年作出{written}民事判决。") == [normal]
    assert normalize_case_number(written) == normal


@pytest.mark.parametrize("text", NOT_CASE_NUMBERS)
def test_not_case_numbers(text: str) -> None:
    assert extract_case_numbers(f"依据{text}的规定") == []


def test_case_numbers_dedup_and_order() -> None:
    text = (
        "一审（2019）浙02知民初368号，二审(2020)最高法知民终993号；另案（2019）浙02知民初368号"
        "（以下简称368号案）。参照国发〔2020〕1号。"
    )
    assert extract_case_numbers(text) == ["（2019）浙02知民初368号", "（2020）最高法知民终993号"]
    assert len(CASE_NUMBER_FORMS) >= 30


def test_case_references_include_guiding_cases() -> None:
    text = "参照指导案例24号、指导性案例192号和检例第141号，以及（2021）沪0120刑初828号判决。"
    assert extract_case_references(text) == ["指导案例24号", "指导案例192号", "检例第141号", "（2021）沪0120刑初828号"]


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("（2023）浙0192民初1234号", "民事"),
        ("（2021）沪0120刑初828号", "刑事"),
        ("（2016）京73行初3047号", "行政"),
        ("（2016）苏1182执异5号", "执行"),
        ("（2019）最高法知民终993号", "民事"),
        ("（2006）金堂行初字第3号", "行政"),
        ("（2018）最高法赔监12号", "国家赔偿"),
        ("（2011）津海法事初字第115号", "民事"),
    ],
)
def test_case_type_from_number(number: str, kind: str) -> None:
    assert case_type_from_number(number) == kind


# ---------------------------------------------------------------------------------------------------
# Small helpers


def test_split_keywords() -> None:
    assert split_keywords("民事诉讼/侵害实用新型专利权/反向行为保全") == (
        "民事诉讼",
        "侵害实用新型专利权",
        "反向行为保全",
    )
    assert split_keywords("行贿\u2002\u2002串通投标\u2002\u2002数罪并罚") == ("行贿", "串通投标", "数罪并罚")
    assert split_keywords(["民事公益诉讼", "英烈名誉"]) == ("民事公益诉讼", "英烈名誉")
    assert split_keywords("民事居间合同二手房买卖违约") == ("民事", "居间合同二手房买卖违约")
    assert split_keywords("None") == ()
    assert split_keywords(None) == ()


def test_split_related_law_drops_staff_lines() -> None:
    text = (
        "1.《中华人民共和国刑法》第三百五十八条第一款\n\n2.《中华人民共和国刑事诉讼法》第一百七十九条。\n\n"
        "办案检察院：浙江省台州市人民检察院\n\n承办检察官：吴某\n\n案例撰写人：郦某"
    )
    assert split_related_law(text) == [
        "《中华人民共和国刑法》第三百五十八条第一款",
        "《中华人民共和国刑事诉讼法》第一百七十九条",
    ]


@pytest.mark.parametrize(
    ("value", "court"),
    [
        ("上海市虹口区人民法院", "上海市虹口区人民法院"),
        ("最高人民法院", "最高人民法院"),
        ("上海海事法院", "上海海事法院"),
        ("长沙铁路衡阳运输法院", "长沙铁路衡阳运输法院"),
        ("一审法院", None),
        ("人民法院", None),
        ("海口南兴实业有限公司伪造重要证据妨碍法院", None),
        ("None", None),
        (None, None),
    ],
)
def test_valid_court(value: str | None, court: str | None) -> None:
    assert valid_court(value) == court


# ---------------------------------------------------------------------------------------------------
# The shared JSONL, one kind at a time


def _record(file: str, record_id: str) -> tuple[dict, int]:
    path = CASES / file
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            record = json.loads(line)
            if record["id"] == record_id:
                return record, lineno
    raise AssertionError(f"{record_id} not in {file}")


@functools.cache
def _parsed(file: str) -> dict[str, CaseDocument]:
    docs: dict[str, CaseDocument] = {}
    for item in iter_case_jsonl(CASES / file):
        assert not isinstance(item, Exception), item
        docs[item.doc_id] = item
    return docs


def _doc(file: str, record_id: str) -> CaseDocument:
    return _parsed(file)[f"case:{record_id}"]


def _names(doc: CaseDocument) -> list[str]:
    return [s.name for s in doc.sections]


@needs_corpus
def test_spc_guiding_case() -> None:
    d = _doc("spc_guiding_cases.jsonl", "spc_guiding:1")
    assert (d.doc_type, d.source_type, d.case_id) == ("指导案例", "case", "指导案例1号")
    assert d.title == "上海中原物业顾问有限公司诉陶德华居间合同纠纷案"
    assert _names(d) == ["裁判要点", "相关法条", "基本案情", "裁判结果", "裁判理由"]
    assert d.holding and d.holding.startswith("房屋买卖居间合同中关于禁止买方利用中介公司提供的房源信息")
    assert d.sections[1].text == "《中华人民共和国合同法》第四百二十四条"
    assert (d.issuer, d.date, d.court) == ("最高人民法院", "2011-12-20", "上海市虹口区人民法院")
    assert (d.case_type, d.cause) == ("民事", "居间合同纠纷")
    assert "（2009）虹民三（民）初字第912号" in d.case_numbers
    assert d.keywords[0] == "民事"
    assert d.cites == ()
    assert all(s.text.strip() for s in d.sections)


@needs_corpus
def test_spc_guiding_case_with_bold_headings() -> None:
    d = _doc("spc_guiding_cases.jsonl", "spc_guiding:217")  # 指导性案例217号, **裁判要点** headings
    assert d.case_id == "指导案例217号"
    assert _names(d) == ["裁判要点", "基本案情", "裁判结果", "裁判理由", "相关法条"]
    assert d.keywords[:3] == ("民事诉讼", "侵害实用新型专利权", "反向行为保全")
    assert d.case_numbers[:2] == ("（2019）浙02知民初368号", "（2020）最高法知民终993号")
    assert d.cause == "侵害实用新型专利权纠纷"
    assert "**" not in "".join(s.text for s in d.sections)


@needs_corpus
def test_spc_guiding_public_interest_case() -> None:
    d = _doc("spc_guiding_cases.jsonl", "spc_guiding:192")
    assert d.case_id == "指导案例192号"
    assert (d.case_type, d.cause) == ("公益诉讼", "侵犯公民个人信息罪")
    assert d.case_numbers == ("（2021）沪0120刑初828号",)


@needs_corpus
def test_spp_guiding_case() -> None:
    d = _doc("spp_guiding_cases.jsonl", "spp_guiding:1")
    assert (d.doc_type, d.case_id, d.issuer) == ("检察指导案例", "检例第1号", "最高人民检察院")
    assert d.title == "施某某等17人聚众斗殴案"
    assert _names(d) == ["要旨", "基本案情", "诉讼过程"]
    assert (d.case_type, d.cause) == ("刑事", "聚众斗殴罪")


@needs_corpus
def test_spp_guiding_case_with_broken_headings() -> None:
    d = _doc("spp_guiding_cases.jsonl", "spp_guiding:24")  # 【要\n\n旨】 across lines, 要旨 after the facts
    assert d.case_id == "检例第24号"
    assert _names(d) == ["基本案情", "诉讼过程", "抗诉理由", "案件结果", "要旨", "指导意义", "相关法条"]
    assert d.holding and d.holding.startswith("刑法第一百八十条第四款")
    d = _doc("spp_guiding_cases.jsonl", "spp_guiding:183")  # 【要\u2002 旨】
    assert _names(d)[0] == "要旨"
    assert d.keywords[0] == "行政公益诉讼诉前程序"
    assert d.case_type == "公益诉讼"


@needs_corpus
def test_spp_guiding_related_law_without_staff() -> None:
    d = _doc("spp_guiding_cases.jsonl", "spp_guiding:212")
    assert _names(d) == ["要旨", "基本案情", "检察机关履职过程", "指导意义", "相关法条"]  # 相关规定 → 相关法条
    law = d.sections[-1].text
    assert law.startswith("《中华人民共和国刑法》第三百五十八条第一款、第三百五十九条")
    assert "办案检察院" not in law and "承办检察官" not in law and "案例撰写人" not in law


@needs_corpus
def test_spc_gazette_structured_case() -> None:
    d = _doc("spc_gazette_cases.jsonl", "spc_gazette:FYGB0001.md")
    assert (d.doc_type, d.issuer) == ("公报案例", "最高人民法院公报")
    assert d.case_id == "（2019）浙02知民初368号"  # the first 案号
    assert _names(d) == ["裁判要点", "基本案情", "裁判结果", "裁判理由", "相关法条"]
    assert d.date == "2023-12-15"


@needs_corpus
def test_spc_gazette_judgment_narrative() -> None:
    d = _doc("spc_gazette_cases.jsonl", "spc_gazette:FYGB0502.md")  # 【裁判摘要】 + the judgment itself
    assert d.case_id == d.title == "向美琼等人诉张凤霞等人执行遗嘱代理协议纠纷案"  # no 案号 anywhere
    names = _names(d)
    assert names[:7] == ["裁判摘要", "当事人", "审理经过", "诉辩意见", "审理查明", "本院认为", "裁判结果"]
    assert names.count("裁判结果") == 2  # first instance and appeal
    assert d.holding and d.holding.startswith("遗嘱执行人在遗嘱人没有明确其执行遗嘱所得报酬的情况下")
    assert d.sections[1].text.startswith("原告：向美琼")
    assert (d.court, d.case_type, d.cause) == ("宝鸡市中级人民法院", "民事", "执行遗嘱代理协议纠纷")


@needs_corpus
def test_spc_gazette_fullwidth_square_brackets_and_criminal() -> None:
    d = _doc("spc_gazette_cases.jsonl", "spc_gazette:FYGB0454.md")  # ［裁判摘要］
    assert _names(d)[:2] == ["裁判摘要", "当事人"]
    assert (d.case_type, d.cause) == ("刑事", "挪用公款罪")
    d = _doc("spc_gazette_cases.jsonl", "spc_gazette:FYGB0015.md")  # 【案例要旨】
    assert _names(d)[0] == "案例要旨" and d.holding


@needs_corpus
def test_typical_case_with_case_title() -> None:
    rid = "lrb_case:消费购物/吴小秦诉陕西广电网络传媒（集团）股份有限公司捆绑交易纠纷案.md"
    d = _doc("lawrefbook_spc_typical_cases.jsonl", rid)
    assert (d.doc_type, d.issuer) == ("典型案例", "最高人民法院")
    assert d.title == "吴小秦诉陕西广电网络传媒（集团）股份有限公司捆绑交易纠纷案"
    assert d.case_id == "（2012）西民四初字第438号"
    assert _names(d) == ["裁判要点", "基本案情", "裁判结果", "裁判理由"]
    assert not any("FORCE BREAK" in s.text or "<!--" in s.text for s in d.sections)
    assert d.cause == "捆绑交易纠纷"


@needs_corpus
def test_typical_case_with_headline_only() -> None:
    rid = "lrb_case:劳动人事/劳动者在离职文件上签字确认加班费已结清，是否有权请求支付欠付的加班费.md"
    d = _doc("lawrefbook_spc_typical_cases.jsonl", rid)
    assert d.title == "劳动者在离职文件上签字确认加班费已结清，是否有权请求支付欠付的加班费"
    assert d.case_id == d.title
    assert _names(d) == ["基本案情", "原告诉讼请求", "裁判结果", "案例分析", "典型意义"]
    assert d.cause is None  # a headline is not a case name


@needs_corpus
def test_joint_guiding_case() -> None:
    d = _doc("ncs_spp_joint_guiding_cases.jsonl", "ncs_spp_joint_guiding:jjl001.md")
    assert (d.doc_type, d.issuer) == ("监察检察联合指导案例", "国家监察委员会、最高人民检察院")
    assert d.case_id == d.title == "山东薛某某行贿、串通投标案"
    assert _names(d) == ["要旨", "基本案情", "监察、检察履职情况", "典型意义", "相关法条"]
    assert d.keywords == ("行贿", "串通投标", "数罪并罚", "监检配合", "社会治理")
    assert (d.case_type, d.cause) == ("刑事", "行贿罪、串通投标罪")
    d = _doc("ncs_spp_joint_guiding_cases.jsonl", "ncs_spp_joint_guiding:jjl006.md")  # 【要 旨】, indented
    assert _names(d) == ["要旨", "基本案情", "监察、检察履职情况", "典型意义", "相关法条"]
    assert d.cause == "行贿罪、对有影响力的人行贿罪、对非国家工作人员行贿罪"


@needs_corpus
def test_related_law_from_the_record_becomes_a_section(tmp_path: Path) -> None:
    record, _ = _record("spc_guiding_cases.jsonl", "spc_guiding:1")
    record["full_text"] = record["full_text"].replace("相关法条\n\n《中华人民共和国合同法》第四百二十四条", "")
    record["related_law"] = "《中华人民共和国合同法》第四百二十四条\n\n《中华人民共和国合同法》第四十四条"
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (d,) = list(iter_case_jsonl(p))
    assert isinstance(d, CaseDocument)
    assert _names(d) == ["裁判要点", "基本案情", "裁判结果", "裁判理由", "相关法条"]
    assert d.sections[-1].text == "《中华人民共和国合同法》第四百二十四条\n《中华人民共和国合同法》第四十四条"


# ---------------------------------------------------------------------------------------------------
# The whole corpus


@needs_corpus
def test_full_corpus_pass() -> None:
    files = sorted(CASES.glob("*.jsonl"))
    assert len(files) == 5
    start, cpu = time.perf_counter(), time.process_time()
    docs: list[CaseDocument] = []
    errors: list[Exception] = []
    for f in files:
        for item in iter_case_jsonl(f):
            (errors if isinstance(item, Exception) else docs).append(item)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\n{len(docs)} cases parsed in {seconds:.2f} s ({cpu:.2f} s CPU)")
    assert errors == []
    assert len(docs) == 1431
    assert seconds < 30
    by_type: dict[str, int] = {}
    for d in docs:
        by_type[d.doc_type] = by_type.get(d.doc_type, 0) + 1
    assert by_type == {
        "指导案例": 223,
        "检察指导案例": 212,
        "公报案例": 934,
        "监察检察联合指导案例": 10,
        "典型案例": 52,
    }
    assert len({d.doc_id for d in docs}) == 1431
    assert all(d.title and d.case_id and d.sections for d in docs)
    assert all(d.source_type == "case" and d.cites == () for d in docs)
    guiding = [d for d in docs if d.doc_type == "指导案例"]
    assert len({d.case_id for d in guiding}) == 223
    assert all(d.case_id.startswith("指导案例") for d in guiding)
    assert all(d.case_id.startswith("检例第") for d in docs if d.doc_type == "检察指导案例")
    assert all(d.holding for d in docs if d.doc_type in ("指导案例", "检察指导案例", "监察检察联合指导案例"))
    assert all(d.date for d in guiding)
    # heuristic record fields are checked, not copied: every 案号 kept is a real one
    assert all(normalize_case_number(n) == n for d in docs for n in d.case_numbers)
    assert all(d.court is None or valid_court(d.court) == d.court for d in docs)
    # most cases get a type and a cause
    assert sum(1 for d in docs if d.case_type) / len(docs) > 0.9
    assert sum(1 for d in docs if d.cause) / len(docs) > 0.8


# ---------------------------------------------------------------------------------------------------
# Markdown files with a front matter


@needs_corpus
def test_topical_markdown_matches_the_jsonl() -> None:
    files = sorted((CASES / "topical_md").glob("*.md"))
    assert len(files) == 47
    jsonl: dict[str, CaseDocument] = {}
    for f in CASES.glob("*.jsonl"):
        jsonl.update(_parsed(f.name))
    for f in files:
        d = parse_case_markdown(f.read_text(encoding="utf-8"), source=str(f))
        same = jsonl[d.doc_id]  # the same id as in the JSONL export
        assert (d.title, d.case_id, d.doc_type) == (same.title, same.case_id, same.doc_type), f.name
        assert _names(d) == _names(same), f.name
        assert d.source == str(f)


@needs_corpus
def test_topical_markdown_front_matter() -> None:
    f = CASES / "topical_md" / "spc_guiding_192.md"
    d = parse_case_markdown(f.read_text(encoding="utf-8"), source=f.name)
    assert (d.doc_id, d.case_id, d.date) == ("case:spc_guiding:192", "指导案例192号", "2022-12-26")
    assert d.court == "上海市奉贤区人民法院"
    f = CASES / "topical_md" / "spc_gazette_FYGB0049.md"  # trial_court: 一审法院 (heuristic junk)
    d = parse_case_markdown(f.read_text(encoding="utf-8"), source=f.name)
    assert d.doc_id == "case:spc_gazette:FYGB0049.md"
    assert d.court != "一审法院"


# ---------------------------------------------------------------------------------------------------
# Other exports and bad lines


def test_mapping_for_other_exports(tmp_path: Path) -> None:
    record = {
        "uid": "x1",
        "name": "张某诉某科技有限公司网络服务合同纠纷案",
        "body": "## 裁判要点\n\n网络服务提供者应当……\n\n## 基本案情\n\n原告张某诉称……\n\n## 裁判理由\n\n法院认为……",
        "nums": ["（2023）浙0192民初1234号", "None"],
        "when": "2023年6月15日",
        "court_name": "None",
    }
    p = tmp_path / "export.jsonl"
    p.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    mapping = {
        "id": "uid",
        "title": "name",
        "full_text": "body",
        "case_numbers": "nums",
        "date": "when",
        "court": "court_name",
    }
    (d,) = list(iter_case_jsonl(p, mapping))
    assert isinstance(d, CaseDocument)
    assert d.doc_id == "case:x1"
    assert d.title == "张某诉某科技有限公司网络服务合同纠纷案"
    assert d.case_id == d.case_numbers[0] == "（2023）浙0192民初1234号"
    assert d.date == "2023-06-15"
    assert d.court is None  # 'None' is missing, not a court
    assert _names(d) == ["裁判要点", "基本案情", "裁判理由"]
    assert (d.case_type, d.cause) == ("民事", "网络服务合同纠纷")


def test_typical_export_field_names(tmp_path: Path) -> None:
    record = {
        "id": "lrb_case:x/y.md",
        "headline": "经营者应当履行进货查验义务",
        "case_title": "吴某与某电子商务有限公司买卖合同纠纷案",
        "case_numbers": [],
        "full_text": "# 经营者应当履行进货查验义务\n\n## 吴某与某电子商务有限公司买卖合同纠纷案\n\n"
        "## 裁判要点\n\n经营者怠于履行……\n\n## 简要案情\n\n某电子商务有限公司……",
    }
    p = tmp_path / "lawrefbook_spc_typical_cases.jsonl"
    p.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (d,) = list(iter_case_jsonl(p))
    assert isinstance(d, CaseDocument)
    assert (d.doc_type, d.title, d.case_id) == ("典型案例", "吴某与某电子商务有限公司买卖合同纠纷案", d.title)
    assert _names(d) == ["裁判要点", "简要案情"]
    assert d.cause == "买卖合同纠纷"


def test_bad_lines_yield_errors_and_the_batch_goes_on(tmp_path: Path) -> None:
    good = {
        "id": "spc_guiding:9001",
        "kind": "spc_guiding",
        "number": 9001,
        "title": "甲诉乙买卖合同纠纷案",
        "full_text": "### 指导案例9001号：甲诉乙买卖合同纠纷案\n\n裁判要点\n\n要点。\n\n基本案情\n\n案情。",
        "release_date": "None",
        "trial_court": "None",
        "keywords": None,
    }
    lines = [
        json.dumps(good, ensure_ascii=False),
        '{"id": "broken", "full_text": "张三的手机号13812345678',  # truncated JSON
        "",
        "[1, 2, 3]",
        json.dumps({"id": "no-text", "title": "无正文"}, ensure_ascii=False),
        json.dumps({**good, "id": "spc_guiding:9002", "number": 9002}, ensure_ascii=False),
    ]
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(iter_case_jsonl(p))
    assert [type(i).__name__ for i in items] == [
        "CaseDocument",
        "CaseRecordError",
        "CaseRecordError",
        "CaseRecordError",
        "CaseDocument",
    ]
    errors = [i for i in items if isinstance(i, CaseRecordError)]
    assert [e.line for e in errors] == [2, 4, 5]
    for e in errors:
        assert str(e).startswith(f"{p}:{e.line}: ")
        assert "13812345678" not in str(e) and "张三" not in str(e)
    first = items[0]
    assert isinstance(first, CaseDocument)
    assert (first.case_id, first.date, first.court) == ("指导案例9001号", None, None)
    assert first.source == f"{p}:1"


def test_missing_file_yields_an_error(tmp_path: Path) -> None:
    (item,) = list(iter_case_jsonl(tmp_path / "missing.jsonl"))
    assert isinstance(item, CaseRecordError)


def test_empty_text_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_case_markdown("  \n", source="x")


# ---------------------------------------------------------------------------------------------------
# An ordinary judgment

JUDGMENT = """浙江省杭州市互联网法院
民 事 判 决 书
（2023）浙0192民初1234号

原告：张某某，男，1990年1月1日出生，汉族，住浙江省杭州市西湖区。
委托诉讼代理人：李某，浙江某某律师事务所律师。
被告：杭州某某网络科技有限公司，住所地浙江省杭州市余杭区。
法定代表人：王某，该公司执行董事。

原告张某某与被告杭州某某网络科技有限公司网络服务合同纠纷一案，本院于2023年3月1日立案后，依法适用简易程序，公开开庭进行了审理。本案现已审理终结。
张某某向本院提出诉讼请求：1.判令被告退还服务费5000元；2.本案诉讼费用由被告负担。事实和理由：原告在被告平台购买会员服务，被告未按约提供服务。
杭州某某网络科技有限公司辩称：被告已经依约提供服务，不同意原告的诉讼请求。
本院经审理认定事实如下：2022年10月1日，原告在被告运营的平台购买年度会员服务，支付5000元。被告此后未开通会员权益。
本院认为，依法成立的合同，对当事人具有法律约束力。被告未按约提供服务，应当承担违约责任。依照《中华人民共和国民法典》第五百七十七条之规定，判决如下：
一、被告杭州某某网络科技有限公司于本判决生效之日起十日内退还原告张某某服务费5000元；
二、驳回原告张某某的其他诉讼请求。
如不服本判决，可以在判决书送达之日起十五日内，向本院递交上诉状，上诉于浙江省杭州市中级人民法院。
审判员　赵某
二〇二三年六月十五日
书记员　钱某
"""


def test_ordinary_judgment() -> None:
    d = parse_case_markdown(JUDGMENT, source="uploads/judgment.txt")
    assert d.doc_id == "file:uploads/judgment.txt"
    assert (d.doc_type, d.source_type) == ("判决书", "case")
    assert d.case_id == "（2023）浙0192民初1234号"
    assert d.case_numbers == ("（2023）浙0192民初1234号",)
    assert d.court == d.issuer == "浙江省杭州市互联网法院"
    assert d.date == "2023-06-15"
    assert (d.case_type, d.cause) == ("民事", "网络服务合同纠纷")
    assert d.title == "张某某与杭州某某网络科技有限公司网络服务合同纠纷案"
    assert _names(d) == ["当事人", "审理经过", "诉辩意见", "审理查明", "本院认为", "裁判结果"]
    sections = {s.name: s.text for s in d.sections}
    assert sections["当事人"].startswith("原告：张某某") and "法定代表人：王某" in sections["当事人"]
    assert "辩称" in sections["诉辩意见"] and "诉讼请求" in sections["诉辩意见"]
    assert sections["审理查明"].startswith("本院经审理认定事实如下")
    assert sections["本院认为"].endswith("判决如下：")
    assert sections["裁判结果"].startswith("一、被告杭州某某网络科技有限公司")
    assert "如不服本判决" in sections["裁判结果"]
    assert d.holding is None


def test_criminal_judgment() -> None:
    text = """上海市奉贤区人民法院
刑事判决书
（2021）沪0120刑初828号
公诉机关上海市奉贤区人民检察院。
被告人李某，男，1985年5月1日出生，汉族，住上海市奉贤区。
上海市奉贤区人民检察院以沪奉检刑诉〔2021〕100号起诉书指控被告人李某犯侵犯公民个人信息罪，于2021年5月向本院提起公诉。
公诉机关指控：2020年6月至9月间，被告人李某非法获取公民个人信息100余条。
经审理查明：2020年6月至9月间，被告人李某制作软件窃取他人照片。
本院认为，被告人李某违反国家有关规定，非法获取公民个人信息，情节严重，其行为已构成侵犯公民个人信息罪。判决如下：
被告人李某犯侵犯公民个人信息罪，判处有期徒刑三年，并处罚金人民币一万元。
审判长　高某
二〇二一年九月二十七日
"""
    d = parse_case_markdown(text, source="j2.txt")
    assert (d.doc_type, d.case_id) == ("判决书", "（2021）沪0120刑初828号")
    assert (d.case_type, d.cause) == ("刑事", "侵犯公民个人信息罪")
    assert d.case_numbers == ("（2021）沪0120刑初828号",)  # 沪奉检刑诉〔2021〕100号 is a procuratorate 文号
    assert d.date == "2021-09-27"
    assert d.title == "李某侵犯公民个人信息案"
    assert _names(d) == ["当事人", "审理经过", "诉辩意见", "审理查明", "本院认为", "裁判结果"]


def test_guiding_case_text_without_metadata() -> None:
    text = """指导性案例第一百九十二号：李开祥侵犯公民个人信息刑事附带民事公益诉讼案

【关键词】刑事/侵犯公民个人信息/刑事附带民事公益诉讼
【裁判要点】
使用人脸识别技术处理的人脸信息……属于刑法规定的公民个人信息。
【相关法条】
《中华人民共和国刑法》第253条之一
【基本案情】
被告人李开祥制作手机“黑客软件”……
一、裁判理由
法院生效裁判认为：被告人李开祥违反国家有关规定……构成侵犯公民个人信息罪。
"""
    d = parse_case_markdown(text, source="a.md")
    assert (d.doc_type, d.case_id) == ("指导案例", "指导案例192号")
    assert d.keywords == ("刑事", "侵犯公民个人信息", "刑事附带民事公益诉讼")
    assert _names(d) == ["裁判要点", "相关法条", "基本案情", "裁判理由"]
    assert d.title == "李开祥侵犯公民个人信息刑事附带民事公益诉讼案"
    spp = parse_case_markdown("## 检例第141号：某某案\n\n【要旨】\n\n要旨内容。\n\n【基本案情】\n\n内容。", source="b")
    assert (spp.doc_type, spp.case_id, spp.issuer) == ("检察指导案例", "检例第141号", "最高人民检察院")


# ---------------------------------------------------------------------------------------------------
# Routing

STATUTE = """中华人民共和国个人信息保护法
第一条　为了保护个人信息权益，规范个人信息处理活动，促进个人信息合理利用，根据宪法，制定本法。
第二条　自然人的个人信息受法律保护，任何组织、个人不得侵害自然人的个人信息权益。
第三条　在中华人民共和国境内处理自然人个人信息的活动，适用本法。
"""


def test_looks_like_case() -> None:
    assert looks_like_case(JUDGMENT)
    assert looks_like_case("指导案例24号：荣宝英诉王阳等机动车交通事故责任纠纷案\n\n裁判要点\n\n……")
    assert looks_like_case("【要旨】\n\n内容\n\n【基本案情】\n\n内容")
    assert not looks_like_case(STATUTE)
    assert not looks_like_case("今天天气很好，我们去公园散步。")
    assert not looks_like_case("")


@needs_corpus
def test_looks_like_case_on_shared_texts() -> None:
    news = (SHARED / "corpus" / "news" / "000_15c8d2e807efcfce.txt").read_text(encoding="utf-8")
    assert not looks_like_case(news)
    for f in sorted((CASES / "topical_md").glob("*.md"))[:10]:
        assert looks_like_case(f.read_text(encoding="utf-8")), f.name
