"""scan_revision: the fleet at a git revision, read from git without a checkout (issue 17).

The graph at a revision must be the graph :func:`scan` gives on a checkout of
that revision (``git worktree add``), for each declaration format; git must run
nothing the repository configures; a second scan of the same tree reads
nothing from git again.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagegraph.graph
import imagegraph.inventory
from imagegraph import ConfigError, ImageGraph, scan, scan_revision
from imagegraph import revision as revision_module
from imagegraph._git import GitError
from imagegraph._reading import cache_directory
from imagegraph.errors import ImageGraphError
from tests.hostile import SECRET, Entry, Symlink, build

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

Files = Mapping[str, Entry | None]
"""Files of the repository (path from its top -> content; ``None`` deletes)."""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
         "-c", "core.hooksPath=/nonexistent", "-c", "commit.gpgSign=false", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout


def history(root: Path, states: Sequence[Files]) -> tuple[Path, list[str], list[Path]]:
    """A repository at ``root/repo`` with one commit per state, each also checked out
    by git (``root/checkout-N/repo``: the same name, as a scan by convention names a
    top Dockerfile after its directory); returns the repository, the commits and
    the checkouts."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    commits = []
    for number, files in enumerate(states):
        for name, content in files.items():
            target = repo / name
            if content is None or target.is_symlink():
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.is_symlink() or target.exists():
                    target.unlink()
        build(repo, {name: content for name, content in files.items() if content is not None})
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"state {number}")
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    checkouts = []
    for number, commit in enumerate(commits):
        checkout = root / f"checkout-{number}" / "repo"
        checkout.parent.mkdir()
        git(repo, "worktree", "add", "-q", "--detach", str(checkout), commit)
        checkouts.append(checkout)
    return repo, commits, checkouts


def shape(graph: ImageGraph, root: Path) -> tuple[object, ...]:
    """What a scan found, with the root's path (named in some messages) written ``<root>``."""
    real = os.path.realpath(root)
    inventory = graph.inventory
    return (
        graph.builds,
        sorted(graph.nx.nodes(data="kind")),
        sorted((a, b, d["uses"]) for a, b, d in graph.nx.edges(data=True)),
        [
            (d.code, d.severity, d.message.replace(real, "<root>"), d.path, d.line)
            for d in graph.diagnostics
        ],
        dict(graph.undetermined),
        inventory.sources,
        inventory.walked,
        dict(inventory.aliases),
        dict(inventory.sboms),
    )


HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/x.git\n"

TOML: list[Files] = [
    {
        "fleet/imagegraph.toml": '[[image]]\nname = "base"\ndockerfile = "base/Dockerfile"\n'
        'tags = ["acme/base:1"]\n\n[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
        'args = { V = "1" }\n',
        "fleet/base/Dockerfile": "FROM debian:12\n",
        "fleet/app/Dockerfile": "ARG V\nFROM acme/base:$V\nCOPY . /src\n",
        "fleet/app/main.py": "print(1)\n",
    },
    {
        "fleet/imagegraph.toml": '[[image]]\nname = "base"\ndockerfile = "base/Dockerfile"\n'
        'tags = ["acme/base:1"]\n\n[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
        'args = { V = "2" }\n\n[[image]]\nname = "py-${PY}"\ndockerfile = "py/Dockerfile"\n'
        'args = { PY = "${PY}" }\nmatrix = { PY = ["3.11", "3.12"] }\n',
        "fleet/base/Dockerfile": "FROM debian:13\n",
        "fleet/py/Dockerfile": "ARG PY\nFROM python:${PY}-slim\nFROM acme/base:1\n",
    },
]

BAKE_HCL_TARGETS = """\
target "base" {
  context = "base"
  tags = ["acme/base:1"]
}
target "app" {
  context = "app"
  contexts = { base = "target:base" }
  tags = ["acme/app:1"]
}
"""

BAKE_HCL: list[Files] = [
    {
        "fleet/docker-bake.hcl": 'group "default" {\n  targets = ["base", "app"]\n}\n'
        + BAKE_HCL_TARGETS,
        "fleet/base/Dockerfile": "FROM debian:12\n",
        "fleet/app/Dockerfile": "FROM base\n",
    },
    {
        "fleet/docker-bake.hcl": 'group "default" {\n  targets = ["base", "app", "py"]\n}\n'
        + BAKE_HCL_TARGETS
        + 'target "py" {\n  name = "py-${replace(v, ".", "-")}"\n'
        '  matrix = { v = ["3.11", "3.12"] }\n  context = "py"\n  args = { PYTHON = v }\n'
        '  tags = ["acme/python:${v}"]\n}\n',
        "fleet/py/Dockerfile": "ARG PYTHON\nFROM acme/app:1\nRUN echo $PYTHON\n",
    },
]


def _bake_json(py: bool) -> str:
    targets: dict[str, Any] = {
        "base": {"context": "base", "tags": ["acme/base:1"]},
        "app": {"context": "app", "contexts": {"base": "target:base"}, "tags": ["acme/app:1"]},
    }
    if py:
        targets["py"] = {
            "name": 'py-${replace(v, ".", "-")}',
            "matrix": {"v": ["3.11", "3.12"]},
            "context": "py",
            "args": {"PYTHON": "${v}"},
            "tags": ["acme/python:${v}"],
        }
    group = {"default": {"targets": list(targets)}}
    return json.dumps({"group": group, "target": targets}, indent=2)


BAKE_JSON: list[Files] = [
    {
        "fleet/docker-bake.json": _bake_json(py=False),
        "fleet/base/Dockerfile": "FROM debian:12\n",
        "fleet/app/Dockerfile": "FROM base\n",
    },
    {
        "fleet/docker-bake.json": _bake_json(py=True),
        "fleet/py/Dockerfile": "ARG PYTHON\nFROM acme/app:1\nRUN echo $PYTHON\n",
    },
]

COMPOSE: list[Files] = [
    {
        "fleet/compose.yaml": "services:\n  api:\n    build: api\n    image: acme/api:1\n"
        "  web:\n    build:\n      context: web\n    image: acme/web:1\n",
        "fleet/api/Dockerfile": "FROM node:20\n",
        "fleet/web/Dockerfile": "FROM acme/api:1\n",
    },
    {
        "fleet/compose.yaml": "services:\n  api:\n    build: api\n    image: acme/api:1\n"
        "  web:\n    build:\n      context: web\n      args:\n        API: '2'\n"
        "    image: acme/web:1\n"
        "  worker:\n    build:\n      context: worker\n      dockerfile: Containerfile\n",
        "fleet/web/Dockerfile": "ARG API=1\nFROM acme/api:${API}\n",
        "fleet/worker/Containerfile": "FROM acme/web:1\n",
    },
]

LIBRARY: list[Files] = [
    {
        "fleet/imagegraph.toml": '[[manifests]]\npath = "library/app"\ncheckout = "src"\n'
        'repository = "acme/app"\n',
        "fleet/library/app": f"{HEADER}\nTags: 1, latest\nArchitectures: amd64, arm64v8\n"
        "Directory: one\n",
        "fleet/src/one/Dockerfile": "FROM debian:bookworm\n",
    },
    {
        "fleet/library/app": f"{HEADER}\nTags: 1, latest\nArchitectures: amd64, arm64v8\n"
        "Directory: one\n\nTags: 2\nArchitectures: amd64\nDirectory: two\n",
        "fleet/src/two/Dockerfile": "FROM acme/app:1\n",
    },
]

CONVENTION: list[Files] = [
    {
        "fleet/Dockerfile": "FROM debian:12\n",  # named after the fleet's directory
        "fleet/base/Dockerfile": "FROM debian:12\n",
        "fleet/app/Dockerfile.dev": "FROM base\n",
        "fleet/app/api.Dockerfile": "FROM python:3.12\n",
        "fleet/app/.dockerignore": "tests/\n",
        "fleet/.gitignore": "*.log\n",
        "fleet/web/Containerfile": "FROM nginx:1\n",
    },
    {
        "fleet/app/api.Dockerfile": None,
        "fleet/api/Containerfile": "FROM nginx:1\n",
        "fleet/.gitignore": "web/\n",  # web/ stays committed; the walk skips it now
    },
]

FORMATS = {
    "toml": TOML,
    "bake-hcl": BAKE_HCL,
    "bake-json": BAKE_JSON,
    "compose": COMPOSE,
    "library": LIBRARY,
    "convention": CONVENTION,
}


def _unsettle(fleet: Path) -> None:
    """Change the work tree after the commits: nothing of it may be read."""
    shutil.rmtree(fleet)
    build(fleet, {"app/Dockerfile": "FROM work-tree:now\n", "imagegraph.toml": "broken = [\n"})


@pytest.mark.parametrize("states", FORMATS.values(), ids=FORMATS.keys())
def test_each_revision_is_the_scan_of_its_checkout(tmp_path: Path, states: list[Files]) -> None:
    repo, commits, checkouts = history(tmp_path, states)
    fleet = repo / "fleet"
    _unsettle(fleet)
    found = [shape(scan_revision(fleet, commit), fleet) for commit in commits]
    expected = [shape(scan(checkout / "fleet"), checkout / "fleet") for checkout in checkouts]
    assert found == expected
    assert found[0] != found[1]  # the second commit changed the graph
    assert found[0][0], "no builds"


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command this process starts from now on (git among them)."""
    calls: list[list[str]] = []

    class Counting(subprocess.Popen[Any]):
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            calls.append([os.fspath(a) for a in args])
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    return calls


def _scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scans that read an inventory (a snapshot's graph reads none)."""
    calls: list[str] = []
    real = imagegraph.inventory.load_inventory

    def counting(path: Any, **options: Any) -> Any:
        calls.append(os.fspath(path))
        return real(path, **options)

    monkeypatch.setattr(imagegraph.graph, "load_inventory", counting)
    return calls


def _reads(calls: list[list[str]]) -> list[list[str]]:
    """The git commands that read a tree's listing or its files."""
    return [c for c in calls if "cat-file" in c or ("ls-tree" in c and "-r" in c)]


def _kept() -> list[str]:
    directory = cache_directory() / "revisions"
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_a_second_scan_of_the_same_tree_reads_nothing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, commits, _ = history(tmp_path, [*TOML, {"README.md": "outside the fleet\n"}])
    fleet = repo / "fleet"
    calls = _counted(monkeypatch)
    scans = _scans(monkeypatch)
    first = scan_revision(fleet, commits[1])
    assert [c[c.index("cat-file") :] for c in _reads(calls) if "cat-file" in c] == [
        ["cat-file", "--batch"]  # one process for every blob
    ]
    assert len(scans) == 1
    calls.clear()
    again = scan_revision(fleet, "HEAD~1")
    assert _reads(calls) == []
    assert len(calls) <= 3  # the work tree, the revision's tree, the fleet's tree in it
    assert scans == [scans[0]]  # the snapshot, not a scan
    assert shape(again, fleet) == shape(first, fleet)
    # HEAD changed only a file outside the fleet: the fleet's tree is the same one.
    assert shape(scan_revision(fleet, "HEAD"), fleet) == shape(first, fleet)
    assert _reads(calls) == []
    assert len(_kept()) == 1


def test_the_files_written_are_the_committed_bytes_read_only(tmp_path: Path) -> None:
    repo, _, _ = history(
        tmp_path,
        [
            {
                "fleet/app/Dockerfile": "FROM debian:12\nCOPY run.sh /\n",
                "fleet/app/run.sh": "#!/bin/sh\necho run\n",
                "fleet/app/blob.bin": bytes(range(256)) * 4,
            }
        ],
    )
    (repo / "fleet" / "app" / "run.sh").chmod(0o755)
    git(repo, "commit", "-qam", "executable")
    graph = scan_revision(repo / "fleet", "HEAD")
    root = Path(graph.inventory.root)
    assert (root / "app" / "blob.bin").read_bytes() == bytes(range(256)) * 4
    for name in ("Dockerfile", "run.sh", "blob.bin"):
        assert stat.S_IMODE((root / "app" / name).stat().st_mode) == 0o644, name
    assert git(repo, "ls-files", "-s", "fleet/app/run.sh").startswith("100755")
    assert root.parent.parent.parent == (cache_directory() / "revisions").resolve()


def test_without_cache_the_files_go_with_the_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, commits, checkouts = history(tmp_path, TOML)
    graph = scan_revision(repo / "fleet", commits[0], cache=False)
    assert shape(graph, repo / "fleet") == shape(
        scan(checkouts[0] / "fleet"), checkouts[0] / "fleet"
    )
    written = Path(graph.inventory.root)
    assert written.is_dir()
    assert _kept() == []
    del graph
    gc.collect()
    assert not written.exists()


def _arm(repo: Path, marker: Path, tmp: Path) -> None:
    """Every way for a repository to make git run a program, each touching *marker*."""

    def script(name: str, tail: str = "") -> str:
        path = tmp / name
        path.write_text(f"#!/bin/sh\ntouch '{marker}'\n{tail}")
        path.chmod(0o755)
        return str(path)

    hooks = repo / ".git" / "hooks"
    for name in ("post-index-change", "reference-transaction", "post-checkout", "pre-commit"):
        shutil.copy(script(f"hook-{name}"), hooks / name)
    settings = {
        "core.hooksPath": str(hooks),
        "filter.evil.clean": script("clean", "cat\n"),
        "filter.evil.smudge": script("smudge", "cat\n"),
        "filter.evil.process": script("process", "cat\n"),
        "filter.evil.required": "true",
        "diff.evil.textconv": script("textconv", 'cat "$1"\n'),
        "diff.evil.command": script("command"),
        "diff.external": script("external"),
        "core.fsmonitor": script("fsmonitor"),
        "core.untrackedCache": "true",
        "core.pager": script("pager", "cat\n"),
        "core.sshCommand": script("ssh"),
        "core.alternateRefsCommand": script("alternate"),
        "uploadpack.packObjectsHook": script("pack"),
        "protocol.ext.allow": "always",
        "remote.origin.url": f"ext::sh -c touch% {marker}",
    }
    for key, value in settings.items():
        git(repo, "config", key, value)


def test_a_hostile_repository_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, _ = history(
        tmp_path,
        [
            {
                "fleet/.gitattributes": "* filter=evil diff=evil export-subst\n",
                "fleet/app/Dockerfile": "FROM debian:12\nCOPY version.txt /\n",
                "fleet/app/version.txt": "$Format:%H$\n",
            },
            {"fleet/app/Dockerfile": "FROM debian:13\nCOPY version.txt /\n"},
        ],
    )
    marker = tmp_path / "MARKER"
    _arm(repo, marker, tmp_path)
    (repo / "fleet" / "app" / "version.txt").write_text("changed in the work tree\n")
    for name in ("GIT_EXTERNAL_DIFF", "GIT_PAGER", "PAGER", "GIT_SSH_COMMAND"):
        path = tmp_path / f"env-{name}"
        path.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
        path.chmod(0o755)
        monkeypatch.setenv(name, str(path))
    for cache in (True, False, True):
        graph = scan_revision(repo / "fleet", "HEAD~1", cache=cache)
        assert not marker.exists()
        assert graph.parents("app") == ["docker.io/library/debian:12"]
        root = Path(graph.inventory.root)
        assert (root / "app" / "version.txt").read_text() == "$Format:%H$\n"  # not substituted
    assert scan_revision(repo / "fleet", "HEAD").parents("app") == ["docker.io/library/debian:13"]
    assert not marker.exists()


def test_a_link_out_of_the_root_is_refused_as_in_a_work_tree(tmp_path: Path) -> None:
    secret = tmp_path / "secret.Dockerfile"
    secret.write_text(f"FROM {SECRET}:1\n")
    config = "".join(
        f'[[image]]\nname = "{name}"\ndockerfile = "{name}/Dockerfile"\n\n'
        for name in ("absolute", "relative", "inside")
    )
    repo, commits, checkouts = history(
        tmp_path,
        [
            {
                "fleet/imagegraph.toml": config,
                "fleet/absolute/Dockerfile": Symlink(str(secret)),
                "fleet/relative/Dockerfile": Symlink("../../../secret.Dockerfile"),
                "fleet/inside/Dockerfile": Symlink("../shared/base.Dockerfile"),
                "fleet/shared/base.Dockerfile": "FROM alpine:3\n",
            }
        ],
    )
    fleet = repo / "fleet"
    graph = scan_revision(fleet, commits[0])
    checkout = checkouts[0] / "fleet"
    assert shape(graph, fleet) == shape(scan(checkout), checkout)
    refused = {
        name
        for d in graph.diagnostics
        for name in ("absolute", "relative", "inside")
        if d.code == "outside-root" and f"build {name!r}" in d.message
    }
    assert refused == {"absolute", "relative"}
    assert set(graph.undetermined) == {"absolute", "relative"}
    assert graph.parents("inside") == ["docker.io/library/alpine:3"]
    assert SECRET not in repr(shape(graph, fleet))
    # The links were written as links, none of them followed.
    assert os.readlink(Path(graph.inventory.root) / "absolute" / "Dockerfile") == str(secret)


def test_names_with_a_newline_or_a_tab(tmp_path: Path) -> None:
    repo, commits, checkouts = history(
        tmp_path,
        [
            {
                "fleet/odd\nname/Dockerfile": "FROM debian:12\n",
                "fleet/tab\there/Dockerfile": "FROM odd-name\n",
                "fleet/plain/Dockerfile\nx": "not a Dockerfile by its name\n",
            }
        ],
    )
    graph = scan_revision(repo / "fleet", commits[0])
    checkout = checkouts[0] / "fleet"
    assert shape(graph, repo / "fleet") == shape(scan(checkout), checkout)
    assert "odd\nname" in graph.images
    assert graph.parents("tab\there") == ["odd\nname"]


def test_a_revision_without_the_config_is_scanned_by_convention(tmp_path: Path) -> None:
    """The commit before imagegraph.toml existed: a convention fleet, as a scan of its
    checkout finds; naming the config for it is scan()'s ConfigError."""
    repo, commits, checkouts = history(
        tmp_path,
        [
            {"fleet/base/Dockerfile": "FROM debian:12\n", "fleet/app/Dockerfile": "FROM base\n"},
            {"fleet/imagegraph.toml": '[[image]]\nname = "only"\ndockerfile = "app/Dockerfile"\n'},
        ],
    )
    fleet = repo / "fleet"
    before = scan_revision(fleet, commits[0])
    checkout = checkouts[0] / "fleet"
    assert shape(before, fleet) == shape(scan(checkout), checkout)
    assert sorted(build.name for build in before.builds) == ["app", "base"]
    assert [build.name for build in scan_revision(fleet, commits[1]).builds] == ["only"]
    with pytest.raises(ConfigError) as expected:
        scan(checkout, config=checkout / "imagegraph.toml")
    for config in ("imagegraph.toml", fleet / "imagegraph.toml"):
        with pytest.raises(ConfigError) as raised:
            scan_revision(fleet, commits[0], config=config)
        assert raised.value.message == expected.value.message == "config file not found"
        assert raised.value.path == str(os.path.realpath(fleet / "imagegraph.toml"))


def test_root_and_config_are_read_at_the_revision(tmp_path: Path) -> None:
    """A build whose context lies beside the fleet (``--root`` the repository), and a
    config named by absolute path: both from the revision, paths as in a checkout."""
    states: list[Files] = [
        {
            "fleet/ci.toml": '[[image]]\nname = "app"\ncontext = "../shared"\n'
            'dockerfile = "app/Dockerfile"\n',
            "fleet/app/Dockerfile": "FROM debian:12\nCOPY lib.py /\n",
            "shared/lib.py": "print('lib')\n",
        },
        {"fleet/app/Dockerfile": "FROM debian:13\nCOPY lib.py /\n"},
    ]
    repo, commits, checkouts = history(tmp_path, states)
    fleet = repo / "fleet"
    graph = scan_revision(fleet, commits[0], root=repo, config=fleet / "ci.toml")
    checkout = checkouts[0]
    expected = scan(checkout / "fleet", root=checkout, config=checkout / "fleet" / "ci.toml")
    assert shape(graph, repo) == shape(expected, checkout)
    assert graph.builds[0].context == "../shared"
    assert (Path(graph.inventory.root) / ".." / "shared" / "lib.py").read_text() == "print('lib')\n"
    relative = scan_revision(fleet, commits[0], root=repo, config="ci.toml")
    assert shape(relative, repo) == shape(graph, repo)
    # Without the root, the context is outside what may be read, as in the checkout.
    alone = scan_revision(fleet, commits[0], config="ci.toml")
    assert "outside-root" in {d.code for d in alone.diagnostics}
    alone_checkout = scan(checkout / "fleet", config=checkout / "fleet" / "ci.toml")
    assert shape(alone, fleet) == shape(alone_checkout, checkout / "fleet")
    with pytest.raises(ConfigError, match="outside the root"):
        scan_revision(fleet, commits[0], config="../ci.toml")


def test_what_cannot_be_scanned_is_a_git_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, commits, _ = history(
        tmp_path, [{"other/Dockerfile": "FROM debian:12\n"}, {"fleet/Dockerfile": "FROM x\n"}]
    )
    nowhere = tmp_path / "not-a-repository"
    nowhere.mkdir()
    cases: list[tuple[Path, str, str]] = [
        (nowhere, "HEAD", "not a git repository"),
        (repo / "fleet", "no-such-branch", "no commit or tree of that name"),
        (repo / "fleet", commits[0], "fleet did not exist at that revision"),
        (repo / "other" / "Dockerfile", "HEAD", "is not a directory"),
        (repo / "fleet", "--output=/tmp/x", "is not a revision"),
        (repo / "fleet", "HEAD\nmain", "is not a revision"),
    ]
    for path, revision, message in cases:
        with pytest.raises(GitError, match=message):
            scan_revision(path, revision)
    with pytest.raises(GitError, match="not a directory at that revision"):
        scan_revision(repo / "fleet" / "Dockerfile" / "x", commits[1], root=repo / "fleet")
    monkeypatch.setenv("PATH", str(nowhere))
    with pytest.raises(GitError, match="git is not installed"):
        scan_revision(repo / "fleet", "HEAD")


def test_large_files_and_submodules_are_left_out_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, commits, _ = history(
        tmp_path,
        [
            {
                "fleet/small/Dockerfile": "FROM debian:12\n",
                "fleet/large/Dockerfile": "FROM debian:12\n" + "# padding\n" * 20,
            }
        ],
    )
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{commits[0]},fleet/sub")
    git(repo, "commit", "-qm", "a submodule")
    monkeypatch.setattr(revision_module, "MAX_DECLARATION_BYTES", 100)
    graph = scan_revision(repo / "fleet", "HEAD")
    skipped = {d.path: d for d in graph.diagnostics if d.code == revision_module.SKIPPED}
    assert set(skipped) == {"large/Dockerfile", "sub"}
    assert "larger than" in skipped["large/Dockerfile"].message
    assert "submodule" in skipped["sub"].message
    assert [b.name for b in graph.builds] == ["small"]  # large/ is not there to be found
    root = Path(graph.inventory.root)
    assert (root / "sub").is_dir()
    assert not list((root / "sub").iterdir())
    # Kept with the tree: the second scan says it again without reading git.
    again = scan_revision(repo / "fleet", "HEAD")
    assert [d for d in again.diagnostics if d.code == revision_module.SKIPPED] == list(
        skipped.values()
    )


def test_a_broken_or_half_written_tree_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, commits, checkouts = history(tmp_path, TOML)
    fleet = repo / "fleet"
    expected = shape(scan(checkouts[0] / "fleet"), checkouts[0] / "fleet")
    scan_revision(fleet, commits[0])
    [key] = _kept()
    kept = cache_directory() / "revisions" / key
    # A killed run's temporary copy, old enough to be known dead.
    stale = cache_directory() / "revisions" / f".tmp-{key}-abcd_123"
    shutil.copytree(kept, stale)
    os.utime(stale, (time.time() - 86400, time.time() - 86400))
    # The kept copy loses its record (as if written by something else) and a file.
    (kept / "revision.json").unlink()
    (kept / "files" / "fleet" / "app" / "Dockerfile").write_text("FROM broken\n")
    calls = _counted(monkeypatch)
    assert shape(scan_revision(fleet, commits[0]), fleet) == expected
    assert _reads(calls)  # written again
    assert _kept() == [key]
    assert (kept / "files" / "fleet" / "app" / "Dockerfile").read_text() == (
        "ARG V\nFROM acme/base:$V\nCOPY . /src\n"
    )


def test_a_cache_directory_that_cannot_hold_trees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link in place of the trees' directory is not written through: the files go to a
    temporary directory instead; with no temporary directory either, the error says so."""
    repo, commits, checkouts = history(tmp_path, TOML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache_directory().mkdir(parents=True, exist_ok=True)
    (cache_directory() / "revisions").symlink_to(elsewhere)
    graph = scan_revision(repo / "fleet", commits[0])
    checkout = checkouts[0] / "fleet"
    assert shape(graph, repo / "fleet") == shape(scan(checkout), checkout)
    assert list(elsewhere.iterdir()) == []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(ImageGraphError, match="no temporary directory"):
        scan_revision(repo / "fleet", commits[1])


def test_the_least_recently_used_trees_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(revision_module, "MAX_REVISION_TREES", 2)
    states: list[Files] = [{"fleet/app/Dockerfile": f"FROM debian:{n}\n"} for n in range(3)]
    repo, commits, _ = history(tmp_path, states)
    outside = tmp_path / "not-the-cache"
    outside.mkdir()
    (outside / "keep").write_text("mine\n")
    revisions = cache_directory() / "revisions"
    revisions.mkdir(parents=True)
    (revisions / ("0" * 40 + "-" + "0" * 16)).symlink_to(outside)  # not followed, not deleted
    keys = []
    for commit in commits:
        before = set(_kept())
        scan_revision(repo / "fleet", commit)
        keys.append((set(_kept()) - before).pop())
        time.sleep(0.01)
    assert keys[0] not in _kept()
    assert {keys[1], keys[2]} <= set(_kept())
    assert (outside / "keep").read_text() == "mine\n"
    graph = scan_revision(repo / "fleet", commits[0])
    assert graph.parents("app") == ["docker.io/library/debian:0"]
    assert keys[1] not in _kept()


names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/\0"),
    min_size=1,
    max_size=12,
).filter(
    lambda n: (
        n not in (".", "..", ".hg", ".svn", "node_modules")
        and not n.lower().startswith((".git", "git~"))
    )
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(names, min_size=1, max_size=4, unique_by=str.lower))
def test_any_directory_names_scan_as_in_a_checkout(directories: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, Entry | None] = {
            f"fleet/{name}/Dockerfile": f"FROM debian:{number}\n"
            for number, name in enumerate(directories)
        }
        repo, commits, checkouts = history(Path(tmp), [files])
        checkout = checkouts[0] / "fleet"
        graph = scan_revision(repo / "fleet", commits[0], cache=False)
        assert shape(graph, repo / "fleet") == shape(scan(checkout, cache=False), checkout)
        assert len(graph.builds) == len(directories)


def test_a_declaration_file_over_the_dockerfile_cap_is_read_at_the_revision(
    tmp_path: Path,
) -> None:
    """A scan reads a declaration file up to MAX_DECLARATION_BYTES (a 137,000-image
    imagegraph.toml is 20-40 MB): the revision's copy of one over the 16 MiB a
    Dockerfile may have must be written, not left out (the fleet at the revision
    was then found by convention: every build 'removed' and 'added')."""
    from imagegraph._files import MAX_FILE_BYTES

    padding = "# padding the declaration file past the Dockerfile cap\n"
    toml = '[[image]]\nname = "only"\ndockerfile = "app/Dockerfile"\n' + padding * (
        MAX_FILE_BYTES // len(padding) + 1
    )
    repo, commits, checkouts = history(
        tmp_path,
        [{"fleet/app/Dockerfile": "FROM debian:12\n", "fleet/imagegraph.toml": toml}],
    )
    checkout = checkouts[0] / "fleet"
    graph = scan_revision(repo / "fleet", commits[0], cache=False)
    assert [build.name for build in graph.builds] == ["only"]
    assert shape(graph, repo / "fleet") == shape(scan(checkout), checkout)


def test_a_tree_kept_by_the_writer_that_left_large_declarations_out_is_not_used(
    tmp_path: Path,
) -> None:
    """Trees written before declaration files up to MAX_DECLARATION_BYTES were kept
    (record format 1) lack such a file: that copy is not trusted, it is written again."""
    repo, commits, _ = history(
        tmp_path,
        [
            {
                "fleet/app/Dockerfile": "FROM debian:12\n",
                "fleet/imagegraph.toml": '[[image]]\nname = "only"\ndockerfile = "app/Dockerfile"\n',
            }
        ],
    )
    first = scan_revision(repo / "fleet", commits[0])
    assert [build.name for build in first.builds] == ["only"]
    (key,) = _kept()
    holder = cache_directory() / "revisions" / key
    record = json.loads((holder / "revision.json").read_text())
    # As the old writer left it: the declaration skipped, the record at format 1.
    (holder / "files" / "fleet" / "imagegraph.toml").unlink()
    record.update(format=1, skipped=[["imagegraph.toml", "larger than the 16777216 bytes"]])
    (holder / "revision.json").write_text(json.dumps(record))
    del first
    again = scan_revision(repo / "fleet", commits[0])
    assert [build.name for build in again.builds] == ["only"]
    assert not [d for d in again.diagnostics if d.code == revision_module.SKIPPED]


def test_one_blob_at_many_paths_is_written_once(tmp_path: Path) -> None:
    """A tree naming one blob at many paths costs a few bytes in git: the revision's
    copy holds the blob once (hard links), not once per path, and scans as the
    checkout does."""
    dockerfile = "FROM debian:12\n" + "# the same bytes everywhere\n" * 10
    repo, commits, checkouts = history(
        tmp_path, [{f"fleet/app-{n}/Dockerfile": dockerfile for n in range(40)}]
    )
    for cache in (False, True):
        graph = scan_revision(repo / "fleet", commits[0], cache=cache)
        root = Path(graph.inventory.root)
        written = [os.lstat(root / f"app-{n}" / "Dockerfile") for n in range(40)]
        assert {status.st_ino for status in written} == {written[0].st_ino}
        assert written[0].st_nlink == 40
        assert (root / "app-7" / "Dockerfile").read_text() == dockerfile
        checkout = checkouts[0] / "fleet"
        assert shape(graph, repo / "fleet") == shape(scan(checkout), checkout)
