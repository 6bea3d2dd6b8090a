"""Which playbook answers a question: `python -m evals.routing [QUESTIONS.jsonl] [--home KB] [--json OUT]`.

QUESTIONS.jsonl (default `evals/data/routing.jsonl`, questions we wrote ourselves) holds
`{"question": "…", "playbook": "housing_lease"}` per line, with `"playbook": null` where no playbook fits: a
wrong playbook gives confident advice for another situation, which is worse than the search's provisions
alone. Prints accuracy on both kinds and every miss, and writes a JSON report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.common import print_table, write_report
from kb.answer import Answerer
from kb.store import KnowledgeBase, default_home

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "data" / "routing.jsonl"


def load_questions(path: Path) -> list[tuple[str, str | None]]:
    """(question, expected playbook id or None); a malformed line raises ValueError naming the file and line."""
    rows: list[tuple[str, str | None]] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((str(row["question"]), row["playbook"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: expected {{question, playbook}} ({type(exc).__name__})") from exc
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.routing")
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--home", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    rows = load_questions(args.questions)
    answerer = Answerer(KnowledgeBase(args.home or default_home()))
    results = []
    for question, expected in rows:
        got = answerer.ask(question, persona="parent").playbook_id
        results.append({"question": question, "expected": expected, "got": got, "ok": got == expected})

    def accuracy(subset: list[dict[str, object]]) -> float:
        return sum(bool(r["ok"]) for r in subset) / len(subset) if subset else 0.0

    fits = [r for r in results if r["expected"] is not None]
    none = [r for r in results if r["expected"] is None]
    table = [
        {"questions": "all", "n": len(results), "accuracy": accuracy(results)},
        {"questions": "a playbook fits", "n": len(fits), "accuracy": accuracy(fits)},
        {"questions": "no playbook fits", "n": len(none), "accuracy": accuracy(none)},
    ]
    print(f"{args.questions.name}  KB={answerer.kb.home}")
    print_table(table, ["questions", "n", "accuracy"])
    for r in results:
        if not r["ok"]:
            print(f"  miss: {r['question']}  expected {r['expected']}, got {r['got']}")
    path = write_report({"summary": table, "questions": results}, args.json, "routing.json")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
