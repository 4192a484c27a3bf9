"""Diagnostics: suspicious but buildable things, reported with file and line."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imagegraph._pickling import positional_reduce

__all__ = ["Diagnostic", "Severity"]


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
    whole file.

    >>> d = Diagnostic("undefined-arg", Severity.WARNING, "ARG TAG has no value", "a/Dockerfile", 3)
    >>> str(d)
    'a/Dockerfile:3: warning[undefined-arg]: ARG TAG has no value'
    """

    __reduce__ = positional_reduce

    code: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "Dockerfile"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.severity.value}[{self.code}]: {self.message}"
