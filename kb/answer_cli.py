"""`python -m kb ask` — answer a question from the knowledge base (registered by kb.cli).

    python -m kb ask "QUESTION" [--persona parent|student|ngo] [--json] [--llm]
    python -m kb ask --stdin [--conversation]   one question per line → one JSON object per line

Offline by default (no LLM). `--llm` uses the chat model configured by KB_LLM_* (see kb.llm) and
falls back to the offline answer, with a notice, when it is not configured or fails.
The JSON object is `Answer.to_json()`: `answer` (Markdown), `citations`, `sources`, `playbook`,
`engine`, `notice`, `removed`, `elapsed_ms`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kb.answer import PERSONAS, Answerer
from kb.conversation import Conversation
from kb.models import Answer
from kb.store import KnowledgeBase


def _answerer(kb: KnowledgeBase, args: argparse.Namespace) -> tuple[Answerer, str | None]:
    """The answerer, and a notice when --llm was asked for but no model is configured."""
    if not args.llm:
        return Answerer(kb), None
    from kb.llm import LLMConfig

    cfg = LLMConfig.from_env()
    if cfg is None:
        return Answerer(kb), "未配置大模型（KB_LLM_MODEL），以下为离线回答"
    return Answerer(kb, llm=cfg, use_llm=True), None


def _with_notice(answer: Answer, notice: str | None) -> Answer:
    if notice:
        answer.notice = f"{notice}；{answer.notice}" if answer.notice else notice
    return answer


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def cmd_ask(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    answerer, notice = _answerer(kb, args)
    if args.stdin:
        conversation = Conversation(answerer, persona=args.persona)
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            if args.conversation:
                answer = conversation.ask(question)
            else:
                answer = answerer.ask(question, persona=args.persona)
            _print_json(_with_notice(answer, notice).to_json())
        return 0
    if not args.question:
        print("ask: give a QUESTION or --stdin", file=sys.stderr)
        return 2
    if args.json:
        _print_json(_with_notice(answerer.ask(args.question, persona=args.persona), notice).to_json())
        return 0
    if notice:
        print(f"> {notice}\n")
    final: Answer | None = None
    for piece in answerer.stream(args.question, persona=args.persona):
        if isinstance(piece, Answer):
            final = piece
        else:
            sys.stdout.write(piece)
            sys.stdout.flush()
    if final is not None and final.notice and final.engine == "llm":
        print(f"\n> {final.notice}")
    return 0


def register(sub: Any) -> None:
    """Add the `ask` command to kb.cli's subparsers."""
    a = sub.add_parser("ask", help="answer a question with verified citations")
    a.add_argument("question", nargs="?")
    a.add_argument("--persona", choices=PERSONAS, default="parent", help="parent (default), student or ngo")
    a.add_argument("--json", action="store_true", help="print Answer.to_json()")
    a.add_argument("--stdin", action="store_true", help="one question per line → one JSON object per line")
    a.add_argument("--conversation", action="store_true", help="with --stdin: later lines are follow-ups")
    a.add_argument("--llm", action="store_true", help="use the chat model configured by KB_LLM_*")
    a.set_defaults(func=cmd_ask)
