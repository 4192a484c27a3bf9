"""What a change does to the image graph: ``imagegraph diff`` and ``plan --since`` per entry (issue 17).

Each test commits a fleet to a git repository in ``tmp_path``, edits the work
tree as a pull request would, and checks the diff against the revision and
the builds ``plan --since`` rebuilds: a declaration entry that changed rebuilds
that build (and what is built on it), an edit that changes no build rebuilds
nothing and says so, and a declaration the revision cannot give falls back to
the file rule with a warning naming why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imagegraph import (
    Diagnostic,
    EntryChange,
    FileChange,
    ImageBuild,
    ImageGraph,
    ImageRef,
    RebuildPlan,
    diff,
    diff_revisions,
    scan,
)
from imagegraph.cli import main
from imagegraph.diff import changes_since
from tests.fleets import write
from tests.hostile import run_cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ROOT = Path(__file__).parent.parent
FLEET = ROOT / "examples" / "fleet"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
         "-c", "core.hooksPath=/nonexistent", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout


def committed(repo: Path, files: dict[str, str] | None = None) -> Path:
    """*files* (or a copy of the example fleet) committed to a new repository at *repo*."""
    if files is None:
        shutil.copytree(FLEET, repo)
    else:
        write(repo, files)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    return repo


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def plan_since(repo: Path, revision: str = "HEAD") -> tuple[RebuildPlan, tuple[Diagnostic, ...]]:
    """What ``plan --since REVISION`` plans, and the notes of the comparison."""
    graph = scan(repo, cache=False)
    changes, notes = changes_since(graph, repo, revision, cache=False)
    return graph.plan(changes), notes


def names(plan: RebuildPlan) -> set[str]:
    return {planned.name for planned in plan}


def codes(diagnostics: tuple[Diagnostic, ...]) -> set[str]:
    return {d.code for d in diagnostics}


# --- the issue's scenario on the example fleet ----------------------------------


def pull_request(repo: Path) -> None:
    """The issue's pull request: node-20's NODE_VERSION, worker onto app-base 3.12, a [lint]."""
    edit(repo / "imagegraph.toml", 'NODE_VERSION = "20.18.0"', 'NODE_VERSION = "20.18.1"')
    edit(repo / "apps/worker/Dockerfile", "app-base:3.11-bookworm", "app-base:3.12-bookworm")
    with (repo / "imagegraph.toml").open("a") as toml:
        toml.write("\n[lint]\nmax_depth = 4\n")


NODE_AND_WORKER = {
    "node-20", "app-base-node", "ci-runner", "web", "admin", "devcontainer", "worker",
}  # fmt: skip


def test_the_issue_scenario_plans_exactly_seven(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    pull_request(repo)
    plan, notes = plan_since(repo)
    assert names(plan) == NODE_AND_WORKER
    assert len(plan) == 7
    assert notes == ()
    by_name = {planned.name: planned for planned in plan}
    assert by_name["node-20"].cause == ("arg NODE_VERSION 20.18.0 -> 20.18.1",)
    assert by_name["worker"].cause == ("apps/worker/Dockerfile: the Dockerfile",)
    # Before: imagegraph.toml changed, so every build it declares was rebuilt.
    graph = scan(repo, cache=False)
    assert len(graph.plan([FileChange(("apps/worker/Dockerfile", "imagegraph.toml"))])) == 25


def test_the_issue_scenario_diff(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    pull_request(repo)
    found = diff_revisions(repo, "HEAD", cache=False)
    assert (found.added, found.removed, found.bases_added, found.bases_removed) == ((), (), (), ())
    assert [changed.name for changed in found.changed] == ["node-20", "worker"]
    node = found.build("node-20")
    assert [str(f) for f in node.fields] == ["arg NODE_VERSION 20.18.0 -> 20.18.1"]
    assert (node.fields[0].key, node.fields[0].old, node.fields[0].new) == (
        "NODE_VERSION", "20.18.0", "20.18.1",
    )  # fmt: skip
    assert not node.dockerfile_changed
    worker = found.build("worker")
    assert worker.fields == ()
    assert worker.dockerfile_changed
    (gained,) = worker.parents_added
    (lost,) = worker.parents_removed
    assert (gained.parent, gained.kind, gained.where) == (
        "app-base-python-3.12", "from", "apps/worker/Dockerfile:1",
    )  # fmt: skip
    assert gained.value == "registry.acme.internal/platform/app-base:3.12-bookworm"
    assert (lost.parent, lost.where) == ("app-base-python-3.11", "apps/worker/Dockerfile:1")
    assert set(found.rebuild) == NODE_AND_WORKER
    assert found.compared == ("compose.yaml", "docker-bake.hcl", "imagegraph.toml")
    data = json.loads(found.to_json())
    assert data["schema"] == "imagegraph/diff/v1"
    assert data["changed"][0]["fields"][0]["text"] == "arg NODE_VERSION 20.18.0 -> 20.18.1"
    assert data["changed"][1]["parents_added"][0]["line"] == 1
    assert {row["name"] for row in data["rebuild"]} == NODE_AND_WORKER
    admin = next(row for row in data["rebuild"] if row["name"] == "admin")
    assert admin["via"] == ["node-20", "app-base-node"]


def test_the_cli_on_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed(tmp_path / "fleet")
    pull_request(repo)
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["diff", str(repo), "--since", "HEAD", "--no-cache", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "Changes from HEAD to the work tree: builds 0 added, 0 removed, 2 changed" in out
    assert "arg NODE_VERSION 20.18.0 -> 20.18.1" in out
    assert (
        "+ parent registry.acme.internal/platform/app-base:3.12-bookworm (the build "
        "app-base-python-3.12): from at apps/worker/Dockerfile:1"
    ) in out
    assert ": 7 builds in 3 waves" in out
    assert main(["plan", str(repo), "--since", "HEAD", "--no-cache", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["build_count"] == 7
    assert main(["diff", str(repo), "--since", "HEAD", "--no-cache"]) == 0  # piped: JSON
    assert json.loads(capsys.readouterr().out)["schema"] == "imagegraph/diff/v1"


def test_until_a_revision_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = committed(tmp_path / "fleet")
    pull_request(repo)
    git(repo, "commit", "-qam", "the pull request")
    (repo / "apps/web/Dockerfile").write_text("FROM debian:bookworm\n")  # not committed
    found = diff_revisions(repo, "HEAD~1", "HEAD", cache=False)
    assert [changed.name for changed in found.changed] == ["node-20", "worker"]
    assert set(found.rebuild) == NODE_AND_WORKER
    assert found.until == "HEAD"
    assert main(["diff", str(repo), "--since", "HEAD~1", "--until", "HEAD", "--no-cache"]) == 0
    assert len(json.loads(capsys.readouterr().out)["rebuild"]) == 7
    for argv, said in (
        (["--since", "no-such-rev"], "no commit or tree of that name"),
        (["--since", "HEAD", "--until", "nope"], "--until 'nope': no commit or tree"),
        (["--since", "--output=x"], ""),
    ):
        code = main(["diff", str(repo), *argv, "--no-cache"])
        out, err = capsys.readouterr()
        assert code in (1, 2)
        assert out == ""
        assert said in err
        assert "Traceback" not in err


# --- each declaration format: an entry edit rebuilds that entry, a comment nothing ---


FORMATS: dict[str, tuple[dict[str, str], tuple[str, str], tuple[str, str]]] = {
    # files, (an edit of entry "a"), (an edit that changes no build)
    "imagegraph.toml": (
        {
            "imagegraph.toml": '# the fleet\n[[image]]\nname = "a"\ndockerfile = "a/Dockerfile"\n'
            'args = { V = "1" }\n\n[[image]]\nname = "b"\ndockerfile = "b/Dockerfile"\n',
        },
        ('V = "1"', 'V = "2"'),
        ("# the fleet\n", "# the fleet, reformatted\n\n\n"),
    ),
    "docker-bake.hcl": (
        {
            "docker-bake.hcl": '# the fleet\ngroup "default" {\n  targets = ["a", "b"]\n}\n'
            'target "a" {\n  context = "a"\n  args = { V = "1" }\n}\n'
            'target "b" {\n  context = "b"\n}\n',
        },
        ('V = "1"', 'V = "2"'),
        ('target "a" {\n  context = "a"', '// a comment\ntarget "a" {\n    context    =    "a"'),
    ),
    "docker-bake.json": (
        {
            "docker-bake.json": json.dumps(
                {
                    "group": {"default": {"targets": ["a", "b"]}},
                    "target": {"a": {"context": "a", "args": {"V": "1"}}, "b": {"context": "b"}},
                }
            ),
        },
        ('"V": "1"', '"V": "2"'),
        ('"group"', '\n\n  "group"'),
    ),
    "compose.yaml": (
        {
            # Tagged: compose would name an untagged image after the directory.
            "compose.yaml": "# the fleet\nservices:\n  a:\n    image: acme/a:1\n    build:\n"
            "      context: a\n      args:\n        V: '1'\n  b:\n    image: acme/b:1\n"
            "    build: b\n",
        },
        ("V: '1'", "V: '2'"),
        ("# the fleet\n", "# the fleet\n# with a second comment\n"),
    ),
    "library manifest": (
        {
            "imagegraph.toml": '[[manifests]]\npath = "library/app"\nrepository = "acme/app"\n',
            "library/app": "# the fleet\nMaintainers: Jane Doe <jane@example.com> (@jane)\n"
            "GitRepo: https://example.com/x.git\n\nTags: 1, one\nDirectory: a\n\n"
            "Tags: 2\nDirectory: b\n",
        },
        ("Tags: 1, one", "Tags: 1, uno"),
        ("# the fleet\n", "# the fleet, again\n"),
    ),
}


@pytest.mark.parametrize("form", list(FORMATS))
def test_each_format_rebuilds_only_the_entry_that_changed(tmp_path: Path, form: str) -> None:
    files, entry, cosmetic = FORMATS[form]
    declared = next(name for name in files if name != "imagegraph.toml" or len(files) == 1)
    dockerfiles = {"a/Dockerfile": "FROM debian:12\n", "b/Dockerfile": "FROM alpine:3\n"}
    repo = committed(tmp_path / "fleet", {**files, **dockerfiles})
    a = scan(repo, cache=False).builds[0].name  # "a", or "acme/app:1" from the manifest
    edit(repo / declared, *cosmetic)
    plan, _ = plan_since(repo)
    assert names(plan) == set()
    assert "declarations-change-nothing" in codes(plan.diagnostics)
    said = next(d for d in plan.diagnostics if d.code == "declarations-change-nothing")
    assert said.message.startswith(f"{declared} changed, but no build declared there")
    edit(repo / declared, *entry)
    plan, _ = plan_since(repo)
    assert names(plan) == {a}
    (planned,) = plan
    assert planned.cause
    assert all(declared not in cause for cause in planned.cause)


def test_reordering_the_entries_rebuilds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed(tmp_path / "fleet")
    toml = repo / "imagegraph.toml"
    text = toml.read_text()
    api = text[text.index('[[image]]\nname = "api"') : text.index('[[image]]\nname = "worker"')]
    toml.write_text(text.replace(api, "") + "\n" + api)
    plan, _ = plan_since(repo)
    assert len(plan) == 0
    assert "declarations-change-nothing" in codes(plan.diagnostics)
    # The table says so under itself (information is not written to stderr).
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["plan", str(repo), "--since", "HEAD", "--no-cache", "--format", "table"]) == 0
    out, err = capsys.readouterr()
    assert "0 builds in 0 waves" in out
    assert "imagegraph.toml changed, but no build declared there is new or built differently" in out
    assert err == ""


def test_convention_new_dockerfile_and_a_rename(tmp_path: Path) -> None:
    repo = committed(
        tmp_path / "fleet", {"a/Dockerfile": "FROM debian:12\n", "b/Dockerfile": "FROM a\n"}
    )
    write(repo, {"c/Dockerfile": "FROM alpine:3\n"})
    plan, notes = plan_since(repo)
    assert (names(plan), notes) == ({"c"}, ())
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "c")
    git(repo, "mv", "a/Dockerfile", "a/Containerfile")
    found = diff_revisions(repo, "HEAD", cache=False)
    assert (found.added, found.removed) == ((), ())
    (moved,) = found.changed
    assert moved.name == "a"
    assert [str(f) for f in moved.fields] == ["dockerfile a/Dockerfile -> a/Containerfile"]
    assert not moved.dockerfile_changed  # the same text under a new name
    assert set(found.rebuild) == {"a", "b"}


# --- matrices, removals, renames, a revision without the config -----------------


def test_a_matrix_axis_gains_a_value(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    edit(
        repo / "imagegraph.toml",
        'matrix = { PYTHON_VERSION = ["3.11", "3.12"], OS',
        'matrix = { PYTHON_VERSION = ["3.11", "3.12", "3.13"], OS',
    )
    found = diff_revisions(repo, "HEAD", cache=False)
    assert found.added == ("python-3.13-alpine", "python-3.13-bookworm")
    assert (found.removed, found.changed) == ((), ())
    plan, _ = plan_since(repo)
    assert names(plan) == {"python-3.13-alpine", "python-3.13-bookworm"}
    assert all(planned.cause[0].startswith("new build (imagegraph.toml:") for planned in plan)


def test_a_bake_target_removed(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    bake = repo / "docker-bake.hcl"
    edit(bake, '"billing", "search-indexer"]', '"billing"]')
    text = bake.read_text()
    bake.write_text(text[: text.index('target "search-indexer"')])
    found = diff_revisions(repo, "HEAD", cache=False)
    assert (found.removed, found.added, found.changed, found.rebuild) == (
        ("search-indexer",), (), (), (),
    )  # fmt: skip
    plan, _ = plan_since(repo)
    assert len(plan) == 0


def test_a_target_field_removed(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    edit(repo / "imagegraph.toml", 'tags = ["registry.acme.internal/apps/api:latest"]\ntarget = "runtime"\n',
         'tags = ["registry.acme.internal/apps/api:latest"]\n')  # fmt: skip
    found = diff_revisions(repo, "HEAD", cache=False)
    assert [str(f) for f in found.build("api").fields] == ["target runtime -> (none)"]
    plan, _ = plan_since(repo)
    assert names(plan) == {"api"}


def test_a_dockerfile_renamed_keeps_its_image(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    git(repo, "mv", "apps/worker/Dockerfile", "apps/worker/worker.Dockerfile")
    edit(repo / "imagegraph.toml", '"apps/worker/Dockerfile"', '"apps/worker/worker.Dockerfile"')
    found = diff_revisions(repo, "HEAD", cache=False)
    assert (found.added, found.removed) == ((), ())
    (worker,) = found.changed
    assert worker.name == "worker"
    assert [(f.field, f.old, f.new) for f in worker.fields] == [
        ("dockerfile", "apps/worker/Dockerfile", "apps/worker/worker.Dockerfile"),
    ]
    assert (worker.dockerfile_changed, worker.parents_added, worker.parents_removed) == (
        False, (), (),
    )  # fmt: skip
    plan, _ = plan_since(repo)
    assert names(plan) == {"worker"}


def test_a_revision_without_the_config_falls_back_per_file(tmp_path: Path) -> None:
    repo = committed(
        tmp_path / "fleet", {"a/Dockerfile": "FROM debian:12\n", "b/Dockerfile": "FROM alpine:3\n"}
    )
    write(repo, {"imagegraph.toml": '[[image]]\nname = "a"\ndockerfile = "a/Dockerfile"\n'
                 'tags = ["a"]\n\n[[image]]\nname = "b"\ndockerfile = "b/Dockerfile"\n'
                 'tags = ["b"]\n'})  # fmt: skip
    git(repo, "add", "imagegraph.toml")  # committed in the pull request
    plan, notes = plan_since(repo)
    assert names(plan) == {"a", "b"}
    (note,) = notes
    assert (note.code, note.severity.value, note.path) == (
        "declaration-not-compared", "warning", "imagegraph.toml",
    )  # fmt: skip
    assert "it did not exist there" in note.message
    assert {planned.cause for planned in plan} == {
        ("imagegraph.toml: declares 'a'",), ("imagegraph.toml: declares 'b'",),
    }  # fmt: skip


def test_a_revision_whose_config_is_broken_falls_back_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = {
        "imagegraph.toml": '[[image]]\nname = "a"\ndockerfile = "a/Dockerfile"\n[[image]\n',
        "a/Dockerfile": "FROM debian:12\n",
        "b/Dockerfile": "FROM alpine:3\n",
    }
    repo = committed(tmp_path / "fleet", fleet)
    edit(
        repo / "imagegraph.toml",
        "[[image]\n",
        '[[image]]\nname = "b"\ndockerfile = "b/Dockerfile"\n',
    )
    plan, notes = plan_since(repo)
    assert names(plan) == {"a", "b"}
    (note,) = notes
    assert (note.code, note.severity.value) == ("revision-unreadable", "warning")
    assert "the fleet at HEAD cannot be read" in note.message
    assert "imagegraph.toml" in note.message
    assert main(["plan", str(repo), "--since", "HEAD", "--no-cache", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "warning[revision-unreadable]" in err
    assert "revision-unreadable" in {d["code"] for d in json.loads(out)["diagnostics"]}
    assert main(["diff", str(repo), "--since", "HEAD", "--no-cache"]) == 1
    assert "imagegraph.toml" in capsys.readouterr().err


# --- nothing the repository configures runs -------------------------------------


def test_a_hostile_repository_runs_nothing(tmp_path: Path) -> None:
    repo = committed(tmp_path / "fleet")
    marker = tmp_path / "MARKER"

    def script(name: str, tail: str = "") -> str:
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\ntouch '{marker}'\n{tail}")
        path.chmod(0o755)
        return str(path)

    (repo / ".gitattributes").write_text("* diff=evil filter=evil export-subst\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-qm", "attributes")
    git(repo, "config", "core.fsmonitor", script("fsmonitor"))
    git(repo, "config", "diff.external", script("external"))
    git(repo, "config", "diff.evil.textconv", script("textconv", 'cat "$1"\n'))
    git(repo, "config", "diff.evil.command", script("command"))
    git(repo, "config", "filter.evil.clean", script("clean", "cat\n"))
    git(repo, "config", "filter.evil.smudge", script("smudge", "cat\n"))
    pull_request(repo)
    for argv in (
        ["diff", ".", "--since", "HEAD~1", "--format", "json"],
        ["diff", ".", "--since", "HEAD~1", "--until", "HEAD", "--format", "json"],
        ["plan", ".", "--since", "HEAD~1", "--format", "json"],
    ):
        ran = run_cli(argv, cwd=repo, env={"GIT_EXTERNAL_DIFF": script("env-diff")})
        assert ran.code == 0, ran.output
        assert not marker.exists(), ran.output
    assert len(json.loads(ran.stdout)["waves"]) == 3


# --- the Python API on graphs ----------------------------------------------------


def graph_of(builds: dict[str, tuple[str, dict[str, str]]]) -> ImageGraph:
    """Builds ``name -> (FROM, args)``, each tagged ``acme/<name>:1``."""
    return ImageGraph.from_builds(
        ImageBuild(
            name,
            f"{name}/Dockerfile",
            name,
            (ImageRef.parse(f"acme/{name}:1"),),
            args=args,
            dockerfile_inline=f"FROM {base}\n",
        )
        for name, (base, args) in builds.items()
    )


def test_dockerfiles_are_read_and_compared_without_files(tmp_path: Path) -> None:
    write(tmp_path / "old", {"a/Dockerfile": "FROM debian:12\n", "b/Dockerfile": "FROM alpine:3\n"})
    write(
        tmp_path / "new", {"a/Dockerfile": "FROM debian:12\n", "b/Dockerfile": "FROM alpine:3.20\n"}
    )
    found = diff(scan(tmp_path / "old", cache=False), scan(tmp_path / "new", cache=False))
    (changed,) = found.changed
    assert (changed.name, changed.dockerfile_changed, changed.fields) == ("b", True, ())
    assert changed.reasons == ("the Dockerfile changed",)
    assert found.bases_added == ("docker.io/library/alpine:3.20",)
    assert found.bases_removed == ("docker.io/library/alpine:3",)
    assert found.rebuild == ("b",)
    assert found.changes() == (EntryChange((("b", ("the Dockerfile changed",)),)),)


NAMES = st.sampled_from(["a", "b", "c", "d"])
FLEETS = st.dictionaries(
    NAMES,
    st.tuples(
        st.sampled_from(["debian:12", "alpine:3", "acme/a:1", "acme/b:1"]),
        st.dictionaries(st.sampled_from(["V", "W"]), st.sampled_from(["1", "2"]), max_size=2),
    ),
    max_size=4,
)


def acyclic(
    fleet: dict[str, tuple[str, dict[str, str]]],
) -> dict[str, tuple[str, dict[str, str]]]:
    """*fleet* without builds FROM a build of a name after theirs: no cycle."""
    return {n: v for n, v in fleet.items() if not (v[0].startswith("acme/") and v[0][5] >= n)}


@settings(max_examples=60, deadline=None)
@given(FLEETS, FLEETS)
@example(  # the parent build of d is removed: d now builds on the registry's acme/a:1
    old={"a": ("debian:12", {}), "d": ("acme/a:1", {})},
    new={"b": ("debian:12", {}), "d": ("acme/a:1", {})},
)
def test_a_diff_read_backwards_is_its_mirror(
    old: dict[str, tuple[str, dict[str, str]]], new: dict[str, tuple[str, dict[str, str]]]
) -> None:
    old, new = acyclic(old), acyclic(new)
    forth, back = diff(graph_of(old), graph_of(new)), diff(graph_of(new), graph_of(old))
    assert (forth.added, forth.removed) == (back.removed, back.added)
    assert (forth.bases_added, forth.bases_removed) == (back.bases_removed, back.bases_added)
    assert [c.name for c in forth.changed] == [c.name for c in back.changed]
    for there, here in zip(forth.changed, back.changed, strict=True):
        assert [(f.field, f.key, f.new, f.old) for f in there.fields] == [
            (f.field, f.key, f.old, f.new) for f in here.fields
        ]
    # What is rebuilt is every new or changed build (its entry, or its parents: a
    # parent build removed leaves a registry image in its place), and every build on one.
    same = diff(graph_of(new), graph_of(new))
    assert (same.added, same.removed, same.changed, same.rebuild) == ((), (), (), ())
    graph = graph_of(new)
    touched = set(forth.added) | {
        c.name for c in forth.changed if c.fields or c.parents_added or c.parents_removed
    }
    expected = touched | {d for name in touched for d in graph.descendants(name)}
    assert set(forth.rebuild) == expected


# --- the README shows what the command prints ------------------------------------


def test_the_readme_pull_request_section(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### What a pull request does to the graph") :]
    commands, shown = section.split("```")[1], section.split("```")[3]
    commands = commands.removeprefix("sh\n")
    assert commands.rstrip().endswith("imagegraph diff . --since HEAD")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmp_path),
        "COLUMNS": "100",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        ["bash", "-euc", commands.rstrip() + " --format table --no-cache"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [line.rstrip() for line in done.stdout.splitlines()]
    assert printed == shown.strip("\n").splitlines()
    assert re.search(r"Rebuild after .*: 7 builds in 3\s+waves", done.stdout)


# --- builds whose inputs change with neither their entry nor their Dockerfile ------


TOML_BASE = """\
[[image]]
name = "base"
dockerfile = "base/Dockerfile"
tags = ["registry.example.com/base:1"]

[[image]]
name = "app"
dockerfile = "app/Dockerfile"
"""


def test_a_parent_that_becomes_an_external_image_rebuilds_its_child(tmp_path: Path) -> None:
    """The build that provided app's base is removed: app's FROM now names the
    registry's image, a new parent, though app's entry and Dockerfile are as they
    were; it must rebuild (the issue's rule: a build whose parent changed)."""
    repo = committed(
        tmp_path / "fleet",
        {
            "imagegraph.toml": TOML_BASE,
            "base/Dockerfile": "FROM debian:12\n",
            "app/Dockerfile": "FROM registry.example.com/base:1\n",
        },
    )
    (repo / "imagegraph.toml").write_text(TOML_BASE[TOML_BASE.index('[[image]]\nname = "app"') :])
    found = diff_revisions(repo, "HEAD", cache=False)
    assert found.removed == ("base",)
    assert [(b.name, [e.parent for e in b.parents_removed]) for b in found.changed] == [
        ("app", ["base"])
    ]
    assert found.rebuild == ("app",)
    plan, _ = plan_since(repo)
    assert names(plan) == {"app"}


def test_a_dockerignore_change_rebuilds_the_build_of_its_context(tmp_path: Path) -> None:
    repo = committed(
        tmp_path / "fleet",
        {"app/Dockerfile": "FROM debian:12\nCOPY . /src\n", "app/.dockerignore": "*.md\n"},
    )
    (repo / "app" / ".dockerignore").write_text("*.md\n*.log\n")
    plan, _ = plan_since(repo)
    assert names(plan) == {"app"}
