"""kb.retrieval on real knowledge bases: hybrid search, citation lookup, filters, dedup, validity."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from kb import retrieval
from kb.models import Hit
from kb.retrieval import (
    DENSE_FIRST_MARGIN,
    RRF_K_BEFORE_TRANSFORMER,
    UNFILTERED_MIN_SHARE,
    WEIGHTS,
    WEIGHTS_BEFORE_TRANSFORMER,
    Expansion,
    Retriever,
    SearchFilters,
    court_level,
    expand_query,
    load_expansions,
    passes,
    unit_key,
)
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"
CPL = "中华人民共和国消费者权益保护法"
NEWBORN = "宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？"


@pytest.fixture(scope="module")
def retriever(small_kb: KnowledgeBase) -> Retriever:
    return Retriever(small_kb)


def units(hits: list[Hit]) -> list[tuple[str, ...]]:
    return [unit_key(h.chunk) for h in hits]


def assert_well_formed(hits: list[Hit], k: int) -> None:
    assert len(hits) <= k
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(set(units(hits))) == len(hits)
    assert len({h.chunk.content_hash for h in hits}) == len(hits)


# --- hybrid search -------------------------------------------------------------------------------------


def test_newborn_question_finds_pipl_articles(retriever: Retriever) -> None:
    hits = retriever.search(NEWBORN, k=10)
    assert_well_formed(hits, 10)
    pipl = [h for h in hits if h.chunk.title == PIPL]
    assert pipl, [h.chunk.citation for h in hits]
    assert all(h.chunk.article for h in pipl)
    # the news report about exactly this is found too
    assert any(h.chunk.source_type == "news" for h in hits[:5])
    assert "dense" in hits[0].signals  # both lists took part
    assert any("bm25" in h.signals for h in hits)


def test_newborn_question_restricted_to_statutes(retriever: Retriever) -> None:
    hits = retriever.search(NEWBORN, k=5, filters=SearchFilters(source_types=("statute",)))
    assert hits and all(h.chunk.source_type == "statute" for h in hits)
    assert hits[0].chunk.title == PIPL


def test_direct_citation_lookup_ranks_the_article_first(retriever: Retriever) -> None:
    for query in ("个保法第13条", "个人信息保护法第十三条有什么规定", "《中华人民共和国个人信息保护法》第十三条"):
        hits = retriever.search(query, k=5)
        top = hits[0]
        assert (top.chunk.title, top.chunk.article) == (PIPL, "第十三条"), query
        assert top.signals.get("cite") == 1
    assert retriever.citation_hits("个保法第999条") == []
    assert retriever.citation_hits("今天天气很好") == []


def test_search_for_a_consumer_question(retriever: Retriever) -> None:
    hits = retriever.search("经营者欺诈 三倍赔偿", k=5)
    assert (hits[0].chunk.title, hits[0].chunk.article) in {(CPL, "第五十五条"), (CPL, "第五十八条")}
    assert (CPL, "第五十五条") in [(h.chunk.title, h.chunk.article) for h in hits]


# --- filters -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("types", [("case",), ("news",), ("interpretation",), ("statute", "interpretation")])
def test_source_type_filter(retriever: Retriever, small_kb: KnowledgeBase, types: tuple[str, ...]) -> None:
    if not any(small_kb.counts().get(t) for t in types):
        pytest.skip(f"small_kb holds no {types}")
    hits = retriever.search("个人信息 同意 处理", k=10, filters=SearchFilters(source_types=types))
    assert hits
    assert {h.chunk.source_type for h in hits} <= set(types)
    assert_well_formed(hits, 10)


def test_a_type_filter_admitting_every_stored_type_searches_unfiltered(
    retriever: Retriever, small_kb: KnowledgeBase
) -> None:
    stored = tuple(t for t in small_kb.counts() if small_kb.has_source_type(t))
    assert len(stored) >= 2 and not small_kb.has_source_type("document")
    everything = SearchFilters(source_types=(*stored, "document"))
    assert retriever._dense_list(NEWBORN, everything)[0] == retriever._dense_list(NEWBORN, SearchFilters())[0]
    only_statutes, _, _, lead = retriever._dense_list(NEWBORN, SearchFilters(source_types=("statute",)))
    assert lead is None  # the confident-first rule was chosen on the whole store
    types = {c.source_type for c in small_kb.get_chunks(only_statutes)}
    assert only_statutes and types == {"statute"}


def test_a_type_filter_reads_the_unfiltered_transformer_search_when_the_types_are_common(
    retriever: Retriever, small_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma's filtered search is slow on a large store: types holding a fifth of it or more are picked out
    of a deeper unfiltered search; rare ones are left to Chroma. Either way the same list as Chroma's."""
    counts = small_kb.counts()
    share = {t: n / sum(counts.values()) for t, n in counts.items()}
    common = max(share, key=lambda t: share[t])
    rare = min(share, key=lambda t: share[t])
    assert share[common] >= UNFILTERED_MIN_SHARE > share[rare]
    vector = small_kb.embedder.embed_query(NEWBORN)
    calls: list[object] = []
    search = small_kb.dense_search_vectors
    monkeypatch.setattr(
        small_kb, "dense_search_vectors", lambda v, k=100, where=None: calls.append(where) or search(v, k, where)
    )
    for types, filtered_by_chroma in (((common,), False), ((rare,), True)):
        calls.clear()
        ours = retriever._dense_filtered([vector], types)[0]
        assert (calls[-1] is not None) is filtered_by_chroma
        chroma = [c for c, _ in search([vector], retriever.candidates, {"source_type": types[0]})[0]]
        assert ours and ours[:20] == chroma[:20]
        assert {c.source_type for c in small_kb.get_chunks(ours)} == set(types)


@pytest.mark.parametrize(("law", "title"), [("个保法", PIPL), ("消法", CPL), (CPL, CPL), ("消费者权益保护法", CPL)])
def test_law_filter_accepts_any_name(retriever: Retriever, law: str, title: str) -> None:
    hits = retriever.search("个人信息 泄露", k=10, filters=SearchFilters(laws=(law,)))
    assert hits
    assert {h.chunk.title for h in hits} == {title}


def test_filter_by_unknown_law_finds_nothing(retriever: Retriever) -> None:
    assert retriever.search("个人信息", k=5, filters=SearchFilters(laws=("不存在的法",))) == []


def test_date_filters(retriever: Retriever) -> None:
    query = "个人信息 处理 同意"
    assert retriever.search(query, k=10, filters=SearchFilters(date_from="2100-01-01")) == []
    recent = retriever.search(query, k=10, filters=SearchFilters(date_from="2021-10-01"))
    assert recent and all(
        (h.chunk.date or h.chunk.effective or h.chunk.published or "") >= "2021-10-01" for h in recent
    )
    assert PIPL in {h.chunk.title for h in recent}  # in force since 2021-11-01
    older = retriever.search(query, k=10, filters=SearchFilters(date_to="2021-10-01"))
    assert older and PIPL not in {h.chunk.title for h in older}
    assert all((h.chunk.date or h.chunk.effective or h.chunk.published or "9") <= "2021-10-01" for h in older)


def test_court_levels() -> None:
    assert court_level("最高人民法院") == "最高" and court_level("北京市高级人民法院") == "高级"
    assert court_level("杭州互联网法院") == "基层" and court_level("北京知识产权法院") == "中级"
    assert court_level("上海市第一中级人民法院") == "中级" and court_level(None) is None


# --- dedup ----------------------------------------------------------------------------------------------


def test_parts_of_one_article_collapse_to_the_article(retriever: Retriever, small_kb: KnowledgeBase) -> None:
    parts = small_kb.article_chunks(CPL, 56)
    assert len(parts) == 2  # 第五十六条 is long enough to be stored in two parts
    query = "伪造商品的产地 侵害消费者个人信息 记入信用档案 向社会公布"
    lists = retriever.ranked_lists(query, SearchFilters())
    ranked = [cid for ids in lists.values() for cid in ids]
    assert {p.chunk_id for p in parts} <= set(ranked)  # both parts match ...
    hits = retriever.search(query, k=10)
    assert [h.chunk.article for h in hits if h.chunk.title == CPL].count("第五十六条") == 1  # ... one hit
    assert_well_formed(hits, 10)


def test_identical_texts_collapse_to_the_version_in_force(lexical_kb: KnowledgeBase) -> None:
    kb = KnowledgeBase(lexical_kb.home, today=date(2026, 11, 28))
    versions = {d.doc_id: d for d in kb.documents() if d.title == "中华人民共和国商标法"}
    assert len(versions) == 2
    validity = {doc_id: kb.validity_of(doc_id) for doc_id in versions}
    assert sorted(validity.values()) == ["尚未生效", "现行有效"]
    current = next(d for d, v in validity.items() if v == "现行有效")
    retriever = Retriever(kb, use_dense=False)
    hits = retriever.search("注册商标 转让 商标局 核准", k=10, filters=SearchFilters(laws=("商标法",)))
    assert hits
    assert_well_formed(hits, 10)
    texts_by_doc: dict[str, set[str]] = {}
    for c in kb.iter_chunks("WHERE title = ?", ("中华人民共和国商标法",)):
        texts_by_doc.setdefault(c.doc_id, set()).add(c.content_hash)
    shared = set.intersection(*texts_by_doc.values())
    assert shared  # many articles read the same in both versions
    for h in hits:
        if h.chunk.content_hash in shared:
            assert h.chunk.doc_id == current, h.chunk.citation


def test_validity_filter(lexical_kb: KnowledgeBase, small_kb: KnowledgeBase) -> None:
    kb = KnowledgeBase(lexical_kb.home, today=date(2026, 11, 28))
    retriever = Retriever(kb, use_dense=False)
    query = "注册商标 使用许可"
    valid = retriever.search(query, k=10, filters=SearchFilters(laws=("商标法",), validity=("现行有效",)))
    future = retriever.search(query, k=10, filters=SearchFilters(laws=("商标法",), validity=("尚未生效",)))
    assert valid and future
    assert {h.chunk.validity for h in valid} == {"现行有效"}
    assert {h.chunk.validity for h in future} == {"尚未生效"}
    assert {h.chunk.doc_id for h in valid}.isdisjoint({h.chunk.doc_id for h in future})
    # before the PIPL took effect (2021-11-01) its articles are not in force
    before = Retriever(KnowledgeBase(small_kb.home, today=date(2021, 1, 1)), use_dense=False)
    hits = before.search("个人信息处理者 同意", k=10, filters=SearchFilters(validity=("现行有效",)))
    assert hits and PIPL not in {h.chunk.title for h in hits}
    unfiltered = before.search("个人信息处理者 同意", k=10, filters=SearchFilters(laws=("个保法",)))
    assert unfiltered and {h.chunk.validity for h in unfiltered} == {"尚未生效"}


# --- parts ---------------------------------------------------------------------------------------------


def test_lexical_only_retriever_works_without_vectors(lexical_kb: KnowledgeBase) -> None:
    retriever = Retriever(lexical_kb, use_dense=False)
    lists = retriever.ranked_lists("民法典第1034条 个人信息", SearchFilters())
    assert "dense" not in lists
    hits = retriever.search("民法典第1034条 个人信息", k=5)
    assert (hits[0].chunk.short_title, hits[0].chunk.article) == ("民法典", "第一千零三十四条")


def test_the_transformer_takes_over_only_when_its_index_is_complete(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    """A partly filled dense index would rank the few chunks it holds first whatever the question: search
    leaves it out until every chunk has its vector, and uses it again once the fill is done."""
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home)
    kb = KnowledgeBase(home)
    assert kb.dense_ready()
    missing = sorted(kb.dense_ids())[: len(kb.dense_ids()) // 2]
    KnowledgeBase(home).vectorstore._collection.delete(ids=missing)  # as if the fill were half way
    partial = KnowledgeBase(home)
    assert not partial.dense_ready() and partial.dense_status()[0] < partial.dense_status()[1]
    retriever = Retriever(partial)
    lists = retriever.ranked_lists(NEWBORN, SearchFilters())
    assert "dense" not in lists and lists["bm25"] and lists["static"]
    hits = retriever.search(NEWBORN, k=10)
    assert any(h.chunk.title == PIPL for h in hits) and not any("dense" in h.signals for h in hits)
    assert partial.fill_dense() == len(missing)
    assert partial.dense_ready()
    assert retriever.ranked_lists(NEWBORN, SearchFilters())["dense"]


def test_fusion_is_weighted_reciprocal_rank(small_kb: KnowledgeBase) -> None:
    retriever = Retriever(small_kb, use_dense=False)
    fused = retriever.fuse({"bm25": ["a", "b"], "dense": ["b", "c"], "cite": ["c"]})
    order = [cid for cid, _, _ in fused]
    assert order == ["c", "b", "a"]  # cite weighs most, then agreement of two lists
    scores = {cid: score for cid, score, _ in fused}
    k = retriever.rrf_k
    assert scores["a"] == pytest.approx(1.0 / (k + 1))
    assert scores["b"] == pytest.approx(1.0 / (k + 2) + 2.0 / (k + 1))
    assert fused[0][2] == {"dense": 2, "cite": 1}


def test_before_the_transformer_index_static_and_expansions_weigh_more(small_kb: KnowledgeBase) -> None:
    assert not Retriever(small_kb).before_transformer()  # every chunk of small_kb has its vector
    retriever = Retriever(small_kb, use_dense=False)
    assert retriever.before_transformer()
    lists = {"bm25": ["a", "b"], "static": ["b", "a"], "bm25x": ["c"]}
    scores = {cid: score for cid, score, _ in retriever.fuse(lists, before_transformer=True)}
    k = RRF_K_BEFORE_TRANSFORMER
    assert scores["a"] == pytest.approx(1.0 / (k + 1) + WEIGHTS_BEFORE_TRANSFORMER["static"] / (k + 2))
    assert scores["c"] == pytest.approx(WEIGHTS_BEFORE_TRANSFORMER["bm25x"] / (k + 1))
    # with the transformer, the static list counts less than BM25: a leads
    assert next(cid for cid, _, _ in retriever.fuse(lists)) == "a"
    # a signal switched off stays off
    retriever.weights["static"] = 0.0
    scores = {cid: score for cid, score, _ in retriever.fuse(lists, before_transformer=True)}
    assert scores["a"] == pytest.approx(1.0 / (k + 1))


def test_the_question_memory_reorders_below_first_place_but_never_takes_it(small_kb: KnowledgeBase) -> None:
    retriever = Retriever(small_kb, use_dense=False)
    retriever.weights["memory"] = 100.0
    fused = retriever.fuse({"bm25": ["a", "b", "c"], "memory": ["c", "b"]})
    assert [cid for cid, _, _ in fused] == ["a", "c", "b"]
    assert fused[1][2] == {"bm25": 3, "memory": 1}
    # without another signal there is no first place to keep
    assert [cid for cid, _, _ in retriever.fuse({"memory": ["c", "b"]})] == ["c", "b"]


def test_a_playbooks_articles_come_in_the_order_its_claims_match_the_question(retriever: Retriever) -> None:
    question = "商家泄露我的个人信息，我能要求赔偿吗，谁来证明他们有过错"
    playbook = retriever._playbooks.rank(question)[0].playbook if retriever.playbook_hits(question) else None
    assert playbook is not None and playbook.id == "personal_info_trade"
    ids = retriever.playbook_hits(question)
    first = retriever.kb.get_chunks(ids[:1])[0]
    # the claim on damages and the burden of proof cites 个保法第六十九条; the playbook lists it far down
    assert (first.title, first.article) == (PIPL, "第六十九条")
    assert not playbook.citations()[0].endswith("第六十九条")
    other = retriever.kb.get_chunks(retriever.playbook_hits("公司要求我提供个人信息，我能要求查阅、复制吗")[:1])
    assert other and other[0].article != "第六十九条"


REGULATION = """# 个人信息保护条例

2024年1月1日 发布

<!-- INFO END -->

第一条 任何单位和个人不得非法买卖他人个人信息，不得非法向他人提供个人信息。

第二条 本条例自发布之日起施行。
"""


def test_a_regulation_restating_a_statute_ranks_below_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "src" / "行政法规"
    folder.mkdir(parents=True)
    (folder / "个人信息保护条例(2024-01-01).md").write_text(REGULATION, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    assert not ingest(kb, ["statutes:个人信息保护法", str(folder)], dense=False, progress=False).errors

    def ranks(question: str) -> dict[str, int]:
        hits = Retriever(kb, use_dense=False).search(question, k=20)
        return {f"{h.chunk.source_type}{h.chunk.article}": h.rank for h in hits}

    question = "非法买卖他人个人信息"
    with_prior = ranks(question)
    monkeypatch.setattr(retrieval, "SOURCE_PRIOR", {})
    without = ranks(question)
    assert without["regulation第一条"] < without["statute第二条"]
    assert with_prior["statute第十条"] < with_prior["regulation第一条"]
    assert with_prior["regulation第一条"] > without["regulation第一条"]


def test_dense_slots_keep_the_transformers_first_chunks_near_the_top(small_kb: KnowledgeBase) -> None:
    retriever = Retriever(small_kb, use_dense=False)
    retriever.weights["dense"] = 0.1  # as if trained signals outweighed the transformer
    lists = {"bm25": ["a", "b", "c", "d", "e"], "static": ["a", "b", "c", "d", "e"], "dense": ["e", "d"]}
    assert [cid for cid, _, _ in retriever.fuse(lists)][:3] == ["a", "b", "c"]
    retriever.dense_slots = 2
    fused = retriever.fuse(lists)
    assert [cid for cid, _, _ in fused] == ["a", "b", "d", "e", "c"]  # each moved to third place in turn
    assert [s for _, s, _ in fused] == sorted((s for _, s, _ in fused), reverse=True)


def test_a_confident_transformer_keeps_its_first_place(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    """When the transformer's first chunk leads its second by DENSE_FIRST_MARGIN, it takes first place (after
    any article the question cites itself), whatever the other lists say."""
    retriever = Retriever(small_kb, use_dense=False)
    lists = {"bm25": ["a", "b", "c"], "static": ["a", "b", "c"], "dense": ["c"]}
    retriever.weights["dense"] = 0.1  # the other lists outvote it
    assert next(cid for cid, _, _ in retriever.fuse(lists)) == "a"
    fused = retriever.fuse({**lists, "dense_first": ["c"]})
    assert [cid for cid, _, _ in fused] == ["c", "a", "b"]
    assert fused[0][2]["dense_first"] == 1
    assert [s for _, s, _ in fused] == sorted((s for _, s, _ in fused), reverse=True)
    cited = retriever.fuse({**lists, "cite": ["b"], "dense_first": ["c"]})
    assert [cid for cid, _, _ in cited][:2] == ["b", "c"]
    # offline tuning fuses a weighting's lists as search does: the place survives, an unweighted list does not
    retriever.weights["static"] = 0.0
    kept = retriever.weighted({**lists, "dense_first": ["c"]})
    assert set(kept) == {"bm25", "dense", "dense_first"}
    assert next(cid for cid, _, _ in retriever.fuse(kept)) == "c"

    # the real search: the list is there exactly when the lead is large enough
    dense = Retriever(small_kb)
    question = "商家泄露我的个人信息，我能要求赔偿吗"
    dense.dense_first_margin = 1e-9
    found = dense.ranked_lists(question, SearchFilters())
    assert found["dense_first"] == found["dense"][:1]
    assert dense.search(question, k=1)[0].chunk.chunk_id == found["dense"][0]
    dense.dense_first_margin = 1.0
    assert "dense_first" not in dense.ranked_lists(question, SearchFilters())

    # `kb train` chose its weights without the rule: a knowledge base it trained (fusion.json) keeps it off
    assert Retriever(small_kb).dense_first_margin == DENSE_FIRST_MARGIN > 0
    trained = KnowledgeBase(tmp_path / "trained", embedder=small_kb.embedder, static=False)
    (trained.home / "fusion.json").write_text('{"static": 2.0, "dense_slots": 1}', encoding="utf-8")
    assert Retriever(trained).dense_first_margin == 0.0


def test_query_expansion_table() -> None:
    table = load_expansions()
    assert table and all(e.terms for e in table)
    expanded = expand_query("总是接到推销电话", table)
    assert expanded.startswith("总是接到推销电话 ")
    assert "个人信息" in expanded
    # identifiers 民法典第1034条 names as personal information (the newborn-data complaint's words)
    assert "个人信息" in expand_query("商家把我的手机号卖给别人了", table)
    assert "个人信息" in expand_query("医院把孩子的出生日期和我们的电话号码卖给了影楼", table)
    own = [Expansion("借钱|欠钱", ("借款", "借款合同"))]
    assert expand_query("朋友欠钱不还", own) == "朋友欠钱不还 借款 借款合同"
    assert expand_query("借款合同纠纷", own) == "借款合同纠纷"  # nothing lay to expand


def test_passes_checks_every_filter(small_kb: KnowledgeBase) -> None:
    chunk = small_kb.article_chunks(PIPL, 13)[0]
    assert passes(chunk, SearchFilters(), None)
    assert not passes(chunk, SearchFilters(source_types=("case",)), None)
    assert not passes(chunk, SearchFilters(), {CPL})
    assert passes(chunk, SearchFilters(validity=(chunk.validity,)), {PIPL})
    assert not passes(chunk, SearchFilters(cause="离婚"), None)
    assert SearchFilters().is_empty() and not SearchFilters(laws=("个保法",)).is_empty()


def test_before_the_transformer_index_a_lay_word_the_laws_never_use_still_finds_its_article(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb")
    assert not ingest(kb, ["statutes:个人信息保护法"], dense=False, progress=False).errors
    assert "小孩" not in kb.static_model(None).vocab  # the law says 未成年人, 不满十四周岁
    static_only = Retriever(kb, use_dense=False)
    static_only.weights = {k: (1.0 if k == "static" else 0.0) for k in WEIGHTS}
    hits = static_only.search("小孩", k=3)
    # 第三十一条: the personal information of minors under fourteen
    assert hits and (hits[0].chunk.title, hits[0].chunk.article_no) == (PIPL, 31)
    # Without the transformer's vector of the word, the table alone knows nothing of the question.
    assert not kb.static_query_vector("小孩", unseen_words=False).any()
    assert kb.static_query_vector("小孩", unseen_words=True).any()
    # A table saved before tables kept their center places no word; the next index build makes it again.
    (kb.home / "static-distilled" / "center.npy").unlink()
    older = KnowledgeBase(kb.home)
    assert not older.static_query_vector("小孩", unseen_words=True).any()
    assert not ingest(older, ["statutes:消费者权益保护法"], dense=False, progress=False).errors
    older.static_index()
    assert older.static_model(None).center is not None
    assert older.static_query_vector("小孩", unseen_words=True).any()
