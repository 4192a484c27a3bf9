"""Hostile and huge inputs end in a result or in imagegraph's own error, never anything else.

Nothing here is timed (speed lives in ``benchmarks/``); the sizes are the
ones the issue names, so a quadratic path would show up as a CI run that
does not finish rather than as a flaky assertion.
"""

from __future__ import annotations

import pytest

from imagegraph import DockerfileSyntaxError, parse_dockerfile
from imagegraph.instructions import MAX_LINE_BYTES


def test_ten_megabyte_file() -> None:
    line = "RUN apt-get update && apt-get install -y --no-install-recommends curl\n"
    text = "FROM debian:bookworm\n" + line * (10_000_000 // len(line))
    df = parse_dockerfile(text)
    assert len(df.instructions) == 1 + 10_000_000 // len(line)
    assert df.instructions[-1].line == len(df.instructions)


def test_hundred_thousand_line_continuation() -> None:
    text = "FROM a\nRUN start \\\n" + "  part \\\n" * 100_000 + "  end\nUSER u\n"
    df = parse_dockerfile(text)
    run, user = df.instructions[1], df.instructions[2]
    assert (run.line, run.end_line) == (2, 100_003)
    assert run.args[0].split() == ["start", *["part"] * 100_000, "end"]
    assert user.line == 100_004


def test_megabyte_line_is_refused_like_buildkit() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile("FROM a\nRUN " + "x" * 1_000_000 + "\n", path="big/Dockerfile")
    assert (caught.value.path, caught.value.line) == ("big/Dockerfile", 2)
    assert str(MAX_LINE_BYTES) in caught.value.message


def test_line_just_under_the_limit_is_read() -> None:
    body = "x" * (MAX_LINE_BYTES - len("RUN "))
    df = parse_dockerfile("FROM a\nRUN " + body + "\n")
    assert df.instructions[1].args == (body,)


@pytest.mark.parametrize("depth", [100, 5_000])
@pytest.mark.parametrize("opening", ["${A:-", "${A:+", "${A-"])
def test_deeply_nested_substitution_is_refused(opening: str, depth: int) -> None:
    text = "ARG A=1\nFROM " + opening * depth + "x" + "}" * depth + "\n"
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile(text)
    assert caught.value.line == 2
    assert "nested deeper" in caught.value.message


def test_moderate_nesting_is_expanded() -> None:
    text = "ARG A\nFROM " + "${A:-" * 10 + "img" + "}" * 10 + "\n"
    assert [str(p.value) for p in parse_dockerfile(text).parents] == ["img"]


@pytest.mark.parametrize("depth", [100, 10_000])
def test_unclosed_nesting_is_refused(depth: int) -> None:
    with pytest.raises(DockerfileSyntaxError):
        parse_dockerfile("ARG A\nFROM " + "${A:-" * depth + "\n")


def test_many_stages_each_copying_from_an_earlier_one() -> None:
    text = "".join(f"FROM a{i} AS s{i}\nCOPY --from=s{i // 2} / /\n" for i in range(5_000))
    df = parse_dockerfile(text)
    assert len(df.stages) == 5_000
    assert len(df.parents) == 5_000
    # Stage 0 copies from itself, which BuildKit reports as a cycle at build time.
    assert [d.code for d in df.diagnostics] == ["stage-order"]


def test_unterminated_heredoc_at_the_end_of_a_long_file() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile("FROM a\nRUN <<EOF\n" + "line\n" * 200_000)
    assert caught.value.line == 2
    assert "unterminated heredoc" in caught.value.message


def test_invalid_utf8_is_decoded_with_a_diagnostic() -> None:
    df = parse_dockerfile(b"FROM a\nLABEL x=\xff\xfe\nFROM b\n", path="bad/Dockerfile")
    assert [str(p.value) for p in df.parents] == ["a", "b"]
    (diagnostic,) = df.diagnostics
    assert (diagnostic.code, diagnostic.path, diagnostic.line) == (
        "invalid-utf8",
        "bad/Dockerfile",
        2,
    )


@pytest.mark.parametrize("data", [b"\x00" * 1000, b"\xff" * 1000, bytes(range(256)) * 40])
def test_binary_garbage(data: bytes) -> None:
    with pytest.raises(DockerfileSyntaxError):
        parse_dockerfile(data)
