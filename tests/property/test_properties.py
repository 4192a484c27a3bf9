"""Properties: the parser never fails outside its own errors, and what it returns is coherent."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import (
    Dockerfile,
    ImageGraphError,
    ImageRef,
    InvalidReference,
    Parent,
    StageRef,
    parse_dockerfile,
)
from imagegraph._shell import ShellError, expand
from imagegraph.instructions import parse_instructions

from .strategies import dockerfile_shaped, image, name, simple_dockerfile

MANY = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def check_coherent(df: Dockerfile, text: str) -> None:
    """Invariants every parse result must satisfy."""
    physical = max(1, len(text.split("\n")))
    previous_end = 0
    for instruction in df.instructions:
        assert previous_end < instruction.line <= instruction.end_line <= physical
        assert instruction.keyword == instruction.keyword.upper()
        previous_end = instruction.end_line
    assert df.stages, "a parsed Dockerfile has at least one stage"
    for stage in df.stages:
        assert stage.instructions[0].keyword == "FROM"
        for use in stage.uses:
            if isinstance(use, StageRef):
                assert 0 <= use.index < len(df.stages)
            else:
                assert use.stage == stage.index
                assert use.resolved == (use.value is not None)
                assert use.resolved or use.unresolved
                assert use.ref is None or use.resolved
    assert [p for s in df.stages for p in s.uses if isinstance(p, Parent)] == list(df.parents)


@MANY
@given(st.text())
def test_any_text_parses_or_raises_its_own_error(text: str) -> None:
    try:
        df = parse_dockerfile(text)
    except ImageGraphError:
        return
    check_coherent(df, text.removeprefix("\ufeff"))


@MANY
@given(st.binary())
def test_any_bytes_parse_or_raise_its_own_error(data: bytes) -> None:
    with contextlib.suppress(ImageGraphError):
        parse_dockerfile(data)


@MANY
@given(dockerfile_shaped(), st.dictionaries(name.map(str.upper), name, max_size=3))
def test_dockerfile_shaped_text(text: str, build_args: dict[str, str]) -> None:
    try:
        df = parse_dockerfile(text, build_args=build_args)
    except ImageGraphError:
        return
    check_coherent(df, text.removeprefix("\ufeff"))


@MANY
@given(simple_dockerfile())
def test_simple_dockerfiles_resolve_every_base(case: tuple[str, list[str]]) -> None:
    text, bases = case
    df = parse_dockerfile(text)
    check_coherent(df, text)
    got = []
    for stage in df.stages:
        assert stage.base is not None
        got.append(stage.base.name if isinstance(stage.base, StageRef) else stage.base.value)
    assert got == bases
    assert df.diagnostics == ()


@MANY
@given(
    st.lists(name, min_size=1, max_size=8),
    st.lists(st.sampled_from(["", "# note\n", "   # indented\n", "\n"]), min_size=8, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
)
def test_continuations_join_to_the_same_command(
    words: list[str], between: list[str], newline: str
) -> None:
    # "RUN a \\\n<comment or blank>b" is "RUN a b": splitting a command over
    # lines, with comments and empty lines between them, never changes it.
    text = "FROM x\nRUN " + " \\\n".join(
        word if i == 0 else between[i % len(between)] + word for i, word in enumerate(words)
    )
    text = text.replace("\n", newline)
    run = parse_instructions(text).instructions[1]
    assert run.args == (" ".join(words),)
    assert run.end_line == text.count("\n") + 1


@MANY
@given(image)
def test_references_round_trip(text: str) -> None:
    ref = ImageRef.parse(text)
    assert ImageRef.parse(str(ref)) == ref
    assert ImageRef.parse(ref.familiar) == ref
    assert hash(ImageRef.parse(str(ref))) == hash(ref)


@MANY
@given(st.text(max_size=300))
def test_reference_parsing_fails_only_with_invalid_reference(text: str) -> None:
    with contextlib.suppress(InvalidReference):
        ImageRef.parse(text)


@MANY
@given(st.text(max_size=200), st.dictionaries(st.sampled_from("ABC"), st.text(max_size=5)))
def test_expansion_fails_only_with_shell_errors(text: str, env: dict[str, str]) -> None:
    with contextlib.suppress(ShellError):
        expand(text, env)


@given(st.text(alphabet=st.characters(exclude_characters="$'\"\\"), max_size=100))
def test_text_without_specials_expands_to_itself(text: str) -> None:
    assert expand(text, {"A": "x"}).value == text


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_numbers_count_physical_lines(newline: str) -> None:
    text = newline.join(
        ["# c", "", "FROM a", "RUN b \\", "  c", "", "RUN <<EOF", "x", "EOF", "USER u"]
    )
    spans = [(i.keyword, i.line, i.end_line) for i in parse_instructions(text).instructions]
    assert spans == [("FROM", 3, 3), ("RUN", 4, 5), ("RUN", 7, 9), ("USER", 10, 10)]


_NESTED_INSIDE = st.sampled_from(["", '"a"', "1", "1e999", "{}", '{"a": [1]}', "null", ","])
_NESTED_AFTER = st.sampled_from(["", " ", " x", ",", "]", "\\"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(
        ["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "VOLUME", "HEALTHCHECK CMD", "ONBUILD RUN"]
    ),
    st.integers(1, 12_000),
    st.integers(0, 12_000),
    _NESTED_INSIDE,
    _NESTED_AFTER,
    st.integers(0, 3000),
)
def test_deep_nesting_raises_no_recursion_error(
    keyword: str, opened: int, closed: int, inside: str, after: str, onbuilds: int
) -> None:
    # Go's JSON decoder reads 10,000 levels, BuildKit's parser any chain of
    # ONBUILDs: neither may reach Python's recursion limit here, on either route.
    text = f"FROM a\n{'ONBUILD ' * onbuilds}{keyword} {'[' * opened}{inside}{']' * closed}{after}\n"
    for parse in (parse_dockerfile, parse_instructions):
        with contextlib.suppress(ImageGraphError):
            parse(text)
