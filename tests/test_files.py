"""Routing of user files to parsers, personal-data masking before storage, and case→statute links."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.files import iter_path
from ingest.pipeline import ingest
from kb.models import CaseDocument, LegalDocument
from kb.store import KnowledgeBase

PHONE = "13812345678"
ID_NUMBER = "330106199001011234"

JUDGMENT = f"""浙江省杭州市互联网法院
民事判决书
（2023）浙0192民初1234号
原告：叶某，女，1990年1月1日出生，住杭州市萧山区，身份证号{ID_NUMBER}，联系电话{PHONE}。
被告：杭州某摄影有限公司。
原告叶某与被告杭州某摄影有限公司个人信息保护纠纷一案，本院于2023年3月1日立案后，依法适用普通程序进行了审理。
原告叶某向本院提出诉讼请求：判令被告删除原告及其子女的个人信息并赔偿损失。
本院认为，被告购买并使用新生儿及其父母的个人信息进行推销，违反《中华人民共和国个人信息保护法》第十条的规定，
依照《中华人民共和国个人信息保护法》第六十九条、第七十条之规定，判决如下：
一、被告删除原告及其子女的个人信息；
二、被告赔偿原告损失五千元。
审判长 张某
二〇二三年六月一日
"""

LAW_MD = """# 测试条例

2020年1月1日 国务院公布

2020年3月1日 施行

<!-- INFO END -->

## 第一章 总则

第一条 为了测试，制定本条例。

第二条 个人信息受保护。
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def test_files_are_routed_to_the_parser_that_fits(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "判决.txt", JUDGMENT)
    write(src, "条例.md", LAW_MD)
    write(src, "笔记.txt", "我的笔记\n今天去医院建档，登记了手机号。\n后来接到推销电话。")
    parsed = {Path(origin).name: item for origin, item in iter_path(src)}
    assert isinstance(parsed["条例.md"], LegalDocument)
    assert [a.label for a in parsed["条例.md"].articles] == ["第一条", "第二条"]
    judgment = parsed["判决.txt"]
    assert isinstance(judgment, CaseDocument) and judgment.source_type == "case"
    assert judgment.case_numbers == ("（2023）浙0192民初1234号",)
    notes = parsed["笔记.txt"]
    assert isinstance(notes, CaseDocument) and notes.source_type == "document"


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    [(_origin, item)] = list(iter_path(tmp_path / "nope"))
    assert isinstance(item, Exception) and "nope" in str(item)


def _everything_stored(kb: KnowledgeBase) -> str:
    """All text the knowledge base keeps on disk: catalog rows, lexical index files, vector-store documents."""
    parts: list[str] = []
    with sqlite3.connect(kb.home / "catalog.sqlite") as conn:
        for table in ("documents", "chunks", "cites"):
            parts.extend(str(row) for row in conn.execute(f"SELECT * FROM {table}"))
    for path in kb.home.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".npy", "") and "chroma" not in path.parts:
            parts.append(path.read_bytes().decode("utf-8", errors="ignore"))
    parts.extend(kb.vectorstore._collection.get(include=["documents", "metadatas"])["documents"] or [])
    return "\n".join(parts)


@pytest.mark.parametrize("mask", [True, False])
def test_phone_and_identity_numbers_never_reach_the_store(tmp_path: Path, mask: bool) -> None:
    src = write(tmp_path / "src", "判决.txt", JUDGMENT)
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    report = ingest(kb, ["statutes:个人信息保护法", str(src)], dense=True, mask_pii=mask, progress=False)
    assert report.errors == []
    stored = _everything_stored(kb)
    assert "杭州某摄影有限公司" in stored  # the document itself is there
    if mask:
        assert PHONE not in stored and ID_NUMBER not in stored
        assert "[手机号]" in stored and "[身份证号]" in stored
    else:  # --no-mask: the user's private corpus keeps them
        assert PHONE in stored and ID_NUMBER in stored


def test_cases_link_to_the_articles_they_cite(tmp_path: Path) -> None:
    src = write(tmp_path / "src", "判决.txt", JUDGMENT)
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    ingest(kb, [str(src), "statutes:个人信息保护法"], dense=False, progress=False)
    citing = kb.chunks_citing("《中华人民共和国个人信息保护法》第七十条")
    assert citing and {c.source_type for c in citing} == {"case"}
    assert citing[0].case_id == "（2023）浙0192民初1234号"
    assert kb.chunks_citing("《中华人民共和国个人信息保护法》第一条") == []
