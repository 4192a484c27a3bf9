"""imagegraph against dockerfile-parse: agreement where both apply, and the measured differences.

dockerfile-parse is not what imagegraph parses with (see the docstring of
``imagegraph.dockerfile``), but on plain Dockerfiles, with no heredocs and
only ``$VAR``/``${VAR}`` substitutions, the two must read the same
instructions on the same lines with the same bases. Where they differ,
the tests below pin BuildKit's reading, which is the one imagegraph gives.
"""

from __future__ import annotations

import io

import pytest
from dockerfile_parse import DockerfileParser
from hypothesis import HealthCheck, given, settings

from imagegraph import StageRef, parse_dockerfile

from .property.strategies import simple_dockerfile


def theirs(text: str) -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO(text.encode()))


def their_instructions(parser: DockerfileParser) -> list[tuple[str, int, int, str]]:
    return [
        (item["instruction"], item["startline"] + 1, item["endline"] + 1, item["value"])
        for item in parser.structure
        if item["instruction"] != "COMMENT"
    ]


def our_instructions(text: str) -> list[tuple[str, int, int, str]]:
    df = parse_dockerfile(text)
    return [
        (i.keyword, i.line, i.end_line, i.original.split(None, 1)[1] if " " in i.original else "")
        for i in df.instructions
    ]


def our_bases(text: str) -> list[str]:
    bases = []
    for stage in parse_dockerfile(text).stages:
        assert stage.base is not None
        bases.append(stage.base.name if isinstance(stage.base, StageRef) else str(stage.base.value))
    return bases


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simple_dockerfile())
def test_plain_dockerfiles_read_alike(case: tuple[str, list[str]]) -> None:
    text, bases = case
    parser = theirs(text)
    assert our_instructions(text) == their_instructions(parser)
    assert our_bases(text) == parser.parent_images == bases


AGREE = {
    "backtick escape directive": "# escape=`\nFROM a\nRUN x `\n  y\n",
    "comment inside a continuation": "FROM a\nRUN x \\\n# c\n  y\n",
    "global arg default": "ARG A=x\nFROM $A\nFROM ${A}:1 AS b\n",
    "stage alias as a base": "FROM a AS build\nFROM build\n",
    "platform flag": "FROM --platform=linux/arm64 a AS b\n",
    "lower-case keywords": "from a\nrun x\n",
}


@pytest.mark.parametrize("text", AGREE.values(), ids=AGREE.keys())
def test_table_cases_read_alike(text: str) -> None:
    parser = theirs(text)
    assert our_bases(text) == parser.parent_images
    assert [k for k, *_ in our_instructions(text)] == [k for k, *_ in their_instructions(parser)]


def test_heredoc_bodies_are_not_instructions() -> None:
    # BuildKit reads the heredoc body as the RUN's input; dockerfile-parse
    # reads it as two more instructions and reports a parent that is not one.
    text = "FROM a\nRUN <<EOF\nFROM evil\nEOF\n"
    assert theirs(text).parent_images == ["a", "evil"]
    df = parse_dockerfile(text)
    assert [i.keyword for i in df.instructions] == ["FROM", "RUN"]
    assert [str(p.value) for p in df.parents] == ["a"]
    assert df.instructions[1].heredocs[0].content == "FROM evil\n"


@pytest.mark.parametrize(
    ("text", "their_base", "our_base"),
    [
        ("ARG A=1\nFROM b${A:+-slim}\n", "b1:+-slim}", "b-slim"),
        ("ARG A\nFROM b${A:-:3}\n", "b:-:3}", "b:3"),
        ("ARG A=\nFROM b${A-:3}\n", "b-:3}", "b"),
    ],
)
def test_modifier_forms_follow_buildkit(text: str, their_base: str, our_base: str) -> None:
    assert theirs(text).parent_images == [their_base]
    assert our_bases(text) == [our_base]


def test_byte_order_mark_is_skipped() -> None:
    text = "\ufeffFROM a\n"
    assert theirs(text).parent_images == []
    assert our_bases(text) == ["a"]
