"""Which packages a Dockerfile installs: apt, apk, dnf, pip, npm, gem and go commands in ``RUN``.

:func:`dockerfile_packages` reads the ``RUN`` instructions of the stages a
target needs and returns each package an install command names, as a
:class:`Package` with a package URL (purl). Nothing is downloaded and no
requirements file or lock file is read: this is what the Dockerfile says.

**What is read.** Shell-form ``RUN`` text, exec-form ``RUN`` words (a
``["sh", "-c", script]`` runs *script*), and ``RUN`` heredoc bodies that are
shell scripts (``RUN <<EOF``, unless a ``#!`` line names another
interpreter, or a heredoc fed to ``sh``/``bash`` without ``-c``). Variables
are expanded with the stage's ``ARG`` and ``ENV`` values, tracked as
:func:`imagegraph.context.context_use` tracks them; a variable the
Dockerfile gives no known value (it may come from the base image, a
platform ARG, an ``ARG`` without a default) stays unknown. Shell variables
assigned earlier in the same script (``pkgs="a b"; apt-get install $pkgs``)
are substituted too; their values are split on blanks, quoted or not.
Comments and line continuations are removed, then the text is split into
simple commands on ``&&``, ``||``, ``;``, ``|``, ``&``, parentheses and
newlines as :mod:`shlex` splits it in POSIX mode (by an equivalent
splitter of linear cost: shlex's grows with the square of a word's length).
Leading ``sudo``, ``env``, ``eatmydata``,
``time``, ``nohup``, ``exec``, ``command``, ``NAME=value`` assignments and
shell keywords (``if``, ``then``, ``do``, ...) are skipped; ``sh -c script``
is read as a script. Every branch of ``if``/``case`` counts.

**Installers.** ``apt-get``/``apt``/``aptitude install`` and minideb's
``install_packages`` (``deb``, namespace *distro* or ``debian``; ``name=ver``
pins, ``name/release`` does not, ``name:arch`` becomes an ``arch``
qualifier); ``apk add`` (``alpine``; ``name=ver`` pins, ``~``, ``<``,
``>``, ``<=``, ``>=``, ``~=`` are constraints, ``@tag`` is a repository
tag); ``dnf``/``yum``/``microdnf``/``tdnf install`` (``rpm``, namespace
*distro* or ``redhat``); ``pip install`` in all its spellings and ``uv pip
install`` (``pypi``, parsed with :class:`packaging.requirements.Requirement`,
``==``/``===`` pin, other specifiers are constraints as written, blanks
removed); ``npm``/``pnpm install|i|add`` with or without ``-g`` and ``yarn
[global] add`` (``npm``; a plain semver pins, ``latest`` is no version,
other ranges and tags are constraints); ``gem install`` (``-v``/
``--version``/``name:ver``; a bare version pins, ``~> 2`` is a constraint);
``go install path@version`` (``golang``; a full ``vX.Y.Z`` or a commit hash
pins, ``latest``/``upgrade``/``patch`` give no version, other queries are
constraints; the name is the package path as written, which may lie below
its module's root: finding the module needs the module proxy).

**rpm versions.** ``dnf install name-1.2.3`` splits the version at the last
``-`` followed by a digit, or at the one before it when that also starts a
digit run (``name-version-release``, ``java-17-openjdk-17.0.9-2.el9``); the
split only counts when the version has a dot or a release, so names that end
in a number (``gcc-toolset-13``) stay whole. ``name`` alone has no version.

**What ends up in the image.** Every required stage is read, and each
package says its ``stage``; ``in_image`` is ``True`` only for the target
stage and the stages it is built ``FROM`` (through stage references), not
for stages that are only copied or mounted from. A package removed later in
the same stage (``apk del`` of it or of its ``--virtual`` group,
``apt-get remove``/``purge``, ``dnf remove``) is kept with ``in_image``
``False``.

**Runtime versions.** An ``ENV`` or ``ARG`` named ``<RUNTIME>_VERSION``
(``PYTHON``, ``NODE``, ``GOLANG``/``GO``, ``JAVA``/``JDK``, ``RUBY``,
``PHP``, ``RUST``, ``NGINX``, ``OPENSSL``, ``YARN``, ``PIP``, ``MAVEN``,
``GRADLE``) with a known value is a ``pkg:generic/<runtime>@<value>``
package of each stage whose ``RUN`` reads it, installer ``env``, on the
line that sets it.

**Diagnostics, never guesses.** A package word that depends on an unknown
variable or a command substitution gives an ``unresolved-package`` warning
and no package. Install commands of other tools (``zypper``, ``pacman -S``,
``conda``, ``cargo install``, ``curl ... | sh``, ...) give one
``unknown-installer`` note per instruction; ``pip install -r FILE`` and
``-c FILE`` give a ``requirements-file`` note; shell text that cannot be
split (an open quote) gives an ``unparsed-shell`` warning.

**Left out.** Packages installed through ``xargs``, loops over lists, files
(``requirements.txt``, ``package.json``, ``Gemfile``, ``go.mod``), ``apt-mark``
/``--auto-remove`` bookkeeping, ``ONBUILD`` triggers, and removals by other
stages.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement

import imagegraph._shell as _shell
from imagegraph._installers import FLAG_INSTALLERS as _FLAG_INSTALLERS
from imagegraph._installers import OPEN as _OPEN
from imagegraph._installers import OTHER_INSTALLERS as _OTHER_INSTALLERS
from imagegraph._installers import SHELLS as _SHELLS
from imagegraph._installers import may_install as _names_an_installer
from imagegraph._pickling import positional_reduce
from imagegraph._shell import Budget, ExpansionLimit, ShellError, Unknown, _Lexer
from imagegraph.context import _Expander, _Scopes, _Unset
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import Dockerfile, Stage, StageRef
from imagegraph.errors import ImageGraphError
from imagegraph.instructions import Heredoc, Instruction

__all__ = ["Package", "PackageUse", "dockerfile_packages"]


@dataclass(frozen=True, slots=True)
class Package:
    """One package an install command in a Dockerfile names.

    >>> from imagegraph import parse_dockerfile
    >>> df = parse_dockerfile("FROM debian:12\\nRUN apt-get install -y curl=7.88.1-10")
    >>> dockerfile_packages(df).packages[0]  # doctest: +NORMALIZE_WHITESPACE
    Package(purl='pkg:deb/debian/curl@7.88.1-10', ecosystem='deb', name='curl',
            version='7.88.1-10', constraint=None, path=None, line=2, stage='stage-0',
            installer='apt-get', in_image=True, source='dockerfile')
    """

    purl: str
    """The package URL, as ``packageurl``'s ``to_string()`` writes it."""
    ecosystem: str
    """``deb``, ``apk``, ``rpm``, ``pypi``, ``npm``, ``gem``, ``golang`` or ``generic``."""
    name: str
    """The name (``@scope/name`` for scoped npm packages, the path for Go)."""
    version: str | None
    """The exact version the command pins, else ``None``."""
    constraint: str | None
    """A requirement that is not one exact version, as written (``>=2,<3``, ``~3.1``)."""
    path: str | None
    """The Dockerfile's path."""
    line: int
    """The line of the instruction (of the ``ENV``/``ARG`` for runtime versions)."""
    stage: str
    """The label of the stage that installs it."""
    installer: str
    """The command that installs it: ``apt-get``, ``apk``, ``pip``, ..., ``env``."""
    in_image: bool
    """Whether the package is in the target's image (see the module notes)."""
    source: str = "dockerfile"

    __reduce__ = positional_reduce  # a package cache holds many: rebuilt at C speed


@dataclass(frozen=True, slots=True)
class PackageUse:
    """The packages a Dockerfile installs, and what could not be worked out."""

    packages: tuple[Package, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def purls(self) -> tuple[str, ...]:
        """The purls of the packages in the image, in order, without repeats."""
        return tuple(dict.fromkeys(p.purl for p in self.packages if p.in_image))


def dockerfile_packages(
    dockerfile: Dockerfile, target: str | int | None = None, *, distro: str | None = None
) -> PackageUse:
    """The packages the stages *target* needs install (all stages for an unknown target).

    *distro* is the purl namespace of ``deb`` and ``rpm`` packages
    (``ubuntu``, ``fedora``); it defaults to ``debian`` and ``redhat``.

    >>> from imagegraph import parse_dockerfile
    >>> df = parse_dockerfile('''
    ... FROM python:3.12 AS build
    ... ARG REQ=2.32.3
    ... RUN pip install --no-cache-dir "requests==${REQ}" 'flask>=3,<4'
    ... FROM alpine:3.20
    ... RUN apk add --no-cache curl~8 && apk add --virtual .deps gcc && apk del .deps
    ... COPY --from=build /app /app
    ... ''')
    >>> [(p.purl, p.constraint, p.in_image) for p in dockerfile_packages(df).packages]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('pkg:pypi/requests@2.32.3', None, False), ('pkg:pypi/flask', '>=3,<4', False),
     ('pkg:apk/alpine/curl', '~8', True), ('pkg:apk/alpine/gcc', None, False)]
    """
    diagnostics: list[Diagnostic] = []
    try:
        stages = dockerfile.required_stages(target)
        top = dockerfile.final_stage if target is None else dockerfile.stage(target)
    except ImageGraphError:
        stages = dockerfile.stages
        top = dockerfile.final_stage
        diagnostics.append(
            Diagnostic(
                "unknown-target",
                Severity.INFO,
                f"target {target!r} is not a stage; every stage was read, and the image "
                "is taken to be the final stage's",
                dockerfile.path,
            )
        )
    image = {top.index}
    stage: Stage = top
    while isinstance(stage.base, StageRef):
        stage = dockerfile.stages[stage.base.index]
        image.add(stage.index)
    wanted = {stage.index for stage in stages}

    expander = _Expander(dockerfile, diagnostics)
    walker = _Walker(dockerfile, distro, diagnostics, expander)
    envs: _Scopes[str | Unknown] = _Scopes(dockerfile)
    origins: _Scopes[int] = _Scopes(dockerfile)
    global_values = {a.name: a.value for a in dockerfile.args}
    build_args = dict(dockerfile.build_args)
    for stage in dockerfile.stages:  # values flow through FROM <stage>, so walk them all
        env = envs.enter(stage)
        origin = origins.enter(stage)
        walker.start_stage(stage, stage.index in image)
        for instruction in stage.instructions[1:]:
            if instruction.keyword == "ARG":
                expander.declare_args(instruction, env, global_values, build_args)
                for word in instruction.args:
                    origin[word.partition("=")[0]] = instruction.line
            elif instruction.keyword == "ENV":
                for name, value in instruction.pairs():
                    env[name] = _env_value(expander, value, env, instruction)
                    origin[name] = instruction.line
            elif instruction.keyword == "RUN" and stage.index in wanted:
                walker.run(instruction, env, origin)
        envs.leave(stage, env)
        origins.leave(stage, origin)
    return PackageUse(tuple(walker.packages), tuple(diagnostics))


def _env_value(
    expander: _Expander, text: str, env: Mapping[str, str | Unknown], instruction: Instruction
) -> str | Unknown:
    """``expander.value(text, ...)``, without the shell lexer for the common
    ``"plain text"``: quoted text with nothing to substitute or escape is
    its inside, and substitutes nothing (so spends none of the budget).

    >>> from imagegraph import parse_dockerfile
    >>> df = parse_dockerfile('FROM x\\nENV A="value 1"')
    >>> _env_value(_Expander(df, []), '"value 1"', {}, df.instructions[1])
    'value 1'
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inside = text[1:-1]
        if text[0] not in inside and "$" not in inside and expander.escape not in inside:
            return inside
    return expander.value(text, env, instruction)


# -- shell text to simple commands ----------------------------------------------

_CLOSE = "\ue001"
_MARKER = re.compile("\ue000([^\ue000\ue001]*)\ue001")
_PUNCTUATION = ";&|()<>\n"
_OPERATORS = re.compile(r"&>>|&&|\|\||;;|<<-|<<<|<<|>>|>&|<&|&>|>\||<>|\|&|[;&|()<>\n]")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
_WRAPPERS = frozenset({"eatmydata", "time", "nohup", "exec", "command", "builtin"})
_DECLARE = frozenset({"export", "readonly", "local", "declare", "typeset"})


class _Marking(_Unset):
    """A stage environment in which a variable with no known value expands to a marker."""

    def get(self, key: str, default: object = None) -> str:
        value = self.env.get(key)
        return value if isinstance(value, str) else f"{_OPEN}{key}{_CLOSE}"


def _prepare(text: str) -> str:
    """*text* without shell comments and backslash-newline continuations."""
    out: list[str] = []
    pos, end = 0, len(text)
    quote = ""
    word_start = True
    while pos < end:
        ch = text[pos]
        if quote == "'":
            out.append(ch)
            quote = "" if ch == "'" else quote
            pos += 1
            continue
        if ch == "\\" and pos + 1 < end:
            if text[pos + 1] != "\n":
                out.append(text[pos : pos + 2])
                word_start = False
            pos += 2
            continue
        if quote == '"':
            out.append(ch)
            quote = "" if ch == '"' else quote
            pos += 1
            continue
        if ch == "#" and word_start:
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
            continue
        if ch in "'\"":
            quote = ch
        out.append(ch)
        word_start = ch in " \t\n;&|()<>"
        pos += 1
    return "".join(out)


def _expand_once(
    text: str, env: Mapping[str, str | Unknown], budget: Budget
) -> tuple[str, set[str]]:
    lexer = _Lexer(text, _Marking(env), "\\", raw_quotes=True, raw_escapes=True, budget=budget)
    value = lexer.process("", True, None)
    return value, {name for name in lexer.used if isinstance(env.get(name), str)}


def _expand(
    text: str, env: Mapping[str, str | Unknown], budget: Budget | None = None
) -> tuple[str, set[str]]:
    """*text* with known variables expanded, quotes kept, unknown ones as markers.

    Text BuildKit's lexer refuses as a whole (``${#VAR}``, an open quote) is
    expanded line by line, and a line that still fails is kept as written.
    Raises :class:`~imagegraph._shell.ExpansionLimit` past a limit of *budget*.
    """
    budget = Budget() if budget is None else budget
    try:
        return _expand_once(text, env, budget)
    except ExpansionLimit:
        raise
    except ShellError:
        pass
    lines: list[str] = []
    used: set[str] = set()
    for line in text.split("\n"):
        try:
            value, names = _expand_once(line, env, budget)
        except ExpansionLimit:
            raise
        except ShellError:
            value, names = line, set()
        lines.append(value)
        used |= names
    return "\n".join(lines), used


@dataclass(slots=True)
class _Command:
    """One simple command: its words, what it reads heredocs for, what pipes into it."""

    words: list[str] = field(default_factory=list)
    heredocs: list[str] = field(default_factory=list)
    after: str | None = None


def _commands(text: str) -> list[_Command]:
    """The simple commands of shell *text*; raises ValueError where shlex fails."""
    commands: list[_Command] = []
    current = _Command()
    pending = ""
    for token in _shell_words(text):
        if token and all(ch in _PUNCTUATION for ch in token):
            for op in _OPERATORS.findall(token):
                if "<" in op or ">" in op:
                    pending = "heredoc" if op in ("<<", "<<-") else "target"
                    if current.words and current.words[-1].isdigit():
                        current.words.pop()  # the file descriptor of 2>&1
                    continue
                commands.append(current)
                current = _Command()
                if op in ("|", "|&") and commands[-1].words:
                    current.after = posixpath.basename(commands[-1].words[0])
            continue
        if pending == "heredoc":
            current.heredocs.append(token)
        elif not pending:
            current.words.append(token)
        pending = ""
    commands.append(current)
    return [command for command in commands if command.words or command.heredocs]


_BLANK = " \t\r"
# What ends a run of ordinary characters in a word, outside quotes and inside "...".
_WORD_STOP = re.compile(r"[ \t\r;&|()<>\n'\"\\\\]")
_DOUBLE_STOP = re.compile(r'["\\\\]')


def _shell_words(text: str) -> list[str]:
    """The tokens ``shlex.shlex(text, posix=True, punctuation_chars=";&|()<>\\n")``
    gives with blanks `` \\t\\r``, ``whitespace_split`` and no comments, and the
    same ``ValueError`` messages; in linear time (shlex builds each token one
    character at a time, which costs the square of its length).

    >>> _shell_words("apt-get install -y 'a b' c\\\\ d && echo \\"x\\\\\\"y\\"|wc")
    ['apt-get', 'install', '-y', 'a b', 'c d', '&&', 'echo', 'x"y', '|', 'wc']
    """
    tokens: list[str] = []
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos] in _BLANK:
            pos += 1
        if pos >= end:
            return tokens
        if text[pos] in _PUNCTUATION:
            start = pos
            while pos < end and text[pos] in _PUNCTUATION:
                pos += 1
            tokens.append(text[start:pos])
            continue
        word: list[str] = []
        while pos < end:
            ch = text[pos]
            if ch in _BLANK or ch in _PUNCTUATION:
                break
            if ch == "'":
                close = text.find("'", pos + 1)
                if close < 0:
                    raise ValueError("No closing quotation")
                word.append(text[pos + 1 : close])
                pos = close + 1
            elif ch == '"':
                pos += 1
                while True:
                    found = _DOUBLE_STOP.search(text, pos)
                    if found is None:
                        raise ValueError("No closing quotation")
                    stop = found.start()
                    word.append(text[pos:stop])
                    pos = stop + 1
                    if text[stop] == '"':
                        break
                    if pos >= end:  # a backslash at the very end, inside quotes
                        raise ValueError("No escaped character")
                    following = text[pos]
                    if following not in '"\\':
                        word.append("\\")
                    word.append(following)
                    pos += 1
            elif ch == "\\":
                if pos + 1 >= end:
                    raise ValueError("No escaped character")
                word.append(text[pos + 1])
                pos += 2
            else:
                found = _WORD_STOP.search(text, pos)
                stop = end if found is None else found.start()
                word.append(text[pos:stop])
                pos = stop
        tokens.append("".join(word))


def _strip_prefix(words: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The command after wrappers (``sudo``, ``env``, keywords) and its leading assignments."""
    assignments: list[tuple[str, str]] = []
    pos = 0
    while pos < len(words):
        word = words[pos]
        match = _ASSIGNMENT.fullmatch(word)
        if match:
            assignments.append((match[1], match[2]))
            pos += 1
        elif word in _KEYWORDS or posixpath.basename(word) in _WRAPPERS:
            pos += 1
        elif posixpath.basename(word) in ("sudo", "env"):
            pos += 1
            while pos < len(words) and words[pos].startswith("-"):
                if words[pos] in ("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"):
                    pos += 1
                pos += 1
        else:
            break
    return list(words[pos:]), assignments


def _options(
    args: Sequence[str], values: frozenset[str], short_values: str = ""
) -> Iterator[tuple[str | None, str]]:
    """``(option, value)`` for each option of *args* and ``(None, word)`` for the rest.

    *values* names the options that take a value (the next word unless
    given as ``--name=value``); *short_values* the one-letter ones, which
    may also end a cluster (``-Ur FILE``) or carry the value (``-rFILE``).

    >>> list(_options(["-y", "-o", "A=1", "--x=2", "-qt", "rel", "pkg"], frozenset({"-o"}), "t"))
    [('-y', ''), ('-o', 'A=1'), ('--x', '2'), ('-q', ''), ('-t', 'rel'), (None, 'pkg')]
    """
    pos = 0
    while pos < len(args):
        word = args[pos]
        pos += 1
        if word == "--":
            for rest in args[pos:]:
                yield None, rest
            return
        if word.startswith("--"):
            name, has_value, value = word.partition("=")
            if not has_value and name in values and pos < len(args):
                value = args[pos]
                pos += 1
            yield name, value
        elif word.startswith("-") and len(word) > 1:
            if word in values and pos < len(args):
                yield word, args[pos]
                pos += 1
                continue
            for index, letter in enumerate(word[1:], 2):
                if letter in short_values:
                    value = word[index:]
                    if not value and pos < len(args):
                        value = args[pos]
                        pos += 1
                    yield "-" + letter, value
                    break
                yield "-" + letter, ""
        else:
            yield None, word


def _positional(args: Sequence[str], values: frozenset[str], short_values: str = "") -> list[str]:
    return [word for option, word in _options(args, values, short_values) if option is None]


def _shell_call(args: Sequence[str]) -> tuple[str | None, bool]:
    """A shell's ``-c`` script, and whether it reads its script from stdin."""
    pos = 0
    reads_stdin = False
    while pos < len(args):
        word = args[pos]
        if word in ("-o", "+o"):
            pos += 2
            continue
        if word == "--":
            pos += 1
            break
        if len(word) > 1 and word[0] in "-+":
            if word[0] == "-" and "c" in word[1:]:
                return (args[pos + 1] if pos + 1 < len(args) else None), False
            reads_stdin = reads_stdin or (word[0] == "-" and "s" in word[1:])
            pos += 1
            continue
        break
    return None, reads_stdin or pos >= len(args)


def _runs_heredoc(command: _Command, heredoc: Heredoc) -> bool:
    """Whether a RUN heredoc's body is a shell script: run by BuildKit or fed to a shell."""
    words, _ = _strip_prefix(command.words)
    if not words:
        first = heredoc.body.lstrip("\n").split("\n", 1)[0]
        if not first.startswith("#!"):
            return True
        interpreter = first[2:].split()
        name = posixpath.basename(interpreter[0]) if interpreter else "sh"
        if name == "env" and len(interpreter) > 1:
            name = posixpath.basename(interpreter[-1])
        return name in _SHELLS
    if posixpath.basename(words[0]) not in _SHELLS:
        return False
    script, reads_stdin = _shell_call(words[1:])
    return script is None and reads_stdin


# -- installers ---------------------------------------------------------------------

_APT_VALUES = frozenset(
    {"-o", "-c", "-t", "-a", "--option", "--config-file", "--target-release",
     "--default-release", "--host-architecture"}
)  # fmt: skip
_DEB = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9+.-]+)(?::(?P<arch>[a-z0-9-]+))?"
    r"(?:=(?P<version>[A-Za-z0-9.+~:-]+)|/(?P<release>[A-Za-z0-9.+~_-]+))?"
)
_APK_VALUES = frozenset(
    {"--virtual", "-t", "--repository", "-X", "--root", "-p", "--arch", "--keys-dir",
     "--cache-dir", "--repositories-file", "--progress-fd", "--wait", "--cache-max-age",
     "--timeout"}
)  # fmt: skip
_APK = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9+._-]*)(?:@(?P<tag>[A-Za-z0-9._-]+))?"
    r"(?:(?P<op>~=?|>=?|<=?|=)(?P<version>[A-Za-z0-9.+_~-]+))?(?:@[A-Za-z0-9._-]+)?"
)
_DNF_VALUES = frozenset(
    {"--enablerepo", "--disablerepo", "--setopt", "--installroot", "--releasever", "--exclude",
     "-x", "--repo", "--repoid", "-c", "--config", "--disableplugin", "--enableplugin",
     "--forcearch", "--downloaddir", "--destdir", "--comment", "--advisory", "-d", "-e", "-R"}
)  # fmt: skip
_RPM_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.:~^-]*")
_RPM_NEVR = re.compile(
    r"(?P<name>[A-Za-z0-9_+][A-Za-z0-9_+.-]*?)-(?P<evr>(?:\d+:)?\d[\w.+~^]*(?:-\d[\w.+~^]*)?)"
)
_PIP_VALUES = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-f", "--find-links",
     "-i", "--index-url", "--extra-index-url", "--prefix", "-t", "--target", "--root",
     "--platform", "--python-version", "--implementation", "--abi", "--only-binary",
     "--no-binary", "--progress-bar", "--trusted-host", "--cache-dir", "--src",
     "--upgrade-strategy", "--log", "--log-file", "--proxy", "--retries", "--timeout",
     "--exists-action", "--cert", "--client-cert", "--report", "--config-settings", "-C",
     "--global-option", "--root-user-action", "--python", "--use-feature",
     "--use-deprecated", "--keyring-provider", "--group"}
)  # fmt: skip
_PIP = re.compile(r"pip(?:\d+(?:\.\d+)?)?")
_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)?)?")
_PIP_SPEC = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;@]*)")
_NPM_VALUES = frozenset(
    {"--registry", "--prefix", "--cache", "--loglevel", "--omit", "--include", "--userconfig",
     "--tag", "--workspace", "-w", "--install-strategy", "--location", "--before",
     "--global-folder", "--cache-folder", "--network-timeout", "--modules-folder", "--mutex",
     "--store-dir", "--filter", "-F", "--dir", "-C"}
)  # fmt: skip
_NPM_NAME = re.compile(r"(?:@[A-Za-z0-9._~-]+/)?[A-Za-z0-9._~-]+")
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_GEM_VALUES = frozenset(
    {"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "-s", "--source", "-p",
     "--http-proxy", "--platform", "--build-root", "-P", "--trust-policy"}
)  # fmt: skip
_GEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GEM_EXACT = re.compile(r"=?\s*(\d[0-9A-Za-z.]*)")
_GO_VALUES = frozenset(
    {"ldflags", "tags", "mod", "gcflags", "asmflags", "modfile", "pkgdir", "p", "buildmode",
     "compiler", "installsuffix", "overlay", "pgo", "toolexec", "coverpkg", "covermode",
     "gccgoflags", "C", "o"}
)  # fmt: skip
_GO_EXACT = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?|[0-9a-f]{7,40}")
_RUNTIME = re.compile(
    r"(PYTHON|NODE|GOLANG|GO|JAVA|JDK|RUBY|PHP|RUST|NGINX|OPENSSL|YARN|PIP|MAVEN|GRADLE)_VERSION"
)
_RUNTIME_NAMES = {"GOLANG": "go", "GO": "go", "JDK": "java"}
_CONCRETE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+~_:-]*")
_MAX_DEPTH = 4


def _short(text: str) -> str:
    """*text* cut to 120 characters for a message: words may be a megabyte long."""
    return text if len(text) <= 120 else text[:117] + "..."


def _render(word: str) -> str:
    return _MARKER.sub(lambda m: "${" + m[1] + "}", word)


class _Walker:
    """Reads the RUN instructions of one Dockerfile, stage by stage."""

    def __init__(
        self,
        dockerfile: Dockerfile,
        distro: str | None,
        diagnostics: list[Diagnostic],
        expander: _Expander,
    ) -> None:
        self.expander = expander
        self.instruction: Instruction | None = None
        self.dockerfile = dockerfile
        self.distro = distro
        self.diagnostics = diagnostics
        self.packages: list[Package] = []
        self.stage_label = ""
        self.in_image = False
        self.line = 0
        self.env: Mapping[str, str | Unknown] = {}
        self.noted = False
        # Packages added in the current stage, for removals: by (ecosystem, name)
        # and by apk --virtual group.
        self.installed: dict[tuple[str, str], list[int]] = {}
        self.groups: dict[str, list[int]] = {}
        self.runtimes: set[str] = set()

    def start_stage(self, stage: Stage, in_image: bool) -> None:
        self.stage_label = stage.label
        self.in_image = in_image
        self.installed = {}
        self.groups = {}
        self.runtimes = set()

    def note(self, code: str, severity: Severity, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(code, severity, message, self.dockerfile.path, self.line)
        )

    def run(
        self, instruction: Instruction, env: Mapping[str, str | Unknown], origin: Mapping[str, int]
    ) -> None:
        self.line = instruction.line
        self.instruction = instruction
        self.env = env
        self.noted = False
        used: set[str] = set()
        if instruction.json:
            words = list(instruction.args)
            if words and posixpath.basename(words[0]) in _SHELLS:
                script, _ = _shell_call(words[1:])
                if script is not None:
                    self.script(script, 1, used)
            else:
                self.command(_Command(words), {}, 1, used)
        else:
            commands = self.script(
                instruction.args[0] if instruction.args else "", 0, used,
                heredocs=bool(instruction.heredocs),
            )  # fmt: skip
            consumers = [command for command in commands for _ in command.heredocs]
            for heredoc, command in zip(instruction.heredocs, consumers, strict=False):
                if _runs_heredoc(command, heredoc):
                    self.script(heredoc.body, 1, used)
        for name in sorted(used):
            self.runtime(name, origin)

    def runtime(self, name: str, origin: Mapping[str, int]) -> None:
        match = _RUNTIME.fullmatch(name)
        value = self.env.get(name)
        if match is None or not isinstance(value, str) or name in self.runtimes:
            return
        if not _CONCRETE.fullmatch(value) or not any(ch.isdigit() for ch in value):
            return
        self.runtimes.add(name)
        runtime = _RUNTIME_NAMES.get(match[1], match[1].lower())
        saved = self.line
        self.line = origin.get(name, self.line)
        self.add("env", PackageURL(type="generic", name=runtime, version=value))
        self.line = saved

    def script(
        self, text: str, depth: int, used: set[str], *, heredocs: bool = False
    ) -> list[_Command]:
        if not heredocs and not _names_an_installer(text):
            # Nothing to expand either (no $): most RUN lines of an application.
            return []
        try:
            expanded, names = _expand(_prepare(text), self.env, self.expander.budget)
        except ExpansionLimit as err:
            assert self.instruction is not None
            self.expander.limit(err, self.instruction)
            self.note(
                "unparsed-shell",
                Severity.WARNING,
                "the RUN text was not expanded (past imagegraph's expansion limit); "
                "its packages are not read",
            )
            return []
        used |= names
        if not heredocs and not _names_an_installer(expanded):
            # No word that could start an install command (most RUN lines:
            # make, echo, mkdir), and no quoting or variable that could make
            # one: splitting the text into commands finds nothing.
            return []
        try:
            commands = _commands(expanded)
        except ValueError as err:
            self.note(
                "unparsed-shell",
                Severity.WARNING,
                f"the RUN text could not be split into commands ({err}); its packages are not read",
            )
            return []
        shell_vars: dict[str, str] = {}
        for command in commands:
            self.command(command, shell_vars, depth, used)
        return commands

    def substitute(self, words: Sequence[str], shell_vars: Mapping[str, str]) -> list[str]:
        """*words* with the values of shell variables the script assigned.

        Substituted text is charged to the file's budget before it is built
        (``a="$b$b"; b="$a$a"; ...`` doubles like ``ARG``): raises
        :class:`~imagegraph._shell.ExpansionLimit` past it.
        """
        out: list[str] = []
        budget = self.expander.budget
        for word in words:
            whole = _MARKER.fullmatch(word)
            if whole and whole[1] in shell_vars:
                value = shell_vars[whole[1]]
                budget.spend(len(value))
                out.extend(value.split())
            elif _OPEN in word:
                size = len(word)
                for marker in _MARKER.finditer(word):
                    size += len(shell_vars.get(marker[1], marker[0])) - len(marker[0])
                if size > _shell.MAX_WORD_CHARS:
                    raise ExpansionLimit(
                        f"the expanded word would be longer than {_shell.MAX_WORD_CHARS} characters"
                    )
                budget.spend(size)
                out.append(_MARKER.sub(lambda m: shell_vars.get(m[1], m[0]), word))
            else:
                out.append(word)
        return out

    @staticmethod
    def assign(shell_vars: dict[str, str], name: str, value: str) -> None:
        """Record a shell variable; one set from a command's output stays unknown."""
        if "$" in value or "`" in value or _OPEN in value:
            shell_vars.pop(name, None)
        else:
            shell_vars[name] = value

    def command(
        self, command: _Command, shell_vars: dict[str, str], depth: int, used: set[str]
    ) -> None:
        try:
            raw = self.substitute(command.words, shell_vars)
        except ExpansionLimit as err:
            assert self.instruction is not None
            self.expander.limit(err, self.instruction)
            shell_vars.clear()  # what they hold is no longer known
            return
        if raw and raw[0] in _DECLARE:
            for word in raw[1:]:
                match = _ASSIGNMENT.fullmatch(word)
                if match:
                    self.assign(shell_vars, match[1], match[2])
            return
        words, assignments = _strip_prefix(raw)
        if not words:
            for name, value in assignments:
                self.assign(shell_vars, name, value)
            return
        head = posixpath.basename(words[0])
        args = words[1:]
        if head in ("apt-get", "apt", "aptitude"):
            self.apt(head, args)
        elif head == "install_packages":
            self.deb(head, args)
        elif head == "apk":
            self.apk(args)
        elif head in ("dnf", "yum", "microdnf", "dnf5", "tdnf"):
            self.dnf(head, args)
        elif _PIP.fullmatch(head):
            self.pip("pip", args)
        elif _PYTHON.fullmatch(head):
            self.python(args)
        elif head == "uv" and args[:1] == ["pip"]:
            self.pip("uv", args[1:])
        elif head in ("npm", "pnpm"):
            self.npm(head, args)
        elif head == "yarn":
            self.yarn(args)
        elif head == "gem":
            self.gem(args)
        elif head == "go":
            self.go(args)
        elif head in _SHELLS:
            script, reads_stdin = _shell_call(args)
            if script is not None and depth < _MAX_DEPTH:
                self.script(script, depth + 1, used)
            elif reads_stdin and command.after in ("curl", "wget"):
                self.unknown(f"{command.after} ... | {head}", "runs a downloaded script")
        else:
            self.other(head, args)

    # -- helpers --------------------------------------------------------------------

    def unknown(self, what: str, does: str) -> None:
        if self.noted:
            return
        self.noted = True
        self.note(
            "unknown-installer",
            Severity.INFO,
            f"`{_short(what)}` {does}; packages it installs are not read",
        )

    def other(self, head: str, args: Sequence[str]) -> None:
        if head in _FLAG_INSTALLERS:
            if any(_FLAG_INSTALLERS[head].fullmatch(word) for word in args):
                self.unknown(f"{head} {' '.join(args[:1])}", "installs packages")
            return
        if head not in _OTHER_INSTALLERS:
            return
        subcommands = _OTHER_INSTALLERS[head]
        positional = [word for word in args if not word.startswith("-")]
        if subcommands is None:
            if positional:
                self.unknown(head, "installs packages")
        elif positional and positional[0] in subcommands:
            self.unknown(f"{head} {positional[0]}", "installs packages")

    def resolved(self, word: str) -> bool:
        """False, with an ``unresolved-package`` warning, for a word with unknown parts."""
        if _OPEN not in word and _CLOSE not in word and "$" not in word and "`" not in word:
            return True
        names = list(dict.fromkeys(_MARKER.findall(word)))
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        why = (
            f"depends on {listed}, whose value is only known when the image is built"
            if names
            else "depends on a value only known when the command runs"
        )
        self.note(
            "unresolved-package", Severity.WARNING, f"package {_short(_render(word))!r} {why}"
        )
        return False

    def add(
        self,
        installer: str,
        purl: PackageURL,
        name: str | None = None,
        constraint: str | None = None,
    ) -> int:
        package = Package(
            purl=purl.to_string(),
            ecosystem=purl.type,
            name=name or purl.name,
            version=purl.version,
            constraint=constraint,
            path=self.dockerfile.path,
            line=self.line,
            stage=self.stage_label,
            installer=installer,
            in_image=self.in_image,
        )
        index = len(self.packages)
        self.packages.append(package)
        self.installed.setdefault((package.ecosystem, package.name), []).append(index)
        return index

    def remove(self, indices: Sequence[int]) -> None:
        for index in indices:
            self.packages[index] = replace(self.packages[index], in_image=False)

    def remove_names(self, ecosystem: str, names: Sequence[str]) -> None:
        for name in names:
            self.remove(self.installed.pop((ecosystem, name), []))

    # -- deb ----------------------------------------------------------------------

    def apt(self, installer: str, args: Sequence[str]) -> None:
        positional = _positional(args, _APT_VALUES, "octa")
        if not positional:
            return
        subcommand, rest = positional[0], positional[1:]
        if subcommand in ("install", "reinstall"):
            self.deb(installer, rest)
        elif subcommand in ("remove", "purge"):
            names = [m["name"] for m in map(_DEB.fullmatch, rest) if m]
            self.remove_names("deb", names)

    def deb(self, installer: str, words: Sequence[str]) -> None:
        for word in words:
            if word.startswith("-") or not self.resolved(word):
                continue
            match = _DEB.fullmatch(word)
            if match is None:
                continue  # a local .deb file, a glob, a regular expression
            qualifiers = {"arch": match["arch"]} if match["arch"] else None
            namespace = self.distro or "debian"
            purl = PackageURL(
                type="deb",
                namespace=namespace,
                name=match["name"],
                version=match["version"],
                qualifiers=qualifiers,
            )
            self.add(installer, purl)

    # -- apk ----------------------------------------------------------------------

    def apk(self, args: Sequence[str]) -> None:
        group: str | None = None
        positional: list[str] = []
        for option, value in _options(args, _APK_VALUES, "tXp"):
            if option in ("--virtual", "-t"):
                group = value
            elif option is None:
                positional.append(value)
        if not positional:
            return
        subcommand, rest = positional[0], positional[1:]
        if subcommand == "add":
            added = [index for word in rest if (index := self.apk_word(word)) is not None]
            if group is not None:
                self.groups.setdefault(group, []).extend(added)
        elif subcommand == "del":
            for word in rest:
                if word in self.groups:
                    self.remove(self.groups.pop(word))
                else:
                    match = _APK.fullmatch(word)
                    if match:
                        self.remove_names("apk", [match["name"]])

    def apk_word(self, word: str) -> int | None:
        if word.startswith(("so:", "cmd:", "pc:", "/", ".")) or word.endswith(".apk"):
            return None
        if not self.resolved(word):
            return None
        match = _APK.fullmatch(word)
        if match is None:
            return None
        op, version = match["op"], match["version"]
        purl = PackageURL(
            type="apk",
            namespace="alpine",
            name=match["name"],
            version=version if op == "=" else None,
        )
        return self.add("apk", purl, constraint=op + version if op and op != "=" else None)

    # -- rpm ----------------------------------------------------------------------

    def dnf(self, installer: str, args: Sequence[str]) -> None:
        positional = _positional(args, _DNF_VALUES, "xcdeR")
        if not positional:
            return
        subcommand, rest = positional[0], positional[1:]
        if subcommand in ("install", "reinstall"):
            for word in rest:
                self.rpm_word(installer, word)
        elif subcommand in ("remove", "erase"):
            self.remove_names("rpm", [_rpm_split(word)[0] for word in rest])

    def rpm_word(self, installer: str, word: str) -> None:
        if word.startswith("@") or "/" in word or word.endswith(".rpm"):
            return  # a group or module, a file it provides, a local or remote rpm
        if not self.resolved(word) or not _RPM_NAME.fullmatch(word):
            return
        name, version = _rpm_split(word)
        purl = PackageURL(type="rpm", namespace=self.distro or "redhat", name=name, version=version)
        self.add(installer, purl)

    # -- pypi ---------------------------------------------------------------------

    def python(self, args: Sequence[str]) -> None:
        for pos, word in enumerate(args):
            if word == "-m":
                if args[pos + 1 : pos + 2] == ["pip"]:
                    self.pip("pip", args[pos + 2 :])
                return
            if not word.startswith("-") or word == "-c":
                return

    def pip(self, installer: str, args: Sequence[str]) -> None:
        positional: list[str] = []
        for option, value in _options(args, _PIP_VALUES, "rceftC"):
            if option in ("-r", "--requirement", "-c", "--constraint"):
                self.note(
                    "requirements-file",
                    Severity.INFO,
                    f"{installer} installs from {_short(_render(value))!r}, which is not read",
                )
            elif option is None:
                positional.append(value)
        if positional[:1] != ["install"]:
            return
        words = positional[1:]
        pos = 0
        while pos < len(words):
            word = words[pos]
            if words[pos + 1 : pos + 2] == ["@"]:
                pos += 3  # name @ URL: a direct reference, not an index package
                continue
            pos += 1
            self.pip_word(installer, word)

    def pip_word(self, installer: str, word: str) -> None:
        if (
            word.startswith(".")
            or "/" in word
            or "\\" in word
            or word.endswith((".whl", ".zip", ".tar.gz", ".tar.bz2"))
        ):
            return  # a local path, a URL, an archive
        if not self.resolved(word):
            return
        try:
            requirement = Requirement(word)
        except InvalidRequirement:
            self.note(
                "invalid-requirement",
                Severity.INFO,
                f"{installer} argument {_short(word)!r} is not a requirement; skipped",
            )
            return
        if requirement.url:
            return
        specs = list(requirement.specifier)
        version: str | None = None
        constraint: str | None = None
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            version = specs[0].version
        elif specs:
            match = _PIP_SPEC.match(word)
            written = match["spec"] if match else str(requirement.specifier)
            constraint = "".join(written.split()).strip("()") or str(requirement.specifier)
        purl = PackageURL(type="pypi", name=requirement.name, version=version)
        self.add(installer, purl, constraint=constraint)

    # -- npm ----------------------------------------------------------------------

    def npm(self, installer: str, args: Sequence[str]) -> None:
        positional = _positional(args, _NPM_VALUES, "wFC")
        if positional[:1] in (["install"], ["i"], ["add"], ["in"]):
            for word in positional[1:]:
                self.npm_word(installer, word)

    def yarn(self, args: Sequence[str]) -> None:
        positional = _positional(args, _NPM_VALUES)
        if positional[:1] == ["global"]:
            positional = positional[1:]
        if positional[:1] == ["add"]:
            for word in positional[1:]:
                self.npm_word("yarn", word)

    def npm_word(self, installer: str, word: str) -> None:
        if word.startswith((".", "/", "~", "file:", "git", "http", "github:")) or "://" in word:
            return  # a folder, a tarball, a git or web URL
        if word.endswith((".tgz", ".tar.gz")) or not self.resolved(word):
            return
        at = word.find("@", 1)
        name, spec = (word, "") if at < 0 else (word[:at], word[at + 1 :])
        if spec.startswith("npm:"):  # an alias: the package is the one after npm:
            real = spec[4:]
            at = real.find("@", 1)
            name, spec = (real, "") if at < 0 else (real[:at], real[at + 1 :])
        if not _NPM_NAME.fullmatch(name) or (not name.startswith("@") and "/" in name):
            return  # user/repo is a GitHub shorthand
        scope, _, base = name.rpartition("/")
        exact = spec if _SEMVER.fullmatch(spec) else None
        constraint = spec if spec and not exact and spec != "latest" else None
        purl = PackageURL(type="npm", namespace=scope or None, name=base, version=exact)
        self.add(installer, purl, name=name, constraint=constraint)

    # -- gem ----------------------------------------------------------------------

    def gem(self, args: Sequence[str]) -> None:
        requested: str | None = None
        positional: list[str] = []
        for option, value in _options(args, _GEM_VALUES, "vinspP"):
            if option in ("-v", "--version"):
                requested = value
            elif option is None:
                positional.append(value)
        if positional[:1] != ["install"]:
            return
        for word in positional[1:]:
            if word.endswith(".gem") or "/" in word or not self.resolved(word):
                continue
            name, has_version, own = word.partition(":")
            if not _GEM_NAME.fullmatch(name):
                continue
            spec = (own if has_version else requested) or ""
            exact = _GEM_EXACT.fullmatch(spec.strip())
            purl = PackageURL(type="gem", name=name, version=exact[1] if exact else None)
            self.add("gem", purl, constraint=spec.strip() if spec and not exact else None)

    # -- golang -------------------------------------------------------------------

    def go(self, args: Sequence[str]) -> None:
        if args[:1] != ["install"]:
            return
        words: list[str] = []
        pos = 1
        while pos < len(args):
            word = args[pos]
            pos += 1
            if word.startswith("-"):
                name = word.lstrip("-")
                if "=" not in name and name in _GO_VALUES:
                    pos += 1
                continue
            words.append(word)
        for word in words:
            path, at, query = word.rpartition("@")
            if not at or not path or path.startswith((".", "/")) or query == "none":
                continue  # no version: the package of the current module
            if not self.resolved(word):
                continue
            version = query if _GO_EXACT.fullmatch(query) else None
            moving = query in ("latest", "upgrade", "patch")
            namespace, _, base = path.rpartition("/")
            purl = PackageURL(
                type="golang", namespace=namespace or None, name=base, version=version
            )
            self.add("go", purl, name=path, constraint=None if version or moving else query)


def _rpm_split(word: str) -> tuple[str, str | None]:
    """``(name, version)`` of a dnf argument; see the module notes for the heuristic.

    >>> _rpm_split("nodejs-18.19.0-1.el9"), _rpm_split("gcc-toolset-13"), _rpm_split("git")
    (('nodejs', '18.19.0-1.el9'), ('gcc-toolset-13', None), ('git', None))
    >>> _rpm_split("java-17-openjdk-17.0.9.0.9-2.el9")
    ('java-17-openjdk', '17.0.9.0.9-2.el9')
    """
    match = _RPM_NEVR.fullmatch(word)
    if match is None or not any(ch in match["evr"] for ch in ".-"):
        return word, None
    return match["name"], match["evr"]
