"""Exports: an answer with its sources (Markdown, .docx) and the complaint / report letter (投诉举报信).

Everything here is pure: it takes answers, playbooks and a catalog (for verification) and returns text or bytes.
A letter's legal basis holds only citations that verify against the knowledge base (`check_basis`); whatever the
user types into the basis box is checked again before it reaches a file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from kb.citations import parse_citation, parse_citations, verify_citation
from kb.models import Answer, Chunk, VerifiedCitation
from kb.store import report_title
from ui.render import DISCLAIMER, PERSONAS, STATUS_BADGES, md_escape, source_badge, source_facts

# When no playbook with a letter fits the conversation: requests any complaint can make, and no recipient (the
# user names the body; a guessed one, such as the personal-information bodies, misleads a tenant or a driver).
GENERIC_REQUESTS: tuple[str, ...] = (
    "依法调查处理被投诉举报人的上述违法行为",
    "责令其立即停止违法行为、依法改正",
    "督促其依法赔偿我的损失",
    "将调查处理结果书面告知我",
)
GENERIC_RECIPIENT = ""
BASIS_LIMIT = 8
BASIS_TEXT_CHARS = 240

# --------------------------------------------------------------------------------------------------
# Answer export
# --------------------------------------------------------------------------------------------------


def _quote_block(text: str) -> str:
    return "\n".join("> " + (md_escape(line) if line.strip() else "") for line in (text or "").split("\n"))


def _answer_text_md(markdown: str) -> str:
    """The answer's own Markdown, with HTML made literal."""
    return (markdown or "").replace("<", "&lt;").replace(">", "&gt;")


def answer_markdown(answer: Answer, today: date | None = None) -> str:
    """The answer, its citations with their verification, and every source in full, as a Markdown file."""
    today = today or date.today()
    lines = [
        "# 法律问答记录",
        "",
        f"- 问题：{md_escape(answer.question)}",
        f"- 身份：{PERSONAS.get(answer.persona, answer.persona)}",
        f"- 日期：{today.isoformat()}",
        "",
        "## 回答",
        "",
        _answer_text_md(answer.markdown),
        "",
    ]
    if answer.notice:
        lines += [f"*{md_escape(answer.notice)}*", ""]
    if answer.removed:
        lines += ["未能核验、已从回答中删除的引用：" + "；".join(md_escape(r) for r in answer.removed), ""]
    if answer.citations:
        lines += ["## 引用核验", ""]
        for v in answer.citations:
            label, _ = STATUS_BADGES.get(v.status, STATUS_BADGES["not_found"])
            shown = md_escape(v.display) if v.verified else f"~~{md_escape(v.display)}~~"
            lines.append(f"- {label}　{shown}" + (f"（{md_escape(v.note)}）" if v.note else ""))
        lines.append("")
    if answer.sources:
        lines += ["## 来源", ""]
        for s in answer.sources:
            badge, _ = source_badge(s)
            lines += [f"### [{s.n}] {badge}　{md_escape(s.chunk.citation)}", ""]
            lines += [f"- {k}：{md_escape(v)}" for k, v in source_facts(s.chunk)]
            lines.append("")
            if s.quote:
                lines += ["支持回答的句子：", "", _quote_block(s.quote), ""]
            lines += ["原文：", "", _quote_block(s.chunk.text), ""]
    lines += ["---", "", f"*{DISCLAIMER}*", ""]
    return "\n".join(lines)


def _docx_document():  # type: ignore[no-untyped-def]
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), "宋体")
    return doc


def _docx_bytes(doc) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _add_markdown_paragraph(doc, line: str) -> None:  # type: ignore[no-untyped-def]
    """One line of the answer's Markdown: headings, bullets and **bold** kept; everything else as text."""
    stripped = line.strip()
    heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
    if heading:
        doc.add_heading(heading.group(2).replace("**", ""), level=min(len(heading.group(1)) + 1, 4))
        return
    style = None
    bullet = re.match(r"^(?:[-*+]|\d+[.、)])\s+(.*)$", stripped)
    if bullet:
        style, stripped = ("List Number" if stripped[0].isdigit() else "List Bullet"), bullet.group(1)
    para = doc.add_paragraph(style=style)
    last = 0
    for m in _BOLD.finditer(stripped):
        para.add_run(stripped[last : m.start()])
        para.add_run(m.group(1)).bold = True
        last = m.end()
    para.add_run(stripped[last:])


def _add_highlighted(doc, text: str, quote: str) -> None:  # type: ignore[no-untyped-def]
    from docx.enum.text import WD_COLOR_INDEX

    from ui.render import quote_spans

    for block in (text or "").split("\n"):
        para = doc.add_paragraph()
        last = 0
        for start, end in quote_spans(block, quote):
            para.add_run(block[last:start])
            run = para.add_run(block[start:end])
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
            last = end
        para.add_run(block[last:])


def answer_docx(answer: Answer, today: date | None = None) -> bytes:
    """The same content as `answer_markdown`, as a Word document (the supporting sentence highlighted)."""
    today = today or date.today()
    doc = _docx_document()
    doc.add_heading("法律问答记录", level=0)
    doc.add_paragraph(f"问题：{answer.question}")
    doc.add_paragraph(f"身份：{PERSONAS.get(answer.persona, answer.persona)}　日期：{today.isoformat()}")
    doc.add_heading("回答", level=1)
    for line in (answer.markdown or "").split("\n"):
        if line.strip():
            _add_markdown_paragraph(doc, line)
    if answer.notice:
        doc.add_paragraph(answer.notice).runs[0].italic = True
    if answer.citations:
        doc.add_heading("引用核验", level=1)
        for v in answer.citations:
            label, _ = STATUS_BADGES.get(v.status, STATUS_BADGES["not_found"])
            para = doc.add_paragraph(style="List Bullet")
            para.add_run(label + "　")
            run = para.add_run(v.display)
            run.font.strike = not v.verified
            if v.note:
                para.add_run(f"（{v.note}）")
    if answer.sources:
        doc.add_heading("来源", level=1)
        for s in answer.sources:
            badge, _ = source_badge(s)
            doc.add_heading(f"[{s.n}] {badge}　{s.chunk.citation}", level=2)
            doc.add_paragraph("；".join(f"{k}：{v}" for k, v in source_facts(s.chunk)))
            _add_highlighted(doc, s.chunk.text, s.quote)
    doc.add_paragraph(DISCLAIMER).runs[0].italic = True
    return _docx_bytes(doc)


# --------------------------------------------------------------------------------------------------
# Complaint / report letter
# --------------------------------------------------------------------------------------------------


@dataclass
class LetterDraft:
    recipient: str
    facts: str
    requests: list[str]
    basis: list[str]  # one verified citation per line, optionally followed by "：" and the article's text
    complainant: str = ""
    contact: str = ""
    respondent: str = ""
    evidence: list[str] = field(default_factory=list)
    playbook_id: str | None = None
    when: date = field(default_factory=date.today)


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def choose_playbook(text: str, playbooks: Sequence, preferred: str | None = None):  # type: ignore[no-untyped-def]
    """The playbook an answer named, else the one whose situations share most character pairs with `text`."""
    by_id = {p.id: p for p in playbooks}
    if preferred and preferred in by_id:
        return by_id[preferred]
    grams = _bigrams(text)
    best, best_score = None, 0.0
    for p in playbooks:
        candidates = [p.title, *p.situations, " ".join(p.keywords)]
        score = max(len(grams & _bigrams(c)) / max(1, len(_bigrams(c))) for c in candidates)
        if score > best_score:
            best, best_score = p, score
    return best if best_score >= 0.2 else None


def _article_text(kb, chunk_ids: Iterable[str]) -> str:  # type: ignore[no-untyped-def]
    chunks: list[Chunk] = kb.get_chunks(list(chunk_ids))
    if not chunks:
        return ""
    first = chunks[0]
    same = [
        c for c in chunks if c.doc_id == first.doc_id and (c.article or c.section) == (first.article or first.section)
    ]
    text = " ".join(c.text.replace("\n", " ") for c in sorted(same, key=lambda c: c.part))
    return text if len(text) <= BASIS_TEXT_CHARS else text[:BASIS_TEXT_CHARS] + "……"


def _basis_line(display: str, text: str) -> str:
    return f"{display}：{text}" if text else display


def check_basis(lines: Iterable[str], kb) -> tuple[list[str], list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """Split basis lines into those whose every citation verifies and those dropped, with the reason.

    A line must start with a citation; citations later in the line (本法第X条 in the quoted text) are read in
    the context of that first citation's law.
    """
    names = kb.law_names()
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.strip().lstrip("-•·0123456789.、) ").strip()
        if not line:
            continue
        first = parse_citation(line, names)
        if first is None or first.start > 2:
            dropped.append((line, "开头没有可核验的法条或案例引用"))
            continue
        bad = ""
        for c in parse_citations(line, names, context_law=first.law):
            v = verify_citation(c, kb, names)
            if not v.verified:
                label, _ = STATUS_BADGES.get(v.status, STATUS_BADGES["not_found"])
                bad = f"{v.display}：{label}" + (f"（{v.note}）" if v.note else "")
                break
        if bad:
            dropped.append((line, bad))
        else:
            kept.append(line)
    return kept, dropped


def basis_from_answers(answers: Sequence[Answer], kb, playbook=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Verified citations of the conversation (the answers' citations, then verified statute and case sources,
    then the playbook's statutes), each with the article's text from the knowledge base."""
    names = kb.law_names()
    lines: dict[str, str] = {}

    def add(v: VerifiedCitation) -> None:
        # an article already listed covers its 款 and 项 (《…》第四十七条 covers 《…》第四十七条第一款);
        # a news report is background, not a legal basis
        if v.citation.case_id and report_title(v.citation.case_id):
            return
        if v.verified and not any(v.display == d or v.display.startswith(d + "第") for d in lines):
            lines[v.display] = _basis_line(v.display, _article_text(kb, v.chunk_ids))

    def add_text(cite: str) -> None:
        parsed = parse_citation(cite, names)
        if parsed is not None:
            add(verify_citation(parsed, kb, names))

    for a in answers:
        for v in a.citations:
            add(v)
        for s in a.sources:
            if s.verified and (s.chunk.article or s.chunk.case_id):
                add_text(s.chunk.citation)
    for cite in playbook.citations() if playbook is not None else ():
        add_text(cite)
    return list(lines.values())[:BASIS_LIMIT]


def draft_letter(questions: Sequence[str], answers: Sequence[Answer], playbooks: Sequence, kb) -> LetterDraft:  # type: ignore[no-untyped-def]
    """A first draft from the conversation: the user's words as facts, the playbook's recipient and requests."""
    preferred = next((a.playbook_id for a in reversed(answers) if a.playbook_id), None)
    playbook = choose_playbook("\n".join(questions), playbooks, preferred)
    recipient = playbook.letter.recipient if playbook is not None and playbook.letter else GENERIC_RECIPIENT
    requests = list(playbook.letter.requests) if playbook is not None and playbook.letter else list(GENERIC_REQUESTS)
    facts = "\n".join(q.strip() for q in questions if q.strip())
    return LetterDraft(
        recipient=recipient,
        facts=facts,
        requests=requests,
        basis=basis_from_answers(answers, kb, playbook),
        evidence=list(playbook.evidence) if playbook is not None else [],
        playbook_id=playbook.id if playbook is not None else None,
    )


def other_remedies(playbook) -> list[str]:  # type: ignore[no-untyped-def]
    """The remedy steps of a playbook that drafts no complaint letter (a fine is contested by 行政复议 or a
    lawsuit, a divorce in court): what the letter tab points to instead; empty when it drafts one."""
    if playbook is None or playbook.letter is not None:
        return []
    return [f"{step.action}（{step.body}）" for step in playbook.steps]


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def letter_sections(draft: LetterDraft) -> list[tuple[str, list[str]]]:
    """The letter as (heading, paragraphs); the one layout both the text and the .docx are written from."""
    people = [
        f"投诉举报人：{draft.complainant or '（姓名）'}" + (f"，联系方式：{draft.contact}" if draft.contact else ""),
        f"被投诉举报人：{draft.respondent or '（单位或个人名称、地址）'}",
    ]
    recipient = draft.recipient.strip() or "（收件机关）"
    sections: list[tuple[str, list[str]]] = [
        ("", [f"{recipient}：", *people]),
        (
            "一、事实与经过",
            [p for p in draft.facts.split("\n") if p.strip()] or ["（请写明经过：时间、地点、对方做了什么）"],
        ),
        ("二、投诉举报请求", [f"{i}. {r}" for i, r in enumerate((r for r in draft.requests if r.strip()), start=1)]),
        (
            "三、法律依据",
            [f"{i}. {b}" for i, b in enumerate(draft.basis, start=1)] or ["（知识库中没有核验通过的依据）"],
        ),
    ]
    if draft.evidence:
        sections.append(("四、证据材料", [f"{i}. {e}" for i, e in enumerate(draft.evidence, start=1)]))
    sections.append(
        ("", ["此致", recipient, "", f"投诉举报人：{draft.complainant or '（签名）'}", _cn_date(draft.when)])
    )
    return sections


def letter_text(draft: LetterDraft) -> str:
    """The letter as plain text (also valid Markdown when escaped by the caller)."""
    out = ["投诉举报信", ""]
    for heading, paragraphs in letter_sections(draft):
        if heading:
            out += [heading]
        out += paragraphs
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def letter_markdown(draft: LetterDraft) -> str:
    out = ["# 投诉举报信", ""]
    for heading, paragraphs in letter_sections(draft):
        if heading:
            out += [f"## {heading}", ""]
        out += [md_escape(p) if p else "" for p in paragraphs]
        out.append("")
    out.append("")
    return "\n".join(out)


def letter_docx(draft: LetterDraft) -> bytes:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc = _docx_document()
    title = doc.add_heading("投诉举报信", level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for heading, paragraphs in letter_sections(draft):
        if heading:
            doc.add_heading(heading, level=1)
        for p in paragraphs:
            doc.add_paragraph(p)
    return _docx_bytes(doc)
