"""ingest.links: the articles a case cites, verified against the laws stored before it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import shared_path

from ingest.cases import case_from_record
from ingest.links import CitationLinker, link_citations
from ingest.pipeline import ingest, to_record_and_chunks
from kb.models import CaseDocument, CaseSection
from kb.store import KnowledgeBase

PIPL_70 = "《中华人民共和国个人信息保护法》第七十条"
CIVIL_1034 = "《中华人民共和国民法典》第一千零三十四条"


def case(text: str, doc_id: str = "case:test") -> CaseDocument:
    return CaseDocument(
        doc_id=doc_id, source_type="case", doc_type="判决书", title="测试案", sections=[CaseSection("裁判理由", text)]
    )


CITING = case(
    "本院认为，依照《中华人民共和国个人信息保护法》第七十条、《中华人民共和国民法典》第一千零三十四条之规定，"
    "被告应当承担责任。个保法第七十条另有规定。"
)


def test_one_linker_for_many_cases_links_each_as_alone(lexical_kb: KnowledgeBase) -> None:
    lines = shared_path("corpus", "cases", "spc_guiding_cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [case_from_record(json.loads(line), source=f"guiding:{i}") for i, line in enumerate(lines[:40])]
    linker = CitationLinker(lexical_kb)
    shared = [linker.link(doc).cites for doc in cases]
    alone = [link_citations(doc, lexical_kb).cites for doc in cases]
    assert shared == alone
    assert sum(1 for cites in shared if cites) >= 10  # guiding cases cite the laws of lexical_kb


def test_laws_stored_or_deleted_later_are_seen(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", static=False)
    ingest(kb, ["statutes:个人信息保护法"], dense=False, progress=False)
    linker = CitationLinker(kb)
    assert linker.link(CITING).cites == (PIPL_70,)
    kb.upsert_document(*to_record_and_chunks(case("另一个案件，依照个保法第七十条。", doc_id="case:other")))
    assert linker.link(CITING).cites == (PIPL_70,)  # a case stored in between changes nothing
    ingest(kb, ["statutes:民法典"], dense=False, progress=False)
    assert linker.link(CITING).cites == (PIPL_70, CIVIL_1034)
    civil = [d.doc_id for d in kb.documents() if d.short_title == "民法典"]
    kb.delete_documents(civil)
    assert linker.link(CITING).cites == (PIPL_70,)
