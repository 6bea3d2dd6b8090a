"""Every playbook citation verifies in a real store, through the product's own verifier.

The store holds the national laws the playbooks name (from laws.db) and the LawRefBook judicial
interpretations and administrative regulations their optional citations name; only the catalog is
written (verification needs no index). Every statute `basis` must be `exists`; every `optional_basis`
must be `exists` once its interpretation or regulation is ingested. This is what the answer composer
relies on when it drops what does not verify: with the default knowledge base nothing of a playbook's
statute basis is lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import OPTIONAL_BASIS_FOLDERS, newest_lawrefbook_files

from ingest.pipeline import iter_source, to_record_and_chunks
from kb.answer import CLAUSE
from kb.citations import parse_citations, verify_citation
from kb.lawnames import clean_title, short_title
from kb.models import LegalDocument
from kb.playbooks import Playbook, load_playbooks
from kb.store import KnowledgeBase

SHARED = Path(__file__).resolve().parents[2] / "shared"
OPTIONAL_FOLDERS = tuple(SHARED / "corpus" / "lawrefbook" / folder for folder in OPTIONAL_BASIS_FOLDERS)


def _title(citation: str) -> str:
    return citation[1 : citation.index("》第")].replace("〈", "《").replace("〉", "》")


@pytest.fixture(scope="module")
def playbooks() -> list[Playbook]:
    return load_playbooks()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, playbooks: list[Playbook]) -> KnowledgeBase:
    if not all(folder.is_dir() for folder in OPTIONAL_FOLDERS):
        pytest.skip("shared LawRefBook corpus not present")
    kb = KnowledgeBase(tmp_path_factory.mktemp("playbook_store"))
    statutes = {short_title(_title(c)) for pb in playbooks for c in pb.citations()}
    optional = {_title(c) for pb in playbooks for c in pb.optional_citations()}
    sources = [
        "statutes:" + ",".join(sorted(statutes)),
        *(str(p) for t, p in newest_lawrefbook_files(*OPTIONAL_FOLDERS).items() if t in optional),
    ]
    for source in sources:
        for origin, doc in iter_source(source):
            assert not isinstance(doc, Exception), f"{origin}: {doc}"
            assert isinstance(doc, LegalDocument)
            record, chunks = to_record_and_chunks(doc)
            kb.upsert_document(record, chunks)
    return kb


def _failures(kb: KnowledgeBase, pairs: list[tuple[str, str]]) -> list[str]:
    names = kb.law_names()
    out = []
    for pid, cite in pairs:
        parsed = parse_citations(cite, names)
        if len(parsed) != 1:
            out.append(f"{pid}: {cite}: parsed as {len(parsed)} citations")
            continue
        v = verify_citation(parsed[0], kb, names)
        if v.status != "exists":
            out.append(f"{pid}: {cite}: {v.status} {v.note}")
    return out


def test_every_statute_basis_exists(store: KnowledgeBase, playbooks: list[Playbook]) -> None:
    pairs = [(pb.id, c) for pb in playbooks for c in pb.citations()]
    assert pairs
    failures = _failures(store, pairs)
    assert not failures, "\n".join(failures)


def test_every_optional_basis_exists_once_ingested(store: KnowledgeBase, playbooks: list[Playbook]) -> None:
    pairs = [(pb.id, c) for pb in playbooks for c in pb.optional_citations()]
    failures = _failures(store, pairs)
    assert not failures, "\n".join(failures)


def test_store_rejects_what_it_does_not_hold(store: KnowledgeBase) -> None:
    names = store.law_names()
    for cite in ("《中华人民共和国民法典》第一千四百三十八条", "《中华人民共和国个人信息保护法》第十三条第五款"):
        (parsed,) = parse_citations(cite, names)
        assert verify_citation(parsed, store, names).status == "not_found", cite


def test_every_citation_in_the_persona_notes_exists(store: KnowledgeBase, playbooks: list[Playbook]) -> None:
    """The notes are prose (保险法第十七条第二款, 第二十三条 …), linked clause by clause as an answer links them:
    each citation that names a law or interpretation the store holds must verify there."""
    names = store.law_names()
    held = {clean_title(t) for t in names.titles}
    failures = []
    for pb in playbooks:
        for persona, note in pb.persona_notes.model_dump().items():
            for clause in CLAUSE.finditer(note):
                for citation in parse_citations(clause.group(0), names):
                    if citation.law is None or citation.case_id or clean_title(citation.law) not in held:
                        continue
                    v = verify_citation(citation, store, names)
                    if v.status != "exists":
                        failures.append(f"{pb.id} ({persona}): {citation.raw} → {v.display}: {v.status}")
    assert not failures, "\n".join(failures)
