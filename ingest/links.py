"""Links between sources: the statute citations inside a case or a news report, verified against the store."""

from __future__ import annotations

from dataclasses import replace

from kb.citations import _Verifier, article_key, parse_citations
from kb.lawnames import LawNameIndex
from kb.models import CaseDocument, Citation
from kb.store import KnowledgeBase


def link_citations(doc: CaseDocument, kb: KnowledgeBase) -> CaseDocument:
    """Return `doc` with `cites` = the formatted citations of every article it cites that the store holds."""
    return CitationLinker(kb).link(doc)


class CitationLinker:
    """`link_citations` for many documents: the law-name index and each citation's verification are reused
    while the laws held stay the same (`KnowledgeBase.laws_signature`; storing a case leaves it as it was),
    and rebuilt as soon as a law is added, replaced or deleted, so every document is still linked against
    exactly the laws stored before it."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._signature: str | None = None
        self._names: LawNameIndex | None = None
        self._verifier: _Verifier | None = None
        self._verified: dict[tuple[str | None, int, int, int | None, int | None], str | None] = {}

    def link(self, doc: CaseDocument) -> CaseDocument:
        """`doc` with `cites` set (see `link_citations`)."""
        names = self._current_names()
        found: list[str] = []
        text = "\n".join([doc.holding or "", *(s.text for s in doc.sections)])
        for citation in parse_citations(text, names):
            if citation.case_id or citation.article_no is None:
                continue
            key = self._article_key(citation)
            if key is not None and key not in found:
                found.append(key)
        return replace(doc, cites=tuple(found))

    def _current_names(self) -> LawNameIndex:
        signature = self.kb.laws_signature()
        if signature != self._signature or self._names is None:
            # the same index `kb.law_names()` builds, without rebuilding it for every case stored
            self._names = LawNameIndex(self.kb.law_titles())
            # What `verify_citation` makes for each citation (the catalog's titles, and an index of them for names
            # ours does not resolve), made once: it took longer than the rest of linking.
            self._verifier = _Verifier(self.kb, self._names)
            self._verified = {}
            self._signature = signature
        return self._names

    def _article_key(self, citation: Citation) -> str | None:
        """The 《title》第N条 a citation links to, or None when the store does not hold it. Verification
        reads only these fields of a citation (not its place in the text), so they key the cache."""
        assert citation.article_no is not None and self._verifier is not None
        memo = (citation.law, citation.article_no, citation.article_suffix, citation.paragraph, citation.item)
        if memo not in self._verified:
            verified = self._verifier.verify(citation)
            ok = verified.status in ("exists", "other_version") and verified.title
            self._verified[memo] = article_key(verified) if ok else None
        return self._verified[memo]
