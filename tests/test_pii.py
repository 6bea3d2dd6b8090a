"""Personal data masking: many positives and many look-alikes that must stay (案号, dates, money, articles)."""

from __future__ import annotations

import pytest

from ingest.pii import BANK_CARD, EMAIL, ID_NUMBER, LANDLINE, MOBILE, find_pii, mask_case, mask_pii
from kb.models import CaseDocument, CaseSection


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        number = prefix + d
        total = 0
        for i, ch in enumerate(reversed(number)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return number
    raise AssertionError


CARD16 = _luhn_complete("622848001234567")
CARD19 = _luhn_complete("622202123456789012")
NOT_LUHN16 = CARD16[:-1] + str((int(CARD16[-1]) + 1) % 10)

POSITIVES = [
    ("身份证号码330106199001011234", f"身份证号码{ID_NUMBER}"),
    ("身份证号：33010619900101123X。", f"身份证号：{ID_NUMBER}。"),
    ("公民身份号码11010519491231002x", f"公民身份号码{ID_NUMBER}"),
    ("身份证 330106 19900101 1234", f"身份证 {ID_NUMBER}"),
    ("旧身份证号330106900101123，", f"旧身份证号{ID_NUMBER}，"),
    ("身份证号3301061990XXXX1234", f"身份证号{ID_NUMBER}"),
    ("身份证号330106********1234", f"身份证号{ID_NUMBER}"),
    ("手机13812345678", f"手机{MOBILE}"),
    ("联系电话：15900001111、18612345678", f"联系电话：{MOBILE}、{MOBILE}"),
    ("+86 138-1234-5678", MOBILE),
    ("+8613812345678", MOBILE),
    ("(+86)13812345678", MOBILE),
    ("8613812345678", MOBILE),
    ("手机 139 1234 5678。", f"手机 {MOBILE}。"),
    ("１３８１２３４５６７８", MOBILE),
    ("电话0571-88888888", f"电话{LANDLINE}"),
    ("电话(0571)88888888", f"电话{LANDLINE}"),
    ("电话（010）66551234转123", f"电话{LANDLINE}"),
    ("010-6655 1234", LANDLINE),
    ("0755 2345678", LANDLINE),
    (f"银行卡号{CARD16}", f"银行卡号{BANK_CARD}"),
    (f"卡号：{CARD19}，", f"卡号：{BANK_CARD}，"),
    (f"账户 {CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]} 内", f"账户 {BANK_CARD} 内"),
    (f"{CARD16[:4]}-{CARD16[4:8]}-{CARD16[8:12]}-{CARD16[12:]}", BANK_CARD),
    ("邮箱zhang.san@163.com", f"邮箱{EMAIL}"),
    ("发送至 li_si+case@court.gov.cn 。", f"发送至 {EMAIL} 。"),
    ("13812345678@qq.com", EMAIL),
]

NEGATIVES = [
    "（2023）浙0192民初1234号",
    "（2019）最高法知民终993号",
    "（2016）京73行初3047号",
    "2021年5月10日",
    "2021-05-10 10:30",
    "二〇二三年六月十五日",
    "支付公益赔偿金29万余元",
    "涉及新生儿个人信息3万余条",
    "非法获利人民币19120246.98元",
    "累计成交额人民币10.5亿余元",
    "赔偿2193799元",
    "人民币13812345678元",  # money, although shaped like a mobile number
    "《中华人民共和国民法典》第一千零三十四条",
    "刑法第253条之一",
    "服务电话96766",
    "拨打12315投诉",
    "共立案6600余件",
    "邮编310000",
    "2023年共立案办理个人信息保护领域公益诉讼案件6600余件",
    "（2020）最高法刑核12345678号",
    NOT_LUHN16,  # 16 digits that fail the Luhn check
    "统一社会信用代码91330106MA2XXXXX1X",
    "GB2760-2011",
    "第0571号",
    "ISBN 978-7-301-12345-6",
]


@pytest.mark.parametrize(("text", "masked"), POSITIVES)
def test_masks(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize("text", NEGATIVES)
def test_leaves_alone(text: str) -> None:
    assert mask_pii(text) == text
    assert find_pii(text) == []


def test_mixed_paragraph() -> None:
    text = (
        "（2023）浙0192民初1234号原告张某某，身份证号330106199001011234，手机13812345678，"
        "于2021年5月10日向被告支付5000元，被告开户行账号" + CARD16 + "。"
    )
    masked = mask_pii(text)
    assert masked == (
        f"（2023）浙0192民初1234号原告张某某，身份证号{ID_NUMBER}，手机{MOBILE}，"
        f"于2021年5月10日向被告支付5000元，被告开户行账号{BANK_CARD}。"
    )


def test_spans_and_idempotence() -> None:
    text = "电话13812345678和0571-88888888"
    spans = find_pii(text)
    assert [(text[s:e], p) for s, e, p in spans] == [("13812345678", MOBILE), ("0571-88888888", LANDLINE)]
    once = mask_pii(text)
    assert mask_pii(once) == once


def test_fullwidth_digits_elsewhere_are_kept() -> None:
    text = "第１２条规定，手机１３８１２３４５６７８"
    assert mask_pii(text) == f"第１２条规定，手机{MOBILE}"


def test_empty() -> None:
    assert mask_pii("") == ""


def test_mask_case() -> None:
    doc = CaseDocument(
        doc_id="file:x",
        source_type="case",
        doc_type="判决书",
        title="张某某（身份证号330106199001011234）诉某公司网络服务合同纠纷案",
        sections=[
            CaseSection("当事人", "原告：张某某，身份证号330106199001011234，联系电话13812345678。"),
            CaseSection("裁判结果", "被告于判决生效之日起十日内向原告账户" + CARD16 + "支付5000元。"),
        ],
        case_id="（2023）浙0192民初1234号",
        case_numbers=("（2023）浙0192民初1234号",),
        court="浙江省杭州市互联网法院",
        holding="联系邮箱zhang@example.com的用户……",
        keywords=("网络服务", "13812345678"),
        date="2023-06-15",
    )
    masked = mask_case(doc)
    everything = "\n".join(
        [masked.title, masked.holding or "", *masked.keywords, *(s.name + s.text for s in masked.sections)]
    )
    for secret in ("13812345678", "330106199001011234", CARD16, "zhang@example.com"):
        assert secret not in everything
    assert ID_NUMBER in masked.sections[0].text and MOBILE in masked.sections[0].text
    assert BANK_CARD in masked.sections[1].text and "5000元" in masked.sections[1].text
    assert masked.case_numbers == doc.case_numbers and masked.case_id == doc.case_id
    assert (masked.date, masked.court, masked.doc_id) == (doc.date, doc.court, doc.doc_id)
    # the original is untouched
    assert "13812345678" in doc.sections[0].text


def test_mask_case_on_a_parsed_judgment() -> None:
    from ingest.cases import parse_case_markdown

    text = """浙江省杭州市互联网法院
民事判决书
（2023）浙0192民初1234号
原告：张某某，男，1990年1月1日出生，公民身份号码330106199001011234，住浙江省杭州市西湖区，电话13812345678。
被告：杭州某某网络科技有限公司，住所地浙江省杭州市余杭区，联系电话0571-88888888。
原告张某某与被告杭州某某网络科技有限公司网络服务合同纠纷一案，本院于2023年3月1日立案后进行了审理。
本院认为，被告应当承担违约责任。判决如下：
被告于本判决生效之日起十日内退还原告服务费5000元。
"""
    doc = mask_case(parse_case_markdown(text, source="j.txt"))
    body = "\n".join(s.text for s in doc.sections)
    assert "13812345678" not in body and "330106199001011234" not in body and "88888888" not in body
    assert "1990年1月1日" in body and "5000元" in body
    assert doc.case_id == "（2023）浙0192民初1234号"
