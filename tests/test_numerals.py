"""kb.numerals: Chinese numerals in article numbers, both ways."""

from __future__ import annotations

import pytest

from ingest.lawsdb import parse_article_label
from kb.numerals import article_label, format_cn_number, parse_cn_number


def test_every_integer_below_100000_round_trips() -> None:
    for n in range(100_000):
        written = format_cn_number(n)
        assert parse_cn_number(written) == n, (n, written)


def test_round_trip_writes_each_number_differently() -> None:
    written = {format_cn_number(n) for n in range(100_000)}
    assert len(written) == 100_000


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (1, "一"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (1010, "一千零一十"),
        (1034, "一千零三十四"),
        (1260, "一千二百六十"),
        (1001, "一千零一"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (10100, "一万零一百"),
        (11000, "一万一千"),
        (99999, "九万九千九百九十九"),
    ],
)
def test_format_uses_the_statute_forms(n: int, text: str) -> None:
    assert format_cn_number(n) == text
    assert parse_cn_number(text) == n


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("一百一十", 110),
        ("一百十", 110),  # colloquial: 十 without 一 inside a number
        ("一千零一十", 1010),
        ("二〇二三", 2023),
        ("二零二三", 2023),
        ("一九九七", 1997),
        ("两百", 200),
        ("两千零二十", 2020),
        ("二百五十三", 253),
        ("1034", 1034),
        ("１０３４", 1034),  # full-width digits
        ("１２６０", 1260),
        ("  十三 ", 13),
        ("壹佰贰拾叁", 123),
        ("十万", 100_000),
    ],
)
def test_parse_known_forms(text: str, n: int) -> None:
    assert parse_cn_number(text) == n


@pytest.mark.parametrize(
    ("label", "number", "suffix"),
    [
        ("第一千二百六十条", 1260, 0),
        ("第一条", 1, 0),
        ("第十条", 10, 0),
        ("第一百一十条", 110, 0),
        ("第一千零三十四条", 1034, 0),
        ("第二百五十三条之一", 253, 1),
        ("第一百二十条之二", 120, 2),
    ],
)
def test_article_labels_both_ways(label: str, number: int, suffix: int) -> None:
    assert parse_article_label(label) == (number, suffix)
    assert article_label(number, suffix) == label


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "   ",
        "abc",
        "第一条",
        "十三条",
        "一二三x",
        "1.5",
        "-3",
        "3-",
        "一2",
        "１二",
        "第",
        "百分之十",
        "N/A",
    ],
)
def test_parse_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError):
        parse_cn_number(junk)


@pytest.mark.parametrize("n", [-1, 100_000, 1_000_000])
def test_format_rejects_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        format_cn_number(n)


@pytest.mark.parametrize("label", ["第条", "一千条", "第一千条款", "第1034条", "第一条之", "条"])
def test_article_label_parser_rejects_non_labels(label: str) -> None:
    with pytest.raises(ValueError):
        parse_article_label(label)
