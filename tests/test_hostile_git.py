"""Hostile repositories under ``--since`` and ``--changed-files`` (issue 12, items 2 and 5).

``--since`` must learn what changed without running anything the repository
configures (hooks, filter and diff drivers, fsmonitor, pagers, transports) and
without writing ``.git/index``; changed paths must be understood as git prints
them, also for a build whose context lies beside the fleet (``../shared``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import FileChange, ImageGraph, scan
from imagegraph._git import GitError, _index_stats, changed_files
from imagegraph.cli import _listed_changes, main
from tests.hostile import Entry, Fifo, Symlink, assert_contained, build, run_cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

FLEET = {
    "fleet/imagegraph.toml": '[[image]]\nname = "app"\ncontext = "../shared"\n'
    'dockerfile = "app/Dockerfile"\n\n[[image]]\nname = "tool"\ncontext = "tool"\n',
    "fleet/app/Dockerfile": "FROM debian:bookworm\nCOPY . /src\n",
    "fleet/tool/Dockerfile": "FROM alpine:3.20\nCOPY run.sh /\n",
    "fleet/tool/run.sh": "echo tool\n",
    "shared/lib.py": "print('lib')\n",
    "README.md": "the repository\n",
    # The same two builds, declared for a scan of the whole repository.
    "imagegraph.toml": '[[image]]\nname = "app"\ncontext = "shared"\n'
    'dockerfile = "fleet/app/Dockerfile"\n\n[[image]]\nname = "tool"\ncontext = "fleet/tool"\n',
    ".gitattributes": "* filter=evil diff=evil\n",
}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
         "-c", "core.hooksPath=/nonexistent", *args],
        cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return done.stdout


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    repo = root / "repo"
    build(repo, files or FLEET)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "fleet")
    return repo


def planned(stdout: str) -> set[str]:
    """The builds a JSON plan rebuilds."""
    return {b["name"] for wave in json.loads(stdout)["waves"] for b in wave["builds"]}


def plan(
    argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """``imagegraph plan ARGV`` in this process, in *cwd*: where nothing can hang."""
    monkeypatch.chdir(cwd)
    code = main(["plan", *argv, "--no-cache", "--format", "json"])
    out, err = capsys.readouterr()
    return code, out, err


def script(path: Path, marker: Path, tail: str = "") -> str:
    """An executable that leaves *marker* behind if anything runs it."""
    path.write_text(f"#!/bin/sh\ntouch '{marker}'\n{tail}")
    path.chmod(0o755)
    return str(path)


def stat_dirty(repo: Path) -> None:
    """Files git would have to re-read (and filter) to know they are unchanged."""
    for name in ("shared/lib.py", "fleet/tool/run.sh", "README.md"):
        os.utime(repo / name, (1_000_000_000, 1_000_000_000))


# Each sets up one way for a repository to make git run a program; the program
# touches the marker. Only .git/config, hooks and the work tree are the
# repository's; the environment is the CI job's (GIT_EXTERNAL_DIFF, a pager).
Vector = Callable[[Path, Path, Path], None]


def _hooks(repo: Path, marker: Path, tmp: Path) -> None:
    hooks = repo / ".git" / "hooks"
    for name in ("post-index-change", "reference-transaction", "post-checkout", "pre-commit"):
        script(hooks / name, marker)
    git(repo, "config", "core.hooksPath", str(hooks))


def _clean_filter(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "filter.evil.clean", script(tmp / "clean", marker, "cat\n"))
    git(repo, "config", "filter.evil.smudge", script(tmp / "smudge", marker, "cat\n"))
    git(repo, "config", "filter.evil.required", "true")


def _process_filter(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "filter.evil.process", script(tmp / "process", marker, "cat\n"))


def _fsmonitor(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "core.fsmonitor", script(tmp / "fsmonitor", marker))
    git(repo, "config", "core.untrackedCache", "true")


def _diff_drivers(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "diff.external", script(tmp / "external", marker))
    git(repo, "config", "diff.evil.textconv", script(tmp / "textconv", marker, 'cat "$1"\n'))
    git(repo, "config", "diff.evil.command", script(tmp / "command", marker))


def _pagers(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "core.pager", script(tmp / "pager", marker, "cat\n"))
    git(repo, "config", "pager.diff", script(tmp / "pager-diff", marker, "cat\n"))
    git(repo, "config", "pager.ls-files", script(tmp / "pager-ls", marker, "cat\n"))
    git(repo, "config", "core.editor", script(tmp / "editor", marker))


def _transports(repo: Path, marker: Path, tmp: Path) -> None:
    git(repo, "config", "core.sshCommand", script(tmp / "ssh", marker))
    git(repo, "config", "core.gitProxy", script(tmp / "proxy", marker))
    git(repo, "config", "credential.helper", "!" + script(tmp / "credential", marker))
    git(repo, "config", "core.askPass", script(tmp / "askpass", marker))
    git(repo, "config", "uploadpack.packObjectsHook", script(tmp / "pack", marker))
    git(repo, "config", "core.alternateRefsCommand", script(tmp / "alternate", marker))
    git(repo, "config", "protocol.ext.allow", "always")
    git(repo, "config", "remote.origin.url", f"ext::sh -c touch% {marker}")


def _includes(repo: Path, marker: Path, tmp: Path) -> None:
    # A config the work tree brings, pulled in by include.path and includeIf.
    (repo / "evil.config").write_text(
        f"[core]\n\tfsmonitor = {script(tmp / 'fsmonitor', marker)}\n"
        f'[filter "evil"]\n\tclean = {script(tmp / "clean", marker, "cat")}\n'
        f"[diff]\n\texternal = {script(tmp / 'external', marker)}\n"
    )
    git(repo, "config", "include.path", str(repo / "evil.config"))
    git(repo, "config", f"includeIf.gitdir:{repo}/.git.path", str(repo / "evil.config"))


def _external_diff_env(repo: Path, marker: Path, tmp: Path) -> None:
    pass  # the environment carries it: see ENVIRONMENTS


VECTORS: list[tuple[str, Vector]] = [
    ("hooks, post-index-change among them", _hooks),
    ("clean and smudge filter, required", _clean_filter),
    ("long-running filter process", _process_filter),
    ("fsmonitor program", _fsmonitor),
    ("external diff, textconv, diff command", _diff_drivers),
    ("pagers and editor", _pagers),
    ("ssh command, proxy, credential helper, ext:: remote", _transports),
    ("include.path and includeIf from the work tree", _includes),
    ("GIT_EXTERNAL_DIFF, GIT_PAGER, PAGER in the environment", _external_diff_env),
]


def _arm(repo: Path, marker: Path, tmp: Path, vectors: list[Vector]) -> tuple[bytes, int]:
    for vector in vectors:
        vector(repo, marker, tmp)
    (repo / "shared" / "lib.py").write_text("print('changed')\n")
    stat_dirty(repo)
    index = repo / ".git" / "index"
    return index.read_bytes(), index.stat().st_mtime_ns


def _environment(marker: Path, tmp: Path) -> dict[str, str]:
    return {
        "GIT_EXTERNAL_DIFF": script(tmp / "env-diff", marker),
        "GIT_PAGER": script(tmp / "env-pager", marker, "cat\n"),
        "PAGER": script(tmp / "env-pager2", marker, "cat\n"),
        "GIT_SSH_COMMAND": script(tmp / "env-ssh", marker),
    }


@pytest.mark.parametrize(("title", "vector"), VECTORS, ids=[v[0] for v in VECTORS])
def test_since_runs_nothing_and_writes_no_index(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    title: str,
    vector: Vector,
) -> None:
    repo = make_repo(tmp_path)
    marker = tmp_path / "MARKER"
    before = _arm(repo, marker, tmp_path, [vector])
    for name, value in _environment(marker, tmp_path).items():
        monkeypatch.setenv(name, value)
    code, out, err = plan([".", "--since", "HEAD"], repo, monkeypatch, capsys)
    assert not marker.exists(), f"{title}: something ran\n{err}"
    index = repo / ".git" / "index"
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before, "the index was rewritten"
    assert code == 0, err
    assert planned(out) == {"app"}  # shared/lib.py changed; run.sh, README.md only touched


def test_every_vector_at_once_through_the_cli(tmp_path: Path) -> None:
    """The real command, in a child process with a time bound: no hang, no leak."""
    repo = make_repo(tmp_path)
    marker = tmp_path / "MARKER"
    before = _arm(repo, marker, tmp_path, [vector for _, vector in VECTORS])
    ran = run_cli(
        ["plan", ".", "--since", "HEAD", "--format", "json"],
        cwd=repo, env=_environment(marker, tmp_path), timeout=60,
    )  # fmt: skip
    assert not marker.exists(), ran.output
    index = repo / ".git" / "index"
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    assert ran.code == 0, ran.output
    assert planned(ran.stdout) == {"app"}
    assert_contained(ran)


def test_a_lazy_fetch_of_a_partial_clone_is_refused(tmp_path: Path) -> None:
    """A missing tree would make git fetch from the promisor remote: no transport runs."""
    origin = make_repo(tmp_path)
    (origin / "README.md").write_text("second\n")
    git(origin, "commit", "-qam", "second")
    git(origin, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=tree:0", f"file://{origin}", str(clone))
    marker = tmp_path / "MARKER"
    git(clone, "config", "protocol.ext.allow", "always")
    git(clone, "config", "remote.origin.url", f"ext::sh -c touch% {marker}")
    ran = run_cli(["plan", "fleet", "--root", ".", "--since", "HEAD~1"], cwd=clone)
    assert not marker.exists()
    assert ran.code == 1
    assert ran.stderr.startswith("imagegraph: --since 'HEAD~1': no commit or tree"), ran.stderr


@pytest.mark.parametrize("link", ["gitdir file", "symbolic link"])
def test_a_gitdir_link_to_another_repository_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    elsewhere = make_repo(tmp_path / "elsewhere")
    fleet = build(tmp_path / "fleet", {"app/Dockerfile": "FROM debian\n"})
    if link == "gitdir file":
        (fleet / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    else:
        (fleet / ".git").symlink_to(elsewhere / ".git")
    code, _, err = plan([".", "--since", "HEAD"], fleet, monkeypatch, capsys)
    assert code == 1
    assert "not followed" in err
    assert str(elsewhere) not in err  # the link's target is not quoted


def _linked_work_tree(tmp_path: Path) -> Path:
    git(make_repo(tmp_path), "worktree", "add", "-q", str(tmp_path / "linked"))
    return tmp_path / "linked"


def _submodule(tmp_path: Path) -> Path:
    fleet = make_repo(tmp_path)
    outer = build(tmp_path / "outer", {"README.md": "outer\n"})
    git(outer, "init", "-q")
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(fleet), "sub")
    git(outer, "commit", "-qm", "sub")
    assert (outer / "sub" / ".git").is_file()
    return outer / "sub"


@pytest.mark.parametrize("work_tree", [_linked_work_tree, _submodule])
def test_a_gitdir_link_git_itself_wrote_is_followed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    work_tree: Callable[[Path], Path],
) -> None:
    top = work_tree(tmp_path)
    (top / "shared" / "lib.py").write_text("print('elsewhere')\n")
    code, out, err = plan([".", "--since", "HEAD"], top, monkeypatch, capsys)
    assert code == 0, err
    assert planned(out) == {"app"}


def test_an_embedded_bare_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory of the work tree dressed as a bare repository, with hostile config:
    git is told to use no bare repository it was not pointed at."""
    marker = tmp_path / "MARKER"
    fsmonitor = script(tmp_path / "fsmonitor", marker)
    repo = make_repo(
        tmp_path,
        {
            **FLEET,
            "fleet/HEAD": "ref: refs/heads/main\n",
            "fleet/objects/info/.keep": "",
            "fleet/refs/heads/.keep": "",
            "fleet/config": f"[core]\n\tbare = true\n\tfsmonitor = {fsmonitor}\n"
            f'[filter "evil"]\n\tclean = {fsmonitor}\n',
        },
    )
    code, _, err = plan([".", "--since", "HEAD"], repo / "fleet", monkeypatch, capsys)
    assert not marker.exists()
    assert code == 1
    assert "bare repository" in err, err


def test_a_repository_owned_by_someone_else_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    code, _, err = plan([".", "--since", "HEAD"], repo, monkeypatch, capsys)
    assert code == 1
    assert "dubious ownership" in err
    assert "safe.directory" in err
    assert err.startswith("imagegraph: --since 'HEAD'")


# What the work tree holds where the index has shared/lib.py: never read through a
# link, never waited on; git too sees all but the first as a change.
ODD_WORK_FILES: list[tuple[str, dict[str, Entry], bool]] = [
    ("the same bytes again", {"shared/lib.py": "print('lib')\n"}, False),
    ("a FIFO", {"shared/lib.py": Fifo()}, True),
    ("a symbolic link out of the tree", {"shared/lib.py": Symlink("/etc/passwd")}, True),
    ("a directory", {"shared/lib.py/x": "x"}, True),
    ("a parent directory that is a link", {"shared": Symlink("../outside")}, True),
]


@pytest.mark.parametrize(
    ("title", "files", "changed"), ODD_WORK_FILES, ids=[c[0] for c in ODD_WORK_FILES]
)
def test_odd_work_tree_entries_are_changes_not_reads(
    tmp_path: Path, title: str, files: dict[str, Entry], changed: bool
) -> None:
    repo = make_repo(tmp_path)
    build(tmp_path, {"outside/lib.py": "print('lib')\n"})  # the same bytes, beyond a link
    shutil.rmtree(repo / "shared")
    build(repo, files)
    found = changed_files(repo / "fleet", "HEAD")
    assert ("shared/lib.py" in found.paths) is changed
    assert found.top == repo.resolve()


@pytest.mark.parametrize(
    ("revision", "said"),
    [
        ("--output=x", "is not a revision"),
        ("-c", "is not a revision"),
        ("HEAD\n--output=x", "is not a revision"),
        ("", "is not a revision"),
        ("no-such-rev", "no commit or tree of that name"),
        ("HEAD:README.md", "no commit or tree of that name"),  # a blob
    ],
)
def test_a_revision_is_only_ever_a_revision(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    revision: str,
    said: str,
) -> None:
    repo = make_repo(tmp_path)
    with pytest.raises(GitError, match=said):
        changed_files(repo, revision)
    code, out, err = plan([".", f"--since={revision}"], repo, monkeypatch, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"imagegraph: --since {revision!r}")
    assert said in err
    assert not (repo / "x").exists()


def test_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build(tmp_path / "fleet", {"Dockerfile": "FROM debian\n"})
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    code, _, err = plan([".", "--since", "HEAD"], tmp_path / "fleet", monkeypatch, capsys)
    assert code == 1
    assert err.startswith("imagegraph: --since 'HEAD' in .: fatal: not a git repository"), err


# --- the list of changed files is git's own --------------------------------

EDITS = ["modify", "touch", "delete", "stage-new", "untracked", "chmod", "relink", "to-dir"]
NAMES = ["a.txt", "d/b.txt", "d/e/c.sh", "link", "Dockerfile"]


def _apply(repo: Path, edit: str, name: str) -> None:
    path = repo / name
    if edit == "modify" and path.is_file() and not path.is_symlink():
        path.write_bytes(path.read_bytes() + b"more\n")
    elif edit == "touch" and path.exists():
        os.utime(path, (2_000_000_000, 2_000_000_000), follow_symlinks=False)
    elif edit == "delete" and (path.is_file() or path.is_symlink()):
        path.unlink()
    elif edit in ("stage-new", "untracked"):
        new = repo / f"new-{name.replace('/', '-')}"
        new.write_text("new\n")
        if edit == "stage-new":
            git(repo, "add", "--", new.name)
    elif edit == "chmod" and path.is_file() and not path.is_symlink():
        path.chmod(path.stat().st_mode ^ stat.S_IXUSR)
    elif edit == "relink" and path.is_symlink():
        path.unlink()
        path.symlink_to("d/b.txt")
    elif edit == "to-dir" and (path.is_file() or path.is_symlink()):
        path.unlink()
        (path / "inner").mkdir(parents=True)
        (path / "inner" / "f").write_text("x\n")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.sampled_from(NAMES)), max_size=4))
def test_the_changed_files_are_those_git_diff_lists(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, str]]
) -> None:
    repo = make_repo(
        tmp_path_factory.mktemp("diff"),
        {"a.txt": "a\n", "d/b.txt": "b\r\n", "d/e/c.sh": "#!/bin/sh\n", "Dockerfile": "FROM x\n"},
    )
    (repo / "link").symlink_to("a.txt")
    (repo / "d/e/c.sh").chmod(0o755)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "link")
    for edit, name in edits:
        _apply(repo, edit, name)
    ours = changed_files(repo / "d", "HEAD").paths
    expected = git(repo, "diff", "--name-only", "--no-renames", "-z", "HEAD").split("\0")
    assert list(ours) == sorted(p for p in expected if p)


# --- changed paths outside the fleet, and as git prints them ------------------


@pytest.mark.parametrize(
    ("listing", "builds", "warning"),
    [
        ("shared/lib.py\n", ["app"], None),  # relative to the top of the work tree
        ("../shared/lib.py\n", ["app"], None),  # relative to PATH
        ("{repo}/shared/lib.py\n", ["app"], None),  # absolute
        ("fleet/tool/run.sh\nREADME.md\n", ["tool"], None),
        ("tool/run.sh\n", ["tool"], None),
        ("shared/lib.py\0fleet/tool/run.sh\0", ["app", "tool"], None),  # git diff -z
        ('"shared/lib.py"\n', ["app"], None),  # git's quoting
        ("README.md\ndocs/x.md\n", [], "files-outside-fleet"),
        ("{repo}/../elsewhere/x\n", [], "files-outside-fleet"),
        ("\n\n", [], "no-changed-files"),
        ("fleet/tool/notes.md\n", [], None),  # in a context, read by no COPY: information
    ],
)
def test_changed_files_as_git_prints_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    listing: str,
    builds: list[str],
    warning: str | None,
) -> None:
    repo = make_repo(tmp_path)
    (tmp_path / "changed.txt").write_text(listing.format(repo=repo))
    for cwd, path in ((repo, "fleet"), (repo / "fleet", ".")):
        monkeypatch.chdir(cwd)
        code = main(
            ["plan", path, "--root", str(repo), "--no-cache", "--format", "json",
             "--changed-files", str(tmp_path / "changed.txt")]
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        assert planned(out) == set(builds)
        if warning is None:
            assert "warning" not in err, err
        else:
            assert f"warning[{warning}]" in err, err


def test_a_quoted_non_ascii_name_is_unquoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, {**FLEET, "shared/café.py": "x\n"})
    (repo / "shared" / "café.py").write_text("y\n")
    printed = git(repo, "diff", "--name-only", "HEAD")
    assert printed.startswith('"shared/caf\\303\\251.py"')  # core.quotePath
    (tmp_path / "changed.txt").write_text(printed)
    argv = ["fleet", "--root", ".", "--changed-files", str(tmp_path / "changed.txt")]
    code, out, err = plan(argv, repo, monkeypatch, capsys)
    assert code == 0, err
    assert planned(out) == {"app"}
    assert "../shared/café.py" in out


def test_since_sees_a_context_beside_the_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    argv = [".", "--root", "..", "--since", "HEAD"]
    (repo / "shared" / "lib.py").write_text("print('changed')\n")
    (repo / "README.md").write_text("more\n")
    code, out, err = plan(argv, repo / "fleet", monkeypatch, capsys)
    assert code == 0, err
    assert planned(out) == {"app"}
    assert '"../shared/lib.py: COPY the whole context' in out
    git(repo, "commit", "-qam", "both")
    code, out, err = plan(argv, repo / "fleet", monkeypatch, capsys)
    assert (code, planned(out)) == (0, set())
    assert "warning[no-changed-files]" in err
    (repo / "README.md").write_text("again\n")
    code, out, err = plan(argv, repo / "fleet", monkeypatch, capsys)
    assert (code, planned(out)) == (0, set())
    assert "warning[files-outside-fleet]" in err
    assert "the changed file ../README.md lies in no build context" in err
    assert "outside the scanned directory" in err


def test_a_path_outside_the_root_is_not_in_a_root_context(tmp_path: Path) -> None:
    graph = scan(build(tmp_path / "fleet", {"Dockerfile": "FROM debian\nCOPY . /\n"}))
    assert graph.impact([FileChange.of(["../fleet2/x"])]).affected == ()
    assert graph.impact([FileChange.of(["x"])]).affected == ("fleet",)
    assert graph.impact([FileChange.of([str(tmp_path / "fleet" / "x")])]).affected == ("fleet",)


@pytest.mark.parametrize(
    ("readable", "edited", "listed"),
    [
        (None, False, set()),  # read and hashed: only touched
        # Outside the readable root: neither opened nor listed, since nothing
        # read from there can change a build (a fresh clone's files would all
        # look changed: their stat data cannot vouch for them).
        ("fleet", False, set()),
        ("fleet", True, set()),
        (".", False, set()),
        (".", True, {"shared/lib.py"}),
    ],
)
def test_no_file_outside_the_readable_root_is_opened(
    tmp_path: Path, readable: str | None, edited: bool, listed: set[str]
) -> None:
    repo = make_repo(tmp_path)
    stat_dirty(repo)  # shared/lib.py, fleet/tool/run.sh, README.md: new times, same bytes
    if edited:
        (repo / "shared" / "lib.py").write_text("edited\n")
    found = changed_files(
        repo / "fleet", "HEAD", readable=None if readable is None else repo / readable
    )
    assert set(found.paths) == listed


# --- properties: anything at all is an answer or an ImageGraphError -------------


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    repo = make_repo(tmp_path_factory.mktemp("index"))
    git(repo, "update-index", "--index-version", "4")
    return (repo / ".git" / "index").read_bytes()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"DIRC" + b)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 10_000),
)
def test_any_index_file_is_stat_data_or_nothing(
    tmp_path: Path, real_index: bytes, noise: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    """A damaged or hostile .git/index costs hashing, never an exception or a hang."""
    for data in (noise, real_index):
        damaged = bytearray(data)
        for at, value in flips:
            if damaged:
                damaged[at % len(damaged)] = value
        path = tmp_path / "index"
        path.write_bytes(bytes(damaged[: cut or None]))
        found = _index_stats(path, 20)
        assert found is None or isinstance(found[0], dict)


@pytest.fixture(scope="module")
def fleet_in_repo(tmp_path_factory: pytest.TempPathFactory) -> ImageGraph:
    repo = make_repo(tmp_path_factory.mktemp("listed"))
    return scan(repo / "fleet", root=repo, cache=False)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["shared/lib.py", "fleet/tool/run.sh", "README.md", "../x", "/"]),
            st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
            st.text(max_size=30),
        ),
        max_size=5,
    ),
    st.sampled_from(["\n", "\0", "\r\n"]),
)
def test_any_changed_files_list_is_a_plan_or_a_reason(
    tmp_path: Path, fleet_in_repo: ImageGraph, lines: list[str], separator: str
) -> None:
    """Never silent: a listing rebuilds something, or a diagnostic says why not."""
    graph = fleet_in_repo
    listing = tmp_path / "changed"
    listing.write_bytes(separator.join(lines).encode("utf-8", "surrogateescape"))
    change = _listed_changes(str(listing), graph.inventory.root)
    result = graph.impact([change])
    assert result.affected or result.diagnostics
    if "shared/lib.py" in lines and not any("\0" in line or "\n" in line for line in lines):
        assert "app" in result.affected  # from the top of the work tree: ../shared/lib.py


def test_the_callers_git_location_variables_do_not_pick_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a git hook GIT_DIR names the hook's repository: --since must still
    # compare the repository holding the scanned path, never another one.
    repo = make_repo(tmp_path, {"changed.txt": "old\n"})
    (repo / "changed.txt").write_text("new\n")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    for name, value in {
        "GIT_DIR": str(other / ".git"), "GIT_WORK_TREE": str(other),
        "GIT_INDEX_FILE": str(other / ".git" / "index"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    found = changed_files(repo, "HEAD")
    assert found.top == repo.resolve()
    assert "changed.txt" in found.paths
