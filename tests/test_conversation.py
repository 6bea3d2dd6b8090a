"""Conversations: follow-up detection (pure) and topic carry-over on a real knowledge base."""

from __future__ import annotations

import pytest

from kb.answer import Answerer
from kb.conversation import Conversation, FollowUp, Turn, follow_up_context, follow_up_markers
from kb.store import KnowledgeBase

FIRST = "宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？能告他们吗？"


@pytest.mark.parametrize(
    ("question", "explicit", "short"),
    [
        ("那我可以要求赔多少？", True, True),
        ("这种情况要多久去起诉？", True, True),
        ("赔多少？", False, True),
        ("公司一直没跟我签劳动合同，我已经干了半年了，能要求双倍工资吗？", False, False),
        ("", False, False),
    ],
)
def test_follow_up_markers(question: str, explicit: bool, short: bool) -> None:
    assert follow_up_markers(question) == (explicit, short)


def test_follow_up_context_takes_last_topic() -> None:
    assert follow_up_context("那我可以要求赔多少？", None) == FollowUp(False)
    history = [Turn(FIRST, playbook_id="personal_info_trade"), Turn("谢谢", playbook_id=None)]
    ctx = follow_up_context("那我可以要求赔多少？", history)
    assert ctx.is_follow_up and ctx.explicit and ctx.playbook_id == "personal_info_trade"
    assert ctx.previous_question == FIRST
    assert ctx.retrieval_query("那我可以要求赔多少？").endswith(FIRST)
    assert FollowUp(False).retrieval_query("问题") == "问题"


@pytest.fixture(scope="module")
def answerer(lexical_kb: KnowledgeBase) -> Answerer:
    return Answerer(lexical_kb)


def test_follow_up_resolves_to_same_topic_and_answers_it(answerer: Answerer) -> None:
    chat = Conversation(answerer)
    first = chat.ask(FIRST)
    assert first.playbook_id == "personal_info_trade" == chat.topic
    second = chat.ask("那我可以要求赔多少？")
    assert second.playbook_id == "personal_info_trade"
    # the compensation rule comes first among the quoted provisions
    md = second.markdown
    section = md[md.index("#### 法律原文怎么说") :]
    first_quote = section.split("\n")[1]
    assert "赔偿" in first_quote
    assert "第六十九条" in md
    assert [t.playbook_id for t in chat.turns] == ["personal_info_trade", "personal_info_trade"]


def test_alone_the_follow_up_has_no_such_topic(answerer: Answerer) -> None:
    assert answerer.ask("那我可以要求赔多少？").playbook_id != "personal_info_trade"


def test_new_topic_is_not_carried_over(answerer: Answerer) -> None:
    chat = Conversation(answerer, persona="student")
    chat.ask(FIRST)
    other = chat.ask("公司一直没跟我签劳动合同，我已经干了半年了，能要求双倍工资吗？")
    assert other.playbook_id == "labour_dismissal"
    assert chat.topic == "labour_dismissal"


def test_stream_remembers_the_turn(answerer: Answerer) -> None:
    chat = Conversation(answerer, persona="ngo")
    pieces = list(chat.stream(FIRST))
    assert chat.turns and chat.turns[-1].answer is pieces[-1]
    chat.reset()
    assert chat.turns == [] and chat.topic is None
