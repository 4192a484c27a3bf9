"""A fast reader for the common shape of HCL bake files, exact to python-hcl2.

:func:`loads` returns what ``hcl2.loads(text, serialization_options=
SerializationOptions(with_comments=False))`` returns for the same text (the
same dicts and lists, strings in their quoted source form, ``"__is_block__":
True`` in each block, numbers, booleans and ``None`` as hcl2 gives them), or
``None`` whenever the text holds anything it does not read with certainty:
then the caller asks hcl2, which also names the line of any error. It reads
blocks with plain labels, attributes, quoted strings (``${NAME}``
interpolations included), plain heredocs, numbers, ``true``/``false``/
``null``, bare names, lists and objects; an attribute whose value is any
other expression (a call, an operator, a conditional, ...) is handed to hcl2
alone, as a one-attribute document, and taken as hcl2 gives it.

>>> loads('target "app" {\\n  tags = ["x:${TAG}"]\\n}\\n')
{'target': [{'"app"': {'tags': ['"x:${TAG}"'], '__is_block__': True}}]}
>>> loads('target "app" {') is None
True
"""

from __future__ import annotations

import re

import hcl2
from hcl2.rules.whitespace import NewLineOrCommentRule

__all__ = ["loads"]

_MAX_DEPTH = 64
"""Lists and objects nested deeper than this are left to hcl2."""

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")
_KEYWORDS = frozenset(
    ("if", "in", "for", "for_each", "else", "endif", "endfor", "true", "false", "null")
)
_SPACE = re.compile(r"[ \t\r]*")
# A quoted string of plain characters, escapes and ${NAME} interpolations: hcl2
# keeps every part of it as written except the interpolations, whose spaces it drops.
_STRING = re.compile(
    r'"(?:[^"\\$%\n]|\\[^\n]|\$(?![{$])|%(?![{%])|\$\{[ \t]*[a-zA-Z_][a-zA-Z0-9_-]*[ \t]*\})*"'
)
_INTERPOLATION = re.compile(r"\$\{[ \t]*([a-zA-Z_][a-zA-Z0-9_-]*)[ \t]*\}")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_AFTER_NUMBER = re.compile(r"[0-9a-zA-Z_.\-]")
_HEREDOC = re.compile(
    r"<<(?P<heredoc>[a-zA-Z][a-zA-Z0-9._-]*)\r?\n(?:(?:.|\n)*?\r?\n)??\s*(?P=heredoc)\r?\n"
)
_HEREDOC_TRIM = re.compile(
    r"<<-(?P<heredoc>[a-zA-Z][a-zA-Z0-9._-]*)\r?\n(?:(?:.|\n)*?\r?\n)??\s*(?P=heredoc)\r?\n"
)
_GAP = re.compile(r"(?:[ \t\r]+|\n|#[^\n]*\n|//[^\n]*\n|/\*[\s\S]*?\*/)*")
"""Spaces, newlines and comments."""
_MAX_DIGITS = 4000
_OPTIONS = hcl2.SerializationOptions(with_comments=False)


class _Unsure(Exception):
    """The text has something this reader does not read with certainty."""


class _Expression(Exception):
    """An attribute's value is an expression: hcl2 reads it."""


def loads(text: str) -> dict[str, object] | None:
    """hcl2's dict for *text*, or ``None`` when it is not read here with certainty.

    >>> loads('variable "TAG" {\\n  default = 1.5\\n}')
    {'variable': [{'"TAG"': {'default': 1.5, '__is_block__': True}}]}
    >>> loads("x = upper(y)")
    {'x': '${upper(y)}'}
    """
    try:
        reader = _Reader(text + "\n")  # as hcl2 does: its grammar ends on a newline
        body = reader.body(top=True)
    except (_Unsure, _Expression, RecursionError, ValueError, IndexError):
        return None
    return body


class _Reader:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def gap(self) -> bool:
        """Skip spaces, newlines and comments; whether a newline or comment was among them."""
        start = self.pos
        end = _GAP.match(self.text, start).end()  # type: ignore[union-attr]
        self.pos = end
        skipped = self.text[start:end]
        return any(c in skipped for c in "\n#/")

    def space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def name(self) -> str:
        found = _NAME.match(self.text, self.pos)
        if found is None or found.group() in _KEYWORDS:
            raise _Unsure
        self.pos = found.end()
        return found.group()

    def body(self, top: bool) -> dict[str, object]:
        text = self.text
        result: dict[str, object] = {}
        attributes: set[str] = set()
        self.gap()
        while True:
            if self.pos >= len(text):
                if not top:
                    raise _Unsure
                return result
            if text[self.pos] == "}":
                if top:
                    raise _Unsure
                return result
            key = self.name()
            self.space()
            if text.startswith("=", self.pos) and not text.startswith(("==", "=>"), self.pos):
                self.pos += 1
                self.space()
                result[key] = self.attribute_value()
                attributes.add(key)
            else:
                if key in attributes:
                    raise _Unsure  # hcl2 refuses a block named after an attribute
                block = self.block()
                entries = result.setdefault(key, [])
                assert isinstance(entries, list)
                entries.append(block)
            # After an attribute or a block: a newline or comment, or the body's end.
            separated = self.gap()
            if not separated and self.pos < len(text) and text[self.pos] != "}":
                raise _Unsure

    def block(self) -> dict[str, object]:
        text = self.text
        labels: list[str] = []
        while text[self.pos] != "{":
            if text[self.pos] == '"':
                labels.append(self.string())
            else:
                labels.append(self.name())
            self.space()
        self.pos += 1
        body = self.body(top=False)
        self.pos += 1  # the closing brace
        body["__is_block__"] = True
        result: dict[str, object] = body
        for label in reversed(labels):
            result = {label: result}
        return result

    def attribute_value(self) -> object:
        start = self.pos
        try:
            value = self.value(0)
            self.space()
            if not self.text.startswith(("\n", "#", "//", "}"), self.pos):
                raise _Expression
        except _Expression:
            self.pos = start
            return self.expression()
        return value

    def value(self, depth: int) -> object:
        text = self.text
        char = text[self.pos]
        if char == '"':
            return self.string()
        if char == "[":
            return self.sequence(depth)
        if char == "{":
            return self.mapping(depth)
        if char == "-" or "0" <= char <= "9":
            return self.number()
        if char == "<":
            found = _HEREDOC.match(text, self.pos)
            if found is None:
                raise _Expression
            self.pos = found.end() - 1  # the newline that ends it ends the attribute too
            return '"' + found.group().rstrip("\r\n\t ") + '"'
        found = _NAME.match(text, self.pos)
        if found is None:
            raise _Expression
        word = found.group()
        self.pos = found.end()
        if word == "true":
            value: object = True
        elif word == "false":
            value = False
        elif word == "null":
            value = None
        elif word in _KEYWORDS:
            raise _Expression
        else:
            value = word
        self.space()
        if text.startswith(("(", ".", "[", "::"), self.pos):
            raise _Expression
        return value

    def string(self) -> str:
        found = _STRING.match(self.text, self.pos)
        if found is None:
            raise _Expression
        self.pos = found.end()
        raw = found.group()
        if "${" in raw:
            return _INTERPOLATION.sub(_name_only, raw)
        return raw

    def number(self) -> object:
        text = self.text
        found = _NUMBER.match(text, self.pos)
        if found is None or _AFTER_NUMBER.match(text, found.end()):
            raise _Expression
        digits = found.group()
        if len(digits) > _MAX_DIGITS:
            raise _Unsure
        self.pos = found.end()
        return float(digits) if found.group(1) else int(digits)

    def sequence(self, depth: int) -> list[object]:
        if depth >= _MAX_DEPTH:
            raise _Unsure
        text = self.text
        self.pos += 1
        items: list[object] = []
        while True:
            self.gap()
            if text[self.pos] == "]":
                self.pos += 1
                return items
            items.append(self.value(depth + 1))
            self.gap()
            if text[self.pos] == ",":
                self.pos += 1
            elif text[self.pos] != "]":
                raise _Expression

    def mapping(self, depth: int) -> dict[str, object]:
        if depth >= _MAX_DEPTH:
            raise _Unsure
        text = self.text
        self.pos += 1
        items: dict[str, object] = {}
        self.gap()
        while text[self.pos] != "}":
            if text[self.pos] == '"':
                key = self.string()
            else:
                found = _NAME.match(text, self.pos)
                if found is None or found.group() in _KEYWORDS:
                    raise _Expression
                key = found.group()
                self.pos = found.end()
            self.space()
            if text[self.pos] not in "=:" or text.startswith(("==", "=>", "::"), self.pos):
                raise _Expression
            self.pos += 1
            self.space()
            items[key] = self.value(depth + 1)
            separated = self.gap()
            if text[self.pos] == ",":
                self.pos += 1
                self.gap()
            elif not separated and text[self.pos] != "}":
                raise _Expression
        self.pos += 1
        return items

    def expression(self) -> object:
        """The value of the attribute at ``pos`` as hcl2 reads it, alone in a document."""
        text = self.text
        start = self.pos
        end = _expression_end(text, start)
        source = text[start:end]
        if not source.strip(" \t\r"):
            raise _Unsure
        try:
            tree = hcl2.parses("x = " + source)
            # One attribute and nothing else, else this reader misjudged where it ends.
            if sum(not isinstance(c, NewLineOrCommentRule) for c in tree.body.children) != 1:
                raise _Unsure
            data = hcl2.serialize(tree, serialization_options=_OPTIONS)
        except Exception:  # hcl2 refuses it: the whole file is its to refuse
            raise _Unsure from None
        if not isinstance(data, dict) or list(data) != ["x"]:
            raise _Unsure
        self.pos = end
        value: object = data["x"]
        return value


def _name_only(found: re.Match[str]) -> str:
    name = found.group(1)
    if name in _KEYWORDS:
        raise _Expression
    return "${" + name + "}"


_ESCAPED = re.compile(r"\$\$\{[^}]*\}|%%\{[^}]*\}")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _expression_end(text: str, pos: int) -> int:
    """Where the expression starting at *pos* ends: the first newline or comment outside
    brackets, strings and heredocs, or the brace that closes the enclosing block."""
    stack: list[str] = []  # closers expected; '"' for a string, '}' in a string for ${ / %{
    in_string = False
    length = len(text)
    while pos < length:
        char = text[pos]
        if in_string:
            if char == "\\":
                pos += 2
                continue
            if char == '"':
                in_string = False
                stack.pop()
            elif char in "$%":
                escaped = _ESCAPED.match(text, pos)
                if escaped is not None:  # $${...} and %%{...} are text
                    pos = escaped.end()
                    continue
                if text.startswith("{", pos + 1):
                    stack.append("}")
                    in_string = False
                    pos += 2
                    continue
            pos += 1
            continue
        if char == '"':
            stack.append('"')
            in_string = True
        elif char in "([{":
            stack.append(_CLOSERS[char])
        elif char in ")]}":
            if not stack:
                if char == "}":
                    return pos
                raise _Unsure
            if stack.pop() != char:
                raise _Unsure
            if stack and stack[-1] == '"':
                in_string = True
        elif char == "<" and text.startswith("<<", pos):
            found = _HEREDOC.match(text, pos) or _HEREDOC_TRIM.match(text, pos)
            if found is not None:
                pos = found.end() - 1  # the newline that ends it
                continue
        elif char == "\n" or char == "#" or text.startswith("//", pos):
            if not stack:
                return pos
            if char != "\n":  # a comment inside brackets: to its line's end
                pos = text.index("\n", pos)
        elif text.startswith("/*", pos):
            pos = text.index("*/", pos + 2) + 1  # a missing end raises ValueError: None
        pos += 1
    raise _Unsure
