"""Ingest timings on a fresh knowledge base: `python -m evals.ingest_bench [SOURCE ...] [--dense-sample N]`.

Builds a new KB_HOME (and a fresh vector cache: nothing reused) from the sources (default: statutes,
LawRefBook interpretations and regulations, all cases and the news report from ../shared) and reports:
- wall time of parsing, of the lexical index, of the static embedder (distillation + index), i.e. the time
  until every document is searchable by hybrid search (BM25 + static + citation lookup);
- documents and chunks by source type, chunks per case;
- the dense (transformer) rate measured on a sample of N chunks and the time a full dense index would take
  at that rate (the sample is measured, the total is an extrapolation, and says so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from evals.common import SHARED, print_table, write_report

DEFAULT_SOURCES = [
    "statutes",
    str(SHARED / "corpus" / "lawrefbook" / "司法解释"),
    str(SHARED / "corpus" / "lawrefbook" / "行政法规"),
    str(SHARED / "corpus" / "lawrefbook" / "部门规章"),
    str(SHARED / "corpus" / "cases"),
    str(SHARED / "corpus" / "news"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.ingest_bench")
    parser.add_argument("sources", nargs="*", default=DEFAULT_SOURCES)
    parser.add_argument("--dense-sample", type=int, default=256)
    parser.add_argument("--keep", type=Path, default=None, help="build here instead of a temp dir")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    home = args.keep or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    os.environ.pop("KB_EMBED_CACHE", None)  # a fresh machine has no vector cache
    from ingest.pipeline import ingest
    from kb.retrieval import Retriever
    from kb.store import KnowledgeBase

    kb = KnowledgeBase(home)
    t0 = time.monotonic()
    os.environ["KB_STATIC"] = "0"  # time the lexical index alone first
    kb.static = False
    report = ingest(kb, args.sources, dense=False, progress=False)
    t_lexical_ready = time.monotonic() - t0
    kb.static = True
    kb._lexical = None  # force the static index to be built now, as the first search would
    t1 = time.monotonic()
    kb.static_index()
    t_static = time.monotonic() - t1
    t_hybrid_ready = time.monotonic() - t0
    hits = Retriever(kb, use_dense=False).search("宝宝刚出生就有摄影公司打电话推销，能告他们吗？", k=5)

    per_case: dict[str, int] = {}
    for doc in kb.documents():
        if doc.source_type == "case":
            per_case[doc.doc_id] = 0
    for chunk in kb.iter_chunks("WHERE source_type = 'case'"):
        per_case[chunk.doc_id] = per_case.get(chunk.doc_id, 0) + 1

    sample = [c.index_text for c in kb.iter_chunks()][: args.dense_sample]
    t2 = time.monotonic()
    kb.embedder.embed_documents(sample)
    dense_rate = len(sample) / (time.monotonic() - t2) if sample else 0.0
    total = kb.chunk_count()

    result = {
        "kb": str(home),
        "sources": args.sources,
        "documents": kb.document_counts(),
        "chunks": kb.counts(),
        "errors": [str(e) for e in report.errors],
        "seconds": {
            "parse": round(report.seconds.get("parse", 0.0), 1),
            "lexical_index": round(report.seconds.get("lexical", 0.0), 1),
            "lexical_ready_total": round(t_lexical_ready, 1),
            "static_embedder_and_index": round(t_static, 1),
            "hybrid_ready_total": round(t_hybrid_ready, 1),
        },
        "cases": len(per_case),
        "chunks_per_case": round(statistics.fmean(per_case.values()), 2) if per_case else 0.0,
        "dense": {"sample_chunks": len(sample), "passages_per_s": round(dense_rate, 2),
                  "extrapolated_full_minutes": round(total / dense_rate / 60, 1) if dense_rate else None},
        "first_hits": [h.chunk.citation for h in hits],
    }
    rows = [{"step": k, "seconds": v} for k, v in result["seconds"].items()]
    print_table(rows, ["step", "seconds"])
    print(f"documents {result['documents']}\nchunks {result['chunks']} (total {total}), errors {len(report.errors)}")
    print(f"cases {result['cases']}, chunks per case {result['chunks_per_case']}")
    print(f"dense: {dense_rate:.1f} passages/s on {len(sample)} chunks → a full dense index of {total} chunks "
          f"≈ {result['dense']['extrapolated_full_minutes']} min (extrapolated)")
    path = write_report(result, args.json, "ingest-bench.json")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
