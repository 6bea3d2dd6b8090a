"""A retriever that learns from questions: `python -m kb train PAIRS.jsonl`.

PAIRS.jsonl holds (question, gold article) pairs, one object per line, either
`{"question": "…", "law": "中华人民共和国民法典", "article": "第一千零三十四条"}` or STARD-style
`{"question": "…", "gold": [{"law": …, "article_no": …}, …]}` (an organisation's consultation log works the
same way). Three signals learn from them:
- the static embedding table (`kb.static`), fine-tuned with a softmax over every article of the knowledge
  base as negatives, regularised toward the untrained table (λ‖T − T₀‖²);
- a query adapter (`kb.adapter`): a linear map on the transformer's question vectors, fitted against the
  stored article vectors (when the transformer index is complete);
- the question memory (`kb.memory`): every question with its gold articles.
Both fits stop early on a held-out twentieth of the questions. The fusion weights of the three, and how many
of the transformer's first hits keep a top place, are chosen by cross-fitting: the other questions are
split into folds, each fold searched with signals trained on the other folds (`train`, `choose_weights`).
The result is an artifact under KB_HOME (`static-trained/`, `adapter/`, `memory/`, `fusion.json`) that search
picks up; delete them to go back to the untrained model.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path

import numpy as np

from kb.adapter import ADAPTER_DIR, QueryAdapter, fit_adapter
from kb.fitting import keep_best_epoch
from kb.memory import MEMORY_DIR, ArticleKey, QuestionMemory, build_memory
from kb.models import Chunk
from kb.numerals import find_article_ref
from kb.retrieval import DENSE_FIRST_MARGIN, WEIGHTS, Retriever, SearchFilters
from kb.static import StaticModel, chunk_tokens
from kb.stats import paired_difference
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
    adapted: float
    score: float  # R@5 + R@10 + MRR@10 summed over the held-out questions
    unseen: tuple[float, float, float]  # R@5, R@10, MRR@10 summed over the held-out questions none of whose
    # articles a training pair names
    dense_first: bool = False  # the transformer's confident first chunk keeps first place (`DENSE_FIRST_MARGIN`)

    @property
    def unseen_score(self) -> float:
        return sum(self.unseen)


@dataclass
class WeightChoice:
    static: float
    memory: float
    dense_slots: int = 0
    adapted: float = 0.0
    dense_first: bool = False  # `Retriever.dense_first_margin` is DENSE_FIRST_MARGIN, else 0
    held: int = 0  # held-out questions
    held_unseen: int = 0  # … none of whose articles a training pair names
    # on those, per measure (R@5, R@10, MRR@10), the better of the transformer alone and the untrained search
    floor: tuple[float, float, float] = (0.0, 0.0, 0.0)
    table: list[WeightTrial] = field(default_factory=list)
    # the chosen weighting minus the transformer alone on those questions: (difference, 95 % interval low,
    # high) for R@5, R@10 and MRR@10 (`kb.stats.paired_difference`); empty without the transformer's lists
    versus_transformer: tuple[tuple[float, float, float], ...] = ()


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
    adapter_history: list[float] = field(default_factory=list)  # held-out score per epoch; empty = no adapter
    adapter_skipped: str = ""  # why no adapter was fitted
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


FOLDS = 5  # cross-fitting folds for the weight choice


@dataclass
class TrainingData:
    """The knowledge base as `kb train` sees it: articles as rows of static token ids, and every chunk's static
    tokens (to rebuild a static index with a fold's table)."""

    units: list[list[int]]  # one row per (document, article): vocabulary ids of its static tokens
    examples: list[tuple[list[int], int, Pair]]  # (question token ids, gold unit, pair with the full title)
    chunk_ids: list[str] = field(default_factory=list)
    chunk_tokens: list[list[str]] = field(default_factory=list)


def training_data(kb: KnowledgeBase, base: StaticModel, pairs: list[Pair]) -> TrainingData:
    """Resolve each pair's law and article in the knowledge base; a pair whose article is not stored, or whose
    question has no word of the vocabulary, is left out."""
    vocab, tok = base.vocab, kb.tokenizer
    unit_rows: dict[tuple[str, str], list[int]] = {}
    unit_of: dict[tuple[str, int, int], list[int]] = {}
    data = TrainingData(units=[], examples=[])
    for chunk in kb.iter_chunks():
        static_tokens = chunk_tokens(tok, chunk)[1]
        data.chunk_ids.append(chunk.chunk_id)
        data.chunk_tokens.append(static_tokens)
        if chunk.article_no is None:
            continue
        key = (chunk.doc_id, chunk.article or "")
        if key not in unit_rows:  # parts of one article are merged into one row
            unit_rows[key] = []
            unit_of.setdefault((chunk.title, chunk.article_no or 0, chunk.article_suffix), []).append(
                len(unit_rows) - 1
            )
        unit_rows[key].extend(vocab[t] for t in static_tokens if t in vocab)
    data.units = list(unit_rows.values())
    unit_title = {i: title for (title, _, _), rows in unit_of.items() for i in rows}
    names = kb.law_names()
    for p in pairs:
        titles = names.resolve(p.law) or [p.law]
        targets = [i for t in titles for i in unit_of.get((t, p.article_no, p.article_suffix), [])]
        q_ids = [vocab[t] for t in tok.precise(p.question) if t in vocab]
        if targets and q_ids:
            resolved = Pair(p.question, unit_title[targets[0]], p.article_no, p.article_suffix)
            data.examples.append((q_ids, targets[0], resolved))
    return data


def fit_static(
    data: TrainingData,
    base: StaticModel,
    fit_questions: set[str],
    stop_questions: set[str],
    epochs: int = 30,
    lam: float = 1.0,
    lr: float = 2e-3,
    temperature: float = 0.05,
    seed: int = 13,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, float, list[float]]:
    """Fine-tune the static table on the examples of `fit_questions`, a softmax over every article, pulled
    toward the untrained table; keep the epoch with the best R@10 on `stop_questions` (patience 3).
    Returns (table, R@10 before training, R@10 per epoch)."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    fit = [e for e in data.examples if e[2].question in fit_questions]
    stop = [e for e in data.examples if e[2].question in stop_questions]
    size = len(base.vocab)

    def sparse(rows: list[list[int]]) -> torch.Tensor:
        r = [i for i, row in enumerate(rows) for _ in row]
        c = [j for row in rows for j in row]
        values = torch.ones(len(c))
        shape = (len(rows), size)
        return torch.sparse_coo_tensor(torch.tensor([r, c]), values, shape, check_invariants=False).coalesce()

    A = sparse(data.units)
    T0 = torch.tensor(base.vectors)
    T = torch.nn.Parameter(T0.clone())
    opt = torch.optim.Adam([T], lr=lr)

    def embed(M: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.sparse.mm(M, table), dim=1)

    def recall10(table: torch.Tensor) -> float:
        if not stop:
            return 0.0
        with torch.no_grad():
            arts = embed(A, table)
            q = embed(sparse([x for x, _, _ in stop]), table)
            top = (q @ arts.T).topk(min(10, len(data.units)), dim=1).indices
            gold = torch.tensor([y for _, y, _ in stop])
            return float((top == gold[:, None]).any(dim=1).float().mean())

    def run_epoch() -> None:
        rng.shuffle(fit)
        for i in range(0, len(fit), 256):
            batch = fit[i : i + 256]
            arts = embed(A, T)
            q = embed(sparse([x for x, _, _ in batch]), T)
            logits = q @ arts.T / temperature
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y for _, y, _ in batch]))
            loss = loss + lam * ((T - T0) ** 2).sum() / size
            opt.zero_grad()
            loss.backward()
            opt.step()

    best_table, before, history = keep_best_epoch(
        run_epoch, lambda: recall10(T.detach()), lambda: T.detach().clone(), epochs, 3, progress
    )
    return best_table.numpy().astype(np.float32), before, [round(r10, 4) for r10 in history]


def train(
    kb: KnowledgeBase,
    pairs: list[Pair],
    epochs: int = 30,
    lam: float = 1.0,
    lr: float = 2e-3,
    temperature: float = 0.05,
    seed: int = 13,
    progress: bool = True,
    folds: int = FOLDS,
) -> TrainReport:
    """Fine-tune the static table and fit the query adapter on `pairs`, choose the fusion weights by
    cross-fitting, and save all of it (and the question memory) under KB_HOME.

    A twentieth of the questions stops every training (early stopping) and is used for nothing else. The
    other questions are split into `folds` folds; for each fold the static table, the adapter and the memory
    are trained on the other folds and the fold's questions are searched with them, so every question gets
    ranked lists from signals that never saw it. The weights are chosen on all of those lists
    (`choose_weights`); the saved signals are then trained on every fold."""
    from kb.static import StaticIndex

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    report = TrainReport(pairs=len(pairs))
    base = untrained_table(kb)
    data = training_data(kb, base, pairs)
    report.usable = len(data.examples)
    if len(data.examples) < 10:
        raise ValueError(f"only {len(data.examples)} usable pairs: their articles must be in the knowledge base")
    # Split by question, not by pair: a question with two gold articles must not sit on both sides.
    rng = random.Random(seed)
    questions = sorted({p.question for _, _, p in data.examples})
    rng.shuffle(questions)
    stop_questions = set(questions[: max(1, len(questions) // 20)])
    rest = [q for q in questions if q not in stop_questions]
    folds = max(2, min(folds, len(rest)))
    fold_of = {q: i % folds for i, q in enumerate(rest)}
    golds: dict[str, list[Pair]] = {}
    for _, _, p in data.examples:
        if p not in golds.setdefault(p.question, []):
            golds[p.question].append(p)

    say(f"question memory: embedding {len(questions)} questions")
    memory = question_memory(kb, [p for _, _, p in data.examples])
    row_of = {q: i for i, q in enumerate(memory.questions)}
    dense, report.adapter_skipped = _dense_rows(kb, memory)
    if dense is None:
        QueryAdapter.remove(kb.home / ADAPTER_DIR)
        say(f"query adapter: not fitted: {report.adapter_skipped}")

    # Every question's untrained lists, once; the trained ones per fold below.
    retriever = Retriever(kb, memory=memory)
    retriever.weights, retriever.dense_slots = dict(WEIGHTS), 0
    retriever.dense_first_margin = DENSE_FIRST_MARGIN  # the lists carry it; the choice below may leave it out
    retriever.weights.update(static=0.0, memory=0.0, adapted=0.0)
    say(f"ranked lists of {len(rest)} questions")
    lists = {q: retriever.ranked_lists(q, SearchFilters()) for q in rest}
    unseen: dict[str, bool] = {}
    for f in range(folds):
        fit_q = {q for q in rest if fold_of[q] != f}
        held_q = [q for q in rest if fold_of[q] == f]
        table, _, history = fit_static(data, base, fit_q, stop_questions, epochs, lam, lr, temperature, seed)
        model = StaticModel(vocab=base.vocab, vectors=table, name="fold")
        index = StaticIndex(data.chunk_ids, model.encode_tokens(data.chunk_tokens))
        retriever.memory = memory.subset(sorted(row_of[q] for q in fit_q))
        adapter = None
        if dense is not None:
            fit_rows, stop_rows = _rows(row_of, fit_q), _rows(row_of, stop_questions)
            matrix, _ = fit_adapter(memory.vectors, dense[1], dense[0], fit_rows, stop_rows)
            adapter = QueryAdapter(embedder=memory.embedder, matrix=matrix)
        known = {ArticleKey(p.law, p.article_no, p.article_suffix) for q in fit_q for p in golds[q]}
        for q in held_q:
            vector = memory.vectors[row_of[q]]
            ranked = lists[q]
            ranked["static"] = [c for c, _ in index.search(model.encode_tokens([kb.tokenizer.precise(q)])[0])]
            ranked["memory"] = retriever.memory_hits(vector.tolist())
            if adapter is not None:
                moved = adapter.apply(vector)
                ranked["adapted"] = [c for c, _ in kb.dense_search(q, retriever.candidates, vector=moved)]
            unseen[q] = all(ArticleKey(p.law, p.article_no, p.article_suffix) not in known for p in golds[q])
        say(f"fold {f + 1}/{folds}: trained on {len(fit_q)} questions, searched {len(held_q)}; {len(history)} epochs")

    distilled = StaticIndex(data.chunk_ids, base.encode_tokens(data.chunk_tokens))
    before = {q: [c for c, _ in distilled.search(base.encode_tokens([kb.tokenizer.precise(q)])[0])] for q in rest}
    report.weights = choose_weights(kb, retriever, {q: golds[q] for q in rest}, lists, unseen, before)
    report.static_weight, report.memory_weight = report.weights.static, report.weights.memory
    say(weight_table(report.weights))

    # The saved signals: trained on every fold, stopped on the same twentieth.
    table, report.holdout_r10_before, report.history = fit_static(
        data,
        base,
        set(rest),
        stop_questions,
        epochs,
        lam,
        lr,
        temperature,
        seed,
        progress=lambda e, r10: say(f"epoch {e}: held-out R@10 {r10:.3f}"),
    )
    report.epochs = len(report.history)
    report.holdout_r10_after = max([report.holdout_r10_before, *report.history])
    trained = StaticModel(
        vocab=dict(base.vocab),
        vectors=table,
        name=f"static-trained-{len(data.examples)}-{seed}",
        center=base.center,  # unseen query words are placed as in the distilled table
        teacher=base.teacher,
    )
    trained.save(kb.home / "static-trained")
    kb._static_model = None  # type: ignore[assignment]  # pick up the trained table; the static index rebuilds on next use
    if dense is not None:
        matrix, report.adapter_history = fit_adapter(
            memory.vectors,
            dense[1],
            dense[0],
            _rows(row_of, set(rest)),
            _rows(row_of, stop_questions),
            progress=lambda e, score: say(f"query adapter, epoch {e}: held-out score {score:.1f}"),
        )
        QueryAdapter(embedder=memory.embedder, matrix=matrix, questions=len(rest), history=report.adapter_history).save(
            kb.home / ADAPTER_DIR
        )
    memory.save(kb.home / MEMORY_DIR)
    report.memory_questions = len(memory)
    tmp = kb.home / "fusion.json.tmp"  # write then rename: a reader never sees half a file
    chosen = {
        "static": report.static_weight,
        "memory": report.memory_weight,
        "adapted": report.weights.adapted if dense is not None else 0.0,
        "dense_slots": report.weights.dense_slots,
        "dense_first_margin": DENSE_FIRST_MARGIN if report.weights.dense_first else 0.0,
    }
    tmp.write_text(json.dumps(chosen), encoding="utf-8")
    tmp.replace(kb.home / "fusion.json")
    return report


def untrained_table(kb: KnowledgeBase) -> StaticModel:
    """The distilled table every training starts from, never an earlier training's result: training again
    from a trained table would start from a model that has already seen the held-out questions."""
    base = StaticModel.load(kb.home / "static-distilled")
    if base is None and not (kb.home / "static-trained").exists():
        kb.static_index()  # distils the table on first use
        base = StaticModel.load(kb.home / "static-distilled")
    if base is None:
        raise RuntimeError(
            f"{kb.home}: no distilled static table to train from (is KB_STATIC=0? or delete static-trained/ and "
            "search once to distil it)"
        )
    return base


def _rows(row_of: dict[str, int], questions: set[str]) -> list[int]:
    return sorted(row_of[q] for q in questions if q in row_of)


def _dense_rows(kb: KnowledgeBase, memory: QuestionMemory) -> tuple[tuple[np.ndarray, list[list[int]]] | None, str]:
    """The stored transformer vectors and, per memory question, the rows of its gold articles' chunks; or None
    and why not. The adapter is fitted against the stored vectors, so the transformer index must be complete."""
    done, total = kb.dense_status()  # (0, chunks) without a vector store
    if total == 0 or done < total:
        return None, (
            f"the transformer index holds {done} of {total} chunks; run `python -m kb train` again once it is "
            "complete (`python -m kb status`)"
        )
    ids, matrix = kb.dense_vectors()
    row = {cid: i for i, cid in enumerate(ids)}
    positives = [
        [row[c.chunk_id] for key in golds for c in kb.article_chunks(*astuple(key)) if c.chunk_id in row]
        for golds in memory.golds
    ]
    return (matrix, positives), ""


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
    retriever: Retriever,
    golds: dict[str, list[Pair]],
    lists: dict[str, dict[str, list[str]]],
    unseen: dict[str, bool],
    untrained_static: dict[str, list[str]] | None = None,
    static_grid: tuple[float, ...] = (0.6, 1.0, 2.0, 4.0),
    memory_grid: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0),
    adapted_grid: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0),
    slots_grid: tuple[int, ...] = (0, 1, 2),
    first_grid: tuple[bool, ...] = (False, True),
) -> WeightChoice:
    """The RRF weights of the static signal, the question memory and the adapted transformer search, how
    many of the transformer's first chunks keep a top place (`Retriever.dense_slots`), and whether its
    confident first chunk keeps first place (the lists' "dense_first", `DENSE_FIRST_MARGIN`), chosen on questions
    whose ranked `lists` came from signals not trained on them; the other weights stay.

    A trained signal helps questions like the training ones and can hurt the others, so the choice has a
    floor: on questions none of whose articles the signals were trained on (`unseen`), the fused search
    must score at least what the transformer alone scores there (the issue's test) and at least what the
    search scored before training (default weights, the distilled table's list `untrained_static`), on each
    of R@5, R@10 and MRR@10 (a sum would let a gain at 10 hide a loss at 5). The second part matters because
    the lists share signals that know the training questions already (the lay→legal expansion table was
    mined from STARD train): against the transformer alone, fused lists look better on these questions than
    they will on new ones; against the untrained search, both sides have that help. Among weightings above
    the floor, the best score on all questions wins (R@5 + R@10 + MRR@10, recall counting each question's
    share of its articles found, as `evals.retrieval` does); if none is above it, the best on the unseen
    questions. The choice then gets its margin over the transformer alone on the unseen questions with a
    paired-bootstrap interval (`versus_transformer`): a few hundred questions cannot tell a few apart."""
    questions = list(golds)
    chunks = {
        c.chunk_id: c for c in kb.get_chunks(list({cid for q in questions for ids in lists[q].values() for cid in ids}))
    }

    def gains(
        keep: Callable[[str], bool], source: dict[str, dict[str, list[str]]] = lists
    ) -> list[tuple[float, float, float]]:
        """Per question: R@5, R@10 (each question's share of its articles found, as `evals.retrieval`
        counts) and MRR@10."""
        out = []
        for q in questions:
            fused = retriever.fuse({k: v for k, v in source[q].items() if keep(k)})
            units = retriever.top_units(fused, chunks, 10)
            ranks = [next((i for i, c in enumerate(units, 1) if _is_gold(c, p)), 99) for p in golds[q]]
            out.append(
                (
                    sum(r <= 5 for r in ranks) / len(ranks),
                    sum(r <= 10 for r in ranks) / len(ranks),
                    1.0 / min(ranks) if min(ranks) <= 10 else 0.0,
                )
            )
        return out

    def scores(
        keep: Callable[[str], bool], source: dict[str, dict[str, list[str]]] = lists
    ) -> tuple[float, tuple[float, float, float]]:
        per = gains(keep, source)
        new = [g for q, g in zip(questions, per, strict=True) if unseen[q]]
        sums = tuple(sum(g[i] for g in new) for i in range(3))
        return sum(map(sum, per)), (sums[0], sums[1], sums[2])

    def with_weights(wm: float, wa: float, first: bool = False) -> Callable[[str], bool]:
        """The lists a weighting fuses: the memory's and the adapted search's only when weighted, the
        transformer's confident first chunk only when kept first."""
        return lambda k: (wm > 0 or k != "memory") and (wa > 0 or k != "adapted") and (first or k != "dense_first")

    saved = dict(retriever.weights), retriever.dense_slots
    retriever.dense_slots = 0
    has_dense = any("dense" in lists[q] for q in questions)
    has_adapted = any(lists[q].get("adapted") for q in questions)
    has_first = any(lists[q].get("dense_first") for q in questions)
    floor = scores(lambda k: k == "dense")[1] if has_dense else (0.0, 0.0, 0.0)
    if untrained_static is not None:
        retriever.weights = dict(WEIGHTS)
        before = {q: {**lists[q], "static": untrained_static[q]} for q in questions}
        untrained = scores(lambda k: k not in ("memory", "adapted"), before)[1]
        floor = (max(floor[0], untrained[0]), max(floor[1], untrained[1]), max(floor[2], untrained[2]))
    trials: list[WeightTrial] = []
    for ws, wm, wa, slots, first in itertools.product(
        static_grid,
        memory_grid,
        adapted_grid if has_adapted else (0.0,),
        slots_grid if has_dense else (0,),  # without the transformer, slots change nothing
        first_grid if has_first else (False,),
    ):
        retriever.weights.update(static=ws, memory=wm, adapted=wa)
        retriever.dense_slots = slots
        total, new = scores(with_weights(wm, wa, first))
        trials.append(
            WeightTrial(static=ws, memory=wm, dense_slots=slots, adapted=wa, score=total, unseen=new, dense_first=first)
        )
    above = [t for t in trials if all(a >= b - 1e-9 for a, b in zip(t.unseen, floor, strict=True))]
    best = max(above, key=lambda t: t.score) if above else max(trials, key=lambda t: t.unseen_score)
    versus: tuple[tuple[float, float, float], ...] = ()
    new_q = [i for i, q in enumerate(questions) if unseen[q]]
    if has_dense and len(new_q) >= 2:
        # The chosen weighting against the transformer alone on the unseen held-out questions, question by
        # question: the sums above hide whether a margin is more than a few questions.
        retriever.weights.update(static=best.static, memory=best.memory, adapted=best.adapted)
        retriever.dense_slots = best.dense_slots
        ours = gains(with_weights(best.memory, best.adapted, best.dense_first))
        retriever.dense_slots = 0
        alone = gains(lambda k: k == "dense")
        versus = tuple(paired_difference([ours[i][m] for i in new_q], [alone[i][m] for i in new_q]) for m in range(3))
    retriever.weights, retriever.dense_slots = saved
    return WeightChoice(
        static=best.static,
        memory=best.memory,
        dense_slots=best.dense_slots,
        adapted=best.adapted,
        dense_first=best.dense_first,
        held=len(questions),
        held_unseen=sum(unseen[q] for q in questions),
        floor=floor,
        table=trials,
        versus_transformer=versus,
    )


def weight_table(choice: WeightChoice) -> str:
    """The weightings tried on the held-out pairs, the chosen one marked."""
    lines = [
        f"fusion weights on {choice.held} questions, each searched with signals trained on the other folds "
        f"({choice.held_unseen} none of whose articles those signals saw; there the better of the transformer "
        "alone and the untrained search sums R@5 {:.1f}, R@10 {:.1f}, MRR@10 {:.1f}: the floor):".format(*choice.floor),
        "static  memory  adapted  slots  first  score   unseen R@5 / R@10 / MRR@10",
    ]
    for t in choice.table:
        chosen = (t.static, t.memory, t.adapted, t.dense_slots, t.dense_first) == (
            choice.static,
            choice.memory,
            choice.adapted,
            choice.dense_slots,
            choice.dense_first,
        )
        mark = "  ← chosen" if chosen else ""
        lines.append(
            f"{t.static:<7} {t.memory:<7} {t.adapted:<8} {t.dense_slots:<6} {'yes' if t.dense_first else 'no':<6} "
            f"{t.score:<7.1f} "
            f"{t.unseen[0]:.1f} / {t.unseen[1]:.1f} / {t.unseen[2]:.1f}{mark}"
        )
    if choice.versus_transformer:
        lines.append(
            f"chosen minus the transformer alone on the {choice.held_unseen} unseen questions (95 % paired-bootstrap "
            "interval): "
            + ", ".join(
                f"{name} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                for name, (d, lo, hi) in zip(("R@5", "R@10", "MRR@10"), choice.versus_transformer, strict=True)
            )
        )
    return "\n".join(lines)


def _is_gold(chunk: Chunk, p: Pair) -> bool:
    return chunk.article_no == p.article_no and chunk.article_suffix == p.article_suffix and p.law == chunk.title
