"""LawRefBook Markdown parser: real files from the shared corpus, plus small synthetic edge cases."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ingest.lawrefbook import (
    assign_validity,
    iter_lawrefbook,
    looks_like_lawrefbook,
    parse_lawrefbook_file,
)
from kb.models import LegalDocument
from kb.numerals import parse_cn_number

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "lawrefbook"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared LawRefBook corpus not found at {CORPUS}")

FACE = "司法解释/关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定.md"
LABEL = re.compile(r"^第(.+?)条(?:之(.+))?$")
CN = "一二三四五六七八九十"


def by_label(doc: LegalDocument, label: str):
    found = [a for a in doc.articles if a.label == label]
    assert len(found) == 1, f"{label}: {len(found)} articles in {doc.doc_id}"
    return found[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus() -> dict:
    if not CORPUS.is_dir():
        pytest.skip(f"shared LawRefBook corpus not found at {CORPUS}")
    start = time.perf_counter()
    results = list(iter_lawrefbook(CORPUS))
    seconds = time.perf_counter() - start
    docs = [d for _, d in results if isinstance(d, LegalDocument)]
    errors = [(p, e) for p, e in results if isinstance(e, Exception)]
    return {"docs": docs, "errors": errors, "seconds": seconds, "paths": [p for p, _ in results]}


# ------------------------------------------------------------------------------------------ real files


@needs_corpus
def test_face_recognition_interpretation() -> None:
    doc = parse_lawrefbook_file(CORPUS / FACE, CORPUS)
    assert doc.doc_id == f"file:{FACE}"
    assert doc.title == "关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定"
    assert (doc.source_type, doc.doc_type, doc.issuer) == ("interpretation", "司法解释", "最高人民法院")
    assert (doc.published, doc.effective) == ("2021-06-08", "2021-08-01")
    assert doc.source == str(CORPUS / FACE)
    assert doc.preamble.startswith("为正确审理使用人脸识别技术处理个人信息相关民事案件")
    assert [a.label for a in doc.articles] == [
        "第一条",
        "第二条",
        "第三条",
        "第四条",
        "第五条",
        "第六条",
        "第七条",
        "第八条",
        "第九条",
        "第十条",
        "第十一条",
        "第十二条",
        "第十三条",
        "第十四条",
        "第十五条",
        "第十六条",
    ]
    assert [a.number for a in doc.articles] == list(range(1, 17))

    art2 = by_label(doc, "第二条")
    assert art2.paragraphs[0] == (
        "信息处理者处理人脸信息有下列情形之一的，人民法院应当认定属于侵害自然人人格权益的行为："
    )
    assert len(art2.paragraphs) == 9
    assert [p[:3] for p in art2.paragraphs[1:]] == [f"（{c}）" for c in CN[:8]]
    assert art2.paragraphs[1] == (
        "（一）在宾馆、商场、银行、车站、机场、体育场馆、娱乐场所等经营场所、公共场所违反法律、"
        "行政法规的规定使用人脸识别技术进行人脸验证、辨识或者分析；"
    )
    assert art2.paragraphs[7] == "（七）违背公序良俗处理人脸信息；"
    assert art2.paragraphs[8] == "（八）违反合法、正当、必要原则处理人脸信息的其他情形。"
    # 第一条 has three 款; a 第X条 cross-reference inside a paragraph is no new article.
    art1 = by_label(doc, "第一条")
    assert len(art1.paragraphs) == 3
    assert art1.paragraphs[2] == "本规定所称人脸信息属于民法典第一千零三十四条规定的“生物识别信息”。"


@needs_corpus
def test_civil_code_book_files() -> None:
    doc = parse_lawrefbook_file(CORPUS / "民法典" / "人格权编.md", CORPUS)
    assert doc.doc_id == "file:民法典/人格权编.md"
    assert (doc.title, doc.short_title) == ("中华人民共和国民法典", "民法典")
    assert (doc.source_type, doc.doc_type, doc.issuer) == ("statute", "法律", "全国人民代表大会")
    assert (doc.published, doc.effective) == ("2020-05-28", "2021-01-01")
    assert doc.articles[0].label == "第九百八十九条"
    assert doc.articles[0].path == ("人格权编", "第一章 一般规定")
    art = by_label(doc, "第一千零三十四条")
    assert art.path == ("人格权编", "第六章 隐私权和个人信息保护")
    assert art.paragraphs[0] == "自然人的个人信息受法律保护。"
    assert art.paragraphs[1].startswith("个人信息是以电子或者其他方式记录的能够单独或者与其他信息结合识别特定自然人")

    contract = parse_lawrefbook_file(CORPUS / "民法典" / "合同编.md", CORPUS)
    assert by_label(contract, "第四百七十条").path == ("合同编", "第一分编 通则", "第二章 合同的订立")

    annex = parse_lawrefbook_file(CORPUS / "民法典" / "附则.md", CORPUS)
    last = by_label(annex, "第一千二百六十条")
    assert last.path == ("附则",)
    assert last.paragraphs[0].startswith("本法自2021年1月1日起施行。")


@needs_corpus
def test_header_dates_and_version_dates() -> None:
    law = parse_lawrefbook_file(CORPUS / "诉讼与非诉讼程序法" / "民事诉讼法(2023-09-01).md", CORPUS)
    assert law.published == "1991-04-09"  # first adoption; the 修正 lines do not move it
    assert law.effective == "2023-09-01"  # no 施行 line: the file-name date
    assert law.issuer == "全国人民代表大会"
    constitution = parse_lawrefbook_file(CORPUS / "宪法" / "宪法.md", CORPUS)
    assert (constitution.source_type, constitution.doc_type) == ("statute", "宪法")
    assert constitution.published == "1982-12-04"
    assert constitution.effective == "2018-03-11"  # the 1982 施行 date is the original text's
    assert constitution.preamble.startswith("中国是世界上历史最悠久的国家之一。")
    assert constitution.articles[0].path == ("第一章 总纲",)
    # Two adoption dates on one line (两高 joint interpretation): the first is the publication date.
    reg = parse_lawrefbook_file(CORPUS / "行政法规" / "地下水管理条例(2021-10-21).md", CORPUS)
    assert (reg.source_type, reg.doc_type, reg.issuer) == ("regulation", "行政法规", "国务院")
    assert reg.effective == "2021-12-01"  # 本条例自2021年12月1日起施行, later than the file-name date


@needs_corpus
def test_defects_in_real_files() -> None:
    # All the articles of a chapter on one line, separated by spaces: split at sentence ends.
    flight = parse_lawrefbook_file(CORPUS / "行政法规" / "飞行基本规则(2007-10-18).md", CORPUS)
    assert [a.number for a in flight.articles] == list(range(1, len(flight.articles) + 1))
    assert len(flight.articles) >= 115
    assert by_label(flight, "第二条").paragraphs == (
        "凡辖有航空器的单位、个人和与飞行有关的人员及其飞行活动，必须遵守本规则。",
    )

    # An amendment quoting the articles it adds: they stay inside the quoting article.
    amend = parse_lawrefbook_file(CORPUS / "宪法" / "宪法修正案（2018年）.md", CORPUS)
    assert [a.number for a in amend.articles] == list(range(32, 53))
    assert any(p.startswith("第一百二十三条 中华人民共和国各级监察委员会") for p in amend.articles[-1].paragraphs)

    # A label split by a space (第一百二十四 条采用…).
    cpl = parse_lawrefbook_file(CORPUS / "司法解释" / "最高人民法院关于适用《刑事诉讼法》的解释(2021-01-26).md", CORPUS)
    assert by_label(cpl, "第一百二十四条").paragraphs[0].startswith("采用刑讯逼供方法使被告人作出供述")
    assert [a.number for a in cpl.articles] == list(range(1, len(cpl.articles) + 1))

    # A chapter heading wrapped onto a second line.
    sup = parse_lawrefbook_file(CORPUS / "宪法相关法" / "各级人民代表大会常务委员会监督法(2006-08-27).md", CORPUS)
    assert by_label(sup, "第八条").path == ("第二章 听取和审议人民政府、人民法院和人民检察院的专项工作报告",)
    assert sup.preamble == ""

    # 刑法: 之一 articles kept apart, 附则 heading, appendices after the last article out of it.
    criminal = parse_lawrefbook_file(CORPUS / "刑法" / "刑法.md", CORPUS)
    labels = [a.label for a in criminal.articles]
    assert labels.index("第一百二十条") + 1 == labels.index("第一百二十条之一")
    assert "第二百五十三条之一" in labels
    assert by_label(criminal, "第一百二十条之一").suffix == 1
    final = criminal.articles[-1]
    assert (final.label, final.path) == ("第四百五十二条", ("附则",))
    assert final.paragraphs[0] == "本法自1997年10月1日起施行。"
    assert final.paragraphs[1].startswith("列于本法附件一的") and final.paragraphs[2].startswith("列于本法附件二的")
    assert not any("惩治军人违反职责罪暂行条例" in p for p in final.paragraphs)  # 附件一 is not in it
    assert "附件一" in criminal.preamble

    # A 刑法修正案 is numbered 一、二、: no invented articles, the text is in the preamble.
    amendment = parse_lawrefbook_file(CORPUS / "刑法" / "刑法修正案（十一）.md", CORPUS)
    assert amendment.articles == []
    assert amendment.preamble.startswith("一、将刑法第十七条修改为")
    assert amendment.effective == "2021-03-01"


@needs_corpus
def test_whole_corpus(corpus: dict) -> None:
    docs, errors, seconds = corpus["docs"], corpus["errors"], corpus["seconds"]
    by_type = Counter(d.source_type for d in docs)
    articles: Counter[str] = Counter()
    for d in docs:
        articles[d.source_type] += len(d.articles)
    print(
        f"\nLawRefBook: {len(docs)} documents, {sum(articles.values())} articles {dict(articles)}, "
        f"documents {dict(by_type)}, {len(errors)} errors, {seconds:.1f} s"
    )
    assert errors == [], errors[:5]
    assert seconds < 60
    assert len(docs) > 1000
    assert by_type["interpretation"] > 300 and by_type["regulation"] > 500 and by_type["statute"] > 300
    assert sum(articles.values()) > 50_000
    # Skipped: navigation, the source README and cases.
    assert not any(
        p.name in ("_index.md", "SOURCE_README.md") or "案例" in p.relative_to(CORPUS).parts for p in corpus["paths"]
    )
    assert len({d.doc_id for d in docs}) == len(docs)
    for d in docs:
        assert d.doc_id.startswith("file:") and not d.doc_id.startswith("file:/")
        assert d.title and d.short_title
        for a in d.articles:
            m = LABEL.match(a.label)
            assert m, a.label
            assert parse_cn_number(m.group(1)) == a.number
            assert (parse_cn_number(m.group(2)) if m.group(2) else 0) == a.suffix
            assert all(p == p.strip() and p for p in a.paragraphs)
        for day in (d.published, d.effective):
            assert day is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)


@needs_corpus
def test_versions_get_validity(corpus: dict) -> None:
    docs = corpus["docs"]
    assign_validity(docs, today=date(2025, 6, 1))

    def find(rel: str) -> LegalDocument:
        return next(d for d in docs if d.doc_id == f"file:{rel}")

    old = find("诉讼与非诉讼程序法/民事诉讼法(2021-12-24).md")
    new = find("诉讼与非诉讼程序法/民事诉讼法(2023-09-01).md")
    assert (old.validity, new.validity) == ("已被修改", "现行有效")
    three = [find(f"行政法规/道路运输条例({d}).md") for d in ("2019-03-02", "2022-03-29", "2023-07-20")]
    assert [d.validity for d in three] == ["已被修改", "已被修改", "现行有效"]
    # The 民法典 编 files are parts of one version, not versions of each other.
    code = [d for d in docs if d.doc_id.startswith("file:民法典/")]
    assert len(code) == 8 and {d.validity for d in code} == {"现行有效"}
    # 宪法修正案 of different years are separate documents.
    assert {d.validity for d in docs if "宪法修正案" in d.title} == {"现行有效"}
    assert Counter(d.validity for d in docs)["已被修改"] > 50

    # As of an earlier day the newer version is not yet in force.
    assign_validity([old, new], today=date(2022, 6, 1))
    assert (old.validity, new.validity) == ("现行有效", "尚未生效")


# ------------------------------------------------------------------------------------------ synthetic files

HEADER = (
    "# 中华人民共和国测试法\n\n2020年1月1日 第十三届全国人民代表大会常务委员会第十五次会议通过\n\n"
    "2020年3月1日 施行\n\n<!-- INFO END -->\n\n"
)


def test_suffix_articles_items_and_headings(tmp_path: Path) -> None:
    text = HEADER + (
        "为了测试，制定本法。\n\n"
        "## 第一章  总 则\n\n"
        "第一条 本法适用于测试。\n\n"
        "第二条　有下列情形之一的，适用本法：\n\n（一）甲；\n\n（二）乙。\n\n前款规定的情形，依照第一条处理。\n\n"
        "## 第二章 分则\n\n### 第一节 一般规定\n\n"
        "第三条 第一条规定的测试，应当公开。\n\n"
        "第三条之一 新增的条文。\n\n第三条之二 又一条。\n\n"
        "第四条本条的标签与正文之间没有空格。\n\n"
        "第五条规定的期间，不包括节假日。\n\n"
        "### 第二节  附 则\n\n第六条 本法自2020年3月1日起施行。\n"
    )
    path = write(tmp_path, "民法商法/测试法(2020-01-01).md", text)
    doc = parse_lawrefbook_file(path, tmp_path)
    assert doc.doc_id == "file:民法商法/测试法(2020-01-01).md"
    assert (doc.title, doc.short_title) == ("中华人民共和国测试法", "测试法")
    assert (doc.source_type, doc.doc_type, doc.issuer) == ("statute", "法律", "全国人民代表大会常务委员会")
    assert (doc.published, doc.effective) == ("2020-01-01", "2020-03-01")
    assert doc.preamble == "为了测试，制定本法。"
    assert [(a.number, a.suffix) for a in doc.articles] == [(1, 0), (2, 0), (3, 0), (3, 1), (3, 2), (4, 0), (6, 0)]
    assert [a.label for a in doc.articles][3:5] == ["第三条之一", "第三条之二"]
    art2 = doc.articles[1]
    assert art2.paragraphs == (
        "有下列情形之一的，适用本法：",
        "（一）甲；",
        "（二）乙。",
        "前款规定的情形，依照第一条处理。",
    )
    assert art2.path == ("第一章 总则",)
    assert doc.articles[2].path == ("第二章 分则", "第一节 一般规定")
    assert doc.articles[5].paragraphs == ("本条的标签与正文之间没有空格。", "第五条规定的期间，不包括节假日。")
    assert doc.articles[6].path == ("第二章 分则", "第二节 附则")
    assert looks_like_lawrefbook(text)


def test_numbering_going_backwards_keeps_both(tmp_path: Path) -> None:
    text = HEADER + "第一条 甲。\n\n第二条 乙。\n\n附件：某某办法\n\n第一条 附件的第一条。\n\n第二条 附件的第二条。\n"
    doc = parse_lawrefbook_file(write(tmp_path, "行政法规/某条例.md", text))
    assert [a.number for a in doc.articles] == [1, 2, 1, 2]
    assert doc.articles[1].paragraphs == ("乙。",)
    assert doc.articles[2].paragraphs == ("附件的第一条。",)
    assert doc.articles[2].path == ("附件：某某办法",)
    assert doc.doc_id == "file:某条例.md"  # root defaults to the file's folder
    assert (doc.source_type, doc.doc_type) == ("regulation", "行政法规")


def test_subheadings_appendix_and_glued_heading(tmp_path: Path) -> None:
    text = (
        "# 最高人民法院关于测试的解释\n\n2020年12月1日 最高人民法院审判委员会第1800次会议通过\n\n"
        "<!-- INFO END -->\n\n"
        + (
            "## 一、关于质押\n\n（一）动产质押\n\n第一条 甲。\n\n第二条 乙。\n\n（二）权利质押\n\n第三条 丙：\n\n"
            "（一）子项\n\n## 第二章 其他 第四条 标题后面粘着的条文。\n\n"
            "第五条 标题粘在本条末尾。第三章 附则\n\n第六条 本解释自公布之日起施行。\n\n"
            "## 附件一\n\n下列决定予以废止：\n\n1．某决定\n"
        )
    )
    doc = parse_lawrefbook_file(write(tmp_path, "司法解释/最高人民法院关于测试的解释.md", text))
    assert [a.path for a in doc.articles] == [
        ("一、关于质押", "（一）动产质押"),
        ("一、关于质押", "（一）动产质押"),
        ("一、关于质押", "（二）权利质押"),
        ("第二章 其他",),
        ("第二章 其他",),
        ("第三章 附则",),
    ]
    assert doc.articles[2].paragraphs == ("丙：", "（一）子项")
    assert doc.articles[3].paragraphs == ("标题后面粘着的条文。",)
    assert doc.articles[4].paragraphs == ("标题粘在本条末尾。",)
    assert doc.preamble == "附件一\n下列决定予以废止：\n1．某决定"
    assert (doc.source_type, doc.issuer) == ("interpretation", "最高人民法院")


def test_document_without_articles(tmp_path: Path) -> None:
    text = (
        "# 最高人民法院关于某问题的批复\n\n2020年11月9日 最高人民法院审判委员会\n\n<!-- INFO END -->\n\n"
        "第1815次会议通过，自2021年1月1日起施行）\n\n某某高级人民法院：\n\n一、关于适用范围问题。\n\n"
        "二、本批复自2021年1月1日起施行。\n"
    )
    doc = parse_lawrefbook_file(write(tmp_path, "其他/批复.md", text))
    assert doc.articles == []
    assert doc.preamble == "某某高级人民法院：\n一、关于适用范围问题。\n二、本批复自2021年1月1日起施行。"
    assert (doc.published, doc.effective) == ("2020-11-09", "2021-01-01")
    assert (doc.source_type, doc.doc_type, doc.issuer) == ("interpretation", "司法解释", "最高人民法院")


def test_bad_files_raise_and_batch_goes_on(tmp_path: Path) -> None:
    no_title = write(tmp_path, "laws/没有标题.md", "第一条 没有标题。\n")
    with pytest.raises(ValueError, match=r"没有标题\.md"):
        parse_lawrefbook_file(no_title)
    empty = write(tmp_path, "laws/空.md", "\n\n")
    with pytest.raises(ValueError, match=r"空\.md.*empty"):
        parse_lawrefbook_file(empty)
    binary = tmp_path / "laws" / "乱码.md"
    binary.write_bytes("# 标题\n".encode("gbk"))
    with pytest.raises(ValueError, match=r"乱码\.md.*UTF-8"):
        parse_lawrefbook_file(binary)

    write(tmp_path, "laws/好.md", HEADER + "第一条 好。\n")
    write(tmp_path, "laws/_index.md", "---\nbookCollapseSection: true\n---\n")
    write(tmp_path, "laws/案例/某案.md", "# 某案\n\n基本案情\n")
    write(tmp_path, "laws/说明.txt", "not markdown")
    results = list(iter_lawrefbook(tmp_path))
    assert [p.name for p, _ in results] == sorted(["好.md", "没有标题.md", "空.md", "乱码.md"])
    outcome = {p.name: r for p, r in results}
    assert isinstance(outcome["好.md"], LegalDocument)
    assert outcome["好.md"].doc_id == "file:laws/好.md"
    assert all(isinstance(outcome[n], ValueError) for n in ("没有标题.md", "空.md", "乱码.md"))


def test_looks_like_lawrefbook() -> None:
    assert looks_like_lawrefbook("# 某规定\n\n<!-- INFO END -->\n\n正文\n")
    assert looks_like_lawrefbook("# 某规定\n\n第一条 甲。\n\n第二条 乙。\n\n第三条 丙。\n")
    assert not looks_like_lawrefbook("# README\n\nSome text.\n")
    assert not looks_like_lawrefbook("第一条 甲。\n\n第二条 乙。\n\n第三条 丙。\n")
    assert not looks_like_lawrefbook("# 笔记\n\n第一条 甲。\n")


def _doc(title: str, effective: str | None, source: str = "") -> LegalDocument:
    return LegalDocument(
        doc_id=f"file:{source or title}",
        source_type="regulation",
        doc_type="行政法规",
        title=title,
        short_title=title,
        articles=[],
        effective=effective,
        source=source,
    )


def test_assign_validity_rules() -> None:
    v1, v2, v3 = _doc("某条例", "2010-01-01"), _doc("某条例", "2020-01-01"), _doc("某条例", "2030-01-01")
    undated = _doc("某条例", None)
    alone = _doc("孤条例", None)
    gone = _doc("废条例（已废止）", "2000-01-01")
    assign_validity([v1, v2, v3, undated, alone, gone], today=date(2024, 1, 1))
    assert [d.validity for d in (v1, v2, v3, undated)] == ["已被修改", "现行有效", "尚未生效", "未知"]
    assert alone.validity == "现行有效"
    assert gone.validity == "已废止"
    # The file name can say so too.
    old = _doc("旧条例", "2001-01-01", source="/x/行政法规/旧条例（失效）(2001-01-01).md")
    assign_validity([old], today=date(2024, 1, 1))
    assert old.validity == "已废止"
