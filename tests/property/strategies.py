"""Hypothesis strategies that speak Dockerfile: shared by the property and differential tests."""

from __future__ import annotations

from hypothesis import strategies as st

KEYWORDS = [
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
    "HEALTHCHECK", "SHELL",
]  # fmt: skip

# Characters that mean something to BuildKit's parser or lexer, and some that do not.
TRICKY = [
    *list("\\`$'\"{}:-+?#%/<>=[], \t\r\n"),
    "${",
    "<<",
    "<<-",
    "\\\n",
    "`\n",
    "\ufeff",
    "\xa0",
    # Issue 14: what BuildKit reads byte by byte or with Go's case mapping.
    "\x85",
    "\u2028",
    "\u3000",
    "\u00e9",
    "\u212a",
    "\u017f",
    "\u0130",
    "\u0131",
    "WOR\u212aDIR ",
    "\u017fHELL ",
    "[1e999]",
    '["\\ud800"]',
    "[" * 30,
    "--network=",
    "--security=",
    "--device=",
    "--interval=",
    "--retries=",
    "NONE",
    "CMD ",
]

name = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
variable = st.from_regex(r"[A-Z][A-Z0-9_]{0,5}", fullmatch=True)
image = st.builds(
    lambda registry, path, tag: f"{registry}{path}{tag}",
    st.sampled_from(["", "ghcr.io/", "localhost:5000/", "docker.io/", "registry.acme.internal/"]),
    st.from_regex(r"[a-z][a-z0-9]{0,5}(/[a-z][a-z0-9]{0,5}){0,2}", fullmatch=True),
    st.sampled_from(["", ":1", ":3.12-slim", ":latest", ":bookworm", "@sha256:" + "ab" * 32]),
)


@st.composite
def random_case(draw: st.DrawFn, word: str) -> str:
    flags = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if f else c for c, f in zip(word, flags, strict=True))


def _piece() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(TRICKY),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
        name,
        variable.map(lambda v: "$" + v),
        variable.map(lambda v: "${" + v + "}"),
        variable.map(lambda v: "${" + v + ":-x}"),
        image,
        st.sampled_from(["--from=", "--mount=from=", "--platform=", "AS ", "--link", "scratch"]),
    )


@st.composite
def dockerfile_shaped(draw: st.DrawFn) -> str:
    """Text that looks like a Dockerfile, with every kind of oddity mixed in."""
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        keyword = draw(st.sampled_from([*KEYWORDS, "#", "# escape=`", "# syntax=x", "FOO", ""]))
        keyword = draw(random_case(keyword))
        rest = "".join(draw(st.lists(_piece(), max_size=8)))
        lines.append(f"{keyword} {rest}" if keyword else rest)
    end = draw(st.sampled_from(["\n", "\r\n", "\\\n"]))
    return end.join(lines)


@st.composite
def simple_dockerfile(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A plain, valid Dockerfile both parsers read alike, and the base of each stage.

    Global ARGs with image defaults, FROM lines that use them, literal
    images or earlier stage names, and RUN/COPY/ENV lines, some continued
    over several lines, with comments and blank lines between instructions.
    """
    lines: list[str] = []
    args: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 3))):
        key, value = draw(variable), draw(image)
        args[key] = value
        lines.append(f"ARG {key}={value}")
    bases: list[str] = []
    stages: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 3))
        if choice == 0 and args:
            key = draw(st.sampled_from(sorted(args)))
            text, base = draw(st.sampled_from([f"${key}", "${" + key + "}"])), args[key]
        elif choice == 1 and stages:
            text = base = draw(st.sampled_from(stages))
        else:
            text = base = draw(image)
        stage = f"s{index}{draw(name)}"
        lines.append(f"{draw(random_case('FROM'))} {text} AS {stage}")
        stages.append(stage)
        bases.append(base)
        for _ in range(draw(st.integers(0, 3))):
            words = draw(st.lists(name, min_size=1, max_size=5))
            kind = draw(st.sampled_from(["RUN", "COPY", "ENV", "#", ""]))
            if kind == "RUN":
                splits = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
                text = words[0] + "".join(
                    (" \\\n    " if split else " ") + word
                    for word, split in zip(words[1:], splits, strict=False)
                )
                lines.append(f"RUN {text}")
            elif kind == "COPY":
                lines.append(f"COPY {' '.join(words)} /dst/")
            elif kind == "ENV":
                lines.append(f"ENV {words[0].upper()}={words[-1]}")
            elif kind == "#":
                lines.append(f"# {' '.join(words)}")
            else:
                lines.append("")
    return "\n".join(lines) + "\n", bases
