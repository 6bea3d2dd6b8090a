"""Choose the fusion weights on STARD *train*: `python -m evals.tune_fusion [--home KB] [--limit N]
[--before-transformer]`.

Each signal's ranked list is computed once per question; every weight combination of the grid is then
fused offline and scored by R@5 + R@10 + MRR@10. Prints the best combinations; the chosen
weights go into kb/retrieval.py's WEIGHTS by hand (dev is never looked at here). `--before-transformer`
tunes the search used until the transformer index is complete (no transformer list; the static list reads
lay words): its choices go into WEIGHTS_BEFORE_TRANSFORMER and RRF_K_BEFORE_TRANSFORMER.
"""

from __future__ import annotations

import argparse
import itertools

from evals.common import STARD, Retrieved, load_dataset, metrics, print_table
from kb.models import Chunk
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, default_home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.tune_fusion")
    parser.add_argument("--home", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--before-transformer", action="store_true", help="the search without the transformer")
    args = parser.parse_args(argv)

    kb = KnowledgeBase(args.home or default_home())
    retriever = Retriever(kb, use_dense=not args.before_transformer)
    questions = load_dataset(STARD, "train", "national")[: args.limit]
    lists = [retriever.ranked_lists(q.question, SearchFilters()) for q in questions]
    chunk_map: dict[str, Chunk] = {}
    for ranked in lists:
        ids = list({cid for ids in ranked.values() for cid in ids} - chunk_map.keys())
        chunk_map.update({c.chunk_id: c for c in kb.get_chunks(ids)})
    grid: dict[str, tuple[float, ...]] = {
        "rrf_k": (5, 10, 20, 60),
        "dense": (1.0, 1.5, 2.0, 3.0),
        "static": (0.0, 0.3, 0.6, 1.0),
        "bm25": (1.0,),
        "bm25x": (0.0, 0.5),
        "playbook": (0.0, 0.5, 1.0),
    }
    if args.before_transformer:
        grid = {
            "rrf_k": (5, 10, 20, 60),
            "static": (0.6, 1.0, 1.5, 2.0, 3.0),
            "bm25": (1.0,),
            "bm25x": (0.25, 0.5, 1.0),
            "playbook": (0.5, 1.0),
        }
    rows = []
    for combo in itertools.product(*grid.values()):
        chosen = dict(zip(grid, combo, strict=True))
        retriever.rrf_k = int(chosen.pop("rrf_k"))
        retriever.weights.update(chosen)
        runs = []
        for q, ranked in zip(questions, lists, strict=True):
            fused = retriever.fuse(retriever.weighted(ranked))
            units = retriever.top_units(fused[:60], chunk_map, 60)
            runs.append((q, [Retrieved(c.title, c.article_no, c.article_suffix, c.case_id) for c in units]))
        m = metrics(runs, ks=(5, 10))
        rows.append({**dict(zip(grid, combo, strict=True)), **m})
    # R@5, R@10 and MRR@10 together: a combination that buys R@10 with a worse top rank is no better
    rows.sort(key=lambda r: -(r["R@5"] + r["R@10"] + r["MRR@10"]))
    phase = " (before the transformer index)" if args.before_transformer else ""
    print(f"STARD train{phase}, {len(questions)} questions, KB {kb.home}")
    print_table(rows[:12], [*grid, "R@5", "R@10", "MRR@10"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
