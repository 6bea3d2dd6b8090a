"""Command-line interface of the knowledge base (`python -m kb …`). Output contract: see README."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, default_home


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _filters(args: argparse.Namespace) -> SearchFilters:
    return SearchFilters(
        source_types=tuple(args.type or ()),
        laws=tuple(args.law or ()),
        validity=("现行有效",) if args.valid else (),
        date_from=args.date_from,
        date_to=args.date_to,
        court_level=args.court_level,
        cause=args.cause,
    )


def cmd_search(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    retriever = Retriever(kb, use_dense=not args.no_dense)
    filters = _filters(args)
    if args.stdin:
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            hits = retriever.search(question, k=args.k, filters=filters)
            _print_json({"question": question, "hits": [h.to_json() for h in hits]})
        return 0
    if not args.question:
        print("search: give a QUESTION or --stdin", file=sys.stderr)
        return 2
    hits = retriever.search(args.question, k=args.k, filters=filters)
    if args.json:
        _print_json({"question": args.question, "hits": [h.to_json() for h in hits]})
        return 0
    for h in hits:
        c = h.chunk
        meta = " · ".join(x for x in (c.source_type, c.validity, " / ".join(c.path), c.court, c.date) if x)
        print(f"{h.rank:>2}. {c.citation}  [{meta}]  score {h.score:.4f}")
        text = c.text.replace("\n", " ")
        print(f"    {text[:160]}{'…' if len(text) > 160 else ''}")
    if not hits:
        print("no results")
    return 0


def cmd_cite(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from kb.citations import verify_text

    results = verify_text(args.text, kb, kb.law_names())
    if args.json:
        _print_json({"text": args.text, "citations": [r.to_json() for r in results]})
    else:
        labels = {
            "exists": "exists",
            "other_version": "exists in another version",
            "not_found": "NOT FOUND",
            "ambiguous": "ambiguous",
        }
        for r in results:
            note = f" — {r.note}" if r.note else ""
            print(f"{r.citation.raw} → {r.display}: {labels[r.status]}{note}")
        if not results:
            print("no citation found")
    return 0 if all(r.status != "not_found" for r in results) else 1


def cmd_article(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from kb.citations import parse_citation, verify_citation

    names = kb.law_names()
    citation = parse_citation(args.citation, names)
    if citation is None:
        print(f"not a citation: {args.citation}", file=sys.stderr)
        return 2
    verified = verify_citation(citation, kb, names)
    chunks = kb.get_chunks(list(verified.chunk_ids))
    if args.json:
        _print_json({"citation": verified.to_json(), "chunks": [c.to_row() for c in chunks]})
        return 0 if chunks else 1
    print(f"{verified.display} — {verified.status}{' — ' + verified.note if verified.note else ''}")
    for c in chunks:
        print(f"[{c.validity}] {' / '.join(c.path)}\n{c.text}\n")
    return 0 if chunks else 1


def cmd_citing(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from kb.citations import article_key, parse_citation, verify_citation

    names = kb.law_names()
    citation = parse_citation(args.citation, names)
    if citation is None or citation.article_no is None:
        print(f"not an article citation: {args.citation}", file=sys.stderr)
        return 2
    verified = verify_citation(citation, kb, names)
    key = article_key(verified)
    chunks = kb.chunks_citing(key)
    cases: dict[str, Any] = {}
    for c in chunks:
        cases.setdefault(
            c.doc_id,
            {"case_id": c.case_id, "title": c.title, "source_type": c.source_type, "court": c.court, "date": c.date},
        )
    if args.json:
        _print_json({"citation": key, "cases": list(cases.values())})
    else:
        print(f"{key}: cited by {len(cases)} case(s) / report(s)")
        for case in cases.values():
            print(f"  {case['case_id'] or ''} {case['title']} {case['court'] or ''} {case['date'] or ''}")
    return 0


def trained_status(home: Path) -> dict[str, Any] | None:
    """What `kb train` left under KB_HOME: the fusion weights it chose and which trained artifacts exist."""
    from kb.adapter import ADAPTER_DIR
    from kb.memory import MEMORY_DIR

    fusion = home / "fusion.json"
    if not fusion.exists():
        return None
    try:
        weights = json.loads(fusion.read_text(encoding="utf-8"))
    except ValueError:
        weights = {"error": f"{fusion}: not JSON"}
    return {
        "weights": weights,
        "static_table": (home / "static-trained").exists(),
        "memory": (home / MEMORY_DIR).exists(),
        "adapter": (home / ADAPTER_DIR).exists(),
    }


def cmd_status(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    done, total = kb.dense_status()
    status = {
        "home": str(kb.home),
        "documents": kb.document_counts(),
        "chunks": kb.counts(),
        "dense": {"done": done, "total": total, "outdated": kb.dense_outdated()},
        "lexical_ready": kb.lexical_ready(),
        "last_ingest": kb.get_meta("last_ingest"),
        "trained": trained_status(kb.home),
    }
    if args.json:
        _print_json(status)
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def cmd_train(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    from kb.training import load_pairs, train

    try:
        pairs = load_pairs(Path(args.pairs), split=args.split)
    except (OSError, ValueError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    report = train(kb, pairs, epochs=args.epochs, lam=args.lam)
    if report.adapter_history:
        adapter = f"query adapter held-out score {report.adapter_history[0]:.1f} → {max(report.adapter_history):.1f}"
    else:
        adapter = f"no query adapter ({report.adapter_skipped})"
    chosen = report.weights
    print(
        f"pairs {report.pairs}, usable {report.usable}, epochs {report.epochs}; held-out R@10 (static alone) "
        f"{report.holdout_r10_before:.3f} → {report.holdout_r10_after:.3f}; question memory of "
        f"{report.memory_questions} questions; {adapter}; fusion weights static {report.static_weight}, memory "
        f"{report.memory_weight}, adapted {chosen.adapted if chosen else 0}, transformer slots "
        f"{chosen.dense_slots if chosen else 0}, the transformer's confident first kept first: "
        f"{'yes' if chosen and chosen.dense_first else 'no'}; saved under {kb.home}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kb", description="Chinese legal knowledge base")
    parser.add_argument("--home", help="knowledge-base directory (default: $KB_HOME or .kb)")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="hybrid search in everyday words")
    s.add_argument("question", nargs="?")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.add_argument("--stdin", action="store_true", help="one question per line → one JSON object per line")
    s.add_argument("--type", action="append", help="source type filter (repeatable)")
    s.add_argument("--law", action="append", help="law filter, any name (repeatable)")
    s.add_argument("--valid", action="store_true", help="only documents in force today")
    s.add_argument("--date-from", dest="date_from")
    s.add_argument("--date-to", dest="date_to")
    s.add_argument("--court-level", dest="court_level", choices=["最高", "高级", "中级", "基层"])
    s.add_argument("--cause", help="案由 contains")
    s.add_argument("--no-dense", action="store_true", help="lexical + citation lookup only")
    s.set_defaults(func=cmd_search)

    c = sub.add_parser("cite", help="find and verify every citation in a text")
    c.add_argument("text")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cite)

    a = sub.add_parser("article", help="show one article")
    a.add_argument("citation")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_article)

    ci = sub.add_parser("citing", help="cases and reports that cite an article")
    ci.add_argument("citation")
    ci.add_argument("--json", action="store_true")
    ci.set_defaults(func=cmd_citing)

    st = sub.add_parser("status", help="what the knowledge base holds")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    tr = sub.add_parser("train", help="fine-tune the static embedder on (question, article) pairs")
    tr.add_argument("pairs", help="JSONL: {question, law, article} or STARD-style {question, gold: [...]}")
    tr.add_argument("--split", help="keep rows of this split only (STARD: train)")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--lam", type=float, default=1.0, help="pull toward the untrained table")
    tr.set_defaults(func=cmd_train)

    _add_extra_commands(sub)
    return parser


def _add_extra_commands(sub: Any) -> None:
    """Commands that live in other modules (answering, training) register here when present."""
    try:
        from kb.answer_cli import register
    except ImportError:
        return
    register(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kb = KnowledgeBase(default_home() if not args.home else args.home)
    return int(args.func(kb, args) or 0)
