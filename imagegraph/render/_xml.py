"""What XML 1.0 cannot hold, for the renderers that write it (HTML for notebooks, SVG)."""

from __future__ import annotations

import re

__all__ = ["xml_chars", "xml_escape"]

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters no XML 1.0 document may contain, even as a character reference:
C0 controls other than tab, newline and carriage return, lone surrogates, and
U+FFFE and U+FFFF."""


def xml_chars(text: str) -> str:
    """*text* with each character XML cannot hold replaced by U+FFFD (�).

    >>> xml_chars("y\\x0cz")
    'y\\ufffdz'
    """
    return NOT_XML.sub("\ufffd", text)


_ESCAPES = str.maketrans(
    {
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
        # A reader turns a raw CR into LF, and a tab or line break in an
        # attribute into a space: as references they stay what they are.
        "\t": "&#9;", "\n": "&#10;", "\r": "&#13;",
    }
)  # fmt: skip


def xml_escape(text: str) -> str:
    r"""*text* for XML or HTML content or a quoted attribute (either quote): markup
    characters and whitespace other than spaces as references, characters XML
    cannot hold as U+FFFD.

    >>> xml_escape('<a href="x">\'&\'\r\n</a>\x1b')
    '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&#13;&#10;&lt;/a&gt;\ufffd'
    """
    # "##[" is a GitHub Actions runner command anywhere in a line it logs.
    return xml_chars(text).translate(_ESCAPES).replace("##[", "#&#35;[")
