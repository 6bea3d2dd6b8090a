"""kb.lexical: the legal tokenizer, BM25 over real laws, and the atomic save/load of the index."""

from __future__ import annotations

import json
from pathlib import Path

import jieba
import numpy as np
import pytest

from kb.lexical import BLOCK_CACHE, STOPWORDS, LegalTokenizer, LexicalIndex, _keep
from kb.store import KnowledgeBase

PIPL = "中华人民共和国个人信息保护法"

DOCS = {
    "limitation": "向人民法院请求保护民事权利的诉讼时效期间为三年。法律另有规定的，依照其规定。",
    "consent": "个人信息处理者处理个人信息，应当取得个人同意；个人信息保护法另有规定的除外。",
    "traffic": "机动车行经人行横道时，应当减速行驶；遇行人正在通过人行横道，应当停车让行。",
    "probation": "劳动合同期限三个月以上不满一年的，试用期不得超过一个月。",
}


@pytest.fixture(scope="module")
def tokenizer() -> LegalTokenizer:
    return LegalTokenizer([PIPL, "中华人民共和国民法典"])


@pytest.fixture(scope="module")
def index(tokenizer: LegalTokenizer) -> LexicalIndex:
    return LexicalIndex.build(list(DOCS), list(DOCS.values()), tokenizer)


# --- tokenizer ------------------------------------------------------------------------------------------


def test_legal_dictionary_keeps_law_names_and_terms_whole(tokenizer: LegalTokenizer) -> None:
    plain = jieba.Tokenizer()
    plain.initialize()
    assert "个人信息保护法" not in plain.lcut("个人信息保护法规定")  # stock jieba tears it apart
    tokens = tokenizer.tokens("个人信息保护法规定的诉讼时效是多久")
    assert "个人信息保护法" in tokens
    assert "诉讼时效" in tokens
    assert "劳动合同" in tokenizer.tokens("签订劳动合同")
    assert "个保法" in tokenizer.tokens("个保法第13条怎么规定")
    assert "民法典" in tokenizer.tokens("民法典第一千零三十四条")


def test_tokens_drop_stopwords_and_punctuation(tokenizer: LegalTokenizer) -> None:
    tokens = tokenizer.tokens("请问，我的个人信息被泄露了怎么办？！ ABC")
    assert not set(tokens) & STOPWORDS
    assert "，" not in tokens and "？" not in tokens and " " not in tokens
    assert "abc" in tokens  # lower-cased
    assert tokenizer.tokens("") == []


def test_one_cut_gives_precise_and_search_tokens(tokenizer: LegalTokenizer) -> None:
    text = "中华人民共和国个人信息保护法第十三条规定，个人信息处理者方可处理个人信息。朋友借了5万 ABC"
    precise, search = tokenizer.cut(text)
    # search mode is exactly jieba's cut_for_search, filtered like every token list
    assert (
        search
        == tokenizer.tokens(text)
        == [t.lower() for t in tokenizer._tk.lcut_for_search(text) if t.strip("，。 ") and t not in STOPWORDS]
    )
    # precise mode: each character in one word, long words not repeated as their parts
    assert precise == tokenizer.precise(text)
    assert "个人信息处理者" in precise and "处理者" not in precise
    assert "".join(precise) == "".join(t.lower() for t in tokenizer._tk.lcut(text) if t.lower() in precise)
    assert set(precise) <= set(search) and len(search) > len(precise)


# Odd corners of jieba's block splitting and HMM: letters, digits, %, ., -, spaces, line ends, characters
# outside the Han range, unknown names (HMM), a lone character, nothing.
ODD_TEXTS = [
    "",
    "法",
    "ABC123 4.5% 朋友借了5万\r\n\t C++ & C# v1.2.3-4_5 ＡＢＣ１２３",
    "王小二和李大嘴在巴黎喝咖啡，欠了张三丰三千块钱。",
    "𠀀𠀁叕 😀 —— 《》〈〉“”（一）(二)【三】",
    "  \n\n  第一千零三十四条之一   ",
]


def real_texts() -> list[str]:
    """Every article of the 民法典 and the full text of a few guiding cases."""
    from conftest import shared_path

    from ingest.lawsdb import iter_lawsdb

    texts = [a.text for doc in iter_lawsdb() if doc.short_title == "民法典" for a in doc.articles]
    cases = shared_path("corpus", "cases", "spc_guiding_cases.jsonl").read_text(encoding="utf-8").splitlines()
    return texts + [json.loads(line)["full_text"] for line in cases[:15]]


def test_cut_is_jiebas_own_segmentation_block_by_block() -> None:
    # `cut` segments block by block with its own (faster) route search and keeps each block's tokens:
    # it must give exactly what jieba gives for the whole text, the first time and from the cache.
    fresh = LegalTokenizer([PIPL, "中华人民共和国民法典"])
    texts = ODD_TEXTS + real_texts()
    assert len(texts) > 1000
    for text in texts + texts[::-1]:
        precise, search = fresh.cut(text)
        assert precise == _keep(fresh._tk.lcut(text)), text
        assert search == _keep(fresh._tk.lcut_for_search(text)), text
    assert 0 < len(fresh._blocks) <= BLOCK_CACHE


def test_the_block_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kb.lexical.BLOCK_CACHE", 3)
    fresh = LegalTokenizer()
    text = "甲方借款。乙方还款。丙方担保。丁方见证。"  # eight blocks: four clauses, four 。
    first = fresh.cut(text)
    assert 0 < len(fresh._blocks) <= 3  # full: it started afresh
    assert fresh.cut(text) == first == (_keep(fresh._tk.lcut(text)), _keep(fresh._tk.lcut_for_search(text)))


def test_tokenizer_does_not_touch_the_global_jieba() -> None:
    LegalTokenizer(["中华人民共和国某某特别保护法"])
    assert "某某特别保护法" not in jieba.lcut("某某特别保护法")


# --- BM25 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("诉讼时效期间多长", "limitation"),
        ("处理个人信息要不要经过同意", "consent"),
        ("人行横道 让行", "traffic"),
        ("试用期最长多久", "probation"),
    ],
)
def test_bm25_finds_the_right_text(index: LexicalIndex, query: str, expected: str) -> None:
    hits = index.search(query, k=10)
    assert hits[0][0] == expected
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_bm25_finds_nothing_for_unknown_words(index: LexicalIndex) -> None:
    assert index.search("量子纠缠") == []
    assert index.search("") == []
    assert index.search("的了吗") == []  # only stopwords


def test_bm25_mask_restricts_the_candidates(index: LexicalIndex) -> None:
    mask = np.array([1.0 if cid != "consent" else 0.0 for cid in index.chunk_ids], dtype=np.float32)
    assert "consent" not in [cid for cid, _ in index.search("个人信息 同意", mask=mask)]
    assert index.search("个人信息 同意", k=1)[0][0] == "consent"


def test_bm25_on_real_laws_finds_the_article(lexical_kb: KnowledgeBase) -> None:
    lex = lexical_kb.lexical()

    def top(query: str, n: int = 3) -> list[tuple[str | None, str | None]]:
        chunks = lexical_kb.get_chunks([cid for cid, _ in lex.search(query, k=n)])
        return [(c.short_title, c.article) for c in chunks]

    assert top("出售或者提供公民个人信息 情节严重")[0] == ("刑法", "第二百五十三条之一")
    assert top("试用期 劳动合同期限 不得超过")[0] == ("劳动合同法", "第十九条")
    assert ("民法典", "第一百八十八条") in top("诉讼时效期间为三年", 5)
    assert ("民法典", "第一千零三十四条") in top("自然人的个人信息受法律保护 生物识别信息 行踪信息", 3)


# --- save / load -----------------------------------------------------------------------------------------


def test_save_and_load_round_trip(index: LexicalIndex, tokenizer: LegalTokenizer, tmp_path: Path) -> None:
    index.save(tmp_path, 7)
    assert (tmp_path / "lexical.current").read_text() == "lexical-7"
    loaded = LexicalIndex.load(tmp_path, tokenizer)
    assert loaded is not None
    again, generation = loaded
    assert generation == 7
    assert again.chunk_ids == index.chunk_ids
    for query in ("诉讼时效", "人行横道 让行", "个人信息保护法"):
        assert again.search(query) == index.search(query)


def test_save_switches_atomically_and_removes_old_generations(
    index: LexicalIndex, tokenizer: LegalTokenizer, tmp_path: Path
) -> None:
    index.save(tmp_path, 1)
    smaller = LexicalIndex.build(["only"], ["仅此一条：诉讼时效。"], tokenizer)
    smaller.save(tmp_path, 2)
    assert (tmp_path / "lexical.current").read_text() == "lexical-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lexical-2", "lexical.current"]  # no tmp leftovers
    loaded = LexicalIndex.load(tmp_path, tokenizer)
    assert loaded is not None and loaded[1] == 2 and loaded[0].chunk_ids == ["only"]


def test_an_interrupted_save_leaves_the_current_index_in_use(
    index: LexicalIndex, tokenizer: LegalTokenizer, tmp_path: Path
) -> None:
    index.save(tmp_path, 3)
    # a crash mid-write of generation 4: a half-written temp directory and no pointer switch
    half = tmp_path / ".lexical-4.tmp"
    half.mkdir()
    (half / "vocab.index.json").write_text("{")
    (tmp_path / "lexical.current.tmp").write_text("lexical-4")
    loaded = LexicalIndex.load(tmp_path, tokenizer)
    assert loaded is not None and loaded[1] == 3
    assert loaded[0].search("诉讼时效")[0][0] == "limitation"
    index.save(tmp_path, 4)  # the next save cleans up after the crash
    assert not half.exists()
    assert LexicalIndex.load(tmp_path, tokenizer)[1] == 4  # type: ignore[index]


@pytest.mark.parametrize(
    ("damage", "name"),
    [
        ("truncate", "data.csc.index.npy"),
        ("garbage", "vocab.index.json"),
        ("delete", "indices.csc.index.npy"),
        ("garbage", "chunk_ids.json"),
        ("delete", "generation"),
        ("garbage", "generation"),
    ],
)
def test_a_damaged_index_is_not_loaded(
    index: LexicalIndex, tokenizer: LegalTokenizer, tmp_path: Path, damage: str, name: str
) -> None:
    index.save(tmp_path, 5)
    damage_file(tmp_path / "lexical-5" / name, damage)
    assert LexicalIndex.load(tmp_path, tokenizer) is None


def test_pointer_to_a_missing_directory_is_not_loaded(
    index: LexicalIndex, tokenizer: LegalTokenizer, tmp_path: Path
) -> None:
    assert LexicalIndex.load(tmp_path, tokenizer) is None  # nothing saved yet
    index.save(tmp_path, 1)
    (tmp_path / "lexical.current").write_text("lexical-99")
    assert LexicalIndex.load(tmp_path, tokenizer) is None


def damage_file(path: Path, how: str) -> None:
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00\xff not what it should be")
    else:
        path.unlink()


def test_knowledge_base_rebuilds_a_damaged_index(
    tmp_path: Path, lexical_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_STATIC", "0")  # lexical index only: no embedder needed
    kb = KnowledgeBase(tmp_path / "kb")
    doc = next(d for d in lexical_kb.documents() if d.title == PIPL)
    kb.upsert_document(doc, lexical_kb.document_chunks(doc.doc_id))
    expected = kb.lexical().search("敏感个人信息 单独同意", k=5)
    assert expected
    current = tmp_path / "kb" / (tmp_path / "kb" / "lexical.current").read_text()
    damage_file(current / "data.csc.index.npy", "truncate")

    reopened = KnowledgeBase(tmp_path / "kb")
    assert LexicalIndex.load(reopened.home, reopened.tokenizer) is None
    assert reopened.lexical().search("敏感个人信息 单独同意", k=5) == expected
    assert LexicalIndex.load(reopened.home, reopened.tokenizer) is not None  # repaired on disk
    assert reopened.lexical_ready()
