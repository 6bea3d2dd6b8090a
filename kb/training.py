"""A retriever that learns from questions: `python -m kb train PAIRS.jsonl`.

PAIRS.jsonl holds (question, gold article) pairs, one object per line, either
`{"question": "…", "law": "中华人民共和国民法典", "article": "第一千零三十四条"}` or STARD-style
`{"question": "…", "gold": [{"law": …, "article_no": …}, …]}` (an organisation's consultation log works the
same way). Training fine-tunes the static embedding table (`kb.static`) with a softmax over every article
of the knowledge base as negatives, regularised toward the untrained table (λ‖T − T₀‖²), early-stopped on a
held-out tenth of the pairs; then it picks the static signal's fusion weight on that held-out tenth. The
result is an artifact under KB_HOME (`static-trained/`, `fusion.json`) that search picks up; delete them to
go back to the untrained model.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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


@dataclass
class TrainReport:
    pairs: int = 0
    usable: int = 0
    epochs: int = 0
    holdout_r10_before: float = 0.0
    holdout_r10_after: float = 0.0
    static_weight: float = 0.0
    history: list[float] = field(default_factory=list)


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
    examples: list[tuple[list[int], int, Pair]] = []
    for p in pairs:
        titles = names.resolve(p.law) or [p.law]
        targets = [i for t in titles for i in unit_of.get((t, p.article_no, p.article_suffix), [])]
        q_ids = [vocab[t] for t in tok.precise(p.question) if t in vocab]
        if targets and q_ids:
            examples.append((q_ids, targets[0], p))
    report.usable = len(examples)
    if len(examples) < 10:
        raise ValueError(f"only {len(examples)} usable pairs: their articles must be in the knowledge base")
    rng = random.Random(seed)
    rng.shuffle(examples)
    n_hold = max(1, len(examples) // 10)
    hold, fit = examples[:n_hold], examples[n_hold:]

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

    report.holdout_r10_before = best = recall10(T0, hold)
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
        score = recall10(T.detach(), hold)
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
    report.static_weight = choose_static_weight(kb, [p for _, _, p in hold])
    tmp = kb.home / "fusion.json.tmp"  # write then rename: a reader never sees half a file
    tmp.write_text(json.dumps({"static": report.static_weight}), encoding="utf-8")
    tmp.replace(kb.home / "fusion.json")
    return report


def choose_static_weight(
    kb: KnowledgeBase, held: list[Pair], grid: tuple[float, ...] = (0.6, 1.0, 1.5, 2.0, 3.0, 4.0)
) -> float:
    """The static signal's RRF weight with the best R@5 + R@10 + MRR@10 on held-out pairs (the other weights
    stay). Each question's ranked lists are computed once and fused for every weight of the grid."""
    from kb.retrieval import Retriever, SearchFilters

    retriever = Retriever(kb)
    lists = [retriever.ranked_lists(p.question, SearchFilters()) for p in held]
    chunks = {c.chunk_id: c for c in kb.get_chunks(list({cid for ls in lists for ids in ls.values() for cid in ids}))}
    best_w, best_score = grid[0], -1.0
    for w in grid:
        retriever.weights["static"] = w
        score = 0.0
        for p, ranked in zip(held, lists, strict=True):
            units = retriever.top_units(retriever.fuse(ranked), chunks, 10)
            rank = next((i for i, c in enumerate(units, 1) if _is_gold(c, p)), None)
            if rank is not None:
                score += 1.0 + (rank <= 5) + 1.0 / rank
        if score > best_score:
            best_w, best_score = w, score
    return best_w


def _is_gold(chunk: Chunk, p: Pair) -> bool:
    return (
        chunk.article_no == p.article_no
        and chunk.article_suffix == p.article_suffix
        and p.law.endswith(chunk.short_title)
    )
