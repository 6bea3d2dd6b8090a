"""Search latency on a knowledge base, warm process: `python -m evals.latency [--home KB] [--n 200] [--json OUT]`.

Questions come from STARD dev (or --questions FILE, one per line). Reports p50/p95 per configuration,
measured side by side in one run: lexical only, + static (what search uses before the transformer index is
complete: lay words embedded on first sight, then again once they are remembered), + dense (full default
path), and on a knowledge
base that `kb train` trained, + its question memory, + its query adapter (a second dense search).
`--types statute,…` adds the default path under that source-type filter twice: filtered by Chroma, and
picked out of a deeper unfiltered transformer search (what search does for common types).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from evals.common import STARD, load_dataset, percentile, print_table, write_report
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, default_home


def timed(retriever: Retriever, questions: list[str], k: int, filters: SearchFilters | None = None) -> list[float]:
    out = []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q, k=k, filters=filters)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.latency")
    parser.add_argument("--home", default=None)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--questions", type=Path, default=None)
    parser.add_argument("--types", default="", help="also time a source-type filter, e.g. statute,interpretation")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    types = tuple(t for t in args.types.split(",") if t)

    if args.questions:
        questions = [q.strip() for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
    else:
        questions = [q.question for q in load_dataset(STARD, "dev", "all")]
    questions = questions[: args.n]
    kb = KnowledgeBase(args.home or default_home())
    configs = {
        "bm25 + expansion + citations": dict(dense=False, static=False),
        # Before the transformer index is complete, the static signal embeds a question's words that the
        # corpus never uses (`kb.static.UnseenWords`): first with none embedded yet, then asked again.
        "+ static": dict(dense=False, static=True),
        "+ static, its lay words asked before": dict(dense=False, static=True, words_known=True),
        "+ dense (default)": dict(dense=True, static=True),
    }
    trained = Retriever(kb)
    if trained.memory is not None:
        configs["+ question memory (kb train)"] = dict(dense=True, static=True, memory=True)
    if trained.adapter is not None:
        configs["+ query adapter (kb train)"] = dict(dense=True, static=True, memory=True, adapted=True)
    if types:
        configs[f"default, types {args.types}: Chroma filters"] = dict(dense=True, static=True, chroma_filter=True)
        configs[f"default, types {args.types}: deeper unfiltered search"] = dict(dense=True, static=True, typed=True)
    rows, report = [], {}
    for name, cfg in configs.items():
        retriever = Retriever(kb, use_dense=cfg["dense"])
        if not cfg.get("words_known"):
            kb._unseen_words = None  # each row pays for the words it embeds
        if not cfg["static"]:
            retriever.weights["static"] = 0.0
        for signal in ("memory", "adapted"):  # trained signals: only in the rows that name them
            if not cfg.get(signal):
                retriever.weights[signal] = 0.0
        filters = SearchFilters(source_types=types) if cfg.get("typed") or cfg.get("chroma_filter") else None
        if cfg.get("chroma_filter"):
            retriever.unfiltered_min_share = 2.0
        retriever.search("预热 warm-up", filters=filters)
        timed(retriever, questions[:10], args.k, filters)  # warm caches
        ms = timed(retriever, questions, args.k, filters)
        row = {
            "config": name,
            "queries": len(ms),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "max_ms": max(ms),
        }
        rows.append(row)
        report[name] = row
    done, total = kb.dense_status()
    print(f"KB {kb.home}: {total} chunks, {done} with vectors; k={args.k}")
    print_table(rows, ["config", "queries", "p50_ms", "p95_ms", "max_ms"])
    path = write_report(
        {"kb": str(kb.home), "chunks": total, "dense": done, "configs": report}, args.json, "latency.json"
    )
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
