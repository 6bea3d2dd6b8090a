"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank, plus direct citation lookup.

Steps for one question:
1. citations written in the question (个保法第13条) are looked up directly and ranked first;
2. lay words are expanded to legal terms (借钱 → 借款) from our table `kb/data/expansions.tsv`;
3. BM25, dense and static search each return a ranked list (and, after `kb train`, the question memory
   of `kb.memory` and the dense search with the query adapter of `kb.adapter`); reciprocal rank fusion
   (RRF) merges them with weights chosen on STARD train;
4. filters (source type, law, validity, dates, court, cause) apply; parts of one article collapse to
   the article; identical texts in several versions collapse to the one in force.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from kb.adapter import ADAPTER_DIR, QueryAdapter
from kb.memory import MEMORY_DIR, QuestionMemory
from kb.models import SOURCE_TYPES, Chunk, Hit
from kb.store import KnowledgeBase

_log = logging.getLogger(__name__)
_Trained = TypeVar("_Trained", QuestionMemory, QueryAdapter)
DATA_DIR = Path(__file__).parent / "data"
# Every transformer call of a search runs on these threads: the engine's OpenMP keeps a team of worker
# threads per calling thread, and calls from one more thread (the caller's) left a second team competing for
# the two cores: p50 of later searches 40 → 52 ms, measured.
_DENSE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dense-query")
# The last queries' transformer vectors: an answer routes its question with the vector its search just made.
_QUERY_VECTORS: dict[tuple[str, str], list[float]] = {}
_QUERY_VECTORS_LOCK = threading.Lock()
# Chosen on STARD train with `python -m evals.tune_fusion` (dev never looked at): a small RRF constant
# lets each signal's first few ranks count (train R@10 .603 at k=60 → .616 at k=10).
RRF_K = 10
# "memory" and "adapted" exist only after `kb train`, which chooses their weights.
WEIGHTS = {
    "dense": 2.0,
    "static": 0.6,
    "bm25": 1.0,
    "bm25x": 0.5,
    "playbook": 1.0,
    "cite": 10.0,
    "memory": 0.0,
    "adapted": 0.0,
}
# Before the transformer index is complete (a fresh machine's first half hour, `ingest --no-dense`), the
# static list is the only semantic signal, and it reads the question's lay words too
# (`KnowledgeBase.static_query_vector`): it and the lay→legal expansions count more, and each list's first
# ranks more. Chosen on STARD train with `python -m evals.tune_fusion --before-transformer` (R@5 + R@10 +
# MRR@10 1.452 → 1.482; dev, looked at once afterwards: 1.360 → 1.428).
WEIGHTS_BEFORE_TRANSFORMER = {"static": 1.0, "bm25x": 1.0}
RRF_K_BEFORE_TRANSFORMER = 5
# Hierarchy of norms: 行政法规 and 部门规章 implement statutes and often restate them in other words; when both
# match a question, the statute is the one to cite. Fused scores of regulation chunks are divided by 1.5
# (chosen on STARD train, every gold, a KB of statutes + 司法解释 + regulations: R@10 .551 → .560; ÷2 is no
# better). Interpretations, cases and news keep their scores: demoting them loses what users need.
SOURCE_PRIOR = {"regulation": 1 / 1.5}
# Signals that may reorder a result list below its first place but never take it: the question memory is
# right on questions like those it was trained on and wrong on the rest, where first place matters most.
FOLLOWERS = frozenset({"memory"})
# Where the transformer's first articles are kept when `dense_slots` > 0 (set by `kb train`): trained signals
# lift articles past questions asked for; on a question unlike those, the transformer's own first hits are
# the ones to keep in sight.
DENSE_SLOT_DEPTH = 3
# The transformer's first chunk takes first place when its cosine leads its second's by this much: the other
# lists then cannot push a confident answer down, which they did (dev: R@1 .290 for the transformer alone, .257
# fused). Chosen on STARD train from cached lists (throw-away script): the 70th percentile of the lead, .0074;
# every percentile from the 50th to the 95th scored at least the plain fusion. Train R@1 / MRR@10 .324 / .523
# → .341 / .534; dev, measured once afterwards: .252 / .443 → .271 / .452 (R@5 and R@10 unchanged). Off in a
# knowledge base `kb train` has chosen weights for (fusion.json sets it), as its choice was made without it.
DENSE_FIRST_MARGIN = 0.0074
CANDIDATES = 100
# A source-type filter on the transformer search: Chroma's filtered query compares the question with every
# vector of the types asked for (85–200 ms on 13–28k vectors here), its unfiltered one reads 1,000
# neighbours in ~11 ms. When the types asked for hold at least this share of the store, the unfiltered
# search is read deep enough to find `candidates` of them and filtered here; else, or if too few turn up
# even 2,000 deep, Chroma filters.
UNFILTERED_MIN_SHARE = 0.2
UNFILTERED_MAX_DEPTH = 2000
VALIDITY_ORDER = {"现行有效": 0, "未知": 1, "尚未生效": 2, "已被修改": 3, "已废止": 4}
COURT_LEVELS = ("最高", "高级", "中级", "基层")


@dataclass
class SearchFilters:
    source_types: tuple[str, ...] = ()  # statute / interpretation / regulation / case / news / document
    laws: tuple[str, ...] = ()  # any way of naming a law: 民法典, 个保法, full titles
    validity: tuple[str, ...] = ()  # 现行有效 …; empty = all
    date_from: str | None = None  # ISO; cases and news by their date
    date_to: str | None = None
    court_level: str | None = None  # 最高 / 高级 / 中级 / 基层
    cause: str | None = None  # 案由 substring
    collections: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (
            self.source_types
            or self.laws
            or self.validity
            or self.date_from
            or self.date_to
            or self.court_level
            or self.cause
        )


def court_level(court: str | None) -> str | None:
    if not court:
        return None
    if "最高人民" in court:
        return "最高"
    if "高级人民" in court:
        return "高级"
    if "中级人民" in court or "知识产权法院" in court or "金融法院" in court:
        return "中级"
    return "基层"


@dataclass
class Expansion:
    pattern: str
    terms: tuple[str, ...]


def load_expansions(path: Path | None = None) -> list[Expansion]:
    """Lay-to-legal table: `lay phrase<TAB>legal term[,legal term…]` per line; # comments."""
    path = path or DATA_DIR / "expansions.tsv"
    rows: list[Expansion] = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lay, _, legal = line.partition("\t")
        terms = tuple(t.strip() for t in re.split(r"[,，]", legal) if t.strip())
        if lay.strip() and terms:
            rows.append(Expansion(lay.strip(), terms))
    return rows


def expand_query(query: str, expansions: Iterable[Expansion]) -> str:
    """Append the legal terms of every lay phrase found in the query (a phrase may use | for 'or')."""
    extra: list[str] = []
    for exp in expansions:
        if any(p and p in query for p in exp.pattern.split("|")):
            extra.extend(t for t in exp.terms if t not in query and t not in extra)
    return query + (" " + " ".join(extra) if extra else "")


@dataclass
class Retriever:
    kb: KnowledgeBase
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    candidates: int = CANDIDATES
    use_dense: bool = True
    rrf_k: int = RRF_K
    # what changes while the transformer index is incomplete or not used (`before_transformer`)
    weights_before_transformer: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS_BEFORE_TRANSFORMER))
    rrf_k_before_transformer: int = RRF_K_BEFORE_TRANSFORMER
    dense_slots: int = 0  # the transformer's first N articles always make the top DENSE_SLOT_DEPTH (kb train)
    dense_first_margin: float = DENSE_FIRST_MARGIN  # 0: the transformer's first chunk gets no first place
    unfiltered_min_share: float = UNFILTERED_MIN_SHARE  # above 1: Chroma applies every type filter
    memory: QuestionMemory | None = None  # `kb train`'s question memory; loaded from KB_HOME when not given
    adapter: QueryAdapter | None = None  # `kb train`'s query adapter; loaded from KB_HOME when not given

    def __post_init__(self) -> None:
        self.expansions = load_expansions()
        # `kb train` may have chosen fusion weights for this knowledge base
        tuned = self.kb.home / "fusion.json"
        if tuned.exists():
            with contextlib.suppress(ValueError, AttributeError):
                chosen = json.loads(tuned.read_text())
                self.weights.update({k: float(v) for k, v in chosen.items() if k in self.weights})
                self.dense_slots = int(chosen.get("dense_slots", self.dense_slots))
                # a choice written before the rule existed was made without it
                self.dense_first_margin = float(chosen.get("dense_first_margin", 0.0))
        if self.memory is None:
            self.memory = self._load_trained(MEMORY_DIR, QuestionMemory.load, "question memory")
        if self.adapter is None:
            self.adapter = self._load_trained(ADAPTER_DIR, QueryAdapter.load, "query adapter")
        self._lookup: tuple[int, dict[Any, list[str]]] = (-1, {})

    def _load_trained(self, name: str, load: Callable[[Path], _Trained | None], what: str) -> _Trained | None:
        """A `kb train` artifact under KB_HOME (question memory, query adapter) if this knowledge base's query
        embedder made the vectors it holds; a damaged or foreign one is skipped with a warning."""
        from kb.embeddings import embedder_name

        directory = self.kb.home / name
        if not directory.exists():
            return None  # the common case: no `kb train`, and no embedder loaded just to find that out
        try:
            artifact = load(directory)
        except ValueError as exc:  # a damaged artifact must not stop search: search goes on without it
            _log.warning("%s not used: %s; run `python -m kb train` again", what, exc)
            return None
        if artifact is not None and artifact.embedder != embedder_name(self.kb.embedder):
            _log.warning(
                "%s not used: made with %s, this knowledge base embeds with %s; run `python -m kb train` again",
                what,
                artifact.embedder,
                embedder_name(self.kb.embedder),
            )
            return None
        return artifact

    # --- signals ----------------------------------------------------------------------------------
    def citation_hits(self, query: str) -> list[str]:
        from kb.citations import parse_citations, verify_citation

        names = self.kb.law_names()
        ids: list[str] = []
        for citation in parse_citations(query, names):
            verified = verify_citation(citation, self.kb, names)
            ids.extend(c for c in verified.chunk_ids if c not in ids)
        return ids

    def playbook_hits(self, query: str) -> list[str]:
        """Articles our remedies playbooks cite for the situation the question describes (when one clearly
        matches): curated lay→legal knowledge, as one more ranked list. The playbook's claims and steps are
        ranked by how well they match the question, and each brings its statutes, then its interpretations;
        the playbook's precedents (their holding) take every other place."""
        from kb.answer import PlaybookIndex, confident
        from kb.playbooks import shipped_playbooks

        if getattr(self, "_playbooks", None) is None:
            self._playbooks = PlaybookIndex(list(shipped_playbooks()), self.kb.tokenizer.tokens)
        ranked = self._playbooks.rank(query)
        if not ranked or not confident(ranked):
            return []
        playbook = ranked[0].playbook
        ids: list[str] = []
        for item in self._playbooks.rank_items(query, playbook):
            for cite in [*item.basis, *item.optional_basis]:
                ids.extend(c for c in self._cited_chunk(cite) if c not in ids)
        cases = [cid for case_id in playbook.cases for cid in self._cited_chunk(case_id, case=True)]
        mixed: list[str] = []
        for i, cid in enumerate(ids):
            mixed.append(cid)
            if i < len(cases):
                mixed.append(cases[i])
        return mixed + cases[len(ids) :]

    def _cited_chunk(self, cite: str, case: bool = False) -> list[str]:
        """The first chunk of the article a playbook citation names (or of the case, by its id), if it exists;
        cached per catalog generation."""
        from kb.citations import parse_citation, verify_citation

        cache = self._lookups()
        if case and cite not in cache:
            cache[cite] = [c.chunk_id for c in self.kb.case_chunks(cite)[:1]]
        elif cite not in cache:
            names = self.kb.law_names()
            citation = parse_citation(cite.replace("〈", "《").replace("〉", "》"), names)
            verified = verify_citation(citation, self.kb, names) if citation is not None else None
            cache[cite] = list(verified.chunk_ids[:1]) if verified is not None and verified.status == "exists" else []
        return list(cache[cite])

    def _lookups(self) -> dict[Any, list[str]]:
        """Chunk ids found for a playbook citation, a case id or a memory's `ArticleKey`, for this catalog
        generation (a re-ingest starts afresh)."""
        if self._lookup[0] != self.kb.generation():
            self._lookup = (self.kb.generation(), {})
        return self._lookup[1]

    def _mask(self, filters: SearchFilters, lexical: Any) -> np.ndarray | None:
        """1/0 per chunk of `lexical` (the index this search uses: a reload in between must not change the
        shape) for the source types asked for."""
        if not filters.source_types:
            return None
        key = tuple(sorted(filters.source_types))
        cache = getattr(self, "_mask_cache", {})
        if cache.get("index") is not lexical:
            cache = {"index": lexical}
        if key not in cache:
            types = self._chunk_types()
            cache[key] = np.array([1.0 if types.get(c) in key else 0.0 for c in lexical.chunk_ids], dtype=np.float32)
        self._mask_cache = cache
        return cache[key]

    def _chunk_types(self) -> dict[str, str]:
        """Source type of every stored chunk, for this catalog generation."""
        return self._types()[1]

    def _type_counts(self) -> Counter[str]:
        """How many chunks of each source type are stored, for this catalog generation."""
        return self._types()[2]

    def _types(self) -> tuple[int, dict[str, str], Counter[str]]:
        generation = self.kb.generation()
        cached: tuple[int, dict[str, str], Counter[str]] | None = getattr(self, "_types_cache", None)
        if cached is None or cached[0] != generation:
            types = dict(self.kb._conn().execute("SELECT chunk_id, source_type FROM chunks").fetchall())
            cached = (generation, types, Counter(types.values()))
            self._types_cache = cached
        return cached

    def _dense_filtered(self, vectors: list[list[float]], types: tuple[str, ...]) -> list[list[str]]:
        """The transformer's `candidates` nearest chunks of `types` for each vector (see UNFILTERED_MIN_SHARE)."""
        chunk_types = self._chunk_types()
        counts = self._type_counts()
        share = sum(counts.get(t, 0) for t in types) / max(1, len(chunk_types))
        if share >= self.unfiltered_min_share:
            # the types' nearest chunks among the first `depth` neighbours are the filtered search's first ones;
            # read deeper once if too few are there, and accept half a list (its tail adds little to RRF)
            for depth in (min(UNFILTERED_MAX_DEPTH, int(self.candidates / share * 1.5) + 1), UNFILTERED_MAX_DEPTH):
                found = [
                    [cid for cid, _ in hits if chunk_types.get(cid) in types][: self.candidates]
                    for hits in self.kb.dense_search_vectors(vectors, depth)
                ]
                if all(len(ids) >= self.candidates // 2 for ids in found):
                    return found
        where = {"source_type": types[0] if len(types) == 1 else {"$in": list(types)}}
        return [[cid for cid, _ in hits] for hits in self.kb.dense_search_vectors(vectors, self.candidates, where)]

    def ranked_lists(
        self, query: str, filters: SearchFilters, before_transformer: bool | None = None
    ) -> dict[str, list[str]]:
        """Each signal's ranked chunk ids; a signal with weight 0 is not computed. `before_transformer`
        (found out when not given) leaves the transformer's lists out and lets the static list read the
        question's words outside its table."""
        on = {name for name, w in self.weights.items() if w > 0}
        lists: dict[str, list[str]] = {"cite": self.citation_hits(query)} if "cite" in on else {}
        # The transformer's query embedding is the slow step and runs in C without the GIL: start it first,
        # in a thread, and compute the other lists meanwhile.
        # The transformer takes over when its index is complete (`dense_ready`); the memory needs only the
        # question's vector, so it works meanwhile.
        dense_ready = not (self.before_transformer() if before_transformer is None else before_transformer)
        want_dense = "dense" in on and dense_ready
        want_memory = "memory" in on and self.memory is not None
        want_adapted = "adapted" in on and self.adapter is not None and dense_ready
        dense = (
            _DENSE_POOL.submit(self._dense_list, query, filters, want_dense, want_adapted)
            if want_dense or want_memory or want_adapted
            else None
        )
        lexical, static = self.kb.lexical_and_static()  # one snapshot: a reload must not mix two
        mask = self._mask(filters, lexical)
        if "bm25" in on:
            lists["bm25"] = [cid for cid, _ in lexical.search(query, self.candidates, mask)]
        expanded = expand_query(query, self.expansions)
        # Expanded words get a list of their own: mixed into the original query they dilute its top ranks.
        if "bm25x" in on and expanded != query:
            lists["bm25x"] = [cid for cid, _ in lexical.search(expanded, self.candidates, mask)]
        if "playbook" in on:
            lists["playbook"] = self.playbook_hits(query)
        if "static" in on and static is not None:
            # Without the transformer's list, the static table is the only signal that knows what a lay
            # word means: words the corpus never uses (狗, 房子) get the transformer's vector instead of
            # none. With it, they are left out: each would cost ~5 ms on the critical path for +.006 on
            # STARD train (R@5 + R@10 + MRR@10; +.010 without the transformer).
            if dense_ready:
                vector = self.kb.static_query_vector(query)
            else:  # on a query thread: the engine's calls from a second thread slow every later search
                vector = _DENSE_POOL.submit(self.kb.static_query_vector, query, True).result()
            lists["static"] = [cid for cid, _ in static.search(vector, self.candidates, mask)]
        if dense is not None:
            ids, adapted, vector, lead = dense.result()
            if want_dense:
                lists["dense"] = ids
                if ids and self.dense_first_margin > 0 and lead is not None and lead >= self.dense_first_margin:
                    lists["dense_first"] = ids[:1]
            if want_adapted:
                lists["adapted"] = adapted
            if want_memory:
                lists["memory"] = self.memory_hits(vector)
        return lists

    def memory_hits(self, vector: list[float]) -> list[str]:
        """The question memory's ranked articles (first chunk of each) for a query vector."""
        assert self.memory is not None
        ids: list[str] = []
        cache = self._lookups()
        for key, _ in self.memory.vote(vector):
            if key not in cache:
                chunks = self.kb.article_chunks(key.title, key.article_no, key.article_suffix)
                cache[key] = [c.chunk_id for c in chunks[:1]]
            ids.extend(cache[key])
        return ids

    def _dense_list(
        self, query: str, filters: SearchFilters, search: bool = True, adapted: bool = False
    ) -> tuple[list[str], list[str], list[float], float | None]:
        """The dense ranked list (empty unless `search`), the list of the adapted query vector (empty unless
        `adapted`), the query vector, and how far the first chunk's cosine leads the second's (None when a
        source-type filter applies: `DENSE_FIRST_MARGIN` was chosen on the whole store)."""
        vector = self._embed_query(query)
        if not (search or adapted):
            return [], [], vector, None
        types = filters.source_types
        stored = {t for t in SOURCE_TYPES if self.kb.has_source_type(t)}
        wanted = [vector] if search else []
        if adapted and self.adapter is not None:
            wanted.append(self.adapter.apply(vector))
        lead: float | None = None
        if types and not stored <= set(types):
            found = self._dense_filtered(wanted, types)
        else:  # a filter that admits every type the store holds is no filter
            scored = self.kb.dense_search_vectors(wanted, self.candidates)
            if search and len(scored[0]) >= 2:
                lead = scored[0][0][1] - scored[0][1][1]
            found = [[cid for cid, _ in hits] for hits in scored]
        ids = found.pop(0) if search else []
        moved = found.pop(0) if found else []
        return ids, moved, vector, lead

    def query_vector(self, query: str) -> list[float]:
        """The transformer's vector of a query, made on the search threads; the search of the same query has
        usually made it already (the answer's playbook routing asks for it right after the search)."""
        return _DENSE_POOL.submit(self._embed_query, query).result()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Texts embedded as queries on the search threads, through this knowledge base's vector cache
        (the playbooks' situations: embedded once per machine, then read back)."""
        return _DENSE_POOL.submit(self.kb.cached_embedder.embed_queries, texts).result()

    def _embed_query(self, query: str) -> list[float]:
        from kb.embeddings import embedder_name

        key = (embedder_name(self.kb.embedder), query)
        with _QUERY_VECTORS_LOCK:
            vector = _QUERY_VECTORS.get(key)
        if vector is None:
            vector = self.kb.embedder.embed_query(query)
            with _QUERY_VECTORS_LOCK:
                _QUERY_VECTORS[key] = vector
                while len(_QUERY_VECTORS) > 64:
                    _QUERY_VECTORS.pop(next(iter(_QUERY_VECTORS)))
        return vector

    # --- fusion -----------------------------------------------------------------------------------
    def before_transformer(self) -> bool:
        """Whether search runs without the transformer: its index is incomplete (it fills in behind the
        lexical and static indexes) or this retriever does not use it."""
        return not (self.use_dense and self.kb.dense_ready())

    def fuse(
        self, lists: dict[str, list[str]], before_transformer: bool = False
    ) -> list[tuple[str, float, dict[str, int]]]:
        """Reciprocal rank fusion of the ranked lists; `before_transformer` applies that phase's weights to
        the signals this retriever has on, and its RRF constant."""
        weights, rrf_k = self.weights, self.rrf_k
        lists = dict(lists)
        first = lists.pop("dense_first", [])  # no RRF list: a place (`_put_dense_first`)
        if before_transformer:
            on = {n: w for n, w in self.weights_before_transformer.items() if weights.get(n, 0) > 0}
            weights, rrf_k = {**weights, **on}, self.rrf_k_before_transformer
        scores: dict[str, float] = {}
        signals: dict[str, dict[str, int]] = {}
        priors = self._source_priors()
        leader: str | None = None
        for name, ids in sorted(lists.items(), key=lambda kv: kv[0] in FOLLOWERS):
            if name in FOLLOWERS and leader is None and scores:
                leader = max(scores, key=lambda c: scores[c])  # first place before the followers count
            weight = weights.get(name, 1.0)
            for rank, cid in enumerate(ids, start=1):
                scores[cid] = scores.get(cid, 0.0) + weight / (rrf_k + rank) * priors.get(cid, 1.0)
                signals.setdefault(cid, {})[name] = rank
        if leader is not None:
            scores[leader] = max(scores[leader], max(scores.values()) + 1e-9)
        order = sorted(scores, key=lambda c: -scores[c])
        if self.dense_slots and lists.get("dense"):
            order = self._keep_dense_first(order, lists["dense"], scores)
        if first and first[0] in scores:
            order = self._put_dense_first(order, first[0], set(lists.get("cite", ())), scores)
            signals[first[0]]["dense_first"] = 1
        return [(cid, scores[cid], signals[cid]) for cid in order]

    def weighted(self, lists: dict[str, list[str]]) -> dict[str, list[str]]:
        """The lists a weighting fuses: those it gives a weight, and the transformer's confident first chunk
        ("dense_first"), which is a place, not a weighted list. Offline tuning over cached lists uses it to
        fuse as search does."""
        return {n: ids for n, ids in lists.items() if self.weights.get(n, 0) > 0 or n == "dense_first"}

    @staticmethod
    def _put_dense_first(order: list[str], cid: str, cited: set[str], scores: dict[str, float]) -> list[str]:
        """Move the transformer's confident first chunk to first place, after any article the question cites
        itself; it takes the score of the chunk it displaces, so scores still descend."""
        order = [c for c in order if c != cid]
        at = next((i for i, c in enumerate(order) if c not in cited), len(order))
        if at < len(order):
            scores[cid] = max(scores[cid], scores[order[at]])
        order.insert(at, cid)
        return order

    def _keep_dense_first(self, order: list[str], dense: list[str], scores: dict[str, float]) -> list[str]:
        """Move each of the transformer's first `dense_slots` chunks that ranks below DENSE_SLOT_DEPTH up to
        that place; it takes the score of the chunk it displaces, so scores still descend."""
        order = list(order)
        firsts = list(dict.fromkeys(dense))[: self.dense_slots]
        at = DENSE_SLOT_DEPTH - 1
        for cid in firsts:
            i = order.index(cid)
            if i > at and len(order) > at:
                scores[cid] = scores[order[at]]
                order.insert(at, order.pop(i))
        return order

    def _source_priors(self) -> dict[str, float]:
        """`SOURCE_PRIOR` per chunk id of the types it names (none on a statutes-only KB), per catalog generation."""
        cached: tuple[int, dict[str, float]] | None = getattr(self, "_priors", None)
        generation = self.kb.generation()
        if cached is None or cached[0] != generation:
            rows = self.kb._conn().execute(
                f"SELECT chunk_id, source_type FROM chunks WHERE source_type IN ({','.join('?' * len(SOURCE_PRIOR))})",
                tuple(SOURCE_PRIOR),
            )
            cached = self._priors = (generation, {cid: SOURCE_PRIOR[t] for cid, t in rows})
        return cached[1]

    @staticmethod
    def top_units(fused: list[tuple[str, float, dict[str, int]]], chunks: dict[str, Chunk], n: int) -> list[Chunk]:
        """The first `n` retrieval units (`unit_key`) of a fused list, from chunks already at hand: tuning
        computes each question's lists once and fuses them under many weightings without reading the store."""
        units: list[Chunk] = []
        seen: set[tuple[str, ...]] = set()
        for cid, _, _ in fused:
            chunk = chunks.get(cid)
            if chunk is None or unit_key(chunk) in seen:
                continue
            seen.add(unit_key(chunk))
            units.append(chunk)
            if len(units) == n:
                break
        return units

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None) -> list[Hit]:
        """The top k hits: one per article (or case section), filtered, best first."""
        filters = filters or SearchFilters()
        before = self.before_transformer()
        fused = self.fuse(self.ranked_lists(query, filters, before), before)
        law_titles = self._resolve_laws(filters.laws)
        hits: list[Hit] = []
        seen_units: set[tuple[str, ...]] = set()
        seen_texts: dict[str, int] = {}
        # Chunks are read window by window (reading and decoding is most of the cost of a search): the first
        # window fills k places unless filters or collapsing reject many; the next is read only if needed.
        window = max(4 * k, 40)
        chunks: dict[str, Chunk] = {}
        for position, (cid, score, signal) in enumerate(fused):
            if position % window == 0:
                if len(hits) >= k:
                    break
                ids = [c for c, _, _ in fused[position : position + window]]
                chunks = {c.chunk_id: c for c in self.kb.get_chunks(ids)}
            chunk = chunks.get(cid)
            if chunk is None or not passes(chunk, filters, law_titles):
                continue
            if len(hits) >= k and chunk.content_hash not in seen_texts:
                continue  # full: a later candidate can only swap in a better version of a text already kept
            unit = unit_key(chunk)
            if unit in seen_units:
                continue
            # The same text in several versions: keep the best-ranked, but prefer the version in force.
            if chunk.content_hash in seen_texts:
                prior = hits[seen_texts[chunk.content_hash]]
                if VALIDITY_ORDER.get(chunk.validity, 9) < VALIDITY_ORDER.get(prior.chunk.validity, 9):
                    hits[seen_texts[chunk.content_hash]] = Hit(prior.rank, chunk, prior.score, prior.signals)
                continue
            seen_units.add(unit)
            seen_texts[chunk.content_hash] = len(hits)
            hits.append(Hit(rank=len(hits) + 1, chunk=chunk, score=score, signals=signal))
        return hits

    def _resolve_laws(self, laws: tuple[str, ...]) -> set[str] | None:
        if not laws:
            return None
        names = self.kb.law_names()
        titles: set[str] = set()
        for law in laws:
            titles.update(names.resolve(law) or [law])
        return titles


def unit_key(chunk: Chunk) -> tuple[str, ...]:
    """Parts of one article are one unit of retrieval; a court case is one unit (its best-matching section
    stands for it, so one case never fills several places of a result list)."""
    if chunk.article:
        return (chunk.doc_id, chunk.article)
    if chunk.source_type == "case":
        return (chunk.doc_id,)
    if chunk.section:
        return (chunk.doc_id, chunk.section)
    return (chunk.doc_id, "", str(chunk.part))


def passes(chunk: Chunk, f: SearchFilters, law_titles: set[str] | None) -> bool:
    if f.source_types and chunk.source_type not in f.source_types:
        return False
    if law_titles is not None and chunk.title not in law_titles:
        return False
    if f.validity and chunk.validity not in f.validity:
        return False
    if f.date_from or f.date_to:
        when = chunk.date or chunk.effective or chunk.published
        if not when or (f.date_from and when < f.date_from) or (f.date_to and when > f.date_to):
            return False
    if f.court_level and court_level(chunk.court) != f.court_level:
        return False
    return not (f.cause and f.cause not in (chunk.cause or "") + chunk.title)
