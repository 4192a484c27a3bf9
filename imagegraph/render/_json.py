"""JSON text for the renderers: readable (UTF-8, not ``\\u`` escapes) yet safe to print or embed."""

from __future__ import annotations

import json
import re
from typing import Any

from imagegraph.errors import ImageGraphError

__all__ = ["dumps"]

# What json.dumps(ensure_ascii=False) writes as it is but should not be: DEL and
# the C1 controls (a terminal reads U+009B as CSI), U+2028/U+2029 (line breaks to
# JavaScript before ES2019), and lone surrogates (a file name that is not UTF-8),
# which no UTF-8 stream can hold. json.dumps writes them only inside strings,
# where a \u escape stands for the same character.
_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(data: Any, *, indent: int | None = 2) -> str:
    r"""*data* as JSON text ending in a newline: non-ASCII letters as they are,
    every control character, U+2028/U+2029 and lone surrogates as ``\u`` escapes,
    and ``##[`` as ``#\u0023[`` (the same text, but no command to the GitHub
    Actions runner should the JSON reach its log).

    A number JSON cannot hold (``NaN``, an infinity) is an
    :class:`~imagegraph.ImageGraphError`, not text no JSON reader accepts.

    >>> dumps({"a": "é\x1b\u2028\udcff"}, indent=None)
    '{"a": "é\\u001b\\u2028\\udcff"}\n'
    """
    try:
        text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError as err:  # NaN or an infinity
        raise ImageGraphError(f"cannot write JSON: {err}") from None
    # "##[" is a GitHub Actions runner command anywhere in a line it logs.
    return _ESCAPED.sub(_escape, text).replace("##[", "#\\u0023[") + "\n"
