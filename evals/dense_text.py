"""Which text of an article the transformer should embed: `python -m evals.dense_text [--home KB] [--laws N]`.

For each of the N laws with the most STARD *train* questions whose golds all lie in it, every article of the
law is embedded in each way below and the questions are searched among that law's articles only (dense,
no fusion), so the comparison costs minutes instead of a rebuild of the whole index. Prints R@5, R@10 and
MRR@10 per law and text, and writes a JSON report. Dev is not used.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from evals.common import STARD, Question, Retrieved, law_match_key, load_dataset, metrics, print_table, write_report
from kb.models import Chunk
from kb.store import KnowledgeBase, default_home

TEXTS: dict[str, Callable[[Chunk], str]] = {
    "title, 编/章/节, label, body (index_text)": lambda c: c.index_text,
    "title, label, body": lambda c: f"{c.title} {c.article or ''}\n{c.text}",
    "title, body (dense_text)": lambda c: c.dense_text,
    "body": lambda c: c.text,
}


def ranked_articles(scores: np.ndarray, chunks: list[Chunk], depth: int = 10) -> list[Retrieved]:
    """The first `depth` distinct articles by score (parts of one article count once)."""
    out: list[Retrieved] = []
    seen: set[tuple[int | None, int]] = set()
    for j in np.argsort(-scores):
        key = (chunks[j].article_no, chunks[j].article_suffix)
        if key not in seen:
            seen.add(key)
            out.append(Retrieved(chunks[j].title, *key))
            if len(out) == depth:
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.dense_text", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=STARD, help="STARD-format questions (default: STARD)")
    parser.add_argument("--home", default=None, help="knowledge base holding the statutes (default $KB_HOME)")
    parser.add_argument("--laws", type=int, default=2, help="how many laws (most train questions first)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    kb = KnowledgeBase(args.home or default_home())
    questions = load_dataset(args.dataset, "train", "national")
    by_law: dict[str, list[Question]] = {}
    for q in questions:
        laws = {law_match_key(g.law or "") for g in q.golds}
        if len(laws) == 1:
            by_law.setdefault(laws.pop(), []).append(q)
    counts = Counter({law: len(qs) for law, qs in by_law.items()})
    statutes = list(kb.iter_chunks("WHERE source_type = 'statute'"))
    rows = []
    for law, _ in counts.most_common(args.laws):
        chunks = [c for c in statutes if law_match_key(c.title) == law and c.article_no is not None]
        # several versions of one law: keep the one most chunks belong to (the current text in a statutes KB)
        main_doc = Counter(c.doc_id for c in chunks).most_common(1)[0][0]
        chunks = [c for c in chunks if c.doc_id == main_doc]
        qs = by_law[law]
        query_vectors = np.asarray(kb.embedder.embed_queries([q.question for q in qs]), dtype=np.float32)
        for name, text in TEXTS.items():
            started = time.perf_counter()
            vectors = np.asarray(kb.embedder.embed_documents([text(c) for c in chunks]), dtype=np.float32)
            scores = query_vectors @ vectors.T
            runs = [(q, ranked_articles(scores[i], chunks)) for i, q in enumerate(qs)]
            row = {"law": chunks[0].title, "articles": len(chunks), "questions": len(qs), "text": name}
            row |= metrics(runs, ks=(5, 10)) | {"seconds": round(time.perf_counter() - started, 1)}
            rows.append(row)
            print_table([row], list(row))
    print()
    print_table(rows, ["law", "questions", "text", "R@5", "R@10", "MRR@10"])
    path = write_report({"kb": str(kb.home), "rows": rows}, args.json, "dense-text.json")
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
