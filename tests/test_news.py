"""News reports: the shared report (CCTV via a regional paper's WeChat account) and synthetic ones with
source/date lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.news import MAX_SECTION_CHARS, looks_like_news, parse_news


def _news_file() -> Path | None:
    here = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("KB_SHARED_DIR"), here.parent / "shared", "/work/shared"):
        if candidate:
            f = Path(candidate) / "corpus" / "news" / "000_15c8d2e807efcfce.txt"
            if f.is_file():
                return f
    return None


NEWS_FILE = _news_file()
needs_corpus = pytest.mark.skipif(NEWS_FILE is None, reason="shared news report not found")


@pytest.fixture(scope="module")
def shared_report() -> str:
    assert NEWS_FILE is not None
    return NEWS_FILE.read_text(encoding="utf-8")


@needs_corpus
def test_shared_report(shared_report: str) -> None:
    d = parse_news(shared_report, source="news/000_15c8d2e807efcfce.txt")
    assert (d.source_type, d.doc_type) == ("news", "新闻报道")
    assert d.doc_id == "file:news/000_15c8d2e807efcfce.txt"
    assert d.title == "宝宝一出生,为何推销电话就来了?"
    assert d.outlet == "央视新闻"  # the closing credit "(央视新闻)"
    # The report carries no publication date: its only day, "4月16日", has no year.
    assert d.date is None
    names = [s.name for s in d.sections]
    assert names == [
        "导语",
        "新生儿的信息如何被获取",  # after ①
        "将新生儿个人信息变现 出售给摄影机构",  # after ②
        "继续追究民事责任 检察机关提起公益诉讼",  # after ③
        "公益诉讼筑牢个人信息保护“防火墙”",  # after the column label 新闻延伸
    ]
    lead = d.sections[0].text
    assert lead.startswith("3万余条新生儿信息被倒卖 案件细节曝光")  # the subtitle opens the lead
    assert "黑色产业链" in lead
    assert "判令公开致歉 支付公益赔偿金29万余元" in d.sections[1].text  # a stacked heading is kept as text
    body = "\n".join(s.text for s in d.sections)
    # paragraphs the web page broke in the middle of a sentence are whole again
    assert "本案涉案的新生儿个人信息包含出生日期" in body
    assert "要求3名侵犯公民个人信息的被告" in body
    assert "公益诉讼案件6600余件" in body
    # the follow-us footer is gone, the story's end is kept
    assert body.rstrip().endswith("(央视新闻)")
    for junk in ("扫码关注", "微信公众号", "信息旅行攻略", "法治聚焦"):
        assert junk not in body
    assert all(len(s.text) <= MAX_SECTION_CHARS + 400 for s in d.sections)
    assert d.case_numbers == ()


@needs_corpus
def test_shared_report_is_news_not_a_case(shared_report: str) -> None:
    assert looks_like_news(shared_report)


def test_source_and_date_lines() -> None:
    text = """
杭州互联网法院审结首例新生儿信息公益诉讼案
来源：人民法院报　　编辑：张某
发布时间：2024-04-17 10:23

本报讯 4月16日，杭州互联网法院对一起个人信息保护民事公益诉讼案作出一审判决，案号为（2023）浙0192民初1234号。

一、案件经过
记者了解到，被告李某通过非法渠道购入新生儿个人信息3万余条，并出售给两家摄影机构。

二、法院判决
法院判令三名被告公开赔礼道歉，并支付公益损害赔偿金29万余元。该案参照了指导性案例192号的裁判规则。
"""
    d = parse_news(text, source="a.txt")
    assert d.title == "杭州互联网法院审结首例新生儿信息公益诉讼案"
    assert d.outlet == "人民法院报"
    assert d.date == "2024-04-17"
    assert [s.name for s in d.sections] == ["导语", "案件经过", "法院判决"]
    assert d.case_numbers == ("（2023）浙0192民初1234号", "指导案例192号")
    assert "编辑" not in "\n".join(s.text for s in d.sections)
    assert looks_like_news(text)


def test_bracket_and_markdown_headings_and_date_line() -> None:
    text = """# 检察机关发布个人信息保护典型案例
2024年3月5日
近日，最高人民检察院发布一批个人信息保护检察公益诉讼典型案例，涉及人脸识别、快递信息等领域。
【案例一】
某快递公司员工倒卖快递面单信息，检察机关提起公益诉讼，法院判令其赔偿损失并公开道歉。
## 案例二
某小区物业强制使用人脸识别门禁，检察机关发出检察建议，督促整改。
（新华社）
"""
    d = parse_news(text, source="b.md")
    assert d.title == "检察机关发布个人信息保护典型案例"
    assert d.date == "2024-03-05"
    assert d.outlet == "新华社"
    assert [s.name for s in d.sections] == ["导语", "案例一", "案例二"]


def test_report_without_headings_is_cut_into_parts() -> None:
    para = "法院审理认为，被告非法买卖、使用特定人群的相关个人信息，侵害了社会公共利益，应当承担相应的民事责任。"
    text = "法院判决一起个人信息公益诉讼案\n" + "\n".join(para for _ in range(80))
    d = parse_news(text, source="c.txt")
    assert d.title == "法院判决一起个人信息公益诉讼案"
    assert len(d.sections) >= 3
    assert d.sections[0].name == "正文"
    assert all(s.name.startswith("正文") for s in d.sections)
    assert all(len(s.text) <= MAX_SECTION_CHARS for s in d.sections)
    assert sum(s.text.count(para) for s in d.sections) == 80


def test_looks_like_news_negatives() -> None:
    statute = "\n".join(f"第{n}条　自然人的个人信息受法律保护。" for n in "一二三四")
    judgment = (
        "浙江省杭州市互联网法院\n民事判决书\n（2023）浙0192民初1234号\n原告：张某某。\n被告：某公司。\n"
        "本院认为，被告应当承担责任。判决如下：\n"
    )
    guiding = "指导案例192号：李开祥侵犯公民个人信息刑事附带民事公益诉讼案\n\n【裁判要点】\n\n……\n\n【基本案情】\n\n……"
    for text in (statute, judgment, guiding, "", "我想咨询一下房东不退押金怎么办？"):
        assert not looks_like_news(text)
