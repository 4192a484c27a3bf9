"""The exceptions imagegraph raises, all below one base class."""

from __future__ import annotations

__all__ = ["DockerfileSyntaxError", "ImageGraphError", "InvalidReference"]


class ImageGraphError(Exception):
    """Base class of every error imagegraph raises on bad input.

    Catch this one type to turn any imagegraph failure into a message:

    >>> import imagegraph
    >>> try:
    ...     imagegraph.parse_dockerfile("")
    ... except imagegraph.ImageGraphError as err:
    ...     print(err)
    Dockerfile:1: file with no instructions
    """


class DockerfileSyntaxError(ImageGraphError):
    """A Dockerfile that BuildKit would refuse to build, whatever the target.

    ``path`` is the file (``None`` for text without a file), ``line`` and
    ``end_line`` the 1-based lines of the offending instruction, ``message``
    BuildKit's reason, and ``source`` the offending text, which ``str()``
    repeats under the location with a caret line beneath it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None,
        line: int,
        end_line: int | None = None,
        source: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.end_line = line if end_line is None else end_line
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.path or 'Dockerfile'}:{self.line}"
        text = f"{where}: {self.message}"
        if self.source:
            shown = self.source.strip()
            if len(shown) > 120:
                shown = shown[:117] + "..."
            if shown:
                text += f"\n    {shown}\n    {'^' + '~' * (len(shown) - 1)}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (process pools).
        return (
            _rebuild_syntax_error,
            (self.message, self.path, self.line, self.end_line, self.source),
        )


def _rebuild_syntax_error(
    message: str, path: str | None, line: int, end_line: int, source: str | None
) -> DockerfileSyntaxError:
    return DockerfileSyntaxError(message, path=path, line=line, end_line=end_line, source=source)


class InvalidReference(ImageGraphError, ValueError):
    """Text that is not an image reference by the distribution grammar.

    >>> import imagegraph
    >>> imagegraph.ImageRef.parse("Python:3")
    Traceback (most recent call last):
    ...
    imagegraph.errors.InvalidReference: invalid image reference 'Python:3': repository name must be lowercase
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid image reference {text!r}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        return (InvalidReference, (self.text, self.reason))
