"""Lexical index: BM25 (bm25s) over jieba tokens with a legal user dictionary.

The dictionary holds law names, their short names and abbreviations, and legal terms
(kb/data/legal_terms.txt), so that 个人信息保护法, 诉讼时效 or 劳动合同 stay whole tokens.
Files are written to a fresh directory and switched to with an atomic rename of a pointer file, so a
crash mid-write never leaves a half-written index in use.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable, Sequence
from math import inf, log
from pathlib import Path

import bm25s
import jieba
import jieba.finalseg as finalseg
import numpy as np

from kb.faults import checkpoint
from kb.lawnames import ABBREVIATIONS, LawNameIndex

jieba.setLogLevel(logging.WARNING)

DATA_DIR = Path(__file__).parent / "data"
HAN = re.compile(r"[\u4e00-\u9fff]")  # one Chinese (CJK unified) character
_WORD = re.compile(r"[\u4e00-\u9fff]|[A-Za-z0-9]")
_BLOCK = jieba.re_han_default  # how jieba's `cut` splits a text into blocks it segments one by one
# Blocks whose tokens a tokenizer keeps (≈ 40 MB). When full it starts afresh: the blocks that repeat are
# mostly near each other (a law's headings, a case's parties), so this bound still reads 38% of the
# characters of the full corpus from the cache, against 41% for an unbounded one (700k blocks, ≈ 1 GB).
BLOCK_CACHE = 100_000
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "或",
        "及",
        "等",
        "对",
        "被",
        "把",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "这",
        "那",
        "有",
        "也",
        "就",
        "都",
        "而",
        "但",
        "如果",
        "怎么",
        "怎么办",
        "什么",
        "吗",
        "呢",
        "吧",
        "啊",
        "请问",
        "一下",
        "可以",
        "能",
        "能不能",
        "会",
        "要",
        "应该",
        "是否",
        "哪些",
        "哪个",
        "如何",
        "为什么",
        "一个",
        "没有",
        "还",
        "又",
        "其",
        "之",
        "以",
        "于",
        "为",
        "由",
        "从",
        "向",
        "将",
        "所",
        "者",
        "应当",
        "按照",
        "依照",
        "规定",
        "本法",
        "条",
    ]
)


def legal_terms() -> list[str]:
    path = DATA_DIR / "legal_terms.txt"
    if not path.exists():
        return []
    return [w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and not w.startswith("#")]


class LegalTokenizer:
    """jieba in search mode with our dictionary; thread-safe, independent of jieba's global state."""

    def __init__(self, law_titles: Iterable[str] = ()):
        self._tk = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._blocks: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # block → its tokens (see `cut`)
        self._interned: dict[str, str] = {}  # one string object per distinct token of the cached blocks
        words = set(legal_terms()) | set(ABBREVIATIONS) | set(ABBREVIATIONS.values())
        for title in law_titles:
            words |= LawNameIndex.aliases(title)
        with self._lock:
            self._tk.initialize()
            for w in sorted(words):
                if 1 < len(w) <= 30:
                    self._tk.add_word(w, freq=200000)

    def tokens(self, text: str) -> list[str]:
        """Search-mode tokens (words plus their dictionary sub-words): what BM25 indexes and queries."""
        return self.cut(text)[1]

    def precise(self, text: str) -> list[str]:
        """Precise-mode tokens (each character in one word): what the static embedder averages. Sub-words
        would count a long word's meaning several times (measured on STARD train: R@10 .39 → .44)."""
        return self.cut(text)[0]

    def cut(self, text: str) -> tuple[list[str], list[str]]:
        """(precise, search) tokens from one jieba pass: search mode is precise mode plus the 2- and 3-grams
        of longer words that are in the dictionary (exactly jieba's `cut_for_search`).

        jieba splits a text into blocks (runs of Han characters, letters and digits, and what lies between)
        and segments each block on its own, so the tokens of a text are those of its blocks, one after
        another. Blocks repeat a lot (titles, 编/章 headings, set phrases of the law: 77% of the blocks of a
        corpus), so the tokens of the last `BLOCK_CACHE` blocks are kept and a repeat costs a lookup."""
        precise: list[str] = []
        search: list[str] = []
        cache = self._blocks
        for block in _BLOCK.split(text):
            if not block:
                continue
            done = cache.get(block)
            if done is None:
                done = self._cut_block(block)
                if len(cache) >= BLOCK_CACHE:
                    cache.clear()
                    self._interned.clear()
                cache[block] = done
            precise += done[0]
            search += done[1]
        return precise, search

    def _cut_block(self, block: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # No lock: once built, segmenting only reads the dictionary, so threads (and forked workers, which
        # would inherit a lock held by another thread at the fork, never to be released) share it freely.
        words = self._segment(block) if _BLOCK.match(block) else self._tk.lcut(block)
        freq = self._tk.FREQ
        search: list[str] = []
        for w in words:
            if len(w) > 2:
                search.extend(w[i : i + 2] for i in range(len(w) - 1) if freq.get(w[i : i + 2]))
            if len(w) > 3:
                search.extend(w[i : i + 3] for i in range(len(w) - 2) if freq.get(w[i : i + 3]))
            search.append(w)
        intern = self._interned.setdefault  # a block's tokens are mostly tokens seen before: share them
        return tuple(intern(t, t) for t in _keep(words)), tuple(intern(t, t) for t in _keep(search))

    def _segment(self, sentence: str) -> list[str]:
        """jieba's precise mode with HMM (`Tokenizer._Tokenizer__cut_DAG`) on one block, rewritten so that
        the word graph and the best route are built in one backward pass without the intermediate dicts
        and generators: the same candidates, the same arithmetic in the same order, the same tie-breaking
        (the longer word wins a tie), hence the same words (`tests/test_lexical.py` compares the two).
        About twice as fast, and this is where ingest spends most of its time."""
        freq = self._tk.FREQ
        logtotal = log(self._tk.total)
        n = len(sentence)
        score: list[float] = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best = -inf
            best_x = -1
            i = k
            frag = sentence[k]
            while i < n:
                f = freq.get(frag)
                if f is None:
                    break
                if f:  # a word (not only a prefix of one): a candidate edge k → i
                    s = log(f) - logtotal + score[i + 1]
                    if s >= best:  # ties go to the later (longer) word, as max() over (score, x) does
                        best, best_x = s, i
                i += 1
                frag = sentence[k : i + 1]
            if best_x < 0:  # no word starts here: the character alone
                best, best_x = log(freq.get(sentence[k]) or 1) - logtotal + score[k + 1], k
            score[k], end[k] = best, best_x
        words: list[str] = []
        buf = ""
        x = 0
        while x < n:
            y = end[x] + 1
            if y - x == 1:
                buf += sentence[x]
            else:
                if buf:
                    _flush(buf, freq, words)
                    buf = ""
                words.append(sentence[x:y])
            x = y
        if buf:
            _flush(buf, freq, words)
        return words


def _flush(buf: str, freq: dict[str, int], words: list[str]) -> None:
    """Single characters in a row, as jieba's `__cut_DAG` emits them: unknown runs go to its HMM."""
    if len(buf) == 1:
        words.append(buf)
    elif not freq.get(buf):
        words.extend(finalseg.cut(buf))
    else:
        words.extend(buf)


def _keep(raw: list[str]) -> list[str]:
    return [t.lower() for t in raw if _WORD.search(t) and t not in STOPWORDS]


class LexicalIndex:
    """A BM25 index over chunk texts; `search` returns (chunk position, score) pairs."""

    def __init__(self, retriever: bm25s.BM25, chunk_ids: list[str], tokenizer: LegalTokenizer):
        self.retriever, self.chunk_ids, self.tokenizer = retriever, chunk_ids, tokenizer
        self._vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, chunk_ids: Sequence[str], texts: Iterable[str], tokenizer: LegalTokenizer) -> LexicalIndex:
        return cls.build_from_tokens(chunk_ids, [tokenizer.tokens(t) for t in texts], tokenizer)

    @classmethod
    def build_from_tokens(
        cls, chunk_ids: Sequence[str], corpus: list[list[str]], tokenizer: LegalTokenizer
    ) -> LexicalIndex:
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # bm25s cannot index an empty corpus; one empty document keeps an empty knowledge base searchable
        retriever.index(corpus or [[""]], show_progress=False)
        return cls(retriever, list(chunk_ids), tokenizer)

    def search(self, query: str, k: int = 100, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        tokens = [t for t in self.tokenizer.tokens(query) if t in self._vocab]
        if not tokens or not self.chunk_ids:
            return []
        scores = self.retriever.get_scores(tokens)
        if mask is not None:
            scores = scores * mask
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        # bm25s pads with zero-score documents: those matched nothing
        return [(self.chunk_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, home: Path, generation: int, extras: dict[str, np.ndarray | str] | None = None) -> None:
        """Write to a new directory (with `extras`: arrays → .npy, strings → text files), then atomically
        repoint `lexical.current` at it. Readers see the old index or the new one, never a mix or none."""
        target = home / f"lexical-{generation}"
        current = self.current_dir(home)
        if current is not None and current.name == target.name:
            # Rebuilding the generation in use (its static table changed): never delete what readers use.
            target = home / f"lexical-{generation}.{uuid.uuid4().hex[:8]}"
        tmp = home / f".lexical-{generation}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.retriever.save(str(tmp))
        (tmp / "chunk_ids.json").write_text(json.dumps(self.chunk_ids), encoding="utf-8")
        for name, value in (extras or {}).items():
            if isinstance(value, str):
                (tmp / name).write_text(value, encoding="utf-8")
            else:
                np.save(tmp / f"{name}.npy", value)
        (tmp / "generation").write_text(str(generation))
        checkpoint("lexical.written")
        shutil.rmtree(target, ignore_errors=True)  # left by a crash before the switch: never in use
        os.replace(tmp, target)
        checkpoint("lexical.renamed")
        pointer = home / "lexical.current"
        pointer_tmp = home / "lexical.current.tmp"
        pointer_tmp.write_text(target.name)
        checkpoint("lexical.pointer_written")
        os.replace(pointer_tmp, pointer)
        checkpoint("lexical.switched")
        for old in home.glob("lexical-*"):
            if old.name != target.name:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def remove_older(home: Path, generation: int) -> None:
        """Delete index directories of generations before `generation` (a crash right after a switch leaves
        the previous one behind). Newer ones stay: another process may be about to switch to one."""
        for path in home.glob("lexical-*"):
            number = path.name.removeprefix("lexical-").split(".")[0]
            if number.isdigit() and int(number) < generation:
                shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def current_dir(home: Path) -> Path | None:
        pointer = home / "lexical.current"
        if not pointer.exists():
            return None
        return home / pointer.read_text().strip()

    @classmethod
    def load(cls, home: Path, tokenizer: LegalTokenizer) -> tuple[LexicalIndex, int] | None:
        directory = cls.current_dir(home)
        if directory is None:
            return None
        try:
            generation = int((directory / "generation").read_text())
            retriever = bm25s.BM25.load(str(directory))
            chunk_ids = json.loads((directory / "chunk_ids.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or damaged: the caller rebuilds it
        return cls(retriever, chunk_ids, tokenizer), generation
