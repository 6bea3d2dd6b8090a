"""Concurrent chat sessions while an ingest adds documents:
`python -m evals.load [--home DIR] [--sessions 8] [--queries N] [--json OUT]`.

The app's shape: Streamlit runs every browser session's script in a thread of one process and shares one
`KnowledgeBase` and one answerer between them (`st.cache_resource`: `ui.state.get_kb`, `get_answerer`); each
session keeps its own `Conversation`. Here: `--sessions` threads, one shared knowledge base and answerer (the object
graph of `ui.state.answerer_for`: an `Answerer` over a `FilteredRetriever`, offline), each thread its own
conversation, asking the fixed QUESTIONS in turn (session s starts at question s), through `ui.state.stream_answer`
as the chat view does.

Phases, one after the other:
1. `before` — nothing else runs;
2. `during ingest` — a separate `python -m ingest --no-dense` process adds documents to the same KB_HOME (for the
   default KB two more laws and a directory of generated user documents; with `--home` only the generated
   documents, removed again at the end); the sessions keep asking until it exits, at least `--queries` each;
3. `after` — nothing else runs.

Checks (the script exits 1 if one fails):
- errors: an exception in any session;
- torn reads: every answer's citations verify and its Markdown passes the citation audit, every source's chunk is
  in the catalog, every marker [n] has its source; the chunk count and generation a session sees never go down;
- consistency: in a phase, the same question after the same previous question gets the same answer in every
  session; a question unrelated to the added documents (none of them among its sources after) gets the same
  guidance before and after — playbook, verdict, steps, rights and time limits, each with the same articles
  (`answer_core`; a quote retrieval adds at the margin may move, as any new document shifts BM25's statistics:
  reported as `margin changed`); the live knowledge base's answers after the ingest equal those of a freshly
  opened one (it noticed the new generation, and the new laws' names).

Loopback only: nothing here opens a socket. The default knowledge base (a temp KB_HOME with three laws, no dense,
no static index) builds in seconds; a whole run takes a minute or two, bounded by `--timeout`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evals.common import percentile, print_table, write_report
from kb.models import Answer
from kb.store import KnowledgeBase

DEFAULT_LAWS = "statutes:民法典,个人信息保护法,消费者权益保护法"
# 反食品浪费法's name is no word of the tokenizer's dictionary until the law is in the KB: a long-running process
# must learn it as a fresh one does.
ADDED_LAWS = "statutes:劳动合同法,反食品浪费法"
GENERATED_DOCS = 40
# (question, related to the added law): a related one changes after the ingest, the others keep their sources
# unless the added documents are among them after it.
QUESTIONS: tuple[tuple[str, bool], ...] = (
    ("宝宝刚出生就有摄影公司打电话推销，摄影公司怎么知道我家信息的？能告吗？", False),
    ("网购的衣服不合适，七天内可以无理由退货吗？", False),
    ("借给朋友五万块钱，朋友一直不还，我该怎么办？", False),
    ("房东要提前收回出租的房子，押金也不退，怎么办？", False),
    ("父亲去世时没有留遗嘱，家里的房子怎么继承？", False),
    ("在超市买到的食品已经过期了，商家要赔偿吗？", False),
    ("办了一张健身卡，健身房突然关门跑路了怎么办？", False),
    ("被公司辞退了，公司没有给任何补偿，合法吗？", True),  # 劳动合同法 is added
    ("劳动合同法规定的经济补偿怎么计算？", True),
    ("反食品浪费法对餐厅有什么要求？", True),  # names an added law: a fresh process and the live one must agree
)
PHASES = ("before", "during ingest", "after")
T0 = time.monotonic()


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass
class Turn:
    """One question asked by one session, what came back and what the checks found."""

    phase: str
    session: int
    position: int
    question: str
    previous: str | None
    started: float = 0.0  # seconds since the run began
    ms: float = 0.0
    error: str | None = None
    markdown: str = ""
    sources: tuple[str, ...] = ()  # chunk ids of the numbered sources, in order
    citations: tuple[str, ...] = ()
    core: str = ""  # `answer_core`: what the answer tells the user to do, and on which articles
    playbook: str | None = None
    chunks_seen: int = 0
    generation_seen: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class PhaseResult:
    phase: str
    turns: list[Turn]
    seconds: float

    def row(self, sessions: int) -> dict[str, Any]:
        ms = [t.ms for t in self.turns if t.error is None]
        seen = [t.chunks_seen for t in self.turns]
        return {
            "phase": self.phase,
            "sessions": sessions,
            "queries": len(self.turns),
            "errors": sum(1 for t in self.turns if t.error),
            "torn": sum(1 for t in self.turns if t.problems),
            "p50_ms": round(percentile(ms, 50)),
            "p95_ms": round(percentile(ms, 95)),
            "max_ms": round(max(ms, default=0.0)),
            "chunks": f"{min(seen, default=0)}→{max(seen, default=0)}",
            "seconds": round(self.seconds, 1),
        }


# --------------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------------


def make_answerer(kb: KnowledgeBase) -> Any:
    """What `ui.state.answerer_for` builds for the app, without an LLM."""
    from kb.answer import Answerer
    from kb.playbooks import load_playbooks
    from ui.state import FilteredRetriever

    return Answerer(kb, retriever=FilteredRetriever(kb), playbooks=load_playbooks())


def check_answer(kb: KnowledgeBase, answer: Answer) -> list[str]:
    """What a torn read would break: citations that do not verify, sources missing from the catalog, markers
    without a source."""
    from kb.answer import answer_markers, audit_markdown

    problems = [f"unverified citation {v.display}" for v in answer.citations if not v.verified]
    _, _, bad = audit_markdown(answer.markdown, kb, remove=False)
    problems += [f"audit: {b}" for b in bad]
    ids = [s.chunk.chunk_id for s in answer.sources]
    found = {c.chunk_id for c in kb.get_chunks(ids)}
    problems += [f"source chunk not in catalog: {c}" for c in ids if c not in found]
    numbers = {s.n for s in answer.sources}
    problems += [f"marker [{n}] without a source" for n in sorted(answer_markers(answer.markdown) - numbers)]
    return problems


CORE_SECTIONS = ("**简单说：**", "#### 你可以这样做", "#### 你有这些权利", "#### 注意时间")


def answer_core(answer: Answer) -> str:
    """The playbook and the sections that say what to do and why — each [n] replaced by the article it stands for
    (numbers shift with what came before) — or, with no playbook, every source. Quotes that retrieval adds at the
    margin are not part of it: any new document shifts BM25's statistics, and with them the last places."""
    by_n = {s.n: s.chunk.citation for s in answer.sources}
    if answer.playbook_id is None:
        return "\n".join(by_n.values())
    blocks = [b for b in answer.markdown.split("\n\n") if b.startswith(CORE_SECTIONS)]
    resolved = re.sub(r"\[(\d+)\]", lambda m: f"[{by_n.get(int(m.group(1)), '?')}]", "\n\n".join(blocks))
    return f"{answer.playbook_id}\n{resolved}"


def run_session(
    kb: KnowledgeBase,
    answerer: Any,
    session: int,
    phase: str,
    minimum: int,
    keep_going: Callable[[], bool],
    out: list[Turn],
    deadline: float,
) -> None:
    """One chat session: its own conversation, the questions in turn from question `session`, at least `minimum`
    of them and more while `keep_going()`; a fresh conversation after each round of the list."""
    from ui.state import new_conversation, stream_answer

    conversation = new_conversation(answerer)
    last_chunks, last_generation = -1, -1
    i = 0
    while (i < minimum or keep_going()) and time.monotonic() < deadline:
        position = i % len(QUESTIONS)
        if position == 0 and i:
            conversation.reset()
        question = QUESTIONS[(session + position) % len(QUESTIONS)][0]
        previous = conversation.turns[-1].question if conversation.turns else None
        turn = Turn(phase, session, position, question, previous)
        try:
            # what the status panel reads on every rerun: it must never go backwards
            turn.chunks_seen, turn.generation_seen = kb.chunk_count(), kb.generation()
            if turn.chunks_seen < last_chunks or turn.generation_seen < last_generation:
                turn.problems.append(
                    f"went backwards: chunks {last_chunks}→{turn.chunks_seen}, "
                    f"generation {last_generation}→{turn.generation_seen}"
                )
            last_chunks, last_generation = turn.chunks_seen, turn.generation_seen
            t0 = time.perf_counter()
            turn.started = time.monotonic() - T0
            answer = None
            for piece in stream_answer(conversation, question, "parent", None):
                if isinstance(piece, Answer):
                    answer = piece
            turn.ms = (time.perf_counter() - t0) * 1000
            if answer is None:
                raise RuntimeError("no answer")
            turn.markdown, turn.playbook = answer.markdown, answer.playbook_id
            turn.sources = tuple(s.chunk.chunk_id for s in answer.sources)
            turn.citations = tuple(v.display for v in answer.citations)
            turn.core = answer_core(answer)
            turn.problems += check_answer(kb, answer)
        except Exception as exc:  # counted and reported: the point of the run
            turn.error = f"{type(exc).__name__}: {exc}"
        out.append(turn)
        i += 1


def run_phase(
    kb: KnowledgeBase,
    answerer: Any,
    phase: str,
    sessions: int,
    minimum: int,
    keep_going: Callable[[], bool],
    deadline: float,
) -> PhaseResult:
    results: list[list[Turn]] = [[] for _ in range(sessions)]
    threads = [
        threading.Thread(
            target=run_session,
            name=f"session-{s}",
            args=(kb, answerer, s, phase, minimum, keep_going, results[s], deadline),
        )
        for s in range(sessions)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return PhaseResult(phase, [turn for r in results for turn in r], time.monotonic() - t0)


# --------------------------------------------------------------------------------------------------
# The ingest that runs beside the sessions
# --------------------------------------------------------------------------------------------------


def write_documents(folder: Path, n: int, tag: str) -> Path:
    """`n` short user documents (notes about a neighbour's renovation: no topic of the questions)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note-{i:03d}.md").write_text(
            f"# 楼上装修记录 {tag}-{i}\n\n"
            f"第{i + 1}天：楼上从早上七点开始电钻施工，一直到晚上九点，物业说已经通知过施工队。\n\n"
            f"我记下了施工时间和噪音情况，准备和楼上邻居协商第{i + 1}次，商量每天的施工时段。\n",
            encoding="utf-8",
        )
    return folder


def start_ingest(home: Path, sources: list[str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ingest", *sources, "--no-dense", "--quiet", "--home", str(home)]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])


# --------------------------------------------------------------------------------------------------
# Consistency
# --------------------------------------------------------------------------------------------------


def by_context(turns: list[Turn]) -> dict[tuple[str, str | None], list[Turn]]:
    out: dict[tuple[str, str | None], list[Turn]] = {}
    for t in turns:
        if t.error is None:
            out.setdefault((t.question, t.previous), []).append(t)
    return out


def consistency(
    phases: dict[str, PhaseResult], fresh: dict[str, tuple[str, ...]], added: set[str]
) -> dict[str, list[str]]:
    """Answers that differ where they must not. `added`: chunk ids of the documents the ingest added (a question
    whose answer after the ingest cites one of them is related to them)."""
    related = {q for q, r in QUESTIONS if r}
    out: dict[str, list[str]] = {
        "across sessions": [],
        "before vs after": [],
        "live vs fresh": [],
        "related changed": [],
        "margin changed": [],
    }
    for name in ("before", "after"):
        for (q, prev), turns in by_context(phases[name].turns).items():
            if len({t.markdown for t in turns}) > 1:
                out["across sessions"].append(f"{name}: {q} (after {prev}): {len({t.markdown for t in turns})} answers")
    before, after = by_context(phases["before"].turns), by_context(phases["after"].turns)
    for key, turns in before.items():
        q, prev = key
        if key not in after or q in related or prev in related:
            continue
        if set(after[key][0].sources) & added:
            related.add(q)  # the ingest added what it now cites
            continue
        if turns[0].core != after[key][0].core:
            out["before vs after"].append(f"{q} (after {prev})")
        elif turns[0].sources != after[key][0].sources and prev is None:
            out["margin changed"].append(q)  # the same guidance; a quote at the margin of retrieval differs
    for q, sources in fresh.items():
        live = after.get((q, None))
        if live and live[0].sources != sources:
            out["live vs fresh"].append(q)
    for q in sorted(related):
        b, a = before.get((q, None)), after.get((q, None))
        if b and a and b[0].sources != a[0].sources:
            out["related changed"].append(q)  # expected: what the ingest added is now cited (not a failure)
    return out


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.load", description=__doc__.split("\n")[0])
    parser.add_argument("--home", default=None, help="an existing KB (default: a temp KB with three laws)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--queries", type=int, default=len(QUESTIONS), help="queries per session and phase (minimum)")
    parser.add_argument("--docs", type=int, default=GENERATED_DOCS, help="generated user documents to ingest")
    parser.add_argument("--timeout", type=float, default=170.0, help="seconds for the whole run")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    work = Path(tempfile.mkdtemp(prefix="kb-load-"))

    from ingest.pipeline import ingest

    if args.home:
        home, added = Path(args.home), []
    else:
        home, added = work / "kb", [ADDED_LAWS]
        t0 = time.monotonic()
        build = ingest(KnowledgeBase(home, static=False), [DEFAULT_LAWS], dense=False, progress=False)
        print(f"built {home}: {build.summary()} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    kb = KnowledgeBase(home)
    answerer = make_answerer(kb)
    docs_before = {d.doc_id for d in kb.documents()}
    chunks_before, generation_before = kb.chunk_count(), kb.generation()
    answerer.ask("预热 warm-up")  # the first question loads the indexes: not a session's latency

    phases: dict[str, PhaseResult] = {}
    phases["before"] = run_phase(kb, answerer, "before", args.sessions, args.queries, lambda: False, deadline)

    sources = [*added, str(write_documents(work / "docs", args.docs, work.name))]
    ingest_started = time.monotonic() - T0
    proc = start_ingest(home, sources, work / "ingest.log")
    phases["during ingest"] = run_phase(
        kb, answerer, "during ingest", args.sessions, args.queries, lambda: proc.poll() is None, deadline
    )
    try:
        ingest_rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        ingest_rc = proc.wait()
    ingest_seconds = time.monotonic() - T0 - ingest_started
    ingest_log = (work / "ingest.log").read_text(encoding="utf-8", errors="replace").strip()

    phases["after"] = run_phase(kb, answerer, "after", args.sessions, args.queries, lambda: False, deadline)
    fresh_answerer = make_answerer(KnowledgeBase(home))
    fresh = {q: tuple(s.chunk.chunk_id for s in fresh_answerer.ask(q).sources) for q, _ in QUESTIONS}
    added_chunks = {
        c.chunk_id for d in sorted({d.doc_id for d in kb.documents()} - docs_before) for c in kb.document_chunks(d)
    }
    checks = consistency(phases, fresh, added_chunks)
    chunks_after, generation_after = kb.chunk_count(), kb.generation()

    if args.home:  # leave the user's knowledge base as it was
        kb.delete_documents(sorted({d.doc_id for d in kb.documents()} - docs_before))
        kb.lexical()

    rows = [phases[p].row(args.sessions) for p in PHASES]
    print(
        f"KB {home}: chunks {chunks_before}→{chunks_after}, generation {generation_before}→{generation_after}; "
        f"ingest exit {ingest_rc}: {ingest_log.splitlines()[-1] if ingest_log else ''}"
    )
    print_table(
        rows, ["phase", "sessions", "queries", "errors", "torn", "p50_ms", "p95_ms", "max_ms", "chunks", "seconds"]
    )
    errors = [f"{t.phase} s{t.session}: {t.question}: {t.error}" for p in phases.values() for t in p.turns if t.error]
    torn = [f"{t.phase} s{t.session}: {t.question}: {x}" for p in phases.values() for t in p.turns for x in t.problems]
    failed = bool(
        errors
        or torn
        or ingest_rc != 0
        or checks["across sessions"]
        or checks["before vs after"]
        or checks["live vs fresh"]
        or time.monotonic() > deadline
    )
    for name, items in [("errors", errors), ("torn reads", torn), *checks.items()]:
        print(f"{name}: {len(items)}" + "".join(f"\n  {x}" for x in items[:10]))
    report = {
        "kb": str(home),
        "sessions": args.sessions,
        "queries_per_session": args.queries,
        "ingest": {
            "sources": [s if s.startswith("statutes") else f"{args.docs} generated user documents" for s in sources],
            "exit": ingest_rc,
            "summary": ingest_log.splitlines()[-1:],
            "started_s": round(ingest_started, 1),
            "seconds": round(ingest_seconds, 1),
        },
        "slowest": [
            {
                "phase": t.phase,
                "session": t.session,
                "started_s": round(t.started, 1),
                "ms": round(t.ms),
                "question": t.question,
            }
            for t in sorted((t for p in phases.values() for t in p.turns), key=lambda t: -t.ms)[:5]
        ],
        "chunks": [chunks_before, chunks_after],
        "generation": [generation_before, generation_after],
        "phases": rows,
        "errors": errors[:50],
        "torn": torn[:50],
        "consistency": checks,
        "passed": not failed,
    }
    path = write_report(report, args.json, "load.json")
    print(f"report: {path}" + ("" if not failed else "  — FAILED"))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
