"""Conversations: turns and topic carry-over for follow-up questions.

A follow-up such as "那我可以要求赔多少？" names no situation of its own; it continues the topic
of the turn before. `follow_up_context` decides, from the wording alone (pure function), whether a
question leans on the previous turn; the answerer then keeps the previous playbook and adds the
previous question to the retrieval query, while sentences and claims are still ranked by the new
question (so a question about compensation brings the compensation rules to the top).

A question that clearly opens a new topic (its own playbook scores well and it has no follow-up
marker) starts afresh. Question text is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.models import Answer

if TYPE_CHECKING:  # pragma: no cover
    from kb.answer import Answerer

# Words that point back at what was said before (anaphora, continuation, "and what about").
_LEADING = re.compile(
    r"^(?:那|那么|那如果|那要是|还有|另外|此外|如果|要是|假如|万一|然后|再|而且|并且|所以"
    r"|这样|这种|这个|这些|他们|她们|它们|对方|上面|刚才|前面)"
)
_ANYWHERE = re.compile(
    r"这种情况|这种|这样的话|这个|这些|上述|刚才|前面说|上面说|他们|对方|该公司|那家|那个"
    r"|还能|还可以|还要|还会|呢[？?]?$"
)
SHORT_QUESTION = 14  # characters: a question this short rarely states a whole situation


@dataclass
class Turn:
    """One exchange: the question, the topic it was answered under, and the answer."""

    question: str
    persona: str = "parent"
    playbook_id: str | None = None
    answer: Answer | None = None


@dataclass(frozen=True)
class FollowUp:
    """What a question takes over from the conversation so far."""

    is_follow_up: bool
    explicit: bool = False  # a marker (那/这种/他们/…) rather than mere shortness
    playbook_id: str | None = None  # the topic of the last turn that had one
    previous_question: str | None = None

    def retrieval_query(self, question: str) -> str:
        """The new question, with the previous one appended when this is a follow-up."""
        if self.is_follow_up and self.previous_question:
            return f"{question} {self.previous_question}"
        return question


def follow_up_markers(question: str) -> tuple[bool, bool]:
    """(explicit, short): whether the wording points back at an earlier turn, whether it is very short."""
    core = re.sub(r"[\s，。？！?!,.]", "", question.strip())
    if not core:
        return False, False
    return bool(_LEADING.match(core) or _ANYWHERE.search(core)), len(core) <= SHORT_QUESTION


def looks_like_follow_up(question: str) -> bool:
    """Whether the wording leans on an earlier turn (pure, wording only)."""
    explicit, short = follow_up_markers(question)
    return explicit or short


def follow_up_context(question: str, history: Sequence[Turn] | None) -> FollowUp:
    """The topic and previous question a new question may carry over."""
    if not history:
        return FollowUp(False)
    explicit, short = follow_up_markers(question)
    last_topic = next((t for t in reversed(history) if t.playbook_id), None)
    if last_topic is None:
        return FollowUp(explicit or short, explicit, None, history[-1].question)
    return FollowUp(explicit or short, explicit, last_topic.playbook_id, last_topic.question)


@dataclass
class Conversation:
    """A sequence of questions answered with context: `ask` / `stream` remember each turn."""

    answerer: Answerer
    persona: str = "parent"
    turns: list[Turn] = field(default_factory=list)
    max_turns: int = 20

    @property
    def topic(self) -> str | None:
        """The playbook id the conversation is currently about."""
        return next((t.playbook_id for t in reversed(self.turns) if t.playbook_id), None)

    def ask(self, question: str, persona: str | None = None, use_llm: bool | None = None) -> Answer:
        persona = persona or self.persona
        answer = self.answerer.ask(question, persona=persona, history=self.turns, use_llm=use_llm)
        self._remember(question, persona, answer)
        return answer

    def stream(self, question: str, persona: str | None = None, use_llm: bool | None = None) -> Iterator[str | Answer]:
        """Text pieces, then the final Answer (which is also remembered)."""
        persona = persona or self.persona
        for piece in self.answerer.stream(question, persona=persona, history=self.turns, use_llm=use_llm):
            if isinstance(piece, Answer):
                self._remember(question, persona, piece)
            yield piece

    def reset(self) -> None:
        self.turns.clear()

    def _remember(self, question: str, persona: str, answer: Answer) -> None:
        self.turns.append(Turn(question, persona, answer.playbook_id, answer))
        del self.turns[: -self.max_turns]
