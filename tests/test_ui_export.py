"""ui.export: answers with their sources as Markdown and .docx; the complaint letter holds verified citations only."""

from __future__ import annotations

import io

import pytest
from docx import Document

from kb.models import Answer, Chunk, Citation, Source, VerifiedCitation
from kb.playbooks import load_playbooks
from kb.store import KnowledgeBase
from ui import export

SEED = "宝宝刚出生就接到影楼的推销电话，对方知道孩子的出生日期和我们的电话，是有人卖了我们的信息吗？我该怎么办？"


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    return "\n".join(p.text for p in doc.paragraphs)


def sample_answer() -> Answer:
    chunk = Chunk(
        chunk_id="c10",
        doc_id="lawsdb:pipl",
        source_type="statute",
        doc_type="法律",
        title="中华人民共和国个人信息保护法",
        short_title="个人信息保护法",
        text="任何组织、个人不得非法收集他人个人信息。\n不得非法买卖、提供或者公开他人个人信息。<script>x</script>",
        path=("第一章 总则",),
        article="第十条",
        article_no=10,
        validity="现行有效",
        effective="2021-11-01",
    )
    good = VerifiedCitation(
        Citation(raw="个保法第十条", law=chunk.title, article_no=10),
        "exists",
        "《中华人民共和国个人信息保护法》第十条",
        chunk_ids=("c10",),
    )
    bad = VerifiedCitation(
        Citation(raw="个保法第九十九条", law=chunk.title, article_no=99),
        "not_found",
        "《中华人民共和国个人信息保护法》第九十九条",
        note="没有第九十九条",
    )
    return Answer(
        question="信息被卖了怎么办？",
        persona="parent",
        markdown="## 结论\n\n**不能买卖**个人信息[1]。\n\n- 可以投诉 [链接](http://x.example)",
        citations=[good, bad],
        sources=[Source(n=1, chunk=chunk, verified=True, quote="不得非法买卖、提供或者公开他人个人信息。")],
    )


def test_answer_markdown_has_sources_and_statuses() -> None:
    md = export.answer_markdown(sample_answer())
    assert "信息被卖了怎么办" in md and "**不能买卖**个人信息[1]" in md
    assert "### [1] ✓ 已核验" in md and "第一章 总则" in md and "现行有效" in md
    assert "~~《中华人民共和国个人信息保护法》第九十九条~~" in md and "✗ 未通过核验" in md
    assert "<script>" not in md  # document text is escaped in the file too
    assert "不构成法律意见" in md


def test_answer_docx_opens_with_highlighted_quote() -> None:
    data = export.answer_docx(sample_answer())
    doc = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "信息被卖了怎么办" in text and "《中华人民共和国个人信息保护法》第十条" in text
    highlighted = [r.text for p in doc.paragraphs for r in p.runs if r.font.highlight_color is not None]
    assert highlighted == ["不得非法买卖、提供或者公开他人个人信息。"]
    struck = [r.text for p in doc.paragraphs for r in p.runs if r.font.strike]
    assert struck == ["《中华人民共和国个人信息保护法》第九十九条"]


def test_check_basis_keeps_only_verified_lines(small_kb: KnowledgeBase) -> None:
    lines = [
        "《中华人民共和国个人信息保护法》第十条：任何组织、个人不得非法买卖……",
        "1. 个保法第四十七条第一款",
        "《中华人民共和国个人信息保护法》第九十九条：编造的条文",
        "《中华人民共和国个人信息保护法》第十条：另见《中华人民共和国个人信息保护法》第九十九条",
        "《中华人民共和国民法典》第一千零三十四条",  # a real article, but not in this knowledge base
        "没有引用的一句话",
        "",
    ]
    kept, dropped = export.check_basis(lines, small_kb)
    assert kept == [lines[0], "个保法第四十七条第一款"]
    assert [line for line, _ in dropped] == [lines[2], lines[3], lines[4], lines[5]]
    assert all(reason for _, reason in dropped)


def test_choose_playbook_for_the_newborn_case() -> None:
    playbooks = load_playbooks()
    assert export.choose_playbook(SEED, playbooks).id == "personal_info_trade"
    assert export.choose_playbook(SEED, playbooks, preferred="consumer_fraud").id == "consumer_fraud"
    assert export.choose_playbook("今天天气怎么样", playbooks) is None


@pytest.fixture(scope="module")
def seed_answer(small_kb: KnowledgeBase) -> Answer:
    from kb.answer import Answerer

    return Answerer(small_kb).ask(SEED, persona="parent")


def test_letter_draft_from_the_conversation(small_kb: KnowledgeBase, seed_answer: Answer) -> None:
    draft = export.draft_letter([SEED], [seed_answer], load_playbooks(), small_kb)
    trade = next(p for p in load_playbooks() if p.id == "personal_info_trade")
    assert seed_answer.playbook_id == "personal_info_trade"
    assert draft.recipient == trade.letter.recipient
    assert draft.requests == list(trade.letter.requests)
    assert draft.facts == SEED
    assert draft.basis, "the answer's verified citations are the letter's legal basis"
    kept, dropped = export.check_basis(draft.basis, small_kb)
    assert kept == [b.strip() for b in draft.basis] and not dropped
    draft.respondent = "某摄影有限公司"
    text = export.letter_text(draft)
    for part in (
        "投诉举报信",
        trade.letter.recipient,
        "某摄影有限公司",
        "一、事实与经过",
        "二、投诉举报请求",
        "三、法律依据",
        "此致",
    ):
        assert part in text
    body = docx_text(export.letter_docx(draft))
    assert "某摄影有限公司" in body and draft.basis[0].split("：")[0] in body
    assert "某摄影有限公司" in export.letter_markdown(draft)


def test_letter_without_conversation_uses_generic_requests(small_kb: KnowledgeBase) -> None:
    draft = export.draft_letter([], [], load_playbooks(), small_kb)
    assert draft.requests == list(export.GENERIC_REQUESTS) and draft.basis == []
    assert "（知识库中没有核验通过的依据）" in export.letter_text(draft)


def test_letter_for_a_situation_that_is_not_complained_about(small_kb: KnowledgeBase) -> None:
    """A playbook without a letter (a fine is contested by 行政复议 or a lawsuit) gets neither another
    playbook's recipient nor personal-information requests: the letter tab points to its steps instead."""
    question = "交警开的罚单我不服，想申请复议"
    draft = export.draft_letter([question], [], load_playbooks(), small_kb)
    penalty = next(p for p in load_playbooks() if p.id == "administrative_penalty")
    assert draft.playbook_id == "administrative_penalty" and penalty.letter is None
    assert draft.recipient == "" and draft.requests == list(export.GENERIC_REQUESTS)
    assert not any("个人信息" in r for r in draft.requests)
    assert "（收件机关）：" in export.letter_text(draft)
    remedies = export.other_remedies(penalty)
    assert any("行政复议" in r for r in remedies) and any("行政诉讼" in r for r in remedies)
    trade = next(p for p in load_playbooks() if p.id == "personal_info_trade")
    assert export.other_remedies(trade) == []
