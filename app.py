"""法律知识库问答 — the Streamlit app: `streamlit run app.py` (or `make run`).

Views: 问答 (chat with checkable sources), 法条浏览 (read a law by chapter, look a citation up, see who cites it),
投诉举报信 (draft a complaint letter from the conversation), 我的文档 (the personal collection). The sidebar holds
the persona, the search filters and the knowledge base's status.

Document text is always rendered through `ui.render` (escaped); `unsafe_allow_html` is used only for that markup.
"""

from __future__ import annotations

import os
import time
from datetime import date

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st

from kb.models import SOURCE_TYPES, Answer
from kb.retrieval import SearchFilters
from ui import export, render, state

EXAMPLES: tuple[str, ...] = (
    "宝宝刚出生就接到影楼的推销电话，对方知道孩子的出生日期和我们的电话，是有人卖了我们的信息吗？我该怎么办？",
    "接到电话说宝宝可以免费拍百天照，拍完却要花几千块买套餐才给照片，这合法吗？",
    "不满十四周岁的孩子注册APP，需要家长同意吗？",
    "个人信息保护法第十三条规定了哪些可以处理个人信息的情形？",
    "消费者协会能不能就商家倒卖消费者个人信息提起公益诉讼？",
)
SEED_QUESTION = EXAMPLES[0]


def html(markup: str) -> None:
    """Our own markup from `ui.render` (every piece of document text in it is escaped)."""
    st.markdown(markup, unsafe_allow_html=True)


# --------------------------------------------------------------------------------------------------
# Sidebar: persona, filters, status
# --------------------------------------------------------------------------------------------------


def sidebar(kb) -> tuple[str, SearchFilters]:  # type: ignore[no-untyped-def]
    with st.sidebar:
        persona = st.radio(
            "我是",
            options=list(render.PERSONAS),
            format_func=render.PERSONAS.__getitem__,
            horizontal=True,
            key="persona",
            help="回答的写法随身份变化：家长先讲怎么做，学生讲要件和条款，公益组织讲宣传和援助要点。",
        )
        with st.expander("检索筛选", expanded=False):
            present = [t for t in SOURCE_TYPES if kb.counts().get(t)]
            types = st.multiselect(
                "来源类型", present, format_func=lambda t: render.SOURCE_TYPE_LABELS.get(t, t), key="f_types"
            )
            titles = sorted({d.short_title or d.title for d in kb.documents() if d.source_type in state.LAW_TYPES})
            laws = st.multiselect("法律法规", titles, key="f_laws", placeholder="全部")
            validity = st.multiselect("效力", render.VALIDITY_CHOICES, key="f_validity", placeholder="全部")
            date_from = date_to = None
            if st.checkbox("限定日期（案例按裁判或发布日期，法规按施行日期）", key="f_use_dates"):
                picked = st.date_input("日期范围", value=(date(2015, 1, 1), date.today()), key="f_dates")
                if isinstance(picked, tuple) and len(picked) == 2:
                    date_from, date_to = picked[0].isoformat(), picked[1].isoformat()
            filters = SearchFilters(
                source_types=tuple(types),
                laws=tuple(laws),
                validity=tuple(validity),
                date_from=date_from,
                date_to=date_to,
            )
        status_panel(kb)
    return persona, filters


def status_panel(kb) -> None:  # type: ignore[no-untyped-def]
    status = state.kb_status(kb)

    @st.fragment(run_every=5 if status.dense_filling else None)
    def panel() -> None:
        s = state.kb_status(kb)
        with st.expander("知识库状态", expanded=not s.dense_complete):
            rows = []
            for t in SOURCE_TYPES:
                if s.chunks.get(t):
                    rows.append(
                        f"- {render.SOURCE_TYPE_LABELS[t]}：{s.documents.get(t, 0)} 部 / {s.chunks[t]} 条（段）"
                    )
            st.markdown("\n".join(rows) or "- （空）")
            st.caption(f"最近入库：{s.last_ingest or '—'}（UTC）")
            st.caption("关键词索引：" + ("✅ 就绪" if s.lexical_ready else "⏳ 未就绪（首次提问时建立）"))
            if s.dense_total:
                st.progress(
                    min(1.0, s.dense_done / s.dense_total),
                    text=f"语义向量：{s.dense_done}/{s.dense_total}"
                    + ("（完整）" if s.dense_complete else "（后台补全中…）" if s.dense_filling else "（不完整）"),
                )
            if not s.dense_complete and not s.dense_filling and s.dense_total:
                st.caption("向量未补全时，检索以关键词和条文引用为主。")
                if st.button("补全语义向量", key="fill_dense"):
                    from ingest.dense import fill_dense_background

                    fill_dense_background(kb.home)
                    st.rerun()
            st.caption(render.md_escape(f"向量模型：{s.embedder}"))
            if s.trained_questions:
                st.caption(f"检索已从 {s.trained_questions} 个咨询问题学习（python -m kb train）")
            st.caption(render.md_escape(f"存储：{s.store}"))

    panel()


# --------------------------------------------------------------------------------------------------
# 问答
# --------------------------------------------------------------------------------------------------


def render_sources(kb, answer: Answer) -> None:  # type: ignore[no-untyped-def]
    if not answer.sources:
        return
    st.markdown("**来源**（点开查看原文，黄色为支持回答的句子）")
    for s in answer.sources:
        with st.expander(render.source_label(s), expanded=False):
            html(
                render.source_html(
                    s,
                    full_text=state.full_unit_text(kb, s.chunk),
                    holding=state.case_holding(kb, s.chunk),
                    cited_by=state.citing(kb, s.chunk),
                )
            )


def render_answer(kb, message: dict, index: int) -> None:  # type: ignore[no-untyped-def]
    answer: Answer = message["answer"]
    html(render.answer_html(answer))
    meta = [
        render.PERSONAS.get(answer.persona, answer.persona),
        "离线检索回答" if answer.engine == "offline" else "模型回答",
    ]
    if answer.elapsed_ms:
        meta.append(f"{answer.elapsed_ms / 1000:.1f} 秒")
    st.caption(" · ".join(render.md_escape(m) for m in meta))
    if answer.notice:
        st.caption("ℹ️ " + render.md_escape(answer.notice))
    failed = render.failed_citations(answer)
    if failed:
        lines = "".join(f"<div>{render.citation_line_html(v)}</div>" for v in failed)
        html(f'<div class="kb-meta"><b>以下引用未通过核验，不能作为依据：</b>{lines}</div>')
    if answer.citations:
        ok = len(answer.citations) - len(failed)
        with st.expander(f"引用核验：{ok}/{len(answer.citations)} 条在知识库中核对无误"):
            html(
                '<div class="kb-meta">'
                + "".join(f"<div>{render.citation_line_html(v)}</div>" for v in answer.citations)
                + "</div>"
            )
    render_sources(kb, answer)
    if "md" not in message:
        message["md"] = export.answer_markdown(answer).encode("utf-8")
        message["docx"] = export.answer_docx(answer)
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button(
        "导出 Markdown",
        data=message["md"],
        file_name=f"法律问答-{index // 2 + 1}.md",
        mime="text/markdown",
        key=f"export_md_{index}",
        on_click="ignore",
    )
    c2.download_button(
        "导出 Word",
        data=message["docx"],
        file_name=f"法律问答-{index // 2 + 1}.docx",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key=f"export_docx_{index}",
        on_click="ignore",
    )


def conversation(answerer):  # type: ignore[no-untyped-def]
    """This session's `kb.conversation.Conversation` (its turns give follow-up questions their context)."""
    conv = st.session_state.get("conversation")
    if conv is None or conv.answerer is not answerer:
        conv = st.session_state.conversation = state.new_conversation(answerer)
    return conv


def ask(answerer, question: str, persona: str, filters: SearchFilters, box) -> None:  # type: ignore[no-untyped-def]
    messages = st.session_state.messages
    with box:
        with st.chat_message("user"):
            st.markdown(render.md_escape(question))
        with st.chat_message("assistant"):
            placeholder = st.empty()
            text, answer = "", None
            try:
                with st.spinner("正在检索条文…"):
                    stream = state.stream_answer(conversation(answerer), question, persona, filters)
                    first = next(stream, None)
                for piece in [first, *stream] if first is not None else []:
                    if isinstance(piece, Answer):
                        answer = piece
                    elif isinstance(piece, str):
                        text += piece
                        placeholder.markdown(render.stream_html(text) + " ▌", unsafe_allow_html=True)
            except Exception as exc:
                placeholder.error(render.md_escape(f"回答失败：{type(exc).__name__}: {exc}"))
                return
            placeholder.empty()
    if answer is None:
        answer = Answer(question=question, persona=persona, markdown=text or "没有得到回答。")
    messages.append({"role": "user", "content": question})
    messages.append({"role": "assistant", "answer": answer})
    st.rerun()


def chat_tab(kb, answerer, persona: str, filters: SearchFilters) -> None:  # type: ignore[no-untyped-def]
    messages = st.session_state.setdefault("messages", [])
    if not messages:
        st.markdown("##### 用自己的话描述发生了什么，回答会附上可以核对的法条原文。试试：")
        for i, q in enumerate(EXAMPLES):
            st.button(q, key=f"example_{i}", on_click=st.session_state.update, kwargs={"pending": q})
    for i, m in enumerate(messages):
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.markdown(render.md_escape(m["content"]))
            else:
                render_answer(kb, m, i)
    box = st.container()
    c1, c2 = st.columns([6, 1], vertical_alignment="center")
    with c1:
        prompt = st.chat_input("描述你的问题，例如：宝宝的信息被卖给了影楼，我该怎么办？", key="chat")
    with c2:
        if messages and st.button("清空对话", key="clear_chat"):
            st.session_state.messages = []
            conversation(answerer).reset()
            st.rerun()
    question = prompt or st.session_state.pop("pending", None)
    if question and question.strip():
        ask(answerer, question.strip(), persona, filters, box)


# --------------------------------------------------------------------------------------------------
# 法条浏览
# --------------------------------------------------------------------------------------------------


def open_in_browser(doc_id: str, chapter: str | None, article: str | None) -> None:
    st.session_state.law_doc = doc_id
    st.session_state.law_chapter = chapter
    st.session_state.law_article = article


def lookup(kb, query: str) -> None:  # type: ignore[no-untyped-def]
    from kb.citations import parse_citation, verify_citation

    names = kb.law_names()
    citation = parse_citation(query, names)
    if citation is None:
        st.warning("没有识别出条文或案例引用。请写成“个保法第13条”“民法典第一千零三十四条”“检例第141号”这样的形式。")
        return
    v = verify_citation(citation, kb, names)
    html(f'<div class="kb-meta">{render.citation_line_html(v)}</div>')
    chunks = kb.get_chunks(list(v.chunk_ids))
    if not chunks:
        st.error(render.md_escape(f"知识库中没有 {v.display}。{v.note}"))
        return
    shown: set[str] = set()
    for c in chunks:
        unit = (c.doc_id, c.article or c.section or "")
        if unit in shown:
            continue
        shown.add(unit)
        parts = [x for x in chunks if (x.doc_id, x.article or x.section or "") == unit]
        facts = " · ".join(
            f"<b>{render.text_html(k)}</b>：{render.text_html(val)}" for k, val in render.source_facts(c)
        )
        html(f'<div class="kb-meta"><b>{render.text_html(c.citation)}</b><br>{facts}</div>')
        html(render.article_html(parts))
        cited = state.citing(kb, c)
        if c.article:
            if cited:
                st.markdown("**引用此条的案例与报道**")
                for x in cited:
                    html(
                        '<div class="kb-meta">'
                        + " · ".join(
                            render.text_html(p)
                            for p in (
                                x.citation,
                                render.SOURCE_TYPE_LABELS.get(x.source_type, ""),
                                x.court or "",
                                x.date or "",
                            )
                            if p
                        )
                        + "</div>"
                    )
            else:
                st.caption("知识库中没有引用此条的案例或报道。")
            if c.source_type in state.LAW_TYPES:
                st.button(
                    "在下方浏览全文",
                    key=f"open_{c.chunk_id}",
                    on_click=open_in_browser,
                    args=(c.doc_id, " / ".join(c.path) or None, c.article),
                )


def law_label(doc) -> str:  # type: ignore[no-untyped-def]
    kind = render.SOURCE_TYPE_LABELS.get(doc.source_type, doc.source_type)
    when = f"施行 {doc.effective}" if doc.effective else ""
    return " · ".join(p for p in (doc.title, kind, doc.validity if doc.validity != "未知" else "", when) if p)


def browse_tab(kb) -> None:  # type: ignore[no-untyped-def]
    st.markdown("##### 查条文")
    query = st.text_input(
        "输入引用，跳到条文",
        placeholder="例如：个保法第13条、民法典第1034条、检例第141号",
        key="lookup",
        label_visibility="collapsed",
    )
    if query.strip():
        lookup(kb, query.strip())
    st.divider()
    st.markdown("##### 按章节阅读")
    docs = [d for d in kb.documents() if d.source_type in state.LAW_TYPES]
    for d in docs:
        d.validity = kb.validity_of(d.doc_id, d.validity)
    order = {t: i for i, t in enumerate(state.LAW_TYPES)}
    docs.sort(key=lambda d: (order.get(d.source_type, 9), d.title, d.effective or ""))
    by_id = {d.doc_id: d for d in docs}
    if st.session_state.get("law_doc") not in by_id:
        st.session_state.law_doc = None
    doc_id = st.selectbox(
        "打开法律",
        options=list(by_id),
        format_func=lambda i: law_label(by_id[i]),
        index=None,
        placeholder=f"选择或输入法律名称（共 {len(docs)} 部）",
        key="law_doc",
    )
    if not doc_id:
        return
    doc = by_id[doc_id]
    chunks = kb.document_chunks(doc_id)
    chapters = list(dict.fromkeys(" / ".join(c.path) for c in chunks))
    if len(chapters) > 1:
        if st.session_state.get("law_chapter") not in chapters:
            st.session_state.law_chapter = chapters[0]
        chapter = st.selectbox("章节（编 / 章 / 节）", chapters, key="law_chapter")
    else:
        chapter = chapters[0] if chapters else ""
    facts = [("效力", doc.validity), ("公布", doc.published or "—"), ("施行", doc.effective or "—")]
    html('<div class="kb-meta">' + " · ".join(f"<b>{k}</b>：{render.text_html(v)}" for k, v in facts) + "</div>")
    target = st.session_state.get("law_article")
    articles: dict[str, list] = {}
    for c in chunks:
        if " / ".join(c.path) == chapter:
            articles.setdefault(c.article or c.section or c.chunk_id, []).append(c)
    for label, parts in articles.items():
        cited = state.citing(kb, parts[0])
        marker = " ◀" if label == target else ""
        html(f'<div class="kb-text"><b>{render.text_html(label + marker)}</b></div>')
        html(render.article_html(parts))
        if cited:
            html(
                '<div class="kb-meta"><b>引用此条的案例与报道</b>：'
                + "；".join(render.text_html(x.citation) for x in cited)
                + "</div>"
            )


# --------------------------------------------------------------------------------------------------
# 投诉举报信
# --------------------------------------------------------------------------------------------------

LETTER_FIELDS = ("letter_recipient", "letter_facts", "letter_requests", "letter_basis", "letter_evidence")


def letter_tab(kb) -> None:  # type: ignore[no-untyped-def]
    messages = st.session_state.get("messages", [])
    questions = [m["content"] for m in messages if m["role"] == "user"]
    answers = [m["answer"] for m in messages if m["role"] == "assistant" and m.get("answer") is not None]
    seed = (len(messages), tuple(questions))
    if st.session_state.get("letter_seed") != seed:
        draft = export.draft_letter(questions, answers, state.get_playbooks(), kb)
        st.session_state.letter_seed = seed
        st.session_state.letter_recipient = draft.recipient
        st.session_state.letter_facts = draft.facts
        st.session_state.letter_requests = "\n".join(draft.requests)
        st.session_state.letter_basis = "\n".join(draft.basis)
        st.session_state.letter_evidence = "\n".join(draft.evidence)
        st.session_state.letter_playbook = draft.playbook_id
    if not questions:
        st.info("先在“问答”里描述你的情况，这里会根据对话起草投诉举报信；也可以直接填写。")
    playbook_id = st.session_state.get("letter_playbook")
    playbook = next((p for p in state.get_playbooks() if p.id == playbook_id), None) if playbook_id else None
    if playbook is not None and playbook.letter is not None:
        st.caption(render.md_escape(f"收件机关和请求按“{playbook.title}”指引预填，可以修改。"))
    elif playbook is not None:
        steps = "\n".join(
            f"{i}. {render.md_escape(step)}" for i, step in enumerate(export.other_remedies(playbook), start=1)
        )
        st.info(
            render.md_escape(f"“{playbook.title}”一般不靠投诉举报信解决，指引里的做法是：")
            + f"\n\n{steps}\n\n"
            + "如果仍要写信，请填写收件机关；请求只预填了通用的几项。"
        )
    c1, c2, c3 = st.columns(3)
    complainant = c1.text_input("投诉举报人（你的姓名）", key="letter_complainant")
    contact = c2.text_input("联系方式", key="letter_contact")
    respondent = c3.text_input("被投诉举报人", placeholder="单位或个人名称、地址", key="letter_respondent")
    recipient = st.text_input("收件机关", key="letter_recipient", placeholder="例如：当地市场监督管理部门（12315）")
    facts = st.text_area("事实与经过（按时间写清楚：何时、谁、做了什么、你有什么证据）", key="letter_facts", height=140)
    requests = st.text_area(
        "请求（每行一项：删除信息、停止侵害、赔偿损失、调查处理…）", key="letter_requests", height=140
    )
    basis = st.text_area("法律依据（每行一条，只写入知识库核验通过的引用）", key="letter_basis", height=160)
    evidence = st.text_area("证据材料（每行一项）", key="letter_evidence", height=100)
    kept, dropped = export.check_basis(basis.split("\n"), kb)
    if dropped:
        st.warning(
            "以下依据未通过核验，不会写入信件：\n\n"
            + "\n".join(f"- {render.md_escape(line)} —— {render.md_escape(reason)}" for line, reason in dropped)
        )
    draft = export.LetterDraft(
        recipient=recipient.strip() or "（收件机关）",
        facts=facts,
        requests=[r.strip() for r in requests.split("\n") if r.strip()],
        basis=kept,
        complainant=complainant.strip(),
        contact=contact.strip(),
        respondent=respondent.strip(),
        evidence=[e.strip() for e in evidence.split("\n") if e.strip()],
        playbook_id=playbook_id,
    )
    st.markdown("**预览**")
    html(f'<div class="kb-letter">{render.text_html(export.letter_text(draft))}</div>')
    st.session_state.letter_final = draft
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button(
        "下载 Word",
        data=export.letter_docx(draft),
        file_name="投诉举报信.docx",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key="letter_docx",
        on_click="ignore",
        type="primary",
    )
    d2.download_button(
        "下载 Markdown",
        data=export.letter_markdown(draft).encode("utf-8"),
        file_name="投诉举报信.md",
        mime="text/markdown",
        key="letter_md",
        on_click="ignore",
    )


# --------------------------------------------------------------------------------------------------
# 我的文档
# --------------------------------------------------------------------------------------------------


def documents_tab(kb) -> None:  # type: ignore[no-untyped-def]
    st.markdown(
        "上传你自己的材料（判决书、聊天记录整理、合同、通知等），它们进入只属于这个知识库的“我的文档”，"
        "问答时会一起检索。身份证号、手机号、银行卡号会自动打码。"
    )
    nonce = st.session_state.setdefault("upload_nonce", 0)
    files = st.file_uploader(
        f"支持 {' '.join(state.UPLOAD_SUFFIXES)}，单个文件不超过 {state.max_upload_mb()} MB",
        type=[s.lstrip(".") for s in state.UPLOAD_SUFFIXES],
        accept_multiple_files=True,
        key=f"uploader_{nonce}",
        max_upload_size=state.max_upload_mb(),
    )
    if st.button("加入我的文档", disabled=not files, key="do_upload", type="primary"):
        bar = st.progress(0.0, text="开始…")
        results = state.ingest_uploads(
            kb, [(f.name, f.getvalue()) for f in files], progress=lambda x, t: bar.progress(x, text=render.md_escape(t))
        )
        st.session_state.upload_results = results
        st.session_state.upload_nonce = nonce + 1
        st.rerun()
    for r in st.session_state.get("upload_results", []):
        name = render.md_escape(r.name)
        if r.errors:
            st.error(f"{name}：" + "；".join(render.md_escape(e) for e in r.errors))
        else:
            st.success(f"{name}：已加入 {r.documents} 篇，{r.chunks} 段")
    mine = state.personal_documents(kb)
    st.markdown(f"##### 我的文档（{len(mine)} 篇）")
    if not mine:
        st.caption("还没有上传文档。")
        return
    for d in mine:
        c1, c2 = st.columns([6, 1], vertical_alignment="center")
        c1.markdown(
            render.md_escape(
                f"{d.title} · {render.SOURCE_TYPE_LABELS.get(d.source_type, d.source_type)}"
                f" · {d.chunks} 段 · 文件：{d.file_name}"
            )
        )
        if c2.button("删除", key=f"del_{d.doc_id}"):
            with st.spinner("正在删除并更新索引…"):
                state.delete_personal(kb, [d.doc_id])
            st.session_state.upload_results = []
            st.rerun()
    confirm = st.checkbox("我确认要删除全部“我的文档”（向量、检索索引和原文件一并删除）", key="confirm_delete_all")
    if st.button("删除全部我的文档", disabled=not confirm, key="delete_all"):
        with st.spinner("正在删除并更新索引…"):
            state.delete_personal(kb)
        st.session_state.upload_results = []
        st.rerun()


# --------------------------------------------------------------------------------------------------
# First start
# --------------------------------------------------------------------------------------------------


def build_view(kb) -> None:  # type: ignore[no-untyped-def]
    job = state.start_default_build(kb)

    @st.fragment(run_every=2)
    def progress() -> None:
        if not job.running:
            st.rerun()
        docs = sum(kb.document_counts().values())
        st.info(
            f"首次启动：正在建立默认知识库（国家法律），已解析 {docs} 部，约需几分钟。"
            "关键词索引建好后就可以提问；语义向量随后在后台补全。"
        )
        st.progress(min(0.95, docs / 380), text=f"已用 {int(time.monotonic() - job.started)} 秒")

    progress()


def main() -> None:
    st.set_page_config(page_title="法律知识库问答", page_icon="⚖️", layout="wide")
    html(render.CSS)
    home = str(state.kb_home())
    kb = state.get_kb(home)
    st.markdown("### ⚖️ 法律知识库问答")
    st.caption("ℹ️ " + render.md_escape(render.DISCLAIMER))
    job = state.build_job(kb)
    if state.needs_default_build(kb) or (job is not None and job.running):
        build_view(kb)
        return
    if job is not None and job.error:
        st.warning(render.md_escape(f"建立知识库时有错误：{job.error}"))
    if job is not None and not st.session_state.get("build_announced"):
        st.session_state.build_announced = True
        st.success("知识库已建立，可以提问了：关键词检索已就绪，语义向量正在后台补全（进度见左侧“知识库状态”）。")
    state.ensure_dense_filling(home)
    answerer = state.get_answerer(home)
    persona, filters = sidebar(kb)
    chat, browse, letter, docs = st.tabs(["💬 问答", "📖 法条浏览", "✉️ 投诉举报信", "📁 我的文档"])
    with chat:
        chat_tab(kb, answerer, persona, filters)
    with browse:
        browse_tab(kb)
    with letter:
        letter_tab(kb)
    with docs:
        documents_tab(kb)


main()
