"""Mine candidate lay→legal expansions from STARD *train* failures (never dev): a review aid.

`python -m evals.mine_expansions [--home KB] [--min-count 3] [--top 300]`

For train questions whose gold article is not in our lexical top 10, count which question words
co-occur with which words of the gold article that the question lacks, and rank pairs by lift over
the article words' corpus frequency. A person reviews the list and copies the sound pairs into
kb/data/expansions.tsv; nothing is added automatically.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter

from evals.common import STARD, load_dataset
from kb.retrieval import Retriever
from kb.store import KnowledgeBase, default_home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.mine_expansions")
    parser.add_argument("--home", default=None)
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--top", type=int, default=300)
    args = parser.parse_args(argv)

    kb = KnowledgeBase(args.home or default_home())
    retriever = Retriever(kb, use_dense=False)
    tok = kb.tokenizer
    questions = load_dataset(STARD, "train", "national")
    doc_freq: Counter[str] = Counter()
    n_docs = 0
    for chunk in kb.iter_chunks("WHERE source_type = 'statute'"):
        doc_freq.update(set(tok.tokens(chunk.text)))
        n_docs += 1
    pairs: Counter[tuple[str, str]] = Counter()
    q_count: Counter[str] = Counter()
    for q in questions:
        hits = retriever.search(q.question, k=10)
        got = {(h.chunk.title, h.chunk.article_no, h.chunk.article_suffix) for h in hits}
        q_tokens = set(tok.tokens(q.question))
        for g in q.golds:
            titles = kb.law_names().resolve(g.law or "")
            if not titles:
                continue
            number, suffix = g.article_no, g.article_suffix
            if any((t, number, suffix) in got for t in titles):
                continue
            chunks = kb.article_chunks(titles[0], number or 0, suffix)
            if not chunks:
                continue
            a_tokens = set(tok.tokens("\n".join(c.text for c in chunks))) - q_tokens
            q_count.update(q_tokens)
            pairs.update((qt, at) for qt in q_tokens for at in a_tokens if len(at) >= 2)
    scored = []
    for (qt, at), n in pairs.items():
        if n < args.min_count:
            continue
        lift = (n / q_count[qt]) / ((doc_freq[at] + 1) / n_docs)
        scored.append((n * math.log(lift + 1), n, qt, at))
    scored.sort(reverse=True)
    for score, n, qt, at in scored[: args.top]:
        print(f"{qt}\t{at}\t{n}\t{score:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
