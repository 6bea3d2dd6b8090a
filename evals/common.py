"""Shared pieces of the eval scripts: datasets, gold matching, metrics, report writing."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.lawnames import clean_title, short_title
from kb.numerals import find_article_ref

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
STARD = SHARED / "evals" / "stard" / "stard_lecoqa_queries.jsonl"
SCENARIOS = SHARED / "evals" / "scenarios.jsonl"
REPORTS = Path(__file__).resolve().parent / "reports"


@dataclass(frozen=True)
class Gold:
    kind: str  # statute / interpretation / case
    law: str | None = None
    article_no: int | None = None
    article_suffix: int = 0
    case_id: str | None = None
    in_national: bool = True  # the article is in the national-law corpus (laws.db)

    def key(self) -> tuple[Any, ...]:
        if self.kind == "case":
            return ("case", self.case_id)
        return ("article", law_match_key(self.law or ""), self.article_no, self.article_suffix)


@dataclass
class Question:
    qid: str
    question: str
    golds: list[Gold]
    meta: dict[str, Any] = field(default_factory=dict)


def law_match_key(title: str) -> str:
    """Titles compare by short title without punctuation: 《中华人民共和国民法典》 == 民法典."""
    t = short_title(clean_title(title))
    # 关于适用《民法典》… and 关于适用《中华人民共和国民法典》… are one interpretation
    return re.sub(r"[\s《》〈〉（）()、，,]", "", t).replace("中华人民共和国", "")


def parse_article(label: str | int | None) -> tuple[int | None, int]:
    found = find_article_ref(label)
    return found if found else (None, 0)


def load_dataset(path: Path, split: str | None = None, scope: str = "national") -> list[Question]:
    """Read STARD (`stard_split`) or the scenario schema (`gold` items with `kind`) into `Question`s.

    scope 'national': STARD golds restricted to articles found in laws.db, questions without any
    dropped (the 261 of dev); 'all': every gold and question.
    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions: list[Question] = []
    for row in rows:
        if "stard_split" in row:
            if split and row["stard_split"] != split:
                continue
            golds = []
            for g in row["gold"]:
                number, suffix = parse_article(g["article_no"])
                national = str(g.get("lawsdb_result", "")).startswith("match")
                golds.append(Gold("statute", g["law"], number, suffix, None, national))
            if scope == "national":
                golds = [g for g in golds if g.in_national]
            if golds:
                questions.append(Question(str(row["query_id"]), row["question"], golds, {"split": row["stard_split"]}))
        else:
            if split and row.get("split") not in (split, None) and split != "all":
                continue
            golds = []
            for g in row["gold"]:
                if g["kind"] == "case":
                    golds.append(Gold("case", case_id=g["case_id"]))
                else:
                    number, suffix = parse_article(g.get("article") or g.get("article_no"))
                    golds.append(Gold(g["kind"], g["law"], number, suffix, None, g.get("source") == "laws.db"))
            questions.append(
                Question(
                    row["id"],
                    row["question"],
                    golds,
                    {"persona": row.get("persona"), "key_points": row.get("key_points", []), "row": row},
                )
            )
    return questions


@dataclass(frozen=True)
class Retrieved:
    """A system's answer at one rank, reduced to what gold matching needs."""

    title: str
    article_no: int | None
    article_suffix: int = 0
    case_id: str | None = None

    def matches(self, gold: Gold) -> bool:
        if gold.kind == "case":
            cid = gold.case_id or ""
            return bool(
                self.case_id
                and (self.case_id == cid or cid in self.title or (len(self.title) > 8 and self.title in cid))
            )
        return (
            self.article_no == gold.article_no
            and self.article_suffix == gold.article_suffix
            and law_match_key(self.title) == law_match_key(gold.law or "")
        )


def per_question(
    runs: list[tuple[Question, list[Retrieved]]], ks: tuple[int, ...] = (1, 5, 10, 100)
) -> dict[str, list[float]]:
    """Each question's recall@k (share of its golds in the top k) and reciprocal rank within the top 10, in the
    order of `runs`: what `metrics` averages, and what a paired comparison resamples."""
    out: dict[str, list[float]] = {}
    for k in ks:
        out[f"R@{k}"] = [
            sum(1 for g in q.golds if any(r.matches(g) for r in ranked[:k])) / len(q.golds) for q, ranked in runs
        ]
    rr = []
    for q, ranked in runs:
        first = next((i for i, r in enumerate(ranked[:10], start=1) if any(r.matches(g) for g in q.golds)), None)
        rr.append(1.0 / first if first else 0.0)
    out["MRR@10"] = rr
    return out


def metrics(runs: list[tuple[Question, list[Retrieved]]], ks: tuple[int, ...] = (1, 5, 10, 100)) -> dict[str, float]:
    """Recall@k (share of golds in the top k, averaged over questions) and MRR@10."""
    return {name: statistics.fmean(values) if values else 0.0 for name, values in per_question(runs, ks).items()}


def recall_curve(runs: list[tuple[Question, list[Retrieved]]], max_k: int = 100) -> list[float]:
    curve = []
    for k in range(1, max_k + 1):
        values = [sum(1 for g in q.golds if any(r.matches(g) for r in ranked[:k])) / len(q.golds) for q, ranked in runs]
        curve.append(statistics.fmean(values) if values else 0.0)
    return curve


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_report(report: dict[str, Any], path: Path | None, default_name: str) -> Path:
    target = path or REPORTS / default_name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)
