"""Question memory: the questions `kb train` saw, each with its gold articles, as one more retrieval signal.

A new question is embedded by the transformer (the same query vector the dense search uses), compared with
every training question, and the gold articles of its nearest ones vote (softmax over cosine similarities);
the few articles with the most votes form a ranked list that fusion weighs like any other signal.

Why a memory and not only a fine-tuned embedder: people ask about the same few hundred articles in
endlessly varied words, and a consultation log already says which article answered each question. The
memory recalls those answers; it knows nothing of articles no one asked about, so fusion keeps it from first
place (`kb.retrieval.FOLLOWERS`), where on such questions it would only push the right article down.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from kb.faults import replace_directory

MEMORY_DIR = "memory"


@dataclass(frozen=True)
class ArticleKey:
    """One article (条) of one document, by full title and number (之一 → suffix 1)."""

    title: str
    article_no: int
    article_suffix: int = 0


@dataclass
class QuestionMemory:
    embedder: str  # the query embedder that made `vectors`; another embedder cannot use them
    vectors: np.ndarray  # (questions, dim), rows L2-normalised
    golds: list[tuple[ArticleKey, ...]]  # per question
    neighbours: int = 10
    temperature: float = 0.02
    top: int = 2  # articles in the ranked list
    questions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.golds) != len(self.vectors):
            raise ValueError(f"memory: {len(self.vectors)} vectors but {len(self.golds)} gold lists")

    def __len__(self) -> int:
        return len(self.golds)

    def vote(self, vector: np.ndarray | list[float]) -> list[tuple[ArticleKey, float]]:
        """Articles ranked by the votes of the nearest training questions; weights sum to 1."""
        if not len(self):
            return []
        q = np.asarray(vector, dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        sims = self.vectors @ q
        m = min(self.neighbours, len(sims))
        nearest = np.argpartition(-sims, m - 1)[:m]
        weights = np.exp((sims[nearest] - sims[nearest].max()) / self.temperature)
        weights /= weights.sum()
        votes: dict[ArticleKey, float] = {}
        for j, w in zip(nearest, weights, strict=True):
            golds = self.golds[int(j)]
            for key in golds:
                votes[key] = votes.get(key, 0.0) + float(w) / len(golds)
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        return ranked[: self.top]

    def subset(self, rows: list[int]) -> QuestionMemory:
        """A memory of some of these questions (by row): `kb train` tries weights on questions the memory
        must not know."""
        return replace(
            self,
            vectors=self.vectors[rows],
            golds=[self.golds[i] for i in rows],
            questions=[self.questions[i] for i in rows] if self.questions else [],
        )

    def save(self, directory: Path) -> None:
        """Write `directory` whole or not at all (`replace_directory`): a reader never sees half of it."""
        meta = {
            "embedder": self.embedder,
            "neighbours": self.neighbours,
            "temperature": self.temperature,
            "top": self.top,
            "golds": [[asdict(k) for k in g] for g in self.golds],
            "questions": self.questions,
        }

        def write(tmp: Path) -> None:
            np.save(tmp / "vectors.npy", self.vectors.astype(np.float32))
            (tmp / "memory.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

        replace_directory(directory, write, "memory")

    @classmethod
    def load(cls, directory: Path) -> QuestionMemory | None:
        """The saved memory, or None if there is none; a damaged one raises ValueError naming the file."""
        meta_path = directory / "memory.json"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            vectors = np.load(directory / "vectors.npy")
            golds = [tuple(ArticleKey(**k) for k in g) for g in meta["golds"]]
            return cls(
                embedder=meta["embedder"],
                vectors=vectors,
                golds=golds,
                neighbours=int(meta.get("neighbours", 10)),
                temperature=float(meta.get("temperature", 0.02)),
                top=int(meta.get("top", 2)),
                questions=list(meta.get("questions", [])),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{directory}: not a question memory ({exc})") from exc


def build_memory(
    questions: list[str], golds: list[tuple[ArticleKey, ...]], vectors: np.ndarray, embedder: str
) -> QuestionMemory:
    """A memory from questions, their gold articles and their query vectors (rows normalised here)."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return QuestionMemory(embedder=embedder, vectors=v / norms, golds=golds, questions=list(questions))
