"""Links between sources: the statute citations inside a case or a news report, verified against the store."""

from __future__ import annotations

from dataclasses import replace

from kb.models import CaseDocument
from kb.store import KnowledgeBase


def link_citations(doc: CaseDocument, kb: KnowledgeBase) -> CaseDocument:
    """Return `doc` with `cites` = the formatted citations of every article it cites that the store holds."""
    from kb.citations import article_key, parse_citations, verify_citation

    names = kb.law_names()
    found: list[str] = []
    text = "\n".join([doc.holding or "", *(s.text for s in doc.sections)])
    for citation in parse_citations(text, names):
        if citation.case_id or citation.article_no is None:
            continue
        verified = verify_citation(citation, kb, names)
        if verified.status in ("exists", "other_version") and verified.title:
            key = article_key(verified)
            if key not in found:
                found.append(key)
    return replace(doc, cites=tuple(found))
