"""BuildKit's shell-word lexer: quotes, escapes and ``$VAR`` / ``${VAR...}`` expansion.

This follows the behaviour of BuildKit's ``frontend/dockerfile/shell`` lexer,
which is what decides the value of ``FROM``, ``--platform`` and ARG defaults,
and which words of a ``RUN`` line are heredoc markers. It is written from that
behaviour, not translated: one forward scan over the text, no regular
expressions on user text, so the cost is linear in the input.

Variables have three states here instead of BuildKit's two: a value, unset,
or *unknown* (set at build time to something imagegraph cannot know, such as
``TARGETARCH``). An expansion records every variable whose unset or unknown
value it depended on, so the caller can keep the raw text instead of a guess.

**Limits.** BuildKit expands without bounds; a hostile file does not need
much text for that to be a problem (``ARG A1=$A0$A0``, ``ARG A2=$A1$A1``,
... doubles at every line). Here every expansion draws on a :class:`Budget`,
one per file and pass: a word may not grow past :data:`MAX_WORD_CHARS`
characters of substituted text, the file past :data:`MAX_FILE_CHARS`, and
``${VAR#...}``/``${VAR%...}``/``${VAR/.../...}`` may not cost more than
:data:`MAX_PATTERN_WORK` steps in the whole file. The budget is charged
before any text is joined, so memory stays near the limit; running out
raises :class:`ExpansionLimit`. No real Dockerfile comes near these limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MAX_FILE_CHARS",
    "MAX_PATTERN_WORK",
    "MAX_WORD_CHARS",
    "UNKNOWN",
    "Budget",
    "Expansion",
    "ExpansionLimit",
    "ShellError",
    "expand",
    "heredoc_words",
    "split_heredoc_name",
]

# Go's unicode.IsSpace, which BuildKit uses; Python's str.isspace() also
# counts \x1c-\x1f, so the set is spelled out.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_GO_SPACE_SET = frozenset(GO_SPACE)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_SIMPLE_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# Deeper nesting than this is not a Dockerfile anyone writes; refusing it
# keeps the recursion bounded whatever the input.
MAX_NESTING = 64
MAX_WORD_CHARS = 1 << 20
"""Characters of substituted text one expanded word may hold (1 Mi)."""
MAX_FILE_CHARS = 16 << 20
"""Characters of substituted text all expansions of one file may produce (16 Mi)."""
MAX_PATTERN_WORK = 1_000_000
"""Steps the ``#``, ``%`` and ``/`` pattern operations of one file may take: each
costs about |value| x |pattern| (x |value| again for ``/``), roughly 0.2 us a step."""


class Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()
"""The value of a variable that is set at build time to something not known here."""

Env = Mapping[str, "str | Unknown"]


class ShellError(Exception):
    """A word BuildKit's lexer rejects; the message is BuildKit's reason."""


class ExpansionLimit(ShellError):
    """An expansion refused because it would pass a limit of its :class:`Budget`.

    Not something BuildKit refuses: the callers report it as imagegraph's own
    limit and treat the value as unknown.
    """


class Budget:
    """What the expansions of one file may still use: substituted characters
    and pattern-matching steps. Share one between the expansions of a file.

    >>> budget = Budget(chars=10)
    >>> expand("$A$A", {"A": "12345"}, budget=budget).value
    '1234512345'
    >>> expand("$A", {"A": "12345"}, budget=budget)
    Traceback (most recent call last):
    ...
    imagegraph._shell.ExpansionLimit: expansions in this file would produce more than 10 characters
    """

    __slots__ = ("chars", "limit", "work", "work_limit")

    def __init__(self, chars: int | None = None, work: int | None = None) -> None:
        # The module's limits as they are now (the tests lower them).
        self.limit = MAX_FILE_CHARS if chars is None else chars
        self.chars = self.limit
        self.work = MAX_PATTERN_WORK if work is None else work
        self.work_limit = self.work

    def spend(self, count: int) -> None:
        """Charge *count* substituted characters; raise :class:`ExpansionLimit` past the limit."""
        self.chars -= count
        if self.chars < 0:
            raise ExpansionLimit(
                f"expansions in this file would produce more than {self.limit} characters"
            )

    def spend_work(self, steps: int) -> None:
        """Charge *steps* of pattern matching; raise :class:`ExpansionLimit` past the limit."""
        self.work -= steps
        if self.work < 0:
            raise ExpansionLimit(
                "pattern substitutions in this file would take more than "
                f"{self.work_limit} steps; this one is not evaluated"
            )


@dataclass(frozen=True, slots=True)
class Expansion:
    """The result of expanding one word."""

    value: str
    """The expanded text; meaningless where ``unresolved`` is not empty."""
    unresolved: tuple[str, ...]
    """Variables whose unset or unknown value the result depends on, in order."""
    used: tuple[str, ...]
    """Variables that had a value and were read."""


_EOF = ""


_BOM = "\ufeff"


class _Lexer:
    __slots__ = (
        "budget",
        "depth",
        "env",
        "escape",
        "pos",
        "raw_escapes",
        "raw_quotes",
        "size",
        "skip_unset",
        "text",
        "unresolved",
        "used",
    )

    def __init__(
        self,
        text: str,
        env: Env,
        escape: str,
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
        budget: Budget | None = None,
    ) -> None:
        self.text = text
        # BuildKit's lexer reads with Go's text/scanner, which skips a byte-order
        # mark that starts its input: FROM \ufeffdebian builds debian.
        self.pos = 1 if text[:1] == _BOM else 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        # Dicts, not lists: membership tests stay O(1) with many variables.
        self.unresolved: dict[str, None] = {}
        self.used: dict[str, None] = {}
        self.depth = 0
        self.budget = Budget() if budget is None else budget
        self.size = 0

    def spend(self, text: str) -> str:
        """Charge substituted *text* to the word and the file, before it is kept."""
        count = len(text)
        if count:
            self.size += count
            if self.size > MAX_WORD_CHARS:
                raise ExpansionLimit(
                    f"the expanded word would be longer than {MAX_WORD_CHARS} characters"
                )
            self.budget.spend(count)
        return text

    # -- scanning primitives ------------------------------------------------
    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            return ch
        return _EOF

    # -- variables ----------------------------------------------------------
    def lookup(self, name: str) -> tuple[str | Unknown, bool]:
        value = self.env.get(name)
        if value is None:
            return "", False
        if value is UNKNOWN:
            self._mark(name)
        else:
            self.used[name] = None
        return value, True

    def _mark(self, name: str) -> None:
        self.unresolved[name] = None

    # -- the word -----------------------------------------------------------
    def process(self, stop: str, raw_escapes: bool, words: _Words | None) -> str:
        """Scan up to *stop* (``_EOF`` for the whole text) and return the word."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process(stop, words)
        finally:
            self.raw_escapes = saved

    def _process(self, stop: str, words: _Words | None) -> str:
        out: list[str] = []
        text = self.text
        end = len(text)
        esc = self.escape
        while self.pos < end:
            ch = text[self.pos]
            if stop and ch == stop:
                self.pos += 1
                return "".join(out)
            if ch == "$":
                piece = self.dollar()
                out.append(piece)
                if words is not None:
                    words.add_string(piece)
            elif ch == "<":
                piece = self.possible_heredoc()
                out.append(piece)
                if words is not None:
                    words.add_raw_string(piece)
            elif ch == "'":
                piece = self.single_quote()
                out.append(piece)
                if words is not None:
                    words.add_raw_string(piece)
            elif ch == '"':
                piece = self.double_quote()
                out.append(piece)
                if words is not None:
                    words.add_raw_string(piece)
            else:
                self.pos += 1
                if ch == esc:
                    if self.raw_escapes:
                        out.append(ch)
                        if words is not None:
                            words.add_raw_char(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    if words is not None:
                        words.add_raw_char(ch)
                elif words is not None:
                    words.add_char(ch)
                out.append(ch)
        if stop:
            raise ShellError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single_quote(self) -> str:
        out: list[str] = []
        opening = self.next()
        if self.raw_quotes:
            out.append(opening)
        close = self.text.find("'", self.pos)
        if close < 0:
            self.pos = len(self.text)
            raise ShellError("unexpected end of statement while looking for matching single-quote")
        out.append(self.text[self.pos : close])
        self.pos = close + 1
        if self.raw_quotes:
            out.append("'")
        return "".join(out)

    def double_quote(self) -> str:
        out: list[str] = []
        opening = self.next()
        if self.raw_quotes:
            out.append(opening)
        esc = self.escape
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise ShellError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def possible_heredoc(self) -> str:
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in "\t\r ":
            self.pos += 1
        return "<<" + self.text[start : self.pos]

    def name(self) -> str:
        text = self.text
        start = self.pos
        end = len(text)
        if start >= end:
            return ""
        first = text[start]
        if first.isdecimal():
            pos = start
            while pos < end and text[pos].isdecimal():
                pos += 1
            self.pos = pos
            return text[start:pos]
        if first in _SPECIAL_PARAMS:
            self.pos += 1
            return first
        pos = start
        while pos < end:
            ch = text[pos]
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            pos += 1
        self.pos = pos
        return text[start:pos]

    def dollar(self) -> str:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ShellError(f"variable substitution nested deeper than {MAX_NESTING} levels")
        try:
            return self._dollar()
        finally:
            self.depth -= 1

    def _dollar(self) -> str:
        self.pos += 1  # the '$'
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, is_set = self.lookup(name)
            if not is_set:
                if self.skip_unset:
                    return "$" + name
                self._mark(name)
            return self.spend(value) if isinstance(value, str) else ""

        self.pos += 1  # the '{'
        ch = self.peek()
        if ch == _EOF:
            raise ShellError("syntax error: missing '}'")
        if ch in ("{", "}", ":"):
            raise ShellError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == _EOF:
            raise ShellError("syntax error: missing '}'")
        if op == "}":
            value, is_set = self.lookup(name)
            if not is_set:
                if self.skip_unset:
                    return "${" + name + "}"
                self._mark(name)
            return self.spend(value) if isinstance(value, str) else ""

        if op == "/":
            return self._replace(name)

        null_is_unset = False
        modifier = op
        if op == ":":
            null_is_unset = True
            op = self.next()
            if op == _EOF:
                raise ShellError("syntax error: missing '}'")
            modifier += op
        if op not in ("+", "-", "?", "#", "%"):
            raise ShellError(f"unsupported modifier ({modifier}) in substitution")
        pattern_mode = op in ("#", "%")
        if null_is_unset and pattern_mode:
            raise ShellError(f"unsupported modifier ({modifier}) in substitution")
        word = self._until_brace(raw_escapes=pattern_mode)

        value, is_set = self.lookup(name)
        if self.skip_unset and not is_set:
            return "${" + name + modifier + word + "}"
        if value is UNKNOWN:
            return ""
        assert isinstance(value, str)
        empty = not is_set or (null_is_unset and value == "")
        if op == "-":
            return word if empty else self.spend(value)
        if op == "+":
            return "" if empty else word
        if op == "?":
            if not is_set:
                # Unset here may be set by a build argument: unresolved, not wrong.
                self._mark(name)
                return ""
            if null_is_unset and value == "":
                raise ShellError(f"{name}: {word or 'is not allowed to be empty'}")
            return self.spend(value)
        # '#' and '%': remove the shortest (or, doubled, the longest) match.
        if not is_set:
            self._mark(name)
        greedy = word[:1] == op
        if greedy:
            word = word[1:]
        if op == "#":
            return self.spend(_trim_prefix(word, value, greedy, self.budget))
        return self.spend(_trim_suffix(word, value, greedy, self.budget))

    def _until_brace(self, *, raw_escapes: bool) -> str:
        try:
            return self.process("}", raw_escapes, None)
        except ShellError:
            if self.peek() == _EOF:
                raise ShellError("syntax error: missing '}'") from None
            raise

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern = self.process("/", True, None)
        except ShellError:
            if self.peek() == _EOF:
                raise ShellError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._until_brace(raw_escapes=True)
        value, is_set = self.lookup(name)
        if self.skip_unset and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        if not is_set:
            self._mark(name)
        if not isinstance(value, str):
            return ""
        tokens = _compile_pattern(pattern)
        _check_work(value, tokens, self.budget, quadratic=True)
        out: list[str] = []
        pos = 0
        while pos <= len(value):
            found = _leftmost_longest(tokens, value, pos)
            if found is None:
                break
            start, stop = found
            out.append(self.spend(value[pos:start]))
            out.append(self.spend(replacement))
            if not replace_all:
                pos = stop
                break
            if stop == start:
                # An empty match: keep one character and move on, like Go.
                if start < len(value):
                    out.append(self.spend(value[start]))
                pos = start + 1
            else:
                pos = stop
        out.append(self.spend(value[pos:]))
        return "".join(out)


class _Words:
    """BuildKit's word splitting, which runs alongside the expansion."""

    __slots__ = ("buf", "in_word", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.buf: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _GO_SPACE_SET:
            if self.in_word and any(self.buf):
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.buf.append(ch)
            self.in_word = True

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        if any(self.buf):
            self.words.append("".join(self.buf))
            self.buf.clear()
        return self.words


def expand(text: str, env: Env, escape: str = "\\", *, budget: Budget | None = None) -> Expansion:
    """Expand one word the way BuildKit expands ``FROM`` and ARG values.

    *budget* is the file's (see the module notes; a fresh one when ``None``).
    Raises :class:`ShellError`, and :class:`ExpansionLimit` past a limit.

    >>> expand("python:${V:-3.12}-slim", {}).value
    'python:3.12-slim'
    >>> expand("base-$ARCH", {"ARCH": UNKNOWN}).unresolved
    ('ARCH',)
    """
    if "'" not in text and '"' not in text and escape not in text and text[:1] != _BOM:
        if "$" not in text:
            return Expansion(text, (), ())
        if text.isascii():
            simple = _expand_simple(text, env, Budget() if budget is None else budget)
            if simple is not None:
                return simple
    return _expand_lexed(text, env, escape, budget)


def _expand_lexed(text: str, env: Env, escape: str, budget: Budget | None = None) -> Expansion:
    lexer = _Lexer(text, env, escape, budget=budget)
    value = lexer.process(_EOF, False, None)
    return Expansion(value, tuple(lexer.unresolved), tuple(lexer.used))


def _expand_simple(text: str, env: Env, budget: Budget) -> Expansion | None:
    """``$NAME`` and ``${NAME}`` only, in ASCII text without quotes or escapes:
    what the lexer gives, without its per-character work; ``None`` otherwise."""
    parts = _SIMPLE_VARIABLE.split(text)
    literals = parts[0::3]
    if any("$" in literal for literal in literals):
        return None  # another form of substitution: the lexer's job
    out = [literals[0]]
    unresolved: dict[str, None] = {}
    used: dict[str, None] = {}
    size = 0
    for index in range(1, len(parts), 3):
        name = parts[index] or parts[index + 1]
        value = env.get(name)
        if value is None or value is UNKNOWN:
            unresolved[name] = None
        else:
            assert isinstance(value, str)
            used[name] = None
            size += len(value)
            if size > MAX_WORD_CHARS:
                raise ExpansionLimit(
                    f"the expanded word would be longer than {MAX_WORD_CHARS} characters"
                )
            out.append(value)
        out.append(parts[index + 2])
    budget.spend(size)
    return Expansion("".join(out), tuple(unresolved), tuple(used))


def heredoc_words(line: str) -> list[str]:
    """The words of *line* as BuildKit splits them when it looks for heredocs.

    Quotes and escapes stay in the words; unset variables stay as written.
    BuildKit ignores lexing errors here, and so does this: a line its lexer
    cannot read (an unclosed quote) has no words, hence no heredoc.

    >>> heredoc_words('cat <<EOF "x y"'), heredoc_words('cat <<EOF "x')
    (['cat', '<<EOF', '"x y"'], [])
    """
    lexer = _Lexer(line, {}, "\\", raw_quotes=True, raw_escapes=True, skip_unset=True)
    words = _Words()
    try:
        lexer.process(_EOF, True, words)
    except ShellError:
        return []  # BuildKit's lexer returns no words with its error
    return words.finish()


def split_heredoc_name(rest: str) -> tuple[str, bool] | None:
    """The heredoc delimiter in *rest* (the text after ``<<``) and whether its body expands.

    ``None`` when *rest* is not a single word. A quoted delimiter
    (``<<'EOF'``, ``<<"EOF"``, ``<<E\\OF``) turns expansion off.
    """
    plain = _Lexer(rest, {}, "\\", skip_unset=True)
    plain_words = _Words()
    plain.process(_EOF, False, plain_words)
    words = plain_words.finish()
    if len(words) != 1:
        return None
    raw = _Lexer(rest, {}, "\\", raw_quotes=True, skip_unset=True)
    raw_words = _Words()
    raw.process(_EOF, False, raw_words)
    raws = raw_words.finish()
    if len(raws) != 1:
        raise ShellError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    word, raw_word = words[0], raws[0]
    quotes = word.count("'") + word.count('"')
    raw_quotes = raw_word.count("'") + raw_word.count('"')
    return word, quotes == raw_quotes


# -- shell patterns for ${VAR#...}, ${VAR%...}, ${VAR/.../...} -----------------
# A pattern is a list of tokens: a literal character, "?" (any one) or "*"
# (any run). Matching simulates the pattern as an automaton, so the cost is
# |value| x |pattern| with no backtracking.

_ANY = object()
_STAR = object()
_Token = object


def _compile_pattern(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            tokens.append(_STAR)
        elif ch == "?":
            tokens.append(_ANY)
        elif ch == "\\":
            following = pattern[pos : pos + 1]
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise ShellError(f"invalid pattern ({pattern}) in substitution: invalid escape")
            tokens.append(following)
            pos += 1
        else:
            tokens.append(ch)
    return tokens


def _check_work(
    value: str, tokens: list[_Token], budget: Budget, *, quadratic: bool = False
) -> None:
    work = (len(value) + 1) * (len(tokens) + 1)
    if quadratic:
        work *= len(value) + 1
    budget.spend_work(work)


def _closure(tokens: list[_Token], states: set[int]) -> set[int]:
    # A star may match nothing: reaching it also reaches the next token.
    todo = list(states)
    while todo:
        state = todo.pop()
        if state < len(tokens) and tokens[state] is _STAR and state + 1 not in states:
            states.add(state + 1)
            todo.append(state + 1)
    return states


def _match_ends(tokens: list[_Token], value: str, start: int) -> list[int]:
    """Every end position at which *tokens* matches ``value[start:end]`` whole."""
    accept = len(tokens)
    states = _closure(tokens, {0})
    ends = [start] if accept in states else []
    for pos in range(start, len(value)):
        ch = value[pos]
        following: set[int] = set()
        for state in states:
            if state >= accept:
                continue
            token = tokens[state]
            if token is _STAR:
                following.add(state)
            elif token is _ANY or token == ch:
                following.add(state + 1)
        if not following:
            break
        states = _closure(tokens, following)
        if accept in states:
            ends.append(pos + 1)
    return ends


def _leftmost_longest(tokens: list[_Token], value: str, start: int) -> tuple[int, int] | None:
    for begin in range(start, len(value) + 1):
        ends = _match_ends(tokens, value, begin)
        if ends:
            return begin, ends[-1]
    return None


def _trim_prefix(pattern: str, value: str, greedy: bool, budget: Budget) -> str:
    tokens = _compile_pattern(pattern)
    _check_work(value, tokens, budget)
    ends = _match_ends(tokens, value, 0)
    if not ends:
        return value
    return value[ends[-1] if greedy else ends[0] :]


def _trim_suffix(pattern: str, value: str, greedy: bool, budget: Budget) -> str:
    tokens = _compile_pattern(pattern)
    _check_work(value, tokens, budget)
    reversed_value = value[::-1]
    ends = _match_ends(tokens[::-1], reversed_value, 0)
    if not ends:
        return value
    cut = ends[-1] if greedy else ends[0]
    return reversed_value[cut:][::-1]
