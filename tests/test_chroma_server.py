"""The knowledge base against a real `chroma run` server on loopback (KB_CHROMA_URL), not the embedded store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, wait_until_healthy

from ingest.pipeline import ingest
from kb.retrieval import Retriever, SearchFilters
from kb.store import KnowledgeBase


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/api/v2/heartbeat", proc, "chroma server")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ingest_search_and_delete_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:
    kb = KnowledgeBase(tmp_path / "kb", chroma_url=chroma_url, static=False)
    report = ingest(kb, ["statutes:个人信息保护法"], dense=True, progress=False)
    assert report.errors == [] and report.chunks > 70
    assert type(kb.vectorstore._client).__name__ != "PersistentClient"
    assert not (kb.home / "chroma").exists()  # nothing embedded on disk: the server holds the vectors
    done, total = kb.dense_status()
    assert done == total == report.chunks

    hits = Retriever(kb).search(
        "个人信息处理者泄露了我的信息要承担什么责任", k=10, filters=SearchFilters(source_types=("statute",))
    )
    assert hits and all(h.chunk.title == "中华人民共和国个人信息保护法" for h in hits)
    assert any("dense" in h.signals for h in hits)
    assert Retriever(kb).search("个保法第13条", k=1)[0].chunk.article == "第十三条"

    # a second knowledge base on the same server gets a collection of its own
    other = KnowledgeBase(tmp_path / "other", chroma_url=chroma_url, static=False)
    assert other.collection_name() != kb.collection_name()
    assert other.dense_status()[0] == 0

    # re-ingesting adds nothing; deleting removes the vectors on the server
    again = ingest(kb, ["statutes:个人信息保护法"], dense=True, progress=False)
    assert (again.unchanged, again.dense_added) == (1, 0)
    doc_id = kb.documents()[0].doc_id
    removed = kb.delete_documents([doc_id])
    assert removed == report.chunks
    assert kb.vectorstore._collection.count() == 0
