"""The official library as a real fleet: build a corpus from docker-library's manifests,
then check imagegraph's graph against an independent reading of bashbrew's rules.

Usage::

    python benchmarks/official_images.py corpus --mirror /work/.mirror \
        --out /work/corpus/official-commits [--work-tree] [--head]
    python benchmarks/official_images.py check --corpus /work/corpus/official-commits \
        [--mirror /work/.mirror]

What it needs: bare git snapshots of ``docker-library/official-images`` and of every
GitHub repository its ``library/*`` manifests name, as ``<mirror>/<owner>+<name>/repo``
(the search tool's ``fetch`` lays them out so), ``git`` on the PATH, and the PyPI
package ``dockerfile`` (BuildKit's own parser, compiled; the reference side reads
Dockerfiles with it). Only read-only git commands are run on the snapshots
(``cat-file``, ``ls-tree``, ``log``, ``show``, ``for-each-ref``, ``rev-parse``);
nothing they bring is run.

``corpus`` lays out ``<out>`` as bashbrew would build it: ``library/<name>`` (the
manifests), ``src/<name>/<GitCommit>/`` (per manifest and commit an entry or an
architecture names, every Directory built at that commit, its files read from its
GitRepo), ``imagegraph.toml`` (one ``[[manifests]]`` per manifest, ``checkout =
"src/<name>/{commit}"``: imagegraph reads each entry and architecture from the
directory of its own GitCommit), ``corpus.json`` (what came from where) and
``.ready``. The snapshots are older than official-images' HEAD, so each manifest is
taken at its newest revision whose commits the snapshots all hold (else HEAD, the
missing commits read at their GitFetch branch, else HEAD: their files are laid out
under the commit the manifest names, since that is where imagegraph looks). Blobs a
snapshot lacks (large tarballs) and links out of the checkout are left out and
counted. ``--work-tree`` lays out one checkout per manifest instead, ``src/<name>/``,
as a user with one work tree has it: one Directory cannot be there at two commits,
so the first entry in the manifest wins and the conflict is recorded. Every entry of
the official library names its GitCommit, as a 40-digit id; a manifest with one that
is missing or no commit id (imagegraph refuses to make a path of it) would be laid
out as one work tree, and the corpus says so.

``check`` reads the manifests with its own parser (header defaults, ``<arch>-``
overrides, SharedTags), and for every official tag ``<repo>:<tag>`` takes as its
parents the union, over every entry carrying the tag and every architecture of the
entry, of the images that architecture's Dockerfile is built FROM or copies from
(``COPY --from``, ``RUN --mount=from=``), read from the snapshot at the entry's own
commit with BuildKit's parser: stage names (earlier ones for FROM, any for --from)
and ``scratch`` excluded, global ARG defaults and the automatic platform ARGs
substituted, references normalised (``docker.io/library/``, ``:latest``); an entry
with ``Builder: oci-import`` has none. What BuildKit refuses the reference refuses too.
imagegraph's side is ``imagegraph.scan(corpus)``: per tag, the union over the builds
carrying it of the references their edges name (``Edge.value``); the same through
``parents(tag)`` and ``edges(parent, tag)``; the same per (tag, architecture) with the builds serving that platform; and each edge to a fleet
build is checked to go to a build with that reference as a tag that serves one of the
child's platforms, every such build being linked. A disagreement is diagnosed
``corpus conflict`` when the checkout holds another commit's Dockerfile than the entry
names (the checkout is the manifest's work tree or the commit's directory, as the
corpus was laid out). Last come every Dockerfile-named file of the corpus and :data:`CASES`
(hand-written), read by both sides for one platform.

Measured 2026-12-06 on a 2-core machine (official-images 37079fb336, 144 manifests, 87
of them at an older revision; gcc, perl, archlinux and ubuntu's OCI layouts not to be
had), imagegraph at 8fc120b (the same at a6bf947). One directory per commit
(/work/corpus/official-commits: 2152 directories in 373 commit directories, 0 conflicts,
laid out in 82 s; each of the 2031 Dockerfiles the manifests name at a commit is there
as at that commit, where the work tree holds 148 of them at another commit): of 9206
official tags 8975 are checkable and imagegraph agrees on all 8975 (100.00%), the same
through the public API (``parents(tag)``, ``edges(parent, tag)``), and on all 33822
(tag, architecture) pairs; 2293 builds, 3388 edges; no edge to a fleet build that serves
none of the child's platforms (24 before 9de1194: clojure on the eclipse-temurin Windows
builds); 14 children with a platform no build of their parent serves (clojure on
eclipse-temurin without riscv64, geonetwork on tomcat without arm/v7: the library's own
gap); scan 1.8-2.0 s without cache, 1.3-1.8 s filling it, 0.12 s from it (the work tree:
1.4-2.0, 1.3-1.4, 0.11). One work tree per manifest (/work/corpus/official,
``--work-tree``: 1837 directories, 93 conflicts): 8920 of 8975 (99.39%), 33717 of 33822
pairs (99.69%); the other 55 tags are bonita, elasticsearch, kibana, kong, logstash and
sonarqube entries whose Directory holds another entry's commit (kong 3.4 and 3.8 are on
jammy, 3.9 on noble), and imagegraph reads what is there (``library-arch-source`` 63,
``library-git-fetch`` 52 warn of it, none per commit). Earlier, on the work tree: 95.87%
through the public API before H1's multi-platform commits (288771a), where a tag several
entries share named only its first build. Of the corpus's 2325 Dockerfile-named files
(2187 distinct) none differs: 2315 agree, both sides refuse 10 (work tree: 2079 and 5 of
2084). Of the 40 hand-written cases, 36 agree: imagegraph does not substitute TARGETARCH
in FROM for a one-platform build, and takes ``COPY --from=scratch`` /
``--mount=from=scratch`` for an image to pull (BuildKit uses an empty filesystem). Full
output: /tmp/s14/official-commits.txt (per commit), official-worktree.txt (work tree),
official-before.txt and official-after.txt (H1).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OFFICIAL = "docker-library+official-images"

# bashbrew's architecture names and the platforms they stand for.
PLATFORMS = {
    "amd64": ("linux", "amd64", ""),
    "arm32v5": ("linux", "arm", "v5"),
    "arm32v6": ("linux", "arm", "v6"),
    "arm32v7": ("linux", "arm", "v7"),
    "arm64v8": ("linux", "arm64", "v8"),
    "i386": ("linux", "386", ""),
    "loong64": ("linux", "loong64", ""),
    "mips64le": ("linux", "mips64le", ""),
    "ppc64le": ("linux", "ppc64le", ""),
    "riscv64": ("linux", "riscv64", ""),
    "s390x": ("linux", "s390x", ""),
    "windows-amd64": ("windows", "amd64", ""),
}
ARCH_FIELDS = ("GitRepo", "GitFetch", "GitCommit", "Directory", "File")


# -- git, read only ----------------------------------------------------------


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def has_commit(repo: Path, commit: str) -> bool:
    found = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
    )
    return found.returncode == 0


class Blobs:
    """``git cat-file --batch`` (or ``--batch-check``) on one snapshot: many objects
    read through one process."""

    def __init__(self, repo: Path, *, check: bool = False) -> None:
        self.process = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch-check" if check else "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def _ask(self, name: str) -> list[str]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{name}\n".encode("utf-8", "surrogateescape"))
        self.process.stdin.flush()
        return self.process.stdout.readline().decode().split()

    def has(self, commit: str) -> bool:
        header = self._ask(f"{commit}^{{commit}}")
        return len(header) >= 2 and header[1] == "commit"

    def read(self, commit: str, path: str) -> bytes | None:
        assert self.process.stdout is not None
        header = self._ask(f"{commit}:{path}")
        if len(header) < 3 or header[1] == "missing":
            return None
        size = int(header[2])
        body = self.process.stdout.read(size)
        self.process.stdout.read(1)
        return body if header[1] == "blob" else None

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def mirror_of(url: str, mirror: Path) -> Path | None:
    """The snapshot of a GitRepo URL, if it is a GitHub one and was fetched."""
    match = re.fullmatch(r"(?:https?|git)://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url)
    if match is None:
        return None
    repo = mirror / f"{match[1]}+{match[2]}" / "repo"
    return repo if (repo / "objects").is_dir() or (repo / "HEAD").is_file() else None


# -- bashbrew's manifests, read here independently ---------------------------


@dataclass
class Entry:
    """One entry with the header's defaults applied, as bashbrew reads it."""

    line: int
    tags: list[str]
    shared_tags: list[str]
    architectures: list[str]
    values: dict[str, str]
    arch_values: dict[str, str]

    def get(self, name: str, arch: str | None = None) -> str:
        if arch is not None and name in ARCH_FIELDS:
            value = self.arch_values.get(f"{arch}-{name}", "")
            if value:
                return value
        return self.values.get(name, "")

    def directory(self, arch: str) -> str:
        return clean(self.get("Directory", arch) or ".")

    def file(self, arch: str) -> str:
        return self.get("File", arch) or "Dockerfile"

    @property
    def builder(self) -> str:
        return self.values.get("Builder", "")


def clean(directory: str) -> str:
    return posixpath.normpath(directory.strip().lstrip("/") or ".")


def blocks(text: str) -> list[tuple[int, dict[str, str]]]:
    """RFC 2822-like paragraphs: comment lines dropped, continuation lines joined."""
    found: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    last = ""
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.lstrip().startswith("#"):
            continue
        if not raw.strip():
            current = None
            continue
        if raw[0] in " \t" and current is not None and last:
            current[last] += "\n" + raw.strip()
            continue
        name, _, value = raw.partition(":")
        if current is None:
            current = {}
            found.append((number, current))
        last = name.strip()
        current[last] = value.strip()
    return found


def listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def read_manifest(text: str) -> list[Entry]:
    paragraphs = blocks(text)
    if not paragraphs:
        return []
    (_, header), rest = paragraphs[0], paragraphs[1:]
    defaults = {"GitFetch": "refs/heads/master", "Directory": ".", "File": "Dockerfile"}

    def arch_fields(fields: Mapping[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in fields.items()
            if "-" in k and k.rsplit("-", 1)[1] in ARCH_FIELDS and k.rsplit("-", 1)[0]
        }

    entries: list[Entry] = []
    for line, fields in rest:
        values = {**defaults, **header, **fields}
        arches = listed(fields.get("Architectures", "")) or listed(header.get("Architectures", ""))
        shared = listed(fields.get("SharedTags", "")) or listed(header.get("SharedTags", ""))
        entry = Entry(
            line=line,
            tags=listed(fields.get("Tags", "")),
            shared_tags=list(dict.fromkeys(shared)),
            architectures=sorted(set(arches or ["amd64"])),
            values=values,
            arch_values={**arch_fields(header), **arch_fields(fields)},
        )
        entries.append(entry)
    return entries


def manifests(mirror: Path) -> dict[str, str]:
    """Every ``library/<name>`` of the official-images snapshot, by name."""
    repo = mirror / OFFICIAL / "repo"
    names = git(repo, "ls-tree", "--name-only", "HEAD", "library/").decode().split()
    return {
        posixpath.basename(name): git(repo, "show", f"HEAD:{name}").decode("utf-8")
        for name in names
    }


# -- the corpus --------------------------------------------------------------


@dataclass
class Claim:
    """One entry's (or architecture's) directory at one commit."""

    manifest: str
    directory: str
    url: str
    fetch: str
    commit: str
    arch: str
    line: int
    tags: list[str]


@dataclass
class Resolution:
    commit: str
    reason: str = ""


def resolve_commit(repo: Path, commit: str, fetch: str) -> Resolution:
    """The commit to read: the one named, else the GitFetch ref's tip, else HEAD."""
    if has_commit(repo, commit):
        return Resolution(commit)
    refs = git(repo, "for-each-ref", "--format=%(objectname) %(refname)").decode().split("\n")
    for row in refs:
        objectname, _, refname = row.partition(" ")
        if refname == fetch:
            return Resolution(objectname, f"{commit} not in the snapshot; used {fetch}")
    head = git(repo, "rev-parse", "HEAD").decode().strip()
    return Resolution(head, f"{commit} not in the snapshot (nor {fetch}); used HEAD")


def claims_of(name: str, entries: Iterable[Entry]) -> Iterator[Claim]:
    for entry in entries:
        for arch in entry.architectures:
            yield Claim(
                name,
                entry.directory(arch),
                entry.get("GitRepo", arch),
                entry.get("GitFetch", arch),
                entry.get("GitCommit", arch),
                arch,
                entry.line,
                entry.tags,
            )


def extract(repo: Path, commit: str, directory: str, into: Path, blobs: Blobs) -> list[str]:
    """The files of *directory* at *commit* written under *into*, read blob by blob
    (``git archive`` stops at the first blob a snapshot lacks: its large tarballs);
    what could not be written (absent blob, link out of the checkout, submodule)."""
    args = ["ls-tree", "-r", "-z", commit]
    if directory != ".":
        args += ["--", directory]
    listing = git(repo, *args).decode("utf-8", "surrogateescape").split("\0")
    if directory != "." and not any(listing):
        raise LookupError(f"{directory} is not in {commit}")
    skipped: list[str] = []
    base = into.resolve()
    for row in listing:
        if not row:
            continue
        meta, _, path = row.partition("\t")
        mode, kind, _ = meta.split()
        target = into / path
        if kind != "blob" or ".." in path.split("/"):
            skipped.append(f"{path}: {kind}")
            continue
        body = blobs.read(commit, path)
        if body is None:
            skipped.append(f"{path}: blob absent from the snapshot")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            link = os.fsdecode(body)
            resolved = (target.parent / link).resolve()
            if link.startswith("/") or not resolved.is_relative_to(base):
                skipped.append(f"{path}: link out of the checkout ({link})")
                continue
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to(link)
            continue
        if target.is_symlink():
            target.unlink()
        target.write_bytes(body)
        if mode == "100755":
            target.chmod(0o755)
    return skipped


def choose_revision(
    official: Path, name: str, mirror: Path, present: dict[Path, Blobs], depth: int = 300
) -> tuple[str, str, int, int]:
    """The newest revision of ``library/<name>`` whose commits the snapshots all hold
    (the snapshots are older than official-images' own): (revision, text, revisions
    back, commits missing); if none of the last *depth* does, the one missing fewest."""
    revisions = git(official, "log", f"-{depth}", "--format=%H", "--", f"library/{name}")
    best: tuple[int, int, str, str] | None = None
    for back, revision in enumerate(revisions.decode().split()):
        try:
            text = git(official, "show", f"{revision}:library/{name}").decode("utf-8")
        except subprocess.CalledProcessError:
            continue  # the file was removed at that revision
        missing = 0
        for claim in claims_of(name, read_manifest(text)):
            repo = mirror_of(claim.url, mirror)
            if repo is None:
                continue
            if repo not in present:
                present[repo] = Blobs(repo, check=True)
            if not present[repo].has(claim.commit):
                missing += 1
        if missing == 0:
            return revision, text, back, 0
        if best is None or missing < best[0]:
            best = (missing, back, revision, text)
    assert best is not None
    return best[2], best[3], best[1], best[0]


COMMIT_ID = re.compile(r"[0-9a-f]{7,64}")
"""A GitCommit that may name a checkout directory (imagegraph refuses any other there)."""


def build_corpus(mirror: Path, out: Path, *, head: bool = False, work_tree: bool = False) -> None:
    started = time.perf_counter()
    official = mirror / OFFICIAL / "repo"
    names = [
        posixpath.basename(n)
        for n in git(official, "ls-tree", "--name-only", "HEAD", "library/").decode().split()
    ]
    final, out = out, out.with_name(out.name + ".new")  # swapped in once whole
    if out.exists():
        shutil.rmtree(out)
    (out / "library").mkdir(parents=True)
    record: dict[str, Any] = {
        "official_images": git(official, "rev-parse", "HEAD").decode().strip(),
        "layout": "work-tree" if work_tree else "commits",
        "work_tree_manifests": [],
        "revisions": {},
        "unavailable": {},
        "missing_commits": [],
        "conflicts": [],
        "extracted": {},
        "skipped_files": collections.Counter(),
    }
    config = ["# generated by benchmarks/official_images.py corpus", ""]
    resolved: dict[tuple[str, str], Resolution] = {}
    checks: dict[Path, Blobs] = {}
    readers: dict[Path, Blobs] = {}
    for name in sorted(names):
        if head:
            revision, back, missing = "HEAD", 0, -1
            text = git(official, "show", f"HEAD:library/{name}").decode("utf-8")
        else:
            revision, text, back, missing = choose_revision(official, name, mirror, checks)
        record["revisions"][name] = {"revision": revision, "back": back, "missing": missing}
        (out / "library" / name).write_text(text, encoding="utf-8")
        claims = list(claims_of(name, read_manifest(text)))
        # One directory per GitCommit, as bashbrew checks each entry out at its own
        # commit; a manifest with a GitCommit that is no commit id (none in the
        # official library) is laid out as one work tree, since imagegraph refuses
        # to make a path of it.
        per_commit = not work_tree and all(COMMIT_ID.fullmatch(c.commit) for c in claims)
        if not work_tree and not per_commit:
            record["work_tree_manifests"].append(name)
        config += [
            "[[manifests]]",
            f'path = "library/{name}"',
            f'checkout = "src/{name}/{{commit}}"' if per_commit else f'checkout = "src/{name}"',
            f'repository = "{name}"',
            "",
        ]
        # (checkout directory, Directory) -> the claims on it; the first one wins.
        units: dict[tuple[str, str], list[Claim]] = {}
        for claim in claims:
            checkout_name = f"{name}/{claim.commit}" if per_commit else name
            units.setdefault((checkout_name, claim.directory), []).append(claim)
        done: dict[str, list[tuple[str, str]]] = {}  # checkout -> (Directory, commit) written
        # Shallow directories first, so a nested one gets its own commit.
        for checkout_name, directory in sorted(
            units, key=lambda u: (u[1].count("/"), u[1] != ".", u)
        ):
            unit = units[checkout_name, directory]
            winner = unit[0]  # the first in the manifest: mostly its newest entry
            where = f"{checkout_name}:{directory}"
            repo = mirror_of(winner.url, mirror)
            if repo is None:
                record["unavailable"].setdefault(winner.url, []).append(where)
                continue
            key = (str(repo), winner.commit)
            if key not in resolved:
                resolved[key] = resolve_commit(repo, winner.commit, winner.fetch)
                if resolved[key].reason:
                    record["missing_commits"].append(
                        {"manifest": name, "repo": winner.url, "reason": resolved[key].reason}
                    )
            used = resolved[key].commit
            if len({(c.url, c.commit) for c in unit}) > 1:
                record["conflicts"].append(
                    {
                        "manifest": name,
                        "directory": directory,
                        "used": f"{winner.url}@{winner.commit} ({winner.arch}, line {winner.line})",
                        "others": sorted(
                            f"{c.url}@{c.commit} ({c.arch}, line {c.line})"
                            for c in unit
                            if (c.url, c.commit) != (winner.url, winner.commit)
                        ),
                    }
                )
            checkout = out / "src" / checkout_name
            checkout.mkdir(parents=True, exist_ok=True)
            written = done.setdefault(checkout_name, [])
            if per_commit and any(
                outer == "." or directory.startswith(outer + "/") for outer, _ in written
            ):
                # Already written with a directory around it (one commit per checkout;
                # in one work tree a directory between them may hold another commit).
                record["extracted"][where] = {"repo": winner.url, "commit": used}
                continue
            target = checkout / directory
            if directory != "." and (target.exists() or target.is_symlink()):
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            if repo not in readers:
                readers[repo] = Blobs(repo)
            try:
                skipped = extract(repo, used, directory, checkout, readers[repo])
            except (LookupError, subprocess.CalledProcessError) as err:
                record["unavailable"].setdefault(winner.url, []).append(f"{where}@{used}: {err}")
                continue
            written.append((directory, used))
            for why in skipped:
                record["skipped_files"][why.rpartition(": ")[2].split(" (")[0]] += 1
            record["extracted"][where] = {"repo": winner.url, "commit": used}
    for blobs in [*checks.values(), *readers.values()]:
        blobs.close()
    (out / "imagegraph.toml").write_text("\n".join(config), encoding="utf-8")
    (out / "corpus.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    old = final.with_name(final.name + ".old")
    if final.exists():
        final.rename(old)  # swapped by renames: a reader of the old corpus loses it briefly
    out.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    out = final
    (out / ".ready").touch()
    print(
        f"corpus: {out} ({len(names)} manifests, {record['layout']} layout) in "
        f"{time.perf_counter() - started:.1f}s"
    )
    if record["work_tree_manifests"]:
        print(
            "  laid out as one work tree (a GitCommit that is no commit id): "
            + ", ".join(record["work_tree_manifests"])
        )
    moved = {n: r for n, r in record["revisions"].items() if r["back"]}
    if not head:
        print(
            f"  manifests taken at an older revision (the newest whose commits the snapshots "
            f"hold): {len(moved)}; manifests still missing commits: "
            f"{sum(1 for r in record['revisions'].values() if r['missing'] > 0)}"
        )
    checkouts = {where.rpartition(":")[0] for where in record["extracted"]}
    print(
        f"  directories extracted: {len(record['extracted'])}, in {len(checkouts)} checkout "
        "directories"
    )
    print(f"  files not written: {dict(record['skipped_files'])}")
    print(f"  unavailable repositories or directories: {len(record['unavailable'])}")
    for url, where in sorted(record["unavailable"].items()):
        print(f"    {url}: {len(where)} directories, e.g. {where[0]}")
    print(f"  commits missing from the snapshot: {len(record['missing_commits'])}")
    for missing in record["missing_commits"]:
        print(f"    {missing['manifest']}: {missing['repo']}: {missing['reason']}")
    print(f"  conflicts (one directory, several commits): {len(record['conflicts'])}")
    by_manifest = collections.Counter(c["manifest"] for c in record["conflicts"])
    if by_manifest:
        print("    " + ", ".join(f"{m} {n}" for m, n in sorted(by_manifest.items())))


# -- the reference: bashbrew's parents, read here ---------------------------

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def escape_of(text: str) -> str:
    """The escape character a Dockerfile's parser directives set (``\\`` by default)."""
    for line in text.splitlines():
        match = _DIRECTIVE.fullmatch(line.strip())
        if match is None:
            break
        if match[1].lower() == "escape" and match[2] in ("`", "\\"):
            return match[2]
    return "\\"


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """BuildKit's single-word expansion as FROM and --from see it: quotes removed,
    ``$V``, ``${V}``, ``${V:-x}``, ``${V-x}``, ``${V:+x}``, ``${V+x}``; an unset
    variable is empty."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        c = word[i]
        if c == escape and quote != "'" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
        elif c in "\"'" and (not quote or quote == c):
            quote = "" if quote else c
            i += 1
        elif c == "$" and quote != "'" and i + 1 < len(word):
            if word[i + 1] == "{":
                end, depth = i + 2, 1
                while end < len(word) and depth:
                    depth += {"{": 1, "}": -1}.get(word[end], 0)
                    end += 1
                body = word[i + 2 : end - 1]
                i = end
                match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", body)
                name = match[0] if match else body
                rest = body[len(name) :]
                value = env.get(name)
                if rest[:2] in (":-", ":+") or rest[:1] in ("-", "+"):
                    colon = rest.startswith(":")
                    op = rest[1] if colon else rest[0]
                    alt = expand(rest[2 if colon else 1 :], env, escape)
                    is_set = value is not None and (value != "" or not colon)
                    if op == "-":
                        out.append(value if is_set and value is not None else alt)
                    else:
                        out.append(alt if is_set else "")
                else:
                    out.append(value or "")
            else:
                match = _NAME.match(word, i + 1)
                if match is None:
                    out.append(c)
                    i += 1
                else:
                    out.append(env.get(match[0]) or "")
                    i = match.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def platform_args(arch: str) -> dict[str, str]:
    os_, cpu, variant = PLATFORMS[arch]
    target = "/".join(p for p in (os_, cpu, variant) if p)
    return {
        "TARGETPLATFORM": target,
        "TARGETOS": os_,
        "TARGETARCH": cpu,
        "TARGETVARIANT": variant,
        "BUILDPLATFORM": "linux/amd64",
        "BUILDOS": "linux",
        "BUILDARCH": "amd64",
        "BUILDVARIANT": "",
    }


@dataclass
class Read:
    """The parents of one Dockerfile for one architecture."""

    parents: set[str] = field(default_factory=set)
    reachable: set[str] = field(default_factory=set)
    """Only the stages the last one needs (what BuildKit builds by default)."""
    expanded: bool = False
    """A variable was substituted in an image reference."""
    copied: bool = False
    """A parent comes from ``COPY --from`` or ``RUN --mount=from=``."""
    error: str = ""


INSTRUCTIONS = frozenset(
    (
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK"),
        *("LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME"),
        "WORKDIR",
    )
)


def dockerfile_parents(text: str, arch: str) -> Read:
    import dockerfile  # type: ignore[import-not-found]

    read = Read()
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as err:
        read.error = f"parse error: {err}"
        return read
    unknown = sorted({c.cmd for c in commands if c.cmd.upper() not in INSTRUCTIONS})
    if unknown:
        # BuildKit parses such a file, then refuses it: "unknown instruction".
        read.error = f"unknown instruction: {unknown[0]}"
        return read
    escape = escape_of(text)
    auto = platform_args(arch)
    meta: dict[str, str | None] = {}
    names: list[str | None] = []  # stage names, lowercased
    uses: list[list[tuple[str, str]]] = []  # per stage: (kind, reference as expanded)
    stage_env: dict[str, str] = {}

    def visible(values: Mapping[str, str | None]) -> dict[str, str]:
        return {k: v for k, v in values.items() if v is not None}

    for command in commands:
        keyword = command.cmd.upper()
        if keyword == "FROM":
            if not command.value:
                continue
            env = {**auto, **visible(meta)}
            image = expand(command.value[0], env, escape)
            read.expanded |= "$" in command.value[0]
            name = (
                command.value[2].lower()
                if len(command.value) >= 3 and command.value[1].lower() == "as"
                else None
            )
            uses.append([("from", image)])
            names.append(name)
            stage_env = {}
        elif keyword == "ARG":
            for item in command.value:
                key, eq, default = item.partition("=")
                if not names:
                    env = {**auto, **visible(meta)}
                    meta[key] = expand(default, env, escape) if eq else auto.get(key)
                else:
                    outer = meta.get(key, auto.get(key)) if key in meta or key in auto else None
                    if eq:
                        stage_env[key] = expand(default, stage_env, escape)
                    elif outer is not None:
                        stage_env[key] = outer
        elif keyword == "ENV" and names:
            pairs = list(command.value)
            for key, value in zip(pairs[::2], pairs[1::2], strict=False):
                stage_env[key] = expand(value, stage_env, escape)
        elif keyword == "ADD" and any(f.startswith("--from") for f in command.flags):
            read.error = f"line {command.start_line}: ADD has no --from"
            return read
        elif keyword in ("COPY", "RUN") and names:
            for flag in command.flags:
                option, _, value = flag.partition("=")
                if option.lower() in ("--from", "--mount") and option not in ("--from", "--mount"):
                    read.error = f"line {command.start_line}: unknown flag {option}"  # case counts
                    return read
                if keyword == "COPY" and option == "--from":
                    if "$" in value:
                        # BuildKit refuses it: "variable expansion is not supported for --from".
                        read.error = f"line {command.start_line}: a variable in COPY --from"
                        return read
                    uses[-1].append(("copy", value))
                elif keyword == "RUN" and option == "--mount":
                    for part in value.split(","):
                        key, _, found = part.partition("=")
                        if key.strip().lower() == "from":
                            if "$" in found:
                                # BuildKit refuses it: "'from' doesn't support variable expansion".
                                read.error = (
                                    f"line {command.start_line}: a variable in --mount from"
                                )
                                return read
                            uses[-1].append(("mount", found))
    every = {n for n in names if n}
    needs: list[set[int]] = []
    for index, stage_uses in enumerate(uses):
        deps: set[int] = set()
        for kind, image in stage_uses:
            lowered = image.lower()
            earlier = {n: i for i, n in enumerate(names[:index]) if n}
            if kind == "from" and lowered in earlier:
                deps.add(earlier[lowered])
            elif kind != "from" and image.isdigit():
                deps.add(int(image))
            elif kind != "from" and lowered in every:
                deps.add(names.index(lowered))
            elif lowered != "scratch" and image:
                if not valid(image):
                    read.error = f"{image!r} is not an image reference"
                    return read
                read.parents.add(normalise(image))
                read.copied |= kind != "from"
        needs.append(deps)
    # What the last stage needs, through its stages.
    todo, seen = [len(uses) - 1], set()
    while todo:
        index = todo.pop()
        if index in seen or not 0 <= index < len(uses):
            continue
        seen.add(index)
        todo.extend(needs[index])
    for index in seen:
        names_here = {n for n in names[:index] if n}
        for kind, image in uses[index]:
            lowered = image.lower()
            if kind == "from" and lowered in names_here:
                continue
            if kind != "from" and (image.isdigit() or lowered in every):
                continue
            if lowered != "scratch" and image:
                read.reachable.add(normalise(image))
    return read


_REFERENCE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)


def valid(reference: str) -> bool:
    """The distribution reference grammar, in short (a tag is never empty)."""
    return _REFERENCE.fullmatch(reference) is not None


def normalise(reference: str) -> str:
    """docker's normalisation: ``docker.io/library/`` for a bare name, ``:latest`` when
    no tag or digest is given."""
    name, at, digest = reference.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "")
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", repository
    if registry == "index.docker.io":
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not tag and not at:
        tag = "latest"
    return f"{registry}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if at else "")


@dataclass
class Source:
    """One architecture of one entry: what bashbrew builds for it."""

    manifest: str
    line: int
    arch: str
    url: str
    commit: str
    path: str
    imported: bool
    named: str = ""
    """The GitCommit as the manifest names it (``commit`` is the one read)."""
    read: Read | None = None
    unavailable: str = ""
    body: bytes = b""


def reference(corpus: Path, mirror: Path) -> tuple[dict[str, list[Source]], dict[str, Any]]:
    """Every official tag (``docker.io/library/<repo>:<tag>``) -> what builds it."""
    record = json.loads((corpus / "corpus.json").read_text())
    tags: dict[str, list[Source]] = {}
    blobs: dict[Path, Blobs] = {}
    parsed: dict[tuple[bytes, str], Read] = {}
    resolved: dict[tuple[Path, str, str], str] = {}
    for manifest in sorted((corpus / "library").iterdir()):
        name = manifest.name
        for entry in read_manifest(manifest.read_text(encoding="utf-8")):
            sources = []
            for arch in entry.architectures:
                url, commit = entry.get("GitRepo", arch), entry.get("GitCommit", arch)
                path = posixpath.normpath(posixpath.join(entry.directory(arch), entry.file(arch)))
                source = Source(
                    name, entry.line, arch, url, commit, path, entry.builder == "oci-import", commit
                )
                sources.append(source)
                if source.imported:
                    continue
                repo = mirror_of(url, mirror)
                if repo is None:
                    source.unavailable = f"{url} not fetched"
                    continue
                if repo not in blobs:
                    blobs[repo] = Blobs(repo)
                key = (repo, commit, entry.get("GitFetch", arch))
                if key not in resolved:
                    resolved[key] = resolve_commit(repo, commit, key[2]).commit
                source.commit = resolved[key]
                body = blobs[repo].read(source.commit, path)
                if body is None:
                    source.unavailable = f"{path} not at {source.commit[:12]}"
                    continue
                if (body, arch) not in parsed:
                    parsed[body, arch] = dockerfile_parents(body.decode("utf-8", "replace"), arch)
                source.read = parsed[body, arch]
                source.body = body
            for tag in [*entry.tags, *entry.shared_tags]:
                tags.setdefault(f"docker.io/library/{name}:{tag}", []).extend(sources)
    for reader in blobs.values():
        reader.close()
    return tags, record


# -- the check ---------------------------------------------------------------


def run_check(corpus: Path, mirror: Path) -> int:
    import imagegraph

    print(f"imagegraph: {Path(imagegraph.__file__).parent}")
    started = time.perf_counter()
    tags, record = reference(corpus, mirror)
    print(f"reference read in {time.perf_counter() - started:.1f}s")
    revisions = record["revisions"].values()
    print(
        f"corpus: official-images {record['official_images'][:10]}, "
        f"{record.get('layout', 'work-tree')} layout, "
        f"{len(record['revisions'])} manifests ({sum(1 for r in revisions if r['back'])} at an "
        f"older revision, the newest whose commits the snapshots hold), "
        f"{len(record['extracted'])} directories, {len(record['conflicts'])} conflicts, "
        f"{len(record['missing_commits'])} commits missing"
    )
    timings = {}
    started = time.perf_counter()
    graph = imagegraph.scan(corpus, cache=False)
    timings["scan, no cache"] = time.perf_counter() - started
    cache = corpus.with_name(corpus.name + ".cache")
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["IMAGEGRAPH_CACHE_DIR"] = str(cache)
    for label in ("scan, cache filled", "scan, from the cache"):
        started = time.perf_counter()
        imagegraph.scan(corpus, cache=True)
        timings[label] = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    view = graph.nx
    builds = [n for n, d in view.nodes(data=True) if d["kind"] == "build"]
    print(
        f"graph: {len(builds)} builds, {view.number_of_nodes() - len(builds)} external images, "
        f"{view.number_of_edges()} edges ({sum(len(d['uses']) for *_, d in view.edges(data=True))}"
        " uses)"
    )
    for label, seconds in timings.items():
        print(f"  {label}: {seconds:.2f}s")
    codes = collections.Counter(d.code for d in graph.diagnostics)
    print("diagnostics: " + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())))

    # imagegraph's side: tag -> builds carrying it -> the references their edges name.
    carriers: dict[str, list[str]] = {}
    for node in builds:
        for tag in view.nodes[node]["build"].tags:
            carriers.setdefault(normalise(str(tag)), []).append(node)
    named: dict[str, set[str]] = {}
    wrong_edges: list[str] = []
    unserved: list[str] = []
    for node in builds:
        child = view.nodes[node]["build"]
        refs = named.setdefault(node, set())
        linked: dict[str, set[str]] = {}
        for parent in view.predecessors(node):
            data = view.nodes[parent]
            for use in view.edges[parent, node]["uses"]:
                if use.value is None:
                    continue
                value = normalise(use.value)
                refs.add(value)
                if data["kind"] == "build":
                    linked.setdefault(value, set()).add(parent)
        wanted = set(child.platforms)
        for value, parents in sorted(linked.items()):
            for parent in sorted(parents):
                owner = view.nodes[parent]["build"]
                if value not in {normalise(str(t)) for t in owner.tags}:
                    wrong_edges.append(f"{node} -> {parent}: {value} is no tag of {parent}")
                elif wanted and owner.platforms and not wanted & set(owner.platforms):
                    wrong_edges.append(
                        f"{node} -> {parent} ({value}): serves none of {sorted(wanted)}"
                    )
            # Every build of the tag serving one of the child's platforms is linked.
            serving = {
                b
                for b in carriers.get(value, [])
                if not wanted
                or not view.nodes[b]["build"].platforms
                or wanted & set(view.nodes[b]["build"].platforms)
            }
            if serving - parents:
                wrong_edges.append(
                    f"{node}: {value} is also built for its platforms by "
                    f"{', '.join(sorted(serving - parents))}, not linked"
                )
            served = {p for b in parents for p in view.nodes[b]["build"].platforms}
            if wanted and served and wanted - served:
                unserved.append(
                    f"{node} ({value}): no build of it serves {', '.join(sorted(wanted - served))}"
                )

    checked = agree = 0
    arch_checked = arch_agree = 0
    arch_differ: list[str] = []
    platform_differ: list[str] = []
    api_agree = 0
    unavailable: list[str] = []
    disagreements: list[tuple[str, tuple[str, str], set[str], set[str], list[Source]]] = []
    unreachable_only = 0
    for tag, sources in sorted(tags.items()):
        if any(s.unavailable for s in sources):
            unavailable.append(tag)
            continue
        checked += 1
        expected: set[str] = set()
        expected_reachable: set[str] = set()
        for source in sources:
            if source.read is not None:
                expected |= source.read.parents
                expected_reachable |= source.read.reachable
        got: set[str] = set()
        for node in carriers.get(tag, []):
            got |= named[node]
        # The same, one architecture at a time: the builds serving its platform.
        for arch in sorted({s.arch for s in sources}):
            platform = "/".join(p for p in PLATFORMS[arch] if p)
            arch_expected = set().union(
                *(s.read.parents for s in sources if s.arch == arch and s.read is not None)
            )
            arch_got = set().union(
                *(
                    named[n]
                    for n in carriers.get(tag, [])
                    if platform in view.nodes[n]["build"].platforms
                )
            )
            arch_checked += 1
            if arch_got == arch_expected:
                arch_agree += 1
            elif len(arch_differ) < 10_000:
                arch_differ.append(
                    f"{tag.removeprefix('docker.io/library/')} {arch}: reference only "
                    f"{sorted(arch_expected - arch_got)}, imagegraph only "
                    f"{sorted(arch_got - arch_expected)}"
                )
        platforms = {"/".join(p for p in PLATFORMS[s.arch] if p) for s in sources}
        built_for = {p for n in carriers.get(tag, []) for p in view.nodes[n]["build"].platforms}
        if platforms != built_for:
            platform_differ.append(
                f"{tag.removeprefix('docker.io/library/')}: manifest {sorted(platforms)}, "
                f"imagegraph {sorted(built_for)}"
            )
        # The same through the public API: parents(tag), then edges(parent, tag).
        try:
            api = {
                normalise(use.value)
                for parent in graph.parents(tag)
                for use in graph.edges(parent, tag)
                if use.value is not None
            }
        except imagegraph.ImageGraphError:
            api = set()
        api_agree += api == expected
        if got == expected:
            agree += 1
            continue
        if got == expected_reachable:
            unreachable_only += 1
        diagnosis = diagnose(corpus, record, tag, sources, expected, got, carriers)
        disagreements.append((tag, diagnosis, expected, got, sources))
    reads = [s.read for group in tags.values() for s in group if s.read is not None]
    per_tag = [
        [s.read for s in group if s.read is not None]
        for group in tags.values()
        if not any(s.unavailable for s in group)
    ]
    print(
        f"reference: {len({id(r) for r in reads})} Dockerfile readings (file x architecture); "
        f"tags with a parent: {sum(1 for rs in per_tag if any(r.parents for r in rs))}, with one "
        f"from COPY --from or a mount: {sum(1 for rs in per_tag if any(r.copied for r in rs))}, "
        f"with a variable in a reference: {sum(1 for rs in per_tag if any(r.expanded for r in rs))}"
        f", whose unneeded stages add a parent (bashbrew counts them, BuildKit does not build "
        f"them): {sum(1 for rs in per_tag if any(r.parents != r.reachable for r in rs))}; "
        f"unparsed: {sum(1 for r in reads if r.error)}"
    )
    print()
    print(
        f"official tags: {len(tags)}; not checkable (Dockerfile not to be had): {len(unavailable)}"
    )
    print(f"tags checked: {checked}; both agree: {agree} ({100 * agree / max(checked, 1):.2f}%)")
    print(
        f"the same through ImageGraph.parents(tag) and edges(parent, tag): {api_agree} "
        f"({100 * api_agree / max(checked, 1):.2f}%)"
    )
    print(
        f"(tag, architecture) pairs checked: {arch_checked}; both agree: {arch_agree} "
        f"({100 * arch_agree / max(arch_checked, 1):.2f}%)"
    )
    for line in arch_differ[:15]:
        print(f"  {line}")
    if len(arch_differ) > 15:
        print(f"  ... and {len(arch_differ) - 15} more")
    print(
        f"tags whose builds' platforms are not the manifest's architectures: {len(platform_differ)}"
    )
    for line in platform_differ[:10]:
        print(f"  {line}")
    if unreachable_only:
        print(
            f"  of the rest, agreeing once stages the target does not need are left out: "
            f"{unreachable_only}"
        )
    print(
        "edges to fleet builds that name no tag of the build, serve none of the child's "
        f"platforms, or leave out a build of the tag that serves one: {len(wrong_edges)}"
    )
    for line in wrong_edges[:20]:
        print(f"  {line}")
    print(
        f"children with a platform no build of a fleet parent serves (the library's own gap): "
        f"{len(unserved)}"
    )
    for line in unserved[:20]:
        print(f"  {line}")
    print()
    by_reason = collections.Counter(reason[0] for _, reason, *_ in disagreements)
    print(
        "disagreements by diagnosis: "
        + ("; ".join(f"{r}: {n}" for r, n in by_reason.items()) or "none")
    )
    conflicts = by_reason.get(CONFLICT, 0)
    if conflicts:
        print(
            f"tags checked whose Dockerfiles the corpus holds as the manifest names them: "
            f"{checked - conflicts}; both agree: {agree} "
            f"({100 * agree / max(checked - conflicts, 1):.2f}%)"
        )
    for tag, (reason, detail), expected, got, sources in disagreements:
        print(f"- {tag.removeprefix('docker.io/library/')}: {reason}: {detail}")
        if expected - got:
            print(f"    reference only: {', '.join(sorted(expected - got))}")
        if got - expected:
            print(f"    imagegraph only: {', '.join(sorted(got - expected))}")
        for source in sources:
            if source.read is not None and source.read.error:
                print(f"    {source.manifest} {source.arch} {source.path}: {source.read.error}")
    print()
    by_repo = collections.Counter(t.split("/")[-1].split(":")[0] for t in unavailable)
    print("not checkable: " + ", ".join(f"{r} {n}" for r, n in sorted(by_repo.items())))
    every_dockerfile(corpus)
    hand_written()
    return 0


def every_dockerfile(corpus: Path) -> None:
    """Beyond the manifests: every file named like a Dockerfile in the corpus, read by
    both sides as one build for linux/amd64 with no build arguments (it exercises
    ARGs in FROM, which the official tags' Dockerfiles never use)."""
    from imagegraph import ImageBuild, ImageGraph

    started = time.perf_counter()
    paths = sorted(
        p
        for p in (corpus / "src").rglob("*")
        if (p.name.startswith("Dockerfile") or p.name.endswith(".Dockerfile"))
        and p.is_file()
        and not p.is_symlink()
    )
    builds = [
        ImageBuild(
            f"file-{index}",
            p.relative_to(corpus).as_posix(),
            p.parent.relative_to(corpus).as_posix(),
            platforms=("linux/amd64",),
        )
        for index, p in enumerate(paths)
    ]
    graph = ImageGraph.from_builds(builds, root=corpus)
    view = graph.nx
    agree = refused = 0
    differ: list[str] = []
    contents: set[bytes] = set()
    for build, path in zip(builds, paths, strict=True):
        text = path.read_text(encoding="utf-8", errors="replace")
        contents.add(text.encode())
        read = dockerfile_parents(text, "amd64")
        got = {
            normalise(use.value)
            for parent in view.predecessors(build.name)
            for use in view.edges[parent, build.name]["uses"]
            if use.value is not None
        }
        undetermined = build.name in graph.undetermined
        if read.error or undetermined:
            refused += 1
            if bool(read.error) != undetermined:
                differ.append(
                    f"{build.dockerfile}: reference {read.error or 'reads it'}; imagegraph "
                    f"{'cannot determine its parents' if undetermined else 'reads it'}"
                )
            continue
        if got == read.reachable:
            agree += 1
        else:
            differ.append(
                f"{build.dockerfile}: reference only {sorted(read.reachable - got)}, "
                f"imagegraph only {sorted(got - read.reachable)}"
            )
    print()
    print(
        f"every Dockerfile-named file of the corpus: {len(paths)} ({len(contents)} distinct) "
        f"(read in {time.perf_counter() - started:.1f}s); parents agree: {agree}; "
        f"unparsed or undetermined: {refused}; differ: {len(differ)}"
    )
    for line in differ[:40]:
        print(f"  {line}")


CASES = {
    "arg default": "ARG V=1.2\nFROM alpine:$V\n",
    "arg braces": "ARG V=1.2\nFROM alpine:${V}\n",
    "arg :- unset": "ARG V\nFROM alpine:${V:-3.20}\n",
    "arg - set empty": "ARG V=\nFROM alpine:${V-3.19}\n",
    "arg :- set empty": "ARG V=\nFROM alpine:${V:-3.18}\n",
    "arg :+": "ARG V=x\nFROM alpine${V:+:3.17}\n",
    "arg double quotes": 'ARG V="3.16"\nFROM alpine:$V\n',
    "arg single quotes": "ARG V='3.15'\nFROM alpine:$V\n",
    "arg from arg": "ARG A=3\nARG B=$A.14\nFROM alpine:$B\n",
    "two args a line": "ARG R=docker.io/library T=3.13\nFROM $R/alpine:$T\n",
    "never declared": "FROM alpine:${NOPE:-3.12}\n",
    "nested default": "ARG A=\nARG B=1.23\nFROM busybox:${A:-${B}}\n",
    "automatic TARGETARCH": "FROM acme/${TARGETARCH}-base:1\n",
    "declared TARGETARCH": "ARG TARGETARCH\nFROM acme/base:$TARGETARCH\n",
    "FROM --platform": "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM alpine:3\nCOPY --from=b /x /x\n",
    "stage name case": "FROM golang:1.22 AS Build\nFROM alpine:3\nCOPY --from=build /x /x\n",
    "stage index": "FROM golang:1.22\nFROM alpine:3\nCOPY --from=0 /x /x\n",
    "COPY --from image": "FROM alpine:3\nCOPY --from=busybox:1.36 /bin/busybox /b\n",
    "COPY --from variable": "FROM alpine:3\nARG T=busybox:1.35\nCOPY --from=$T /b /b\n",
    "COPY --link --from": "FROM alpine:3\nCOPY --link --from=busybox:1.21 /b /b\n",
    "COPY --FROM": "from alpine:3.10\ncopy --FROM=busybox:1.25 /b /b\n",
    "ADD --from": "FROM alpine:3\nADD --from=busybox:1.22 /b /b\n",
    "mount from image": "FROM alpine:3\nRUN --mount=type=bind,from=busybox:1.30,target=/b true\n",
    "mount from stage": "FROM busybox:1.29 AS s\nFROM alpine:3\nRUN --mount=from=s,target=/b true\n",
    "mount cache from": "FROM alpine:3\nRUN --mount=type=cache,target=/c,from=busybox:1.28 true\n",
    "mount from variable": "FROM alpine:3\nARG T=busybox:1.20\nRUN --mount=from=$T,target=/b true\n",
    "escape directive": "# escape=`\nARG V=3.11\nFROM alpine:$V\nRUN echo `\n  hi\n",
    "unneeded stage": "FROM golang:1.21 AS unused\nFROM alpine:3\n",
    "FROM scratch": "FROM scratch\nADD rootfs.tar /\n",
    "COPY --from=scratch": "FROM alpine:3\nCOPY --from=scratch / /\n",
    "mount from=scratch": "FROM alpine:3\nRUN --mount=from=scratch,target=/s true\n",
    "digest": "FROM alpine@sha256:" + "a" * 64 + "\n",
    "tag and digest": "FROM alpine:3@sha256:" + "b" * 64 + "\n",
    "registry port": "FROM localhost:5000/x\n",
    "index.docker.io": "FROM index.docker.io/library/alpine:3.9\n",
    "heredoc": "FROM alpine:3\nRUN <<EOF\nFROM notanimage\nEOF\n",
    "ONBUILD": "FROM alpine:3\nONBUILD COPY --from=busybox:1.27 /b /b\n",
    "FROM a stage, other case": "FROM alpine:3 AS X\nFROM x\n",
    "upper-case repository": "FROM Alpine:3\n",
    "unknown instruction": "{% set x = 1 %}\nFROM alpine:3\n",
}
"""Small Dockerfiles for what the official library's Dockerfiles never do (ARGs in a
reference, variables in --from, odd flags): each read for linux/arm64/v8."""


def hand_written() -> None:
    from imagegraph import ImageBuild, ImageGraph

    builds = [
        ImageBuild(
            f"case-{index}",
            f"case-{index}/Dockerfile",
            f"case-{index}",
            platforms=("linux/arm64/v8",),
            dockerfile_inline=text,
        )
        for index, text in enumerate(CASES.values())
    ]
    graph = ImageGraph.from_builds(builds)
    view = graph.nx
    differ = []
    for label, build in zip(CASES, builds, strict=True):
        assert build.dockerfile_inline is not None
        read = dockerfile_parents(build.dockerfile_inline, "arm64v8")
        got = {
            normalise(use.value)
            for parent in view.predecessors(build.name)
            for use in view.edges[parent, build.name]["uses"]
            if use.value is not None
        }
        undetermined = build.name in graph.undetermined
        if bool(read.error) or undetermined:
            if bool(read.error) == undetermined:
                continue
        elif got == read.reachable:
            continue
        notes = [d.message for d in graph.diagnostics if d.path == build.dockerfile]
        differ.append(
            f"{label}: reference {read.error or sorted(read.reachable)}; imagegraph "
            f"{'undetermined' if undetermined else sorted(got)} ({'; '.join(notes) or 'no note'})"
        )
    print()
    print(f"hand-written cases: {len(CASES)}; both agree: {len(CASES) - len(differ)}")
    for line in differ:
        print(f"  {line}")


CONFLICT = "corpus conflict"


def held(corpus: Path, record: Mapping[str, Any], source: Source) -> Path:
    """Where the corpus holds *source*'s Dockerfile: in its manifest's one checkout, or
    in the directory of its own GitCommit."""
    checkout = corpus / "src" / source.manifest
    if record.get("layout", "work-tree") == "commits" and source.manifest not in record.get(
        "work_tree_manifests", ()
    ):
        checkout = checkout / source.named
    return checkout / source.path


def diagnose(
    corpus: Path,
    record: Mapping[str, Any],
    tag: str,
    sources: list[Source],
    expected: set[str],
    got: set[str],
    carriers: Mapping[str, list[str]],
) -> tuple[str, str]:
    """Why imagegraph and the reference differ on *tag*: (kind, detail)."""
    if not carriers.get(tag):
        return "imagegraph wrong", "no build carries the tag"
    for source in sources:
        path = held(corpus, record, source)
        try:
            differs = not source.imported and path.read_bytes() != source.body
        except OSError:
            differs = True
        if differs:
            return CONFLICT, (
                f"{path.relative_to(corpus)} is another entry's commit, not "
                f"{source.commit[:12]} (entry on line {source.line}, {source.arch})"
            )
    if any(s.imported for s in sources) and got - expected:
        return "imagegraph wrong (H1 area)", "an oci-import entry was given parents"
    entries = {(s.manifest, s.line) for s in sources}
    files = {(s.url, s.commit, s.path) for s in sources}
    if len(files) > 1:
        return "imagegraph wrong (H1 area)", (
            f"{len(entries)} entries / {len(files)} Dockerfiles build the tag "
            "(shared tag or per-architecture sources)"
        )
    if any(s.read is not None and s.read.expanded for s in sources):
        return "undiagnosed", "a variable is substituted in a reference: see the Dockerfile"
    return "undiagnosed", "see the Dockerfile"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="lay out the corpus from the git snapshots")
    corpus.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    corpus.add_argument("--out", type=Path, default=Path("/work/corpus/official-commits"))
    corpus.add_argument(
        "--head",
        action="store_true",
        help="take every manifest at official-images' HEAD, not at its newest revision "
        "whose commits the snapshots hold",
    )
    corpus.add_argument(
        "--work-tree",
        action="store_true",
        help="one checkout per manifest, as a user with one work tree has it (a Directory "
        "several entries build at several commits holds the first entry's), not one "
        "directory per GitCommit",
    )
    check = commands.add_parser("check", help="compare imagegraph's graph with the reference")
    check.add_argument("--corpus", type=Path, default=Path("/work/corpus/official-commits"))
    check.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    if args.command == "corpus":
        build_corpus(args.mirror, args.out, head=args.head, work_tree=args.work_tree)
        return 0
    return run_check(args.corpus, args.mirror)


if __name__ == "__main__":
    sys.exit(main())
