"""Remedies playbooks: hand-written, reviewed legal guidance for common situations.

Each file in `kb/data/playbooks/` describes one situation a worried lay person asks about
(personal information sold, unpaid wages, a landlord keeping the deposit …): the rights, the other
side's duties, the remedy steps in order with the body to go to, the evidence to keep, the time
limits, fitting precedents, and what a complaint letter should ask for. Every claim carries its
legal basis as citations:

* `basis` — statutes, written in full form 《中华人民共和国民法典》第一千零三十四条 (optionally
  第X款 / 第（X）项), each one checked against the statute database by the tests;
* `optional_basis` — judicial interpretations (司法解释) and administrative regulations (行政法规, such as
  工伤保险条例), under their exact LawRefBook title, with a nested book title written 〈…〉. The app drops
  these when the user's knowledge base does not hold them, so every claim also has at least one statute in
  `basis`.

`load_playbooks()` reads and validates them; a malformed file raises `ValueError` naming the file.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

PLAYBOOK_DIR = Path(__file__).resolve().parent / "data" / "playbooks"

_CN = "零〇一二两三四五六七八九十百千"
# 《title》第X条[之Y][第X款][第（X）项] — the title may hold a nested 〈…〉 but no 《》.
CITATION_RE = re.compile(
    rf"^《(?P<title>[^《》\s]+)》第(?P<article>[{_CN}]+)条(?:之(?P<suffix>[{_CN}]+))?"
    rf"(?:第(?P<paragraph>[{_CN}]+)款)?(?:第（(?P<item>[{_CN}]+)）项)?$"
)
CASE_ID_RE = re.compile(r"^(?:指导案例[1-9]\d*号|检例第[1-9]\d*号)$")
PLAYBOOK_ID_RE = r"^[a-z][a-z0-9_]*$"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _check_citations(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if not CITATION_RE.match(value):
            raise ValueError(f"not a full-form citation 《全称》第X条[第X款][第（X）项]: {value!r}")
        if value in seen:
            raise ValueError(f"citation listed twice: {value!r}")
        seen.add(value)
    return values


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Claim(_Model):
    """One statement of law with its legal basis."""

    text: Text
    basis: list[str] = Field(min_length=1)  # statutes (laws.db)
    optional_basis: list[str] = Field(default_factory=list)  # judicial interpretations, administrative regulations

    @field_validator("basis", "optional_basis")
    @classmethod
    def _citations(cls, values: list[str]) -> list[str]:
        return _check_citations(values)


class TimeLimit(Claim):
    """A deadline (诉讼时效, 仲裁时效, 除斥期间 …) stated as a claim."""


class Step(_Model):
    """One remedy step, in order: what to do, where, how."""

    action: Text
    body: Text  # the body to go to
    contact: Text | None = None  # a well-known hotline or site (12315, 12348 …)
    how: Text
    basis: list[str] = Field(min_length=1)
    optional_basis: list[str] = Field(default_factory=list)

    @field_validator("basis", "optional_basis")
    @classmethod
    def _citations(cls, values: list[str]) -> list[str]:
        return _check_citations(values)


class Letter(_Model):
    """What a complaint letter (投诉举报信) drafted from this playbook is addressed to and asks for."""

    recipient: Text
    requests: list[Text] = Field(min_length=1)


class PersonaNotes(_Model):
    """How to frame the answer for each kind of user."""

    parent: Text  # a worried lay person: plain words, steps first
    student: Text  # a law student: elements, burden of proof, 款/项-level basis
    ngo: Text  # an NGO worker: public-facing guidance points


class Playbook(_Model):
    id: Annotated[str, StringConstraints(pattern=PLAYBOOK_ID_RE)]
    title: Text
    summary: Text
    situations: list[Text] = Field(min_length=1)  # lay phrasings, matched by retrieval
    keywords: list[Text] = Field(min_length=1)
    rights: list[Claim] = Field(min_length=1)
    duties: list[Claim] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    evidence: list[Text] = Field(min_length=1)
    time_limits: list[TimeLimit] = Field(min_length=1)
    cases: list[str] = Field(default_factory=list)
    letter: Letter | None = None
    persona_notes: PersonaNotes

    @field_validator("cases")
    @classmethod
    def _case_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not CASE_ID_RE.match(value):
                raise ValueError(f"case id must read 指导案例N号 or 检例第N号: {value!r}")
        if len(set(values)) != len(values):
            raise ValueError("a case is listed twice")
        return values

    @model_validator(mode="after")
    def _no_duplicate_situations(self) -> Playbook:
        if len(set(self.situations)) != len(self.situations):
            raise ValueError("a situation is listed twice")
        return self

    def cited_items(self) -> list[Claim | Step]:
        """Every claim and step that cites law: rights, duties, steps, time limits."""
        return [*self.rights, *self.duties, *self.steps, *self.time_limits]

    def citations(self) -> list[str]:
        """Every statute citation (`basis`), deduplicated, in order of appearance."""
        return list(dict.fromkeys(c for item in self.cited_items() for c in item.basis))

    def optional_citations(self) -> list[str]:
        """Every interpretation citation (`optional_basis`), deduplicated, in order of appearance."""
        return list(dict.fromkeys(c for item in self.cited_items() for c in item.optional_basis))

    def search_text(self) -> str:
        """Title, summary, lay phrasings and keywords: the text retrieval matches questions against."""
        return "\n".join([self.title, self.summary, *self.situations, " ".join(self.keywords)])


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """Load and validate every `*.yaml` playbook in `directory` (default: the package data), sorted by id.

    Raises ValueError naming the file for unreadable YAML, a schema violation, an id that is not
    the file stem.
    """
    root = Path(directory) if directory is not None else PLAYBOOK_DIR
    if not root.is_dir():
        raise ValueError(f"playbook directory not found: {root}")
    playbooks: list[Playbook] = []
    for path in sorted(root.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{path.name}: cannot read YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path.name}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            playbook = Playbook.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        if playbook.id != path.stem:
            raise ValueError(f"{path.name}: id {playbook.id!r} differs from the file stem {path.stem!r}")
        playbooks.append(playbook)
    return sorted(playbooks, key=lambda p: p.id)


@functools.cache
def shipped_playbooks() -> tuple[Playbook, ...]:
    """The package's own playbooks, read and validated once per process: every answerer, retriever and the
    app's letter tab uses them, and reading the files takes ~0.2 s each time. Callers must not change them."""
    return tuple(load_playbooks())
