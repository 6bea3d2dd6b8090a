"""Names of laws: full titles, the short names people use, and resolution from one to the other.

A short name is the title without 中华人民共和国 (民法典, 刑法); an abbreviation is what people
actually write (个保法, 消法, 民诉法). `LawNameIndex` resolves any of them against the titles a
knowledge base holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PRC = "中华人民共和国"

# What people write → the short title it stands for. Reviewed by hand; extend with care.
ABBREVIATIONS: dict[str, str] = {
    "个保法": "个人信息保护法",
    "个人信息法": "个人信息保护法",
    "消保法": "消费者权益保护法",
    "消法": "消费者权益保护法",
    "消费者保护法": "消费者权益保护法",
    "未保法": "未成年人保护法",
    "未成年人法": "未成年人保护法",
    "劳合法": "劳动合同法",
    "民诉法": "民事诉讼法",
    "刑诉法": "刑事诉讼法",
    "行诉法": "行政诉讼法",
    "网安法": "网络安全法",
    "数安法": "数据安全法",
    "电商法": "电子商务法",
    "道交法": "道路交通安全法",
    "道路交通法": "道路交通安全法",
    "治安法": "治安管理处罚法",
    "治安处罚法": "治安管理处罚法",
    "食安法": "食品安全法",
    "反不正当竞争": "反不正当竞争法",
    "反垄断": "反垄断法",
    "妇女权益法": "妇女权益保障法",
    "妇保法": "妇女权益保障法",
    "老年人法": "老年人权益保障法",
    "残保法": "残疾人保障法",
    "行政处罚": "行政处罚法",
    "劳动争议调解仲裁": "劳动争议调解仲裁法",
    "劳动仲裁法": "劳动争议调解仲裁法",
    "基本医疗卫生法": "基本医疗卫生与健康促进法",
    "医疗卫生法": "基本医疗卫生与健康促进法",
    "产品质量": "产品质量法",
    "著作权": "著作权法",
    "版权法": "著作权法",
    "反电诈法": "反电信网络诈骗法",
    "反电信诈骗法": "反电信网络诈骗法",
    "家暴法": "反家庭暴力法",
    "反家暴法": "反家庭暴力法",
    "社保法": "社会保险法",
    "税收征管法": "税收征收管理法",
    "民法通则": "民法通则",
    "合同法": "合同法",
    "物权法": "物权法",
    "侵权责任法": "侵权责任法",
    "婚姻法": "婚姻法",
    "继承法": "继承法",
    "担保法": "担保法",
    # Short titles of national laws that are written bare (民法典第1034条); identity entries so
    # kb.citations can recognize them and add 中华人民共和国 without a knowledge base at hand.
    # Only names that are not the tail of another law's name (教育法 ⊂ 高等教育法 is left out).
    "民法典": "民法典",
    "民法总则": "民法总则",
    "刑法": "刑法",
    "宪法": "宪法",
    "立法法": "立法法",
    "监察法": "监察法",
    "劳动法": "劳动法",
    "公司法": "公司法",
    "合伙企业法": "合伙企业法",
    "证券法": "证券法",
    "保险法": "保险法",
    "商业银行法": "商业银行法",
    "票据法": "票据法",
    "信托法": "信托法",
    "拍卖法": "拍卖法",
    "招标投标法": "招标投标法",
    "政府采购法": "政府采购法",
    "广告法": "广告法",
    "商标法": "商标法",
    "专利法": "专利法",
    "电子签名法": "电子签名法",
    "密码法": "密码法",
    "国家安全法": "国家安全法",
    "反恐怖主义法": "反恐怖主义法",
    "反洗钱法": "反洗钱法",
    "居民身份证法": "居民身份证法",
    "出境入境管理法": "出境入境管理法",
    "行政许可法": "行政许可法",
    "行政复议法": "行政复议法",
    "行政强制法": "行政强制法",
    "国家赔偿法": "国家赔偿法",
    "律师法": "律师法",
    "公证法": "公证法",
    "仲裁法": "仲裁法",
    "农村土地承包经营纠纷调解仲裁法": "农村土地承包经营纠纷调解仲裁法",
    "人民调解法": "人民调解法",
    "预防未成年人犯罪法": "预防未成年人犯罪法",
    "英雄烈士保护法": "英雄烈士保护法",
    "药品管理法": "药品管理法",
    "传染病防治法": "传染病防治法",
    "精神卫生法": "精神卫生法",
    "医师法": "医师法",
    "执业医师法": "执业医师法",
    "突发事件应对法": "突发事件应对法",
    "土地管理法": "土地管理法",
    "城市房地产管理法": "城市房地产管理法",
    "农村土地承包法": "农村土地承包法",
    "个人所得税法": "个人所得税法",
    "企业所得税法": "企业所得税法",
    "涉外民事关系法律适用法": "涉外民事关系法律适用法",
}

_BRACKETS = re.compile(r"[《》〈〉<>\"“”\s]")
# Only notes that name a revision are dropped: 宪法修正案（1988年） and 企业破产法（试行） are documents of their own.
_VERSION_SUFFIX = re.compile(r"[（(][^）)]*(?:修正|修订|修改)[^）)]*[）)]$")


_NICKNAME_KINDS = ("司法解释", "解释", "规定", "批复", "决定")
_SERIAL = re.compile(r"[（(]([一二三四五六七八九十]+)[）)]$")


def clean_title(title: str) -> str:
    """Drop book-title marks, spaces and a trailing version note such as （2018修正）."""
    t = _BRACKETS.sub("", title)
    return _VERSION_SUFFIX.sub("", t)


def short_title(title: str) -> str:
    """民法典 for 中华人民共和国民法典; other titles are returned without their version note."""
    t = clean_title(title)
    if t.startswith(PRC) and len(t) > len(PRC):
        return t[len(PRC) :]
    return t


def law_key(title: str) -> str:
    """Key that groups the versions of one document: the short title."""
    return short_title(title)


@dataclass(frozen=True)
class Nickname:
    """An interpretation's nickname read as [law][topic][kind][（serial）] (`parse_nickname`)."""

    law: str | None  # short title (民法典, 保险法) the nickname starts with, if any
    topic: str  # what is left between the law and the kind (担保制度, 民间借贷), without 的
    kinds: tuple[str, ...]  # the title endings the kind stands for (司法解释 → 解释 or 规定)
    serial: re.Match[str] | None  # （二）


def parse_nickname(key: str) -> Nickname | None:
    """The parts of a nickname such as 民法典担保制度解释, 民间借贷规定 or 婚姻家庭编解释（一）; None when it ends
    in no kind of interpretation, or names neither a law nor a topic."""
    serial = _SERIAL.search(key)
    body = key[: serial.start()] if serial else key
    kind = next((k for k in _NICKNAME_KINDS if body.endswith(k) and len(body) > len(k)), None)
    if kind is None:
        return None
    body = body[: -len(kind)]
    law = next((a for a in sorted(ABBREVIATIONS, key=len, reverse=True) if body.startswith(a)), None)
    topic = (body[len(law) :] if law else body).strip("的")
    if not topic and not law:
        return None
    kinds = ("解释", "规定") if kind == "司法解释" else (kind,)
    return Nickname(ABBREVIATIONS[law] if law else None, topic, kinds, serial)


class LawNameIndex:
    """Resolve any way of writing a law's name to the full titles held in a knowledge base."""

    def __init__(self, titles: Iterable[str]):
        self._by_alias: dict[str, set[str]] = {}
        self.titles: set[str] = set()
        for title in titles:
            self.add(title)

    def add(self, title: str) -> None:
        self.titles.add(title)
        for alias in self.aliases(title):
            self._by_alias.setdefault(alias, set()).add(title)

    @staticmethod
    def aliases(title: str) -> set[str]:
        full = clean_title(title)
        short = short_title(title)
        names = {full, short, title}
        # 最高人民法院关于… interpretations are often written without the issuer.
        for issuer in (
            "最高人民法院、最高人民检察院",
            "最高人民法院 最高人民检察院",
            "最高人民法院最高人民检察院",
            "最高人民法院",
            "最高人民检察院",
        ):
            if short.startswith(issuer) and len(short) > len(issuer) + 2:
                names.add(short[len(issuer) :].lstrip("、 "))
        names |= {abbr for abbr, target in ABBREVIATIONS.items() if target == short}
        # Interpretations name their law in full (关于适用《中华人民共和国民法典》…); people write 《民法典》.
        names |= {n.replace(PRC, "") for n in names if PRC in n[1:]}
        return {n for n in names if n}

    def resolve(self, name: str) -> list[str]:
        """Titles that `name` can mean, best first (exact alias, then an unambiguous suffix match)."""
        key = clean_title(name)
        if key in self._by_alias:
            return sorted(self._by_alias[key], key=len)
        if key in ABBREVIATIONS and ABBREVIATIONS[key] in self._by_alias:
            return sorted(self._by_alias[ABBREVIATIONS[key]], key=len)
        if key.startswith(PRC) and key[len(PRC) :] in self._by_alias:
            return sorted(self._by_alias[key[len(PRC) :]], key=len)
        return self._resolve_nickname(key)

    def _resolve_nickname(self, key: str) -> list[str]:
        """A judicial interpretation by the nickname lawyers give it: 民法典担保制度解释, 民间借贷规定,
        人身损害赔偿解释, 民诉法解释, 婚姻家庭编解释（一）. The nickname is [law][topic][kind][（serial）]:
        a title matches when it is issued by 最高人民法院/最高人民检察院, ends with that kind and serial, names
        the law, and contains the topic (with no topic: is the law's own 关于适用《…》的解释). The shortest
        matching title wins — the general interpretation over a special one (人身损害赔偿 over 铁路运输人身损害
        赔偿) — and only its own versions are returned, so one nickname never verifies against two documents."""
        nick = parse_nickname(key)
        if nick is None:
            return []
        serial, kinds, law_name, topic = nick.serial, nick.kinds, nick.law, nick.topic
        matches: list[str] = []
        for title in self.titles:
            t = clean_title(title)
            if not t.startswith(("最高人民法院", "最高人民检察院")) or t.startswith(
                ("最高人民法院关于修改", "最高人民检察院关于修改")
            ):
                continue
            numbered = _SERIAL.search(t)
            if bool(serial) != bool(numbered):
                continue  # a numbered interpretation is named with its number, (二) or （二）
            if serial and numbered and serial.group(1) != numbered.group(1):
                continue
            tail = t[: numbered.start()] if numbered else t
            if not tail.endswith(kinds):
                continue
            if law_name and law_name not in t:
                continue
            if topic and topic not in t:
                continue
            # the law's own interpretation: 关于适用《保险法》的解释, or …若干问题的解释（二）
            own = rf"关于适用(?:{PRC})?{re.escape(law_name or '')}(?:若干问题)?的(?:解释|规定)$"
            if not topic and not re.search(own, tail):
                continue
            matches.append(title)
        if not matches:
            return []
        best = min(matches, key=lambda m: (len(clean_title(m)), m))
        return sorted((m for m in matches if clean_title(m) == clean_title(best)), key=len)
