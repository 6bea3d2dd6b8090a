"""A retriever that learns from questions: `python -m kb train PAIRS.jsonl`.

PAIRS.jsonl holds (question, gold article) pairs, one object per line, either
`{"question": "…", "law": "中华人民共和国民法典", "article": "第一千零三十四条"}` or STARD-style
`{"question": "…", "gold": [{"law": …, "article_no": …}, …]}` (an organisation's consultation log works the
same way). Training fine-tunes the static embedding table (`kb.static`) with a softmax over every article
of the knowledge base as negatives, regularised toward the untrained table (λ‖T − T₀‖²), early-stopped on a
held-out twentieth of the questions. It also keeps every question with its gold articles as a question
memory (`kb.memory`). Then it picks the fusion weights of the static signal and of the memory, and how many
of the transformer's first hits keep a top place, on another held-out tenth (searched with a memory of
every other question), not the one that stopped the training.
The result is an artifact under KB_HOME (`static-trained/`, `memory/`, `fusion.json`) that search picks up;
delete them to go back to the untrained model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.memory import MEMORY_DIR, ArticleKey, QuestionMemory, build_memory
from kb.models import Chunk
from kb.numerals import find_article_ref
from kb.static import StaticModel, chunk_tokens
from kb.store import KnowledgeBase


@dataclass(frozen=True)
class Pair:
    question: str
    law: str
    article_no: int
    article_suffix: int = 0


@dataclass(frozen=True)
class WeightTrial:
    static: float
    memory: float
    dense_slots: int
    score: float  # R@5 + R@10 + MRR@10 summed over the held-out pairs
    unseen_score: float  # the same over held-out pairs whose article no training pair names


@dataclass
class WeightChoice:
    static: float
    memory: float
    dense_slots: int = 0
    held: int = 0
    held_unseen: int = 0
    floor: float = 0.0  # the transformer alone on the unseen held-out pairs
    table: list[WeightTrial] = field(default_factory=list)


@dataclass
class TrainReport:
    pairs: int = 0
    usable: int = 0
    epochs: int = 0
    holdout_r10_before: float = 0.0
    holdout_r10_after: float = 0.0
    static_weight: float = 0.0
    memory_weight: float = 0.0
    memory_questions: int = 0
    history: list[float] = field(default_factory=list)
    weights: WeightChoice | None = None


def load_pairs(path: Path, split: str | None = None) -> list[Pair]:
    """Read training pairs; a malformed line raises ValueError naming the file and line.

    `split` keeps only rows whose `stard_split` (or `split`) equals it: STARD can be read as it is, train only.
    """
    pairs: list[Pair] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if split and row.get("stard_split", row.get("split")) != split:
                continue
            golds = row.get("gold", [row])
            for g in golds:
                art = find_article_ref(g.get("article") or g.get("article_no"))
                if art and g.get("law"):
                    pairs.append(Pair(row["question"], g["law"], *art))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a training pair ({type(exc).__name__})") from exc
    return pairs


def train(
    kb: KnowledgeBase,
    pairs: list[Pair],
    epochs: int = 30,
    lam: float = 1.0,
    lr: float = 2e-3,
    temperature: float = 0.05,
    seed: int = 13,
    progress: bool = True,
) -> TrainReport:
    """Fine-tune the static table on `pairs`; save it and the chosen fusion weight under KB_HOME."""
    import torch

    report = TrainReport(pairs=len(pairs))
    base = kb.static_model(None)
    if base is None:
        kb.static_index()  # distils the table on first use
        base = kb.static_model(None)
    if base is None:
        raise RuntimeError("no static embedder to train (is KB_STATIC=0?)")
    vocab = base.vocab
    tok = kb.tokenizer

    # Articles: one row per (doc, article); parts of one article are merged.
    unit_rows: dict[tuple[str, str], list[int]] = {}
    unit_of: dict[tuple[str, int, int], list[int]] = {}
    names = kb.law_names()
    for chunk in kb.iter_chunks("WHERE article_no IS NOT NULL"):
        key = (chunk.doc_id, chunk.article or "")
        ids = [vocab[t] for t in chunk_tokens(tok, chunk)[1] if t in vocab]
        if key not in unit_rows:
            unit_rows[key] = []
            unit_of.setdefault((chunk.title, chunk.article_no or 0, chunk.article_suffix), []).append(
                len(unit_rows) - 1
            )
        unit_rows[key].extend(ids)
    units = list(unit_rows.values())
    unit_title = {i: title for (title, _, _), rows in unit_of.items() for i in rows}
    examples: list[tuple[list[int], int, Pair]] = []
    for p in pairs:
        titles = names.resolve(p.law) or [p.law]
        targets = [i for t in titles for i in unit_of.get((t, p.article_no, p.article_suffix), [])]
        q_ids = [vocab[t] for t in tok.precise(p.question) if t in vocab]
        if targets and q_ids:
            resolved = Pair(p.question, unit_title[targets[0]], p.article_no, p.article_suffix)
            examples.append((q_ids, targets[0], resolved))
    report.usable = len(examples)
    if len(examples) < 10:
        raise ValueError(f"only {len(examples)} usable pairs: their articles must be in the knowledge base")
    # Hold out by question, not by pair: a question with two gold articles must not sit on both sides.
    rng = random.Random(seed)
    questions = sorted({p.question for _, _, p in examples})
    rng.shuffle(questions)
    # Two held-out sets: one stops the training, the other chooses the fusion weights. Chosen on the set
    # that picked the epoch, the static signal looks better than it is on new questions.
    tenth = max(1, len(questions) // 10)
    held_questions = set(questions[:tenth])
    stop_questions = set(questions[tenth : tenth + max(1, tenth // 2)])
    hold = [e for e in examples if e[2].question in held_questions]
    stop = [e for e in examples if e[2].question in stop_questions]
    fit = [e for e in examples if e[2].question not in held_questions | stop_questions]

    def sparse(rows: list[list[int]]) -> torch.Tensor:
        r = [i for i, row in enumerate(rows) for _ in row]
        c = [j for row in rows for j in row]
        values = torch.ones(len(c))
        shape = (len(rows), len(vocab))
        return torch.sparse_coo_tensor(torch.tensor([r, c]), values, shape, check_invariants=False).coalesce()

    A = sparse(units)
    T0 = torch.tensor(base.vectors)
    T = torch.nn.Parameter(T0.clone())
    opt = torch.optim.Adam([T], lr=lr)

    def embed(M: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.sparse.mm(M, table), dim=1)

    def recall10(table: torch.Tensor, data: list[tuple[list[int], int, Pair]]) -> float:
        with torch.no_grad():
            arts = embed(A, table)
            q = embed(sparse([x for x, _, _ in data]), table)
            top = (q @ arts.T).topk(10, dim=1).indices
            gold = torch.tensor([y for _, y, _ in data])
            return float((top == gold[:, None]).any(dim=1).float().mean())

    report.holdout_r10_before = best = recall10(T0, stop)
    best_table, patience = T0.clone(), 0
    for epoch in range(epochs):
        rng.shuffle(fit)
        for i in range(0, len(fit), 256):
            batch = fit[i : i + 256]
            arts = embed(A, T)
            q = embed(sparse([x for x, _, _ in batch]), T)
            logits = q @ arts.T / temperature
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y for _, y, _ in batch]))
            loss = loss + lam * ((T - T0) ** 2).sum() / len(vocab)
            opt.zero_grad()
            loss.backward()
            opt.step()
        score = recall10(T.detach(), stop)
        report.history.append(round(score, 4))
        report.epochs = epoch + 1
        if progress:
            print(f"epoch {epoch + 1}: held-out R@10 {score:.3f}", flush=True)
        if score > best:
            best, best_table, patience = score, T.detach().clone(), 0
        else:
            patience += 1
            if patience >= 3:
                break
    report.holdout_r10_after = best
    trained = StaticModel(
        vocab=dict(vocab), vectors=best_table.numpy().astype(np.float32), name=f"static-trained-{len(examples)}-{seed}"
    )
    trained.save(kb.home / "static-trained")
    kb._static_model = None  # type: ignore[assignment]  # pick up the trained table; the static index rebuilds on next use

    fit_pairs = [p for _, _, p in fit + stop]  # every pair but the held-out ones
    if progress:
        print(f"question memory: embedding {len({p.question for _, _, p in examples})} questions", flush=True)
    report.weights = choose_weights(kb, [p for _, _, p in hold], question_memory(kb, fit_pairs))
    report.static_weight, report.memory_weight = report.weights.static, report.weights.memory
    if progress:
        print(weight_table(report.weights), flush=True)
    memory = question_memory(kb, [p for _, _, p in examples])
    memory.save(kb.home / MEMORY_DIR)
    report.memory_questions = len(memory)
    tmp = kb.home / "fusion.json.tmp"  # write then rename: a reader never sees half a file
    chosen = {"static": report.static_weight, "memory": report.memory_weight, "dense_slots": report.weights.dense_slots}
    tmp.write_text(json.dumps(chosen), encoding="utf-8")
    tmp.replace(kb.home / "fusion.json")
    return report


def question_memory(kb: KnowledgeBase, pairs: list[Pair]) -> QuestionMemory:
    """The pairs as a memory: one row per question, all its gold articles, its query vector."""
    from kb.embeddings import embed_queries, embedder_name

    golds: dict[str, list[ArticleKey]] = {}
    for p in pairs:
        key = ArticleKey(p.law, p.article_no, p.article_suffix)
        if key not in golds.setdefault(p.question, []):
            golds[p.question].append(key)
    questions = list(golds)
    vectors = np.asarray(embed_queries(kb.embedder, questions), dtype=np.float32)
    return build_memory(questions, [tuple(golds[q]) for q in questions], vectors, embedder_name(kb.embedder))


def choose_weights(
    kb: KnowledgeBase,
    held: list[Pair],
    memory: QuestionMemory,
    static_grid: tuple[float, ...] = (0.6, 1.0, 1.5, 2.0, 3.0, 4.0),
    memory_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0),
    slots_grid: tuple[int, ...] = (0, 1, 2),
) -> WeightChoice:
    """The RRF weights of the static signal and the question memory, and how many of the transformer's first
    chunks keep a top place (`Retriever.dense_slots`), chosen on held-out pairs (`memory` must not hold
    their questions); the other weights stay.

    A trained signal helps questions like the training ones and can hurt the others, so the choice has a
    floor: on held-out pairs whose article no training pair names ("unseen"), the fused search must score at
    least what the transformer alone scores there. Among weightings above the floor, the best score on all
    held-out pairs wins; if none is above it, the best on the unseen pairs. Score = R@5 + R@10 + MRR@10
    summed over pairs. Each question's ranked lists are computed once and fused for every weighting."""
    from kb.retrieval import Retriever, SearchFilters

    retriever = Retriever(kb, memory=memory)
    retriever.weights["memory"] = 1.0  # any weight > 0: the list is computed
    lists = [retriever.ranked_lists(p.question, SearchFilters()) for p in held]
    chunks = {c.chunk_id: c for c in kb.get_chunks(list({cid for ls in lists for ids in ls.values() for cid in ids}))}
    known = {key for golds in memory.golds for key in golds}
    unseen = [ArticleKey(p.law, p.article_no, p.article_suffix) not in known for p in held]

    def scores(keep: Callable[[str], bool]) -> tuple[float, float]:
        total = new = 0.0
        for p, ranked, is_new in zip(held, lists, unseen, strict=True):
            units = retriever.top_units(retriever.fuse({k: v for k, v in ranked.items() if keep(k)}), chunks, 10)
            rank = next((i for i, c in enumerate(units, 1) if _is_gold(c, p)), None)
            gain = 0.0 if rank is None else 1.0 + (rank <= 5) + 1.0 / rank
            total += gain
            new += gain if is_new else 0.0
        return total, new

    retriever.dense_slots = 0
    has_dense = any("dense" in ls for ls in lists)
    floor = scores(lambda k: k == "dense")[1] if has_dense else 0.0
    trials: list[WeightTrial] = []
    for ws in static_grid:
        for wm in memory_grid:
            for slots in slots_grid if has_dense else (0,):  # without the transformer, slots change nothing
                retriever.weights.update(static=ws, memory=wm)
                retriever.dense_slots = slots
                total, new = scores(lambda k, wm=wm: wm > 0 or k != "memory")  # type: ignore[misc]
                trials.append(WeightTrial(static=ws, memory=wm, dense_slots=slots, score=total, unseen_score=new))
    above = [t for t in trials if t.unseen_score >= floor]
    best = max(above, key=lambda t: t.score) if above else max(trials, key=lambda t: t.unseen_score)
    return WeightChoice(
        static=best.static,
        memory=best.memory,
        dense_slots=best.dense_slots,
        held=len(held),
        held_unseen=sum(unseen),
        floor=floor,
        table=trials,
    )


def weight_table(choice: WeightChoice) -> str:
    """The weightings tried on the held-out pairs, the chosen one marked."""
    lines = [
        f"fusion weights on {choice.held} held-out pairs ({choice.held_unseen} with an article no training pair "
        f"names; transformer alone scores {choice.floor:.1f} on those):",
        "static  memory  slots  score   unseen",
    ]
    for t in choice.table:
        chosen = (t.static, t.memory, t.dense_slots) == (choice.static, choice.memory, choice.dense_slots)
        mark = "  ← chosen" if chosen else ""
        lines.append(f"{t.static:<7} {t.memory:<7} {t.dense_slots:<6} {t.score:<7.1f} {t.unseen_score:.1f}{mark}")
    return "\n".join(lines)


def _is_gold(chunk: Chunk, p: Pair) -> bool:
    return chunk.article_no == p.article_no and chunk.article_suffix == p.article_suffix and p.law == chunk.title
