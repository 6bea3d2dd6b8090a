"""The offline answer composer on a real knowledge base (national laws from laws.db, lexical only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from evals.answers import reverify
from ingest.pipeline import ingest
from kb.answer import (
    MEDIAN_PLAYBOOKS,
    MIN_SEMANTIC_MARGIN,
    RETRIEVED_ALWAYS_RANK,
    RETRIEVED_MIN_RELEVANCE,
    Answerer,
    PlaybookIndex,
    Renderer,
    _complete,
    audit_markdown,
    choose_topics,
    join_sentences,
    md_escape,
    split_sentences,
)
from kb.citations import parse_citations, verify_citation
from kb.models import Answer
from kb.playbooks import PLAYBOOK_DIR, load_playbooks
from kb.retrieval import Retriever
from kb.store import KnowledgeBase

QUESTION = "宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？能告他们吗？"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def answerer(lexical_kb: KnowledgeBase) -> Answerer:
    return Answerer(lexical_kb)


@pytest.fixture(scope="module")
def answers(answerer: Answerer) -> dict[str, Answer]:
    return {p: answerer.ask(QUESTION, persona=p) for p in ("parent", "student", "ngo")}


def assert_all_verified(answer: Answer, kb: KnowledgeBase) -> None:
    """Every listed citation and every citation in the Markdown verifies; markers map to sources."""
    names = kb.law_names()
    for v in answer.citations:
        assert v.verified, v.display
        if v.citation.article_no:
            (parsed,) = parse_citations(v.display, names)
            assert verify_citation(parsed, kb, names).verified, v.display
        else:
            assert kb.case_chunks(v.citation.case_id or ""), v.display
    _, _, bad = audit_markdown(answer.markdown, kb, remove=False)
    assert not bad, bad
    numbers = [s.n for s in answer.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(n) for n in MARKER.findall(answer.markdown)} == set(numbers)
    assert all(s.verified and s.status == "exists" for s in answer.sources)


# --------------------------------------------------------------------------------------------------
# pure helpers


def test_md_escape_neutralises_markup_html_and_links() -> None:
    text = (
        '# 标题\n<img src=x onerror="alert(1)"> [点我](http://evil.example) ![p](https://x/y.png) **粗** `c` www.a.cn'
    )
    out = md_escape(text)
    assert "\n" not in out
    assert re.search(r"(?<!\\)<", out) is None and "\\<img" in out  # every < escaped
    assert "](" not in out.replace("\\](", "")  # no live link syntax
    assert "http://" not in out and "https://" not in out and "www.a" not in out
    assert out.startswith("\\# 标题")
    assert "\\*\\*粗\\*\\*" in out and "\\`c\\`" in out


def test_split_sentences_counts_paragraphs_and_items() -> None:
    text = "有下列情形之一的，应当删除：\n（一）目的已实现；\n（二）停止提供服务。\n个人有权请求删除。处理者应当答复。"
    sents = split_sentences(text)
    assert [(s.paragraph, s.item) for s in sents] == [(1, None), (1, 1), (1, 2), (2, None), (2, None)]
    assert join_sentences([sents[0], sents[3]]) == "有下列情形之一的，应当删除：……个人有权请求删除。"
    assert join_sentences([sents[3], sents[4]]) == "个人有权请求删除。处理者应当答复。"


def test_quotes_are_completed_with_their_list_and_exception() -> None:
    text = (
        "消费者和经营者发生争议的，可以通过下列途径解决：\n（一）协商和解；\n（二）请求调解；\n（三）向法院起诉。\n"
        "近亲属可以查阅、复制、删除死者的个人信息；死者生前另有安排的除外。\n处理者应当答复。"
    )
    sents = split_sentences(text)
    lead, items, rule, exception = sents[0], sents[1:4], sents[4], sents[5]

    def ok(s: object) -> bool:
        return True

    # the lead-in of a short list brings the whole list; one 项 brings its lead-in and its siblings
    assert _complete([lead], sents, ok) == [lead, *items]
    assert _complete([items[1]], sents, ok) == [lead, *items]
    # a rule is not quoted without the exception that follows it
    assert _complete([rule], sents, ok) == [rule, exception]
    # nothing the caller refuses is added
    assert _complete([rule], sents, lambda s: s is not exception) == [rule]
    assert _complete([lead], sents, lambda s: s is not items[2]) == [lead]
    # a short text (a case holding) is quoted whole when asked
    assert _complete([rule], sents, ok, whole=True) == sents
    assert _complete([], sents, ok, whole=True) == []


# --------------------------------------------------------------------------------------------------
# classification (questions written for these tests, not the report set)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("退租的时候房东扣着押金不给，说墙面脏了", "housing_lease"),
        ("包工头欠了我们半年的工钱，人找不到了", "unpaid_wages"),
        ("小区物业非要我们录人脸才能进大门", "face_recognition"),
        ("刚生完孩子，各种奶粉和月子会所的推销电话就来了，我的信息是不是被医院卖了", "personal_info_trade"),
        ("老公喝醉了打我，还说要打死我", "domestic_violence"),
        ("读五年级的儿子拿我手机给游戏主播刷了两万块礼物", "minor_spending"),
        ("我家卫生间漏水把楼下的吊顶泡坏了，楼下邻居要我赔", "neighbour_disputes"),
        ("楼上每天晚上十二点还在跳绳，找他也没用", "neighbour_disputes"),
        ("租的房子漏水，房东一直拖着不修", "housing_lease"),
        ("打车的时候司机明显在绕远路，最后车费多了四十块", "taxi_ride"),
        ("骑电动车被一辆出租车撞了，司机说是我闯红灯", "traffic_accident"),
        ("晚上散步被一条没拴绳的大狗咬了一口，狗主人说不关他的事", "animal_injury"),
        ("在车间搬货的时候被叉车撞断了腿，老板说我没签合同不算工伤", "work_injury"),
        ("儿子在学校午休时被同桌用铅笔扎伤了眼睛，班主任说是小孩打闹", "school_injury"),
        ("我妈做完胆囊手术，医生把一块纱布落在了肚子里", "medical_malpractice"),
        ("医院的护士把我怀孕的事告诉了我单位领导", "medical_privacy"),
        # no playbook shares a word with these; single characters and pairs across words (谁, 来, 钱不) do not count
        ("树枝断了砸到路人，谁来赔", None),
        ("考驾照交了钱驾校不退", None),
    ],
)
def test_classification_by_retrieval_over_playbooks(answerer: Answerer, question: str, expected: str | None) -> None:
    answer = answerer.ask(question)
    assert answer.playbook_id == expected


def test_a_minors_spending_is_answered_with_capacity_and_return(answerer: Answerer) -> None:
    """A child's large tips to a streamer: the answer rests on 民法典's rules of capacity (第十九条, 第一百四十五条)
    and restitution (第一百五十七条), not on the rules for children's personal information."""
    answer = answerer.ask("初中生瞒着父母在直播平台打赏了三万元，家长能要回来吗？", persona="student")
    assert answer.playbook_id == "minor_spending"
    cited = {v.display for v in answer.citations}
    for article in ("第十九条", "第一百四十五条", "第一百五十七条"):
        assert any(d.startswith("《中华人民共和国民法典》" + article) for d in cited), (article, cited)
    assert_all_verified(answer, answerer.kb)


def test_without_a_playbook_the_search_ranking_leads(lexical_kb: KnowledgeBase) -> None:
    """Without a playbook for it (the dog-bite one left out), a dog bite is answered with the search's provisions
    (民法典's 饲养动物损害责任, ranked first), not those whose sentences merely share a character pair with the
    question (不管, 主人)."""
    others = [pb for pb in load_playbooks() if pb.id != "animal_injury"]
    answer = Answerer(lexical_kb, playbooks=others).ask("被狗咬了狗主人不管", persona="parent")
    assert answer.playbook_id is None
    shown = [v.display for v in answer.citations][:3]
    animals = {
        f"《中华人民共和国民法典》第一千二百{n}条" for n in ("四十五", "四十六", "四十七", "四十八", "四十九", "五十")
    }
    assert set(shown) <= animals, shown
    assert_all_verified(answer, lexical_kb)


def test_a_dog_bite_is_answered_with_the_keepers_liability(answerer: Answerer) -> None:
    """A dog bite goes to its playbook, which leads with 民法典's 饲养动物损害责任 (第一千二百四十五条 onward), not
    with provisions that share 不管 or 主人 with the question."""
    answer = answerer.ask("被狗咬了狗主人不管", persona="parent")
    assert answer.playbook_id == "animal_injury"
    first = answer.citations[0].display
    assert first.startswith("《中华人民共和国民法典》第一千二百四十"), first
    assert_all_verified(answer, answerer.kb)


def test_unrelated_question_uses_no_playbook(answerer: Answerer, lexical_kb: KnowledgeBase) -> None:
    index = answerer.composer.index
    assert choose_topics(index.rank("商标注册申请需要提交哪些文件")) == []
    answer = answerer.ask("商标注册申请需要提交哪些文件", persona="student")
    assert answer.playbook_id is None
    assert_all_verified(answer, lexical_kb)


def test_routing_reads_the_meaning_of_the_question(answerer: Answerer) -> None:
    """Words alone route these wrongly (evals/data/routing.jsonl): a wrong injection shares no word with the
    malpractice playbook, and 身份证 makes a lost ID card a data-trade question. The question's transformer
    vector, compared with every situation, routes both right."""
    composer = answerer.composer
    index = composer.index
    assert index.vectors is not None and len(index.vectors) == len(PlaybookIndex.situations(load_playbooks()))
    words_only = PlaybookIndex(index.playbooks, composer.tokenize)
    expected = {"医院打错针导致孩子过敏住院": "medical_malpractice", "身份证丢了怎么补办": None}
    for question, playbook in expected.items():
        by_words = choose_topics(words_only.rank(question))
        assert (by_words[0].playbook.id if by_words else None) != playbook, question
        assert answerer.ask(question, persona="parent").playbook_id == playbook, question
    question = "医院打错针导致孩子过敏住院"
    ranked = index.rank(question, vector=composer.retriever.query_vector(question))
    assert ranked[0].playbook.id == "medical_malpractice" and ranked[0].semantic is not None
    assert ranked[0].semantic >= MIN_SEMANTIC_MARGIN > ranked[-1].semantic


def test_routing_stays_lexical_with_an_embedder_it_was_not_calibrated_for(lexical_kb: KnowledgeBase) -> None:
    """The margin is calibrated on the default embedder's cosines; another model's mean something else."""

    class Other:
        name = "st:some-other-model"

        def embed_query(self, text: str) -> list[float]:
            raise AssertionError("routing must not embed with an uncalibrated model")

    kb = KnowledgeBase(lexical_kb.home)
    kb._embedder = Other()  # type: ignore[assignment]
    composer = Answerer(kb).composer
    assert composer.index.vectors is None
    assert all(m.semantic is None for m in composer.index.rank("医院打错针导致孩子过敏住院"))


def test_a_new_playbook_does_not_move_the_routing_bar(answerer: Answerer) -> None:
    """Margins are measured from the median over the playbooks the bar was calibrated with: a playbook added
    later is a candidate, but the other playbooks' margins stay what they were."""
    composer = answerer.composer
    shipped = list(composer.index.playbooks)
    situations = ["接到冒充客服的电话，让我转账到安全账户", "刷单兼职垫付了钱拿不回来"]
    extra = shipped[0].model_copy(update={"id": "scam_calls", "situations": situations})
    question = "我们帮助老年人防范保健品骗局：商家夸大宣传卖保健品，老人被骗后可以主张哪些赔偿？"
    vector = composer.retriever.query_vector(question)

    def margins(playbooks: list) -> dict[str, float]:  # type: ignore[type-arg]
        vectors = composer.retriever.embed_queries(PlaybookIndex.situations(playbooks))
        index = PlaybookIndex(playbooks, composer.tokenize, vectors)
        return {pb.id: m for pb, m in zip(playbooks, index.semantic_margins(vector) or [], strict=True)}

    before, after = margins(shipped), margins([*shipped, extra])
    assert "scam_calls" in after and all(after[k] == pytest.approx(v) for k, v in before.items())
    assert len(MEDIAN_PLAYBOOKS) == 25 and {pb.id for pb in shipped} >= MEDIAN_PLAYBOOKS


def test_situation_vectors_must_match_the_situations(answerer: Answerer) -> None:
    playbooks = answerer.composer.playbooks
    with pytest.raises(ValueError, match="situation vectors"):
        PlaybookIndex(playbooks, answerer.composer.tokenize, [[1.0, 0.0]])


def test_playbook_index_scores_each_playbook(answerer: Answerer) -> None:
    index: PlaybookIndex = answerer.composer.index
    ranked = index.rank("骚扰电话天天打，拒绝了还打")
    assert ranked[0].playbook.id == "harassment_calls"
    assert len(ranked) == len(index.playbooks)
    assert ranked[0].score >= ranked[-1].score


# --------------------------------------------------------------------------------------------------
# the answer


def test_every_citation_verified_and_markers_map_to_sources(
    answers: dict[str, Answer], lexical_kb: KnowledgeBase
) -> None:
    for persona, answer in answers.items():
        assert answer.playbook_id == "personal_info_trade", persona
        assert answer.engine == "offline"
        assert answer.sources and answer.citations
        assert_all_verified(answer, lexical_kb)


def test_interpretations_and_cases_absent_from_store_are_dropped(answers: dict[str, Answer]) -> None:
    # lexical_kb holds no interpretations and no cases: nothing of them may be shown as valid.
    for answer in answers.values():
        assert all(s.chunk.source_type == "statute" for s in answer.sources)
        assert "检例第140号" not in answer.markdown
        assert "解释》" not in answer.markdown


def test_answer_quotes_the_sentences_that_answer(answers: dict[str, Answer]) -> None:
    md = answers["student"].markdown
    assert "第二百五十三条之一" in md  # who sold the data commits a crime
    assert "第六十九条" in md  # compensation
    student = answers["student"]
    quotes = {s.chunk.article: s.quote for s in student.sources if s.chunk.title.endswith("刑法")}
    assert "出售或者提供公民个人信息" in quotes["第二百五十三条之一"]


def test_a_provision_quoted_for_its_search_rank_must_match_the_question(answerer: Answerer) -> None:
    prep = answerer.composer.prepare("宝宝信息被卖了能告吗", "parent")
    ranked = [e for e in prep.evidence if not e.is_case and e.rank is not None and e.rank <= RETRIEVED_ALWAYS_RANK]
    weak = [e for e in ranked if e.relevance < RETRIEVED_MIN_RELEVANCE and e.origins == {"retrieval"}]
    assert weak  # a six-word lay question: the search ranks provisions that share one word with it
    quoted = Renderer(answerer.composer, prep).articles(3)
    assert not [e for e in weak if e in quoted]
    assert any(e.chunk.article == "第十条" and e.chunk.short_title == "个人信息保护法" for e in quoted)


def test_a_provision_the_search_alone_finds_must_be_on_the_question(answerer: Answerer) -> None:
    """ "卖给别人" matches 刑法第二百四十条 (拐卖妇女、儿童 … 卖给他人): without the transformer the search ranks it
    2nd on the single character 卖 (16th with it). A provision only the search found is quoted only if it holds
    a word of the question (its first six) or names the matched playbook's subject (the rest)."""
    question = "商家把我的手机号卖给别人了"
    prep = answerer.composer.prepare(question, "parent")
    assert prep.playbook is not None and prep.playbook.id == "personal_info_trade"
    found = [e for e in prep.evidence if not e.is_case and e.origins == {"retrieval"}]
    crime = [e for e in found if e.chunk.short_title == "刑法" and e.chunk.article == "第二百四十条"]
    assert crime and (crime[0].rank or 99) <= RETRIEVED_ALWAYS_RANK and not crime[0].on_topic
    for e in found:
        words = ("商家", "手机", "手机号", "别人")
        if (e.rank or 0) <= RETRIEVED_ALWAYS_RANK:
            assert e.on_topic == any(w in e.text for w in words), e.chunk.article
        elif e.on_topic:
            assert any(k in e.text for k in ("个人信息", "信息泄露", "推销电话", "公益诉讼")), e.chunk.article
    assert any(not e.on_topic for e in found if (e.rank or 0) > RETRIEVED_ALWAYS_RANK)
    assert all(e.on_topic for e in prep.evidence if e.origins - {"retrieval"})  # what a playbook names stays
    # however well an off-topic provision scores, it is not quoted
    prep.evidence.sort(key=lambda e: e is not crime[0])
    quoted = Renderer(answerer.composer, prep).articles(4)
    assert crime[0] not in quoted and len(quoted) >= 4
    assert "拐卖" not in answerer.ask(question, persona="parent").markdown


def test_a_keywords_own_words_name_the_subject_too(answerer: Answerer) -> None:
    """The face-recognition playbook's keywords say 敏感个人信息 and 人脸信息, the law says 个人信息: a deep
    search find that says 个人信息 is on the subject."""
    prep = answerer.composer.prepare("人脸信息是否属于刑法第二百五十三条之一规定的公民个人信息？", "student")
    assert prep.playbook is not None and prep.playbook.id == "face_recognition"
    assert "个人信息" not in prep.playbook.keywords
    deep = [
        e
        for e in prep.evidence
        if not e.is_case and e.origins == {"retrieval"} and (e.rank or 0) > RETRIEVED_ALWAYS_RANK
    ]
    naming = [e for e in deep if "个人信息" in e.text]
    assert naming and all(e.on_topic for e in naming)


def test_personas_differ_in_depth_and_tone(answers: dict[str, Answer]) -> None:
    parent, student, ngo = answers["parent"].markdown, answers["student"].markdown, answers["ngo"].markdown
    assert parent.startswith("**简单说：**")
    assert parent.index("#### 你可以这样做") < parent.index("#### 法律原文怎么说")
    assert "#### 要件与分析" in student and "#### 条文要点" in student
    assert re.search(r"第[一二三四五六七八九十百千零]+条(?:之一)?第[一二三四五六七八九十]+款", student)  # 款-level
    assert "#### 指导要点" in ngo and "#### 对外宣传口径" in ngo and "#### 投诉举报信要点" in ngo
    assert len(answers["parent"].sources) <= len(answers["student"].sources) + 8


def test_no_claim_is_stated_twice(answerer: Answerer, answers: dict[str, Answer]) -> None:
    # two playbooks often state the same time limit; the lead claim of the summary is not repeated below it
    more = [answerer.ask("孩子的照片被培训机构拿去做广告，还卖了我们的电话号码", persona=p) for p in ("parent", "ngo")]
    for answer in [*answers.values(), *more]:
        lines = [MARKER.sub("", ln).strip() for ln in answer.markdown.split("\n")]
        claims = [re.sub(r"^(?:- |\d+\. )", "", ln) for ln in lines if ln.startswith(("- ", "1", "2", "3", "4", "5"))]
        claims = [c for c in claims if c and not c.startswith("**")]  # quotes and steps start with a bold label
        assert len(claims) == len(set(claims)), [c for c in claims if claims.count(c) > 1]
        if answer.persona == "parent":  # the summary's lead claim (the block after 简单说) is not listed again
            lead = MARKER.sub("", answer.markdown.split("\n\n")[1]).strip()
            assert not lead.startswith("#") and lead not in claims


def test_unverifiable_playbook_citation_is_never_shown(tmp_path: Path, lexical_kb: KnowledgeBase) -> None:
    data = yaml.safe_load((PLAYBOOK_DIR / "personal_info_trade.yaml").read_text(encoding="utf-8"))
    bogus = "《中华人民共和国食品安全法》第一百四十八条"  # 食品安全法 is not in lexical_kb
    data["rights"][0]["basis"].append(bogus)
    data["rights"].insert(0, {"text": "只有不存在的依据的说法。", "basis": ["《中华人民共和国食品安全法》第一条"]})
    (tmp_path / "personal_info_trade.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    answer = Answerer(lexical_kb, playbooks=load_playbooks(tmp_path)).ask(QUESTION, persona="student")
    assert "食品安全法" not in answer.markdown
    assert "只有不存在的依据的说法" not in answer.markdown
    assert bogus in answer.removed
    assert_all_verified(answer, lexical_kb)


def test_audit_removes_invented_citation(lexical_kb: KnowledgeBase) -> None:
    text = "依照《中华人民共和国民法典》第一千零三十四条，个人信息受保护。\n另见《民法典》第一千四百三十八条。"
    cleaned, ok, removed = audit_markdown(text, lexical_kb)
    assert [v.display for v in ok] == ["《中华人民共和国民法典》第一千零三十四条"]
    assert removed == ["《民法典》第一千四百三十八条"]
    assert "第一千四百三十八条" not in cleaned and "〔未核实的引用已删除〕" in cleaned


def test_to_json_shape(answers: dict[str, Answer]) -> None:
    data = answers["parent"].to_json()
    assert isinstance(data["answer"], str) and data["answer"]
    assert data["citations"] and all(
        {"citation", "title", "article", "case_id", "verified"} <= c.keys() for c in data["citations"]
    )
    assert all(c["verified"] for c in data["citations"])
    assert data["sources"][0]["n"] == 1


def test_stream_yields_text_then_the_answer(answerer: Answerer) -> None:
    pieces = list(answerer.stream(QUESTION, persona="ngo"))
    assert isinstance(pieces[-1], Answer)
    assert all(isinstance(p, str) for p in pieces[:-1])
    assert "".join(pieces[:-1]).strip() == pieces[-1].markdown.strip()


CASE_MD = """---
title: {title}
kind: spc_typical
number: None
issuer: 最高人民法院
---
### {title}

【基本案情】

{facts}

【裁判结果】

{holding}
"""


def kb_with(tmp_path: Path, folder: str, files: dict[str, str]) -> KnowledgeBase:
    """A fresh lexical KB of 个人信息保护法 and 民法典 plus `files` (name → text) written to tmp_path/folder."""
    directory = tmp_path / folder
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    report = ingest(kb, ["statutes:个人信息保护法,民法典", str(directory)], dense=False, progress=False)
    assert not report.errors, report.errors
    return kb


def test_cases_the_search_finds_must_be_on_the_playbooks_subject(tmp_path: Path) -> None:
    """Words of the question match a telephone-fee dispute as well as a personal-information case; only the
    case whose text names the matched playbook's subject (its keywords: 个人信息 …) is shown as a precedent."""
    kb = kb_with(
        tmp_path,
        "cases",
        {
            "on.md": CASE_MD.format(
                title="王某诉某影楼侵害个人信息权益纠纷案",
                facts="王某的宝宝刚出生，某影楼就打电话推销满月照。经查，影楼从月子中心员工处购买了新生儿信息。",
                holding="法院认为，影楼非法获取并使用王某一家的个人信息，判令其删除信息、赔礼道歉并赔偿损失。",
            ),
            "off.md": CASE_MD.format(
                title="某邮电局诉李某欠付电话费纠纷案",
                facts="李某家的宝宝刚出生那个月，他家的电话线路被人私接，有人用它打电话推销摄影服务，话费高达数千元。",
                holding="法院认为，线路在户外被他人私接，该部分话费不应由李某负担，驳回邮电局的诉讼请求。",
            ),
        },
    )
    # both cases must be near the top of the search, or the test proves nothing
    titles = [h.chunk.title for h in Retriever(kb, use_dense=False).search(QUESTION, k=10)]
    assert "某邮电局诉李某欠付电话费纠纷案" in titles[:5] and "王某诉某影楼侵害个人信息权益纠纷案" in titles[:5], titles
    answer = Answerer(kb).ask(QUESTION, persona="student")
    assert answer.playbook_id == "personal_info_trade"
    assert "王某诉某影楼侵害个人信息权益纠纷案" in answer.markdown
    assert "某邮电局诉李某欠付电话费纠纷案" not in answer.markdown


NEWS = """{title}

来源：本报　记者　张三　2024年6月1日

{body}据了解，记者近日获悉，相关部门已介入调查。

（本报记者）
"""


def test_a_news_report_on_the_subject_is_shown_and_verifies(tmp_path: Path) -> None:
    """Reports are searched on their own (articles would crowd them out of the main search), shown under
    their own heading, cited as 报道《title》, and that citation verifies against the store like a case."""
    kb = kb_with(
        tmp_path,
        "news",
        {
            "on.txt": NEWS.format(
                title="新生儿信息遭倒卖 摄影机构打电话推销",
                body="宝宝刚出生，家长就接到摄影公司的推销电话。警方查明，医院员工把新生儿个人信息卖给了摄影机构。",
            ),
            # closer to the question's words than the other report, so only the on-topic rule keeps it out
            "off.txt": NEWS.format(
                title="宝宝游泳馆开业 宝宝刚出生摄影公司就打电话推销",
                body="宝宝刚出生，摄影公司就打电话推销上门拍照，家长问他们怎么知道我家的事、能告他们吗。"
                "原来是家长自己在宝宝游泳馆登记了预约，游泳馆开业火爆。",
            ),
        },
    )
    assert kb.has_source_type("news") and not kb.has_source_type("case")
    for persona, heading in (
        ("parent", "#### 媒体报道过类似的事"),
        ("student", "#### 相关报道"),
        ("ngo", "#### 相关报道"),
    ):
        answer = Answerer(kb).ask(QUESTION, persona=persona)
        assert heading in answer.markdown
        assert "报道《新生儿信息遭倒卖 摄影机构打电话推销》" in answer.markdown
        assert "宝宝游泳馆开业" not in answer.markdown  # shares the question's words, not its subject
        cited = [v for v in answer.citations if v.citation.case_id == "报道《新生儿信息遭倒卖 摄影机构打电话推销》"]
        assert cited and all(reverify(v, kb) for v in cited)
        assert_all_verified(answer, kb)


def test_a_report_is_not_a_similar_event_for_one_generic_word(tmp_path: Path) -> None:
    """A dismissed worker asking about 赔偿金 is not shown a story on traded newborn data whose text, deep
    down, mentions a 公益损害赔偿金: a report must name the playbook's subject in its headline or lead, or
    name it twice."""
    body = (
        "宝宝刚出生，家长就接到摄影公司的推销电话。警方查明，医院员工把新生儿个人信息卖给了摄影机构。" * 4
        + "法院判令三名被告公开赔礼道歉，并支付公益损害赔偿金29万余元。"
    )
    kb = kb_with(tmp_path, "news", {"newborn.txt": NEWS.format(title="新生儿信息遭倒卖 摄影机构打电话推销", body=body)})
    question = "公司违法辞退我，我能要求单位支付赔偿金吗"
    answer = Answerer(kb).ask(question, persona="parent")
    assert answer.playbook_id == "labour_dismissal"
    assert "新生儿信息遭倒卖" not in answer.markdown and "媒体报道过类似的事" not in answer.markdown
    on = Answerer(kb).ask(QUESTION, persona="parent")
    assert "报道《新生儿信息遭倒卖 摄影机构打电话推销》" in on.markdown  # the story is still one for its own subject
