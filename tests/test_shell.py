"""Variable expansion and quoting, as BuildKit's shell lexer does them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import _shell
from imagegraph._shell import UNKNOWN, ShellError, expand, heredoc_words, split_heredoc_name

ENV = {"SET": "value", "EMPTY": "", "VER": "3.12.4", "ARCH": UNKNOWN, "PATHISH": "a/b/c/d"}

# (word, expanded value, unresolved variables)
EXPANSIONS = [
    ("plain", "plain", ()),
    ("$SET", "value", ()),
    ("${SET}", "value", ()),
    ("x${SET}y", "xvaluey", ()),
    ("$SET-x", "value-x", ()),
    ("${MISSING}", "", ("MISSING",)),
    ("$MISSING", "", ("MISSING",)),
    # default values
    ("${MISSING:-def}", "def", ()),
    ("${EMPTY:-def}", "def", ()),
    ("${SET:-def}", "value", ()),
    ("${MISSING-def}", "def", ()),
    ("${EMPTY-def}", "", ()),
    # alternative values
    ("${SET:+alt}", "alt", ()),
    ("${EMPTY:+alt}", "", ()),
    ("${MISSING:+alt}", "", ()),
    ("${EMPTY+alt}", "alt", ()),
    ("${MISSING+alt}", "", ()),
    # nested expansions in the word
    ("${MISSING:-${SET}}", "value", ()),
    ("${MISSING:-${ALSO_MISSING:-deep}}", "deep", ()),
    # quotes and escapes
    ("'$SET'", "$SET", ()),
    ('"$SET"', "value", ()),
    ('"a b"', "a b", ()),
    ("\\$SET", "$SET", ()),
    ('"\\$SET"', "$SET", ()),
    ('"\\x"', "\\x", ()),
    ("a\\b", "ab", ()),
    ("$", "$", ()),
    ("$.x", "$.x", ()),
    # prefix / suffix removal and replacement
    ("${VER%.*}", "3.12", ()),
    ("${VER%%.*}", "3", ()),
    ("${VER#*.}", "12.4", ()),
    ("${VER##*.}", "4", ()),
    ("${PATHISH/\\//-}", "a-b/c/d", ()),
    ("${PATHISH//\\//-}", "a-b-c-d", ()),
    ("${VER/?/X}", "X.12.4", ()),
    # a variable set at build time is unknown, whatever the modifier
    ("base-$ARCH", "base-", ("ARCH",)),
    ("${ARCH:-amd64}", "", ("ARCH",)),
    # an unset variable that must be set is left for build arguments
    ("${MISSING:?set it}", "", ("MISSING",)),
]


@pytest.mark.parametrize(("word", "value", "unresolved"), EXPANSIONS)
def test_expand(word: str, value: str, unresolved: tuple[str, ...]) -> None:
    result = expand(word, ENV)
    assert result.unresolved == unresolved
    if not unresolved:
        assert result.value == value


def test_used_variables_are_recorded() -> None:
    assert expand("${SET}:${VER}", ENV).used == ("SET", "VER")


def test_a_byte_order_mark_starting_a_word_is_skipped_as_buildkit_skips_it() -> None:
    # BuildKit's lexer is Go's text/scanner, which drops a U+FEFF that starts its
    # input: FROM \ufeffdebian:12 builds debian:12; one inside the word stays
    assert expand("\ufeffdebian:12", {}).value == "debian:12"
    assert expand("\ufeff${SET}", ENV).value == "value"
    assert expand("\ufeff\ufeffx", {}).value == "\ufeffx"
    assert expand("a\ufeffb", {}).value == "a\ufeffb"
    assert expand("$BOM", {"BOM": "\ufeffx"}).value == "\ufeffx"
    assert split_heredoc_name("\ufeffEOF") == ("EOF", True)
    assert split_heredoc_name("\ufeff") is None


def test_backtick_escape() -> None:
    assert expand("a`$SET", ENV, "`").value == "a$SET"
    assert expand("c:\\dir", ENV, "`").value == "c:\\dir"


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${", "syntax error: missing '}'"),
        ("${SET", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:x}", "syntax error: bad substitution"),
        ("${SET!}", "unsupported modifier (!) in substitution"),
        ("${SET:#x}", "unsupported modifier (:#) in substitution"),
        ("${EMPTY:?is empty}", "EMPTY: is empty"),
        ("'open", "unexpected end of statement while looking for matching single-quote"),
        ('"open', "unexpected end of statement while looking for matching double-quote"),
        ("${MISSING:-'x}", "syntax error: missing '}'"),
    ],
)
def test_rejected_words(word: str, message: str) -> None:
    with pytest.raises(ShellError) as caught:
        expand(word, ENV)
    assert str(caught.value) == message


def test_nesting_is_bounded() -> None:
    deep = "${A:-" * 500 + "x" + "}" * 500
    with pytest.raises(ShellError, match="nested deeper"):
        expand(deep, {})
    shallow = "${A:-" * 20 + "x" + "}" * 20
    assert expand(shallow, {}).value == "x"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("cat <<EOF > /x", ["cat", "<<EOF", ">", "/x"]),
        ('echo "<<EOF"', ["echo", '"<<EOF"']),
        ("<< EOF", ["<< EOF"]),
        ("a\\ b", ["a\\ b"]),
        ("$HOME", ["$HOME"]),
    ],
)
def test_heredoc_words(line: str, words: list[str]) -> None:
    assert heredoc_words(line) == words


@pytest.mark.parametrize(
    ("rest", "result"),
    [
        ("EOF", ("EOF", True)),
        ("'EOF'", ("EOF", False)),
        ('"EOF"', ("EOF", False)),
        ("E\\'OF", ("E'OF", True)),
        ("'one two'", ("one two", False)),
        ("one two", None),
    ],
)
def test_split_heredoc_name(rest: str, result: tuple[str, bool] | None) -> None:
    assert split_heredoc_name(rest) == result


_SIMPLE_PIECES = st.sampled_from(
    ["$A", "${A}", "$B", "${B}", "$AB", "$A_1", "x", "-", ":", "/", "$C", "${C}", "$", "$1",
     "${A:-x}", "{", "}", "1", "é", "$_", "${_x}", "$@"]
)  # fmt: skip


@settings(max_examples=2000)
@given(st.lists(_SIMPLE_PIECES, max_size=6).map("".join))
def test_the_simple_expansion_path_agrees_with_the_lexer(text: str) -> None:
    # expand() skips the lexer for plain $NAME / ${NAME}; it must give exactly the lexer's answer.
    env = {"A": "a", "B": UNKNOWN, "AB": "ab", "_": "u"}

    def outcome(function: Callable[[], object]) -> object:
        try:
            return function()
        except ShellError as err:
            return str(err)

    assert outcome(lambda: expand(text, env)) == outcome(
        lambda: _shell._expand_lexed(text, env, "\\")
    )
