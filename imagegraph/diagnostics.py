"""Diagnostics: suspicious but buildable things, reported with file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from imagegraph._pickling import positional_reduce

__all__ = ["Diagnostic", "Severity", "printable"]

# C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph
# separators: what a terminal or a CI log reads as a command or a new line;
# and lone surrogates (a file name that is not UTF-8), which no stream can encode.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHOWN = {"\n": "\\n", "\r": "\\r"}


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHOWN:
        return _SHOWN[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, tabs: bool = True) -> str:
    r"""*text* as one line a terminal or a CI log shows as it is: each control
    character (C0 but tab, DEL, C1), U+2028/U+2029 and each lone surrogate
    written as an escape (``\n``, ``\x1b``, ``\u2028``); a tab too unless *tabs*
    (a table's cell shows ``\t``, not a jump to the next column).

    A path holding a newline then cannot start a line of its own (a forged
    ``::error`` command on GitHub Actions), nor ESC or OSC reach the terminal.
    The runner's other command forms are broken too: ``##[`` anywhere in a
    line (``#\x23[``) and ``::`` at its start (``\x3a:``).

    >>> printable("a\nb\x1b]0;x\x07 \u2028")
    'a\\nb\\x1b]0;x\\x07 \\u2028'
    >>> print(printable("::error::x ##[stop-commands]t"))
    \x3a:error::x #\x23[stop-commands]t
    """
    text = _UNPRINTABLE.sub(_shown, text)
    if not tabs:
        text = text.replace("\t", "\\t")
    return no_runner_commands(text)


# A line's start: blanks and the SGR sequences a terminal renderer puts first.
_COMMAND_START = re.compile(r"^((?:\s|\x1b\[[0-9;]*m)*)::", re.MULTILINE)


def no_runner_commands(text: str) -> str:
    r"""*text* with the GitHub Actions runner's workflow commands broken in every
    line: ``##[`` anywhere (``#\x23[``) and ``::`` at a line's start (``\x3a:``).

    For text already free of control characters, such as a table that a renderer
    wrapped, where any fold may start a line with what a name held.

    >>> print(no_runner_commands("a\n   ::error::x ##[group]"))
    a
       \x3a:error::x #\x23[group]
    """
    text = text.replace("##[", "#\\x23[")
    return _COMMAND_START.sub(lambda m: f"{m.group(1)}\\x3a:", text)


class Severity(StrEnum):
    """How much a diagnostic matters, most severe first when sorted by rank."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for information."""
        return _RANK[self]


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the input that did not stop the result.

    ``code`` is a stable, kebab-case name to filter on (``undefined-arg``,
    ``invalid-reference``, ...); ``line`` is 1-based, or ``None`` for the
    whole file. ``str()`` is one line, its control characters escaped
    (:func:`printable`); ``message`` and ``path`` keep the text as it is.

    >>> d = Diagnostic("undefined-arg", Severity.WARNING, "ARG TAG has no value", "a/Dockerfile", 3)
    >>> str(d)
    'a/Dockerfile:3: warning[undefined-arg]: ARG TAG has no value'
    >>> str(Diagnostic("no-changed-files", Severity.WARNING, "no file changed"))
    'warning[no-changed-files]: no file changed'
    """

    __reduce__ = positional_reduce

    code: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        """The fields as JSON outputs hold them (the severity by its name).

        >>> Diagnostic("undefined-arg", Severity.WARNING, "no value", "a/Dockerfile", 3).to_dict()
        {'code': 'undefined-arg', 'severity': 'warning', 'message': 'no value', 'path': 'a/Dockerfile', 'line': 3}
        """
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "path": self.path,
            "line": self.line,
        }

    def __str__(self) -> str:
        # A diagnostic about no file (a change that matches nothing, say) has
        # no location: naming one would send the reader to a file that is not it.
        if self.path:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        else:
            where = "" if self.line is None else f"line {self.line}"
        text = f"{self.severity.value}[{self.code}]: {self.message}"
        return printable(f"{where}: {text}" if where else text)
