"""The commands a ``RUN`` line can install packages with, and a cheap test for them.

Shared by the package reader (:mod:`imagegraph.packages`), which acts on
these commands, and the parser's fast route (:mod:`imagegraph._fastpath`),
which keeps in a Dockerfile's outline only the ``RUN`` lines that may name
one: both must agree on what "may install" means, or the outline would drop
a line the package reader needs.
"""

from __future__ import annotations

import re

__all__ = [
    "FLAG_INSTALLERS", "MAY_INSTALL", "OPEN", "OTHER_INSTALLERS", "SHELLS", "may_install",
    "may_name_one",
]  # fmt: skip

OPEN = "\ue000"
"""Marks where the package reader put an unresolved value in a text."""

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})

OTHER_INSTALLERS: dict[str, frozenset[str] | None] = {
    "zypper": frozenset({"install", "in"}),
    "conda": frozenset({"install", "create"}),
    "mamba": frozenset({"install", "create"}),
    "micromamba": frozenset({"install", "create"}),
    "cargo": frozenset({"install", "binstall"}),
    "pipx": frozenset({"install"}),
    "brew": frozenset({"install"}),
    "snap": frozenset({"install"}),
    "opam": frozenset({"install"}),
    "pecl": frozenset({"install"}),
    "luarocks": frozenset({"install"}),
    "composer": frozenset({"require"}),
    "emerge": None,
    "cpanm": None,
    "docker-php-ext-install": None,
}
"""Commands that install packages the package reader does not read: the
subcommands that install (``None``: any invocation with arguments)."""

FLAG_INSTALLERS = {
    "pacman": re.compile(r"-S[a-z]*|--sync"),
    "rpm": re.compile(r"-[a-zA-Z]*[iU][a-zA-Z]*|--install|--upgrade"),
    "dpkg": re.compile(r"-i|--install"),
    "nix-env": re.compile(r"-i[A-Za-z]*|--install"),
}
"""Commands that install when given one of these flags."""

# Text whose words are what they look like once quotes are dropped: no
# escapes, variables, command substitutions or unresolved values (OPEN).
_PLAIN_SHELL = re.compile(r"[^\\$`" + re.escape(OPEN) + r"]*")
NO_QUOTES = str.maketrans("", "", "'\"")
# The names, as patterns: the commands the package reader reads itself, then the others.
_NAMES = (
    "apt-get", "apt", "aptitude", "install_packages", "apk", "dnf5?", "yum", "microdnf",
    "tdnf", r"pip[\d.]*", r"python[\d.]*", "uv", "npm", "pnpm", "yarn", "gem", "go",
    *(re.escape(name) for name in sorted({*SHELLS, *OTHER_INSTALLERS, *FLAG_INSTALLERS})),
)  # fmt: skip
MAY_INSTALL = re.compile(r"\b(?:" + "|".join(_NAMES) + r")\b")
"""Every command name the package reader acts on, anywhere in a text: where
none appears, no command of the text can install anything (a cheap
pre-check; a false hit only costs the full split)."""


def may_install(text: str) -> bool:
    """Whether splitting the shell text *text* could find an install command (or an
    error): ``False`` only for plain text, with balanced quotes, that names none
    of the commands the package reader acts on, even with its quotes dropped
    (``ap""t-get``).

    >>> may_install("make all && echo 'done'"), may_install("apt-get install -y curl")
    (False, True)
    >>> may_install("$INSTALLER curl"), may_install("echo 'unbalanced")
    (True, True)
    """
    if not _PLAIN_SHELL.fullmatch(text) or text.count("'") % 2 or text.count('"') % 2:
        return True
    return MAY_INSTALL.search(text.translate(NO_QUOTES)) is not None


# The letters each name of MAY_INSTALL starts with, up to its first digit, dot
# or hyphen (pip3.12 -> pip, apt-get -> apt, docker-php-ext-install -> docker).
_FIRST_WORDS = frozenset(
    re.match(r"[A-Za-z_]+", name)[0].encode()  # type: ignore[index]
    for name in _NAMES
)
# ASCII letters and "_" stay, quotes go (as NO_QUOTES), every other byte is a blank.
_LETTERS = bytes(c if (chr(c).isalpha() and c < 128) or c == 0x5F else 0x20 for c in range(256))


def may_name_one(text: str) -> bool:
    """Whether ``MAY_INSTALL`` may find a name in *text* with its quotes dropped: a
    quick superset of that search for long texts (``True`` whenever it finds one).

    A name that search finds starts at a word boundary, and its first letters
    (up to a digit, dot or hyphen) end at one too: in ASCII text, they are one
    of the words left when every byte but a letter or ``_`` is a blank.

    >>> may_name_one("make all && echo 'built' >> /log"), may_name_one("x;/usr/bin/ap''t-get y")
    (False, True)
    """
    if not text.isascii():
        return MAY_INSTALL.search(text.translate(NO_QUOTES)) is not None
    return not _FIRST_WORDS.isdisjoint(text.encode().translate(_LETTERS, b"'\"").split())
