"""Query adapter: a linear map on the transformer's query vectors, learned by `kb train`.

The transformer (e5) cannot be fine-tuned here (it runs in a C engine), but its question vectors can be
moved: `adapted = normalise(q + q·A)`, with A (d × d) fitted on (question, gold article) pairs against the
article vectors already in the dense index (a softmax over every stored chunk as negatives), regularised
toward the identity (λ‖A‖²) and early-stopped on held-out questions. Article vectors stay as they are, so
nothing is re-embedded: search runs a second nearest-neighbour query with the adapted vector, and fusion
weighs that list like any other (its weight chosen by `kb train` on other held-out questions).

Why a second list and not a replacement: the adapter learns which articles past questions asked for; on a
question unlike those, the untouched transformer is the better judge, and the fusion keeps both.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.faults import replace_directory
from kb.fitting import keep_best_epoch

ADAPTER_DIR = "adapter"


@dataclass
class QueryAdapter:
    embedder: str  # the query embedder whose vectors `matrix` maps; another embedder cannot use it
    matrix: np.ndarray  # (d, d) float32; adapted = normalise(q + q @ matrix)
    questions: int = 0  # training questions it was fitted on
    history: list[float] = field(default_factory=list)  # held-out score per epoch

    def apply(self, vector: np.ndarray | list[float]) -> list[float]:
        """The adapted query vector, L2-normalised (the store compares by cosine)."""
        q = np.asarray(vector, dtype=np.float32)
        out = q + q @ self.matrix
        norm = float(np.linalg.norm(out))
        return (out / norm if norm > 0 else out).astype(np.float32).tolist()

    def save(self, directory: Path) -> None:
        """Write `directory` whole or not at all (`replace_directory`): a reader never sees half an adapter."""
        meta = {"embedder": self.embedder, "questions": self.questions, "history": self.history}

        def write(tmp: Path) -> None:
            np.save(tmp / "matrix.npy", self.matrix.astype(np.float32))
            (tmp / "adapter.json").write_text(json.dumps(meta), encoding="utf-8")

        replace_directory(directory, write, "adapter")

    @classmethod
    def load(cls, directory: Path) -> QueryAdapter | None:
        """The saved adapter, or None if there is none; a damaged one raises ValueError naming the directory."""
        meta_path = directory / "adapter.json"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            matrix = np.load(directory / "matrix.npy")
            if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
                raise ValueError(f"matrix of shape {matrix.shape}, not square")
            return cls(
                embedder=str(meta["embedder"]),
                matrix=matrix.astype(np.float32),
                questions=int(meta.get("questions", 0)),
                history=[float(x) for x in meta.get("history", [])],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{directory}: not a query adapter ({exc})") from exc

    @staticmethod
    def remove(directory: Path) -> None:
        """Delete a saved adapter (a new training without the transformer index must not leave an old one)."""
        shutil.rmtree(directory, ignore_errors=True)


def fit_adapter(
    questions: np.ndarray,
    positives: list[list[int]],
    documents: np.ndarray,
    fit: list[int],
    stop: list[int],
    lam: float = 0.01,
    temperature: float = 0.02,
    lr: float = 1e-3,
    epochs: int = 40,
    batch_size: int = 64,
    patience: int = 8,
    seed: int = 13,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Fit A on questions `fit` (rows of `questions`, query vectors) whose gold rows of `documents` are
    `positives[i]`; keep the epoch that scores best on questions `stop`. Returns (A, held-out score per epoch).

    Loss: −log of the softmax mass on a question's gold chunks, over every document row (a question with
    several golds is right on any of them), plus λ‖A‖². The score is R@5 + R@10 + MRR@10 over chunk rows,
    summed over `stop`; epoch 0 (A = 0, the transformer itself) is the baseline to beat.
    λ, temperature and learning rate were chosen on a held-out tenth of STARD train."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    fit = [i for i in fit if positives[i]]
    stop = [i for i in stop if positives[i]]
    dim = documents.shape[1]
    docs = torch.tensor(np.asarray(documents, dtype=np.float32))
    qs = torch.tensor(np.asarray(questions, dtype=np.float32))
    A = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.Adam([A], lr=lr)

    def score() -> float:
        if not stop:
            return 0.0
        with torch.no_grad():
            matrix = A.detach()
            q = torch.nn.functional.normalize(qs[stop] + qs[stop] @ matrix, dim=1)
            top = (q @ docs.T).topk(min(10, len(docs)), dim=1).indices.tolist()
        total = 0.0
        for i, row in zip(stop, top, strict=True):
            gold = set(positives[i])
            rank = next((r for r, j in enumerate(row, 1) if j in gold), None)
            total += 0.0 if rank is None else 1.0 + (rank <= 5) + 1.0 / rank
        return total

    def run_epoch() -> None:
        rng.shuffle(fit)
        for start in range(0, len(fit), batch_size):
            rows = fit[start : start + batch_size]
            q = torch.nn.functional.normalize(qs[rows] + qs[rows] @ A, dim=1)
            logits = q @ docs.T / temperature
            gold = torch.zeros_like(logits, dtype=torch.bool)
            for r, i in enumerate(rows):
                gold[r, positives[i]] = True
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~gold, -1e9), 1)).mean()
            loss = loss + lam * (A**2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

    best_matrix, before, history = keep_best_epoch(
        run_epoch, score, lambda: A.detach().clone(), epochs, patience, progress
    )
    return best_matrix.numpy().astype(np.float32), [before, *history]
