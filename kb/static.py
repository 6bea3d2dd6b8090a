"""A static embedder distilled from the default one: index the whole corpus in seconds.

Distillation (no training): every token of our jieba vocabulary (tokens seen ≥ `min_count` times in the
corpus) is embedded once by the transformer embedder; the table is mean-centred, its first principal
component removed, and each token weighted by SIF (a / (a + p(token))). A text's vector is the weighted
mean of its tokens' vectors, L2-normalised. Tokens come from the same `LegalTokenizer` as BM25, so one
tokenisation pass feeds both indexes.

`kb train` (see `kb.training`) fine-tunes the table on (question, article) pairs; the trained table is a
separate artifact that search prefers when present.

Why not a sentence-transformers `StaticEmbedding`: it needs a Hugging Face `tokenizers` tokenizer, and
jieba's dictionary segmentation (with our legal user dictionary) has no serialisable equivalent there;
a plain numpy table keyed by jieba tokens is smaller, loads in milliseconds and plugs into the same
`Embeddings` interface through `StaticEmbeddings`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from kb.faults import checkpoint

SIF_A = 1e-3


@dataclass
class StaticModel:
    vocab: dict[str, int]
    vectors: np.ndarray  # (V, d) float32, already SIF-weighted and centred
    name: str = "static"

    def encode_tokens(self, token_lists: Iterable[Sequence[str]]) -> np.ndarray:
        rows = []
        dim = self.vectors.shape[1]
        for tokens in token_lists:
            ids = [self.vocab[t] for t in tokens if t in self.vocab]
            if ids:
                v = self.vectors[ids].sum(axis=0)
                n = float(np.linalg.norm(v))
                rows.append(v / n if n > 0 else v)
            else:
                rows.append(np.zeros(dim, dtype=np.float32))
        return np.asarray(rows, dtype=np.float32).reshape(-1, dim)

    def save(self, directory: Path) -> None:
        """Atomic: write to a temp directory, then rename over the old one. A directory cannot be renamed
        over a non-empty one, so the old one is first moved aside to `<name>.old`; `load` falls back to it
        if a crash comes between the two renames."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "vectors.npy", self.vectors.astype(np.float32))
        (tmp / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        (tmp / "name").write_text(self.name)
        checkpoint("static.written")
        old = directory.with_name(directory.name + ".old")
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            checkpoint("static.moved_aside")
        os.replace(tmp, directory)
        checkpoint("static.switched")
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def remove_aside(directory: Path) -> None:
        """Delete the previous model a crash right after `save`'s switch left under `<name>.old`."""
        if directory.exists():
            shutil.rmtree(directory.with_name(directory.name + ".old"), ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> StaticModel | None:
        """The model saved in `directory`; None if there is none or it is damaged (the caller rebuilds it)."""
        if not directory.exists():
            # A crash between the two renames of `save` leaves the previous model under `.old`: still the
            # one the saved static index was computed with.
            directory = directory.with_name(directory.name + ".old")
        try:
            vectors = np.load(directory / "vectors.npy")
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            name = (directory / "name").read_text().strip()
        except (OSError, ValueError):
            return None
        return cls(vocab=vocab, vectors=vectors, name=name)


def build_vocab(token_lists: Iterable[Sequence[str]], min_count: int = 2, max_size: int = 30000) -> Counter[str]:
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    kept = [(t, n) for t, n in counts.most_common(max_size) if n >= min_count]
    return Counter(dict(kept))


def distill(
    counts: Counter[str],
    teacher: Embeddings,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    name: str = "static",
) -> StaticModel:
    """Embed each vocabulary token once with the teacher; centre, remove the first PC, SIF-weight."""
    tokens = sorted(counts, key=lambda t: -counts[t])
    parts: list[np.ndarray] = []
    for i in range(0, len(tokens), batch_size):
        batch = tokens[i : i + batch_size]
        parts.append(np.asarray(teacher.embed_documents(batch), dtype=np.float32))
        if progress:
            progress(min(i + batch_size, len(tokens)), len(tokens))
    table = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
    table = table - table.mean(axis=0, keepdims=True)
    if len(table) > 1:
        _, _, vt = np.linalg.svd(table[: min(len(table), 20000)], full_matrices=False)
        pc = vt[0]
        table = table - np.outer(table @ pc, pc)
    total = float(sum(counts.values()))
    weights = np.array([SIF_A / (SIF_A + counts[t] / total) for t in tokens], dtype=np.float32)
    table = table * weights[:, None]
    return StaticModel(vocab={t: i for i, t in enumerate(tokens)}, vectors=table.astype(np.float32), name=name)


class StaticEmbeddings(Embeddings):
    """LangChain `Embeddings` over a static table and our tokenizer (for use beside the transformer)."""

    def __init__(self, model: StaticModel, tokenize: Callable[[str], list[str]]):
        self.model, self.tokenize, self.name = model, tokenize, model.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode_tokens(self.tokenize(t) for t in texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode_tokens([self.tokenize(text)])[0].tolist()


class StaticIndex:
    """Chunk vectors of the static model, searched by one matrix product (≈ms for 100k chunks)."""

    def __init__(self, chunk_ids: list[str], matrix: np.ndarray):
        self.chunk_ids, self.matrix = chunk_ids, matrix

    def search(self, query_vector: np.ndarray, k: int = 100, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        if not self.chunk_ids or not np.any(query_vector):
            return []
        scores = self.matrix @ query_vector.astype(self.matrix.dtype)
        if mask is not None:
            scores = np.where(mask > 0, scores, -np.inf)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunk_ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]
