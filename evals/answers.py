"""Answer quality: `python -m evals.answers DATASET [--json OUT] [--home KB] [--persona P] [--llm]`.

DATASET is in the scenario schema (`../shared/evals/scenarios.jsonl`: question, persona, gold items of
kind statute / interpretation / case, key_points). For every question the answerer is asked as the
question's persona, and we measure:

- **must-cite recall** — share of the gold items among the answer's citations and sources (same
  matching as the retrieval evals: law by short title + article, or case id / case title), averaged
  over questions; also over the gold items the knowledge base actually holds ("reachable"), since
  interpretations and cases are there only when ingested;
- **citation precision** — share of the answer's citations that verify when checked again,
  independently of the composer: every item of `Answer.citations` is re-parsed from its display form
  and verified against the store (cases by id or title), and every citation written in the Markdown
  is extracted line by line and verified (a bare 第N条 naming no law is no citation and not counted);
  must be 1.00;
- **key-point coverage** — share of the key points the answer states. Method (deliberately simple and
  strict about wording, not meaning): a key point and the answer are reduced to Chinese characters,
  letters and digits; a key point counts as stated when at least `--threshold` (default 0.5) of its
  character bigrams occur in one answer sentence or in two adjacent sentences (sentences end at
  。！？； or a line break; Markdown markup and [n] markers removed). The report also gives the
  coverage at 0.4 and 0.6 so the threshold's effect is visible;
- **latency** — wall time of `Answerer.ask`, p50 / p95, after one warm-up question that is not in
  the dataset.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from evals.common import Question, Retrieved, load_dataset, percentile, print_table, write_report
from kb.answer import Answerer, audit_markdown
from kb.citations import parse_citations, verify_citation
from kb.models import Answer, VerifiedCitation
from kb.store import KnowledgeBase, default_home

THRESHOLD = 0.5
SENSITIVITY = (0.4, 0.5, 0.6)
WARM_UP = "朋友借钱不还，我该怎么办？"

_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_SENT_END = re.compile(r"[。！？；!?;\n]")
_MARKUP = re.compile(r"\[\d+\]|[*#>`_|\\]|^\s*[-\d.]+\s", re.MULTILINE)


# --------------------------------------------------------------------------------------------------
# key points
# --------------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return "".join(ch for ch in text if _KEEP.match(ch)).lower()


def bigrams(text: str) -> set[str]:
    s = normalize(text)
    return {s[i : i + 2] for i in range(len(s) - 1)}


def answer_units(markdown: str) -> list[set[str]]:
    """Bigram sets of every sentence and of every two adjacent sentences of the answer."""
    plain = _MARKUP.sub(" ", markdown)
    sentences = [s for s in (x.strip() for x in _SENT_END.split(plain)) if normalize(s)]
    units = [bigrams(s) for s in sentences]
    units += [bigrams(a + b) for a, b in pairwise(sentences)]
    return units


def key_point_score(point: str, units: list[set[str]]) -> float:
    """The best share of the key point's bigrams found in one answer unit."""
    want = bigrams(point)
    if not want:
        return 1.0
    return max((len(want & u) / len(want) for u in units), default=0.0)


# --------------------------------------------------------------------------------------------------
# citations
# --------------------------------------------------------------------------------------------------


def answer_items(answer: Answer) -> list[Retrieved]:
    """What the answer cites, reduced to what gold matching needs."""
    items = [
        Retrieved(
            v.title or (v.citation.law or ""), v.citation.article_no, v.citation.article_suffix, v.citation.case_id
        )
        for v in answer.citations
    ]
    items += [
        Retrieved(s.chunk.title, s.chunk.article_no, s.chunk.article_suffix, s.chunk.case_id) for s in answer.sources
    ]
    return items


def reverify(v: VerifiedCitation, kb: KnowledgeBase) -> bool:
    """Check a listed citation again from its display form, independently of the composer."""
    if v.citation.case_id and not v.citation.article_no:
        return bool(kb.case_chunks(v.citation.case_id))
    names = kb.law_names()
    parsed = parse_citations(v.display, names)
    if len(parsed) != 1:
        return False
    return verify_citation(parsed[0], kb, names).verified


def gold_reachable(gold: Any, kb: KnowledgeBase) -> bool:
    """Whether the knowledge base holds the gold item at all."""
    if gold.kind == "case":
        cid = gold.case_id or ""
        if kb.case_chunks(cid):
            return True
        row = (
            kb._conn()
            .execute("SELECT 1 FROM chunks WHERE source_type = 'case' AND title LIKE ? LIMIT 1", (f"%{cid}%",))
            .fetchone()
        )
        return row is not None
    names = kb.law_names()
    titles = names.resolve(gold.law or "")
    return any(kb.article_chunks(t, gold.article_no or 0, gold.article_suffix) for t in titles)


# --------------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------------


def evaluate(
    answerer: Answerer,
    questions: list[Question],
    persona: str | None = None,
    threshold: float = THRESHOLD,
    use_llm: bool = False,
) -> dict[str, Any]:
    kb = answerer.kb
    answerer.ask(WARM_UP, persona="parent", use_llm=use_llm)
    rows: list[dict[str, Any]] = []
    for q in questions:
        who = persona or q.meta.get("persona") or "parent"
        t0 = time.perf_counter()
        answer = answerer.ask(q.question, persona=who, use_llm=use_llm)
        ms = (time.perf_counter() - t0) * 1000
        items = answer_items(answer)
        found = [g for g in q.golds if any(r.matches(g) for r in items)]
        reachable = [g for g in q.golds if gold_reachable(g, kb)]
        found_reachable = [g for g in reachable if g in found]
        listed_ok = [reverify(v, kb) for v in answer.citations]
        _, in_text_ok, in_text_bad = audit_markdown(answer.markdown, kb, remove=False)
        checked = len(listed_ok) + len(in_text_ok) + len(in_text_bad)
        good = sum(listed_ok) + len(in_text_ok)
        units = answer_units(answer.markdown)
        kp_scores = [key_point_score(p, units) for p in q.meta.get("key_points", [])]
        rows.append(
            {
                "id": q.qid,
                "persona": who,
                "playbook": answer.playbook_id,
                "engine": answer.engine,
                "recall": len(found) / len(q.golds) if q.golds else 1.0,
                "recall_reachable": len(found_reachable) / len(reachable) if reachable else None,
                "precision": good / checked if checked else 1.0,
                "citations": len(answer.citations),
                "checked": checked,
                "unverified": checked - good,
                "key_points": (sum(s >= threshold for s in kp_scores) / len(kp_scores)) if kp_scores else None,
                "kp_scores": [round(s, 3) for s in kp_scores],
                "missed_gold": [g.case_id or f"{g.law}第{g.article_no}条" for g in q.golds if g not in found],
                "ms": ms,
                "notice": answer.notice,
            }
        )
    return summarize(rows, threshold)


def _mean(values: list[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else 0.0


def summarize(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    def group(rs: list[dict[str, Any]], name: str) -> dict[str, Any]:
        kp = [s for r in rs for s in r["kp_scores"]]
        out = {
            "group": name,
            "n": len(rs),
            "must_cite_recall": _mean([r["recall"] for r in rs]),
            "recall_reachable": _mean([r["recall_reachable"] for r in rs]),
            "citation_precision": 1.0 - sum(r["unverified"] for r in rs) / max(1, sum(r["checked"] for r in rs)),
            "precision_mean": _mean([r["precision"] for r in rs]),
            "key_point_coverage": _mean([r["key_points"] for r in rs]),
            "p50_ms": percentile([r["ms"] for r in rs], 50),
            "p95_ms": percentile([r["ms"] for r in rs], 95),
        }
        for t in SENSITIVITY:
            out[f"kp@{t}"] = sum(s >= t for s in kp) / len(kp) if kp else 0.0
        return out

    groups = [group(rows, "all")]
    for persona in sorted({r["persona"] for r in rows}):
        groups.append(group([r for r in rows if r["persona"] == persona], persona))
    return {"threshold": threshold, "summary": groups, "questions": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.answers", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--json", type=Path, help="report path (default evals/reports/answers.json)")
    parser.add_argument("--home", help="knowledge base (default $KB_HOME or .kb)")
    parser.add_argument("--persona", help="ask every question as this persona instead of its own")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help="key-point bigram share")
    parser.add_argument("--llm", action="store_true", help="use the chat model configured by KB_LLM_*")
    args = parser.parse_args(argv)

    kb = KnowledgeBase(Path(args.home) if args.home else default_home())
    llm = None
    if args.llm:
        from kb.llm import LLMConfig

        llm = LLMConfig.from_env()
    answerer = Answerer(kb, llm=llm, use_llm=llm is not None)
    questions = load_dataset(args.dataset)
    report = evaluate(answerer, questions, args.persona, args.threshold, use_llm=llm is not None)
    report["knowledge_base"] = {"home": str(kb.home), "documents": kb.document_counts()}
    print_table(
        report["questions"],
        ["id", "persona", "playbook", "recall", "precision", "key_points", "citations", "ms", "missed_gold"],
    )
    print()
    print_table(
        report["summary"],
        [
            "group",
            "n",
            "must_cite_recall",
            "recall_reachable",
            "citation_precision",
            "key_point_coverage",
            "kp@0.4",
            "kp@0.6",
            "p50_ms",
            "p95_ms",
        ],
    )
    path = write_report(report, args.json, "answers.json")
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
