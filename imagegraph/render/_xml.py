"""What XML 1.0 cannot hold, for the renderers that write it (HTML for notebooks, SVG)."""

from __future__ import annotations

import re

__all__ = ["xml_chars"]

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
