"""Plans the real tools run, from where CI runs them (issue 13: items 1, 2, 4, 10).

The example fleet lies in ``repo/fleet/`` of a git repository and is planned
from ``repo/``, as a CI job does: every path of every format must work from
there (or from ``--relative-to DIR``), a named context ``target:<build>``
whose build is not built by the same invocation must be that build's image,
and an empty plan must be what each consumer takes as "nothing to do".
GNU make runs the Makefile for real with a stand-in build command; the Argo
build template's script runs for real with a stand-in ``buildctl``; bake is
checked by the rules of buildx's ``bake/bake.go`` (a block type needs a label
per object, ``target:`` must name a target of the same file).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageGraphError, ImageRef
from imagegraph.plan import RebuildPlan
from imagegraph.render import plan as render_plan
from imagegraph.render.argo import to_argo
from tests.hostile import assert_contained, build, run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet"
MAKE = shutil.which("make")
BUILDX = os.environ.get("IMAGEGRAPH_BUILDX") or shutil.which("docker-buildx")
GIT = shutil.which("git")
needs_make = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")
JDK = "docker-image://registry.acme.internal/platform/jdk:21"
JVM_BASE = "docker-image://registry.acme.internal/platform/app-base-jvm:21"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the example fleet as ``fleet/``."""
    root = tmp_path_factory.mktemp("consumers") / "repo"
    shutil.copytree(EXAMPLE, root / "fleet")
    if GIT is not None:
        subprocess.run([GIT, "init", "-q", str(root)], check=True, capture_output=True)
    return root


def _plan(repo: Path, fmt: str, *extra: str, cwd: Path | None = None) -> str:
    ran = run_cli(["plan", "fleet", "--no-cache", "--format", fmt, *extra], cwd=cwd or repo)
    assert ran.code == 0, ran.stderr
    assert_contained(ran)
    return ran.stdout


# -- paths: every format works from where imagegraph ran ------------------------------


def _paths(fmt: str, text: str) -> list[tuple[str, str]]:
    """(build, path) for each Dockerfile and context directory the output names."""
    found: list[tuple[str, str]] = []
    if fmt == "json":
        data = json.loads(text)
        for wave in data["waves"]:
            found.extend(
                (entry["name"], f"{data['root']}/{entry[key]}")
                for entry in wave["builds"]
                for key in ("dockerfile", "context")
            )
    elif fmt == "gha":
        data = json.loads(text)
        for index in range(1, data["waves"] + 1):
            for entry in data[f"wave{index}"]["include"]:
                found += [(entry["name"], entry["context"]), (entry["name"], entry["file"])]
    elif fmt == "bake":
        for name, target in json.loads(text)["target"].items():
            context = target["context"]
            found += [(name, context), (name, f"{context}/{target['dockerfile']}")]
    elif fmt == "argo":
        for task in json.loads(text)["spec"]["templates"][0]["dag"]["tasks"]:
            values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
            found += [(task["name"], values["context"]), (task["name"], values["dockerfile"])]
    return found


@pytest.mark.parametrize("fmt", ["json", "gha", "bake", "argo"])
def test_every_path_exists_from_the_repository_root(repo: Path, fmt: str) -> None:
    paths = _paths(fmt, _plan(repo, fmt))
    assert len({name for name, _ in paths}) == 25  # every build of the fleet
    for name, path in paths:
        assert path.startswith("fleet/"), (name, path)
        assert (repo / path).exists(), (name, path)  # from repo/, where the job runs


@pytest.mark.parametrize(
    ("cwd", "relative_to", "prefix"),
    [
        ("fleet", None, ""),  # run in the fleet itself: paths as before
        ("elsewhere", "..", "fleet/"),  # run elsewhere, consumed from the repository
        ("elsewhere", "../fleet/apps", "../"),  # consumed from a directory inside the fleet
    ],
)
def test_relative_to_moves_the_paths(
    repo: Path, tmp_path: Path, cwd: str, relative_to: str | None, prefix: str
) -> None:
    where = repo / cwd
    where.mkdir(exist_ok=True)
    target = repo if relative_to is None else (where / relative_to).resolve()
    path = os.path.relpath(repo / "fleet", where)
    argv = ["--relative-to", relative_to] if relative_to is not None else []
    ran = run_cli(["plan", path, "--no-cache", "--format", "make", *argv], cwd=where)
    assert ran.code == 0, ran.stderr
    assert f" {prefix}apps/api\n" in ran.stdout  # the context, last on its line
    assert f"-f {prefix}apps/api/Dockerfile " in ran.stdout
    base = where if relative_to is None else target
    assert (base / f"{prefix}apps/api/Dockerfile").is_file()


def test_the_library_writes_paths_relative_to_the_root_unless_told() -> None:
    from imagegraph import scan

    graph = scan(EXAMPLE)
    assert graph.plan().root == "."
    moved = graph.plan(relative_to=EXAMPLE.parent.parent)
    assert moved.root == "examples/fleet"
    gha = json.loads(render_plan.to_gha(moved))
    assert all(e["context"].startswith("examples/fleet/") for e in gha["wave1"]["include"])


# -- make, for real, from the repository root ------------------------------------------

_STAND_IN = """#!/bin/sh
# docker buildx build as far as a plan is concerned: record the arguments, and fail
# unless the Dockerfile (-f) and the context (the last word) exist from here and
# no named context asks for another target (plain buildx refuses target:).
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$ARGV_LOG"
printf '\\n' >> "$ARGV_LOG"
file=""; last=""; previous=""
for arg in "$@"; do
  [ "$previous" = "-f" ] && file="$arg"
  case "$previous:$arg" in --build-context:*=target:*) echo "target: context $arg" >&2; exit 3 ;; esac
  previous="$arg"; last="$arg"
done
[ -f "$file" ] || { echo "no Dockerfile $file" >&2; exit 4; }
[ -d "$last" ] || { echo "no context $last" >&2; exit 5; }
"""


def _make(repo: Path, makefile: str, *argv: str) -> list[list[str]]:
    """GNU make run on *makefile* from *repo* with the stand-in: the argument lists."""
    work = repo.parent
    (work / "plan.mk").write_text(makefile, encoding="utf-8")
    stand_in = work / "docker-stand-in"
    stand_in.write_text(_STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    log = work / "argv.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [MAKE or "make", "-f", str(work / "plan.mk"), "-j1", f"DOCKER_BUILD={stand_in}", *argv],
        cwd=repo, capture_output=True, text=True, timeout=60,
        env={**os.environ, "ARGV_LOG": str(log)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = log.read_bytes().split(b"\n")[:-1] if log.exists() else []
    return [[arg.decode() for arg in run.split(b"\0")[:-1]] for run in runs]


def _contexts_of(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--build-context"]
    return dict(pair.split("=", 1) for pair in pairs)


@needs_make
def test_make_runs_every_build_from_the_repository_root(repo: Path) -> None:
    runs = _make(repo, _plan(repo, "make"))
    assert len(runs) == 25
    by_context = {run[-1]: run for run in runs}
    billing = by_context["fleet/apps/billing"]
    assert _contexts_of(billing) == {"jdk": JDK, "jvm-base": JVM_BASE}
    # the parents ran first
    order = [run[-1] for run in runs]
    assert order.index("fleet/runtimes/jdk") < order.index("fleet/app-bases/jvm")
    assert order.index("fleet/app-bases/jvm") < order.index("fleet/apps/billing")


@needs_make
def test_an_empty_makefile_does_nothing_and_succeeds(repo: Path) -> None:
    makefile = _plan(repo, "make", "--package", "no-such-package")
    assert _make(repo, makefile) == []
    assert _make(repo, makefile, "all") == []


# -- named contexts, in every format --------------------------------------------------


def _bake_contexts(text: str) -> dict[str, dict[str, str]]:
    return {name: t.get("contexts", {}) for name, t in json.loads(text)["target"].items()}


def test_bake_keeps_target_only_for_targets_of_its_own_file(repo: Path) -> None:
    # jvm-base changed: jdk is not rebuilt, so jvm-base takes jdk's image.
    text = _plan(repo, "bake", "--changed", "jvm-base")
    contexts = _bake_contexts(text)
    assert contexts == {
        "jvm-base": {"jdk": JDK},
        "billing": {"jdk": JDK, "jvm-base": "target:jvm-base"},
        "search-indexer": {"jdk": JDK, "jvm-base": "target:jvm-base"},
    }
    _check_bake_rules(json.loads(text))
    # the whole plan builds jdk too: target: everywhere.
    whole = _bake_contexts(_plan(repo, "bake"))
    assert whole["jvm-base"]["jdk"] == "target:jdk"
    assert whole["billing"]["jdk"] == "target:jdk"
    assert whole["billing"]["jvm-base"] == "target:jvm-base"


def test_gha_argo_and_json_give_the_parents_images(repo: Path) -> None:
    gha = json.loads(_plan(repo, "gha", "--changed", "jvm-base"))
    entries = {e["name"]: e for i in (1, 2) for e in gha[f"wave{i}"]["include"]}
    assert entries["jvm-base"]["build-contexts"] == f"jdk={JDK}"
    assert entries["billing"]["build-contexts"] == f"jdk={JDK}\njvm-base={JVM_BASE}"
    argo = json.loads(_plan(repo, "argo", "--changed", "jvm-base"))
    tasks = argo["spec"]["templates"][0]["dag"]["tasks"]
    values = {
        t["name"]: {p["name"]: p["value"] for p in t["arguments"]["parameters"]} for t in tasks
    }
    assert values["billing"]["build-contexts"] == f"jdk={JDK}\njvm-base={JVM_BASE}"
    data = json.loads(_plan(repo, "json", "--changed", "jvm-base"))
    builds = {b["name"]: b for w in data["waves"] for b in w["builds"]}
    assert builds["billing"]["contexts"] == {"jdk": "target:jdk", "jvm-base": "target:jvm-base"}
    assert builds["billing"]["build_contexts"] == {"jdk": JDK, "jvm-base": JVM_BASE}


def _graph(*builds: ImageBuild) -> ImageGraph:
    return ImageGraph.from_builds(list(builds))


BASE = ImageBuild(
    "base", "base/Dockerfile", "base", (ImageRef.parse("acme/base:1"),),
    dockerfile_inline="FROM debian:12",
)  # fmt: skip
UNTAGGED = ImageBuild("base", "base/Dockerfile", "base", dockerfile_inline="FROM debian:12")


def _app(**contexts: str) -> ImageBuild:
    return ImageBuild(
        "app", "app/Dockerfile", "app", (ImageRef.parse("acme/app:1"),),
        contexts=contexts, dockerfile_inline="FROM base\nCOPY --from=tools / /",
    )  # fmt: skip


WRITERS = {
    "json": render_plan.to_json,
    "gha": render_plan.to_gha,
    "bake": render_plan.to_bake,
    "make": render_plan.to_make,
    "argo": to_argo,
}


# Each row: the builds, the change, and per format what must happen: the text
# the output holds, or the words of the error (naming the build) it raises.
CONTEXT_CASES: list[tuple[str, list[ImageBuild], str, dict[str, str]]] = [
    (
        "parent-not-planned",
        [BASE, _app(base="target:base")],
        "app",
        {
            "json": '"base": "docker-image://docker.io/acme/base:1"',
            "gha": "base=docker-image://docker.io/acme/base:1",
            "bake": '"base": "docker-image://docker.io/acme/base:1"',
            "make": "--build-context base=docker-image://docker.io/acme/base:1",
            "argo": "base=docker-image://docker.io/acme/base:1",
        },
    ),
    (
        "parent-planned",
        [BASE, _app(base="target:base")],
        "base",
        {
            "json": '"base": "docker-image://docker.io/acme/base:1"',
            "gha": "base=docker-image://docker.io/acme/base:1",
            "bake": '"base": "target:base"',
            "make": "--build-context base=docker-image://docker.io/acme/base:1",
            "argo": "base=docker-image://docker.io/acme/base:1",
        },
    ),
    (
        "untagged-parent-not-planned",
        [UNTAGGED, _app(base="target:base")],
        "app",
        {
            "json": '"base": null',
            "gha": "error: build 'app': build context base 'target:base' names a build with no tag",
            "bake": "error: build 'app': build context base 'target:base' names a build that is "
            "not in the plan and has no tag",
            "make": "error: build 'app': build context base 'target:base' names a build with no tag",
            "argo": "error: build 'app': build context base 'target:base' names a build with no tag",
        },
    ),
    (
        "untagged-parent-planned",  # bake builds it from the same file: no tag needed
        [UNTAGGED, _app(base="target:base")],
        "base",
        {
            "json": '"base": null',
            "gha": "error: build 'app': build context base",
            "bake": '"base": "target:base"',
            "make": "error: build 'app': build context base",
            "argo": "error: build 'app': build context base",
        },
    ),
    (
        "line-break-in-a-context",
        [BASE, _app(base="target:base", tools="docker-image://acme/tools:1\nevil=x")],
        "app",
        {
            "json": '"tools": "docker-image://acme/tools:1\\nevil=x"',
            "gha": "error: build 'app': build context 'tools=docker-image://acme/tools:1\\nevil=x'",
            "bake": '"tools": "docker-image://acme/tools:1\\nevil=x"',  # one JSON string
            "make": "error: build 'app': build context 'tools=docker-image://acme/tools:1\\nevil=x'",
            "argo": "error: build 'app': build context 'tools=docker-image://acme/tools:1\\nevil=x'",
        },
    ),
    (
        "a-directory-context",
        [BASE, _app(base="target:base", tools="tools/dir")],
        "app",
        {
            "json": '"tools": "tools/dir"',
            "gha": "tools=tools/dir",
            "bake": '"tools": "tools/dir"',
            "make": "--build-context tools=tools/dir",
            "argo": "tools=tools/dir",
        },
    ),
]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize(
    ("builds", "change", "wanted"),
    [case[1:] for case in CONTEXT_CASES],
    ids=[case[0] for case in CONTEXT_CASES],
)
def test_named_contexts_are_passed_or_refused(
    fmt: str, builds: list[ImageBuild], change: str, wanted: dict[str, str]
) -> None:
    plan = _graph(*builds).plan([change])
    expected = wanted[fmt]
    if expected.startswith("error: "):
        with pytest.raises(ImageGraphError) as raised:
            WRITERS[fmt](plan)
        assert str(raised.value).startswith(expected.removeprefix("error: ")), raised.value
        assert "\n" not in str(raised.value)
        return
    text = WRITERS[fmt](plan)
    assert expected in text, text
    assert "target:" not in text or fmt in ("json", "bake")
    if fmt == "bake":
        _check_bake_rules(json.loads(text))


_TEXT = st.text(
    st.sampled_from(
        ["a", "=", "\n", "\r", " ", "$", "{", "%", "'", '"', ":", "/", "\x85", "\u2028"]
    ),
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(key=_TEXT, value=_TEXT, planned=st.booleans())
def test_any_named_context_is_passed_as_it_is_or_refused(
    key: str, value: str, planned: bool
) -> None:
    # A fork's declaration may hold any context: each format passes it as the
    # one NAME=VALUE item it is, or refuses it naming the build.
    app = _app(base="target:base", **{key: value})
    plan = _graph(BASE, app).plan(["base" if planned else "app"])
    resolved = "docker-image://docker.io/acme/base:1"
    wanted = {k: resolved if k == "base" else v for k, v in sorted({**app.contexts}.items())}
    if key == "base":
        wanted = {"base": resolved if value == "target:base" else value}
    for fmt, write in WRITERS.items():
        refused: ImageGraphError | None = None
        try:
            text = write(plan)
        except ImageGraphError as error:
            refused = error
        if refused is not None:
            assert fmt != "json"
            assert str(refused).startswith("build 'app'"), refused
            assert "\n" not in str(refused)
            continue
        entry = _entry(fmt, text)
        if fmt in ("gha", "argo"):
            assert entry == "\n".join(f"{k}={v}" for k, v in wanted.items())
        elif fmt == "json":
            assert entry == wanted
        elif fmt == "make":  # the words the shell gives the build command
            assert _contexts_of(shlex.split(entry.replace("$$", "$"))) == wanted


def _entry(fmt: str, text: str) -> Any:
    """The app's named contexts in *fmt*'s output: as written for gha, argo and make."""
    if fmt == "json":
        builds = [b for w in json.loads(text)["waves"] for b in w["builds"]]
        return next(b for b in builds if b["name"] == "app")["build_contexts"]
    if fmt == "gha":
        data = json.loads(text)
        entries = [e for i in range(1, data["waves"] + 1) for e in data[f"wave{i}"]["include"]]
        return next(e for e in entries if e["name"] == "app")["build-contexts"]
    if fmt == "argo":
        tasks = json.loads(text)["spec"]["templates"][0]["dag"]["tasks"]
        task = next(t for t in tasks if t["name"] == "app")
        return next(
            p["value"] for p in task["arguments"]["parameters"] if p["name"] == "build-contexts"
        )
    if fmt == "make":
        return next(line for line in text.split("\n") if "docker.io/acme/app:1" in line)
    return json.loads(text)


# -- bake, by buildx's rules ----------------------------------------------------------


def _check_bake_rules(data: dict[str, Any]) -> None:
    """What buildx's bake.go asks of a JSON file: every block type an object of
    labelled blocks (``"target": {}`` is "Missing block label"), a group's
    targets and every ``target:`` context naming a target or group of the file."""
    assert set(data) <= {"group", "target", "variable", "function"}
    for kind, blocks in data.items():
        assert isinstance(blocks, dict), kind
        assert blocks, f"{kind}: Missing block label"
    names = set(data.get("target", {})) | set(data.get("group", {}))
    for group in data.get("group", {}).values():
        assert set(group["targets"]) <= names
    for target in data.get("target", {}).values():
        for value in target.get("contexts", {}).values():
            if value.startswith("target:"):
                assert value.removeprefix("target:") in data["target"], value


# -- empty plans ----------------------------------------------------------------------


def test_an_empty_plan_is_nothing_to_do_for_each_consumer(repo: Path) -> None:
    nothing = ("--package", "no-such-package")
    bake = json.loads(_plan(repo, "bake", *nothing))
    assert bake == {"group": {"default": {"targets": []}}}
    _check_bake_rules(bake)
    assert json.loads(render_plan.to_gha(RebuildPlan((), ()))) == {"waves": 0}
    argo = json.loads(_plan(repo, "argo", *nothing))
    assert argo["kind"] == "Workflow"
    (template,) = argo["spec"]["templates"]
    assert argo["spec"]["entrypoint"] == template["name"]
    assert "suspend" in template  # resumes at once: no pod, no image
    data = json.loads(render_plan.to_json(RebuildPlan((), ())))
    assert (data["build_count"], data["waves"]) == (0, [])


def test_the_table_counts_in_the_singular_and_plural() -> None:
    from rich.console import Console

    def summary(plan: RebuildPlan) -> str:
        console = Console(width=200, record=True, color_system=None)
        console.print(render_plan.to_rich(plan))
        return console.export_text().splitlines()[0]

    graph = _graph(BASE, _app(base="target:base"))
    assert summary(graph.plan(["app"])).endswith(": 1 build in 1 wave")
    assert summary(graph.plan(["base"])).endswith(": 2 builds in 2 waves")
    assert summary(graph.plan(["base"], max_parallel=1)).endswith(": 2 builds in 2 waves")


def test_plan_help_names_every_format(tmp_path: Path) -> None:
    ran = run_cli(["plan", "--help"], cwd=tmp_path)
    for fmt in ("table", "json", "gha", "bake", "make", "argo"):
        assert f"{fmt} (" in ran.stdout, fmt
    assert "--relative-to" in ran.stdout


# -- the Argo build template's script, run for real ------------------------------------

_BUILDCTL = """#!/bin/sh
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$ARGV_LOG"
"""


def test_the_argo_template_passes_contexts_and_runs_without_a_process_sandbox(
    repo: Path, tmp_path: Path
) -> None:
    workflow = json.loads(_plan(repo, "argo", "--changed", "jvm-base"))
    template = workflow["spec"]["templates"][1]
    env = {e["name"]: e["value"] for e in template["script"]["env"]}
    assert env["BUILDKITD_FLAGS"] == "--oci-worker-no-process-sandbox"
    assert template["script"]["securityContext"]["runAsUser"] == 1000
    task = next(
        t for t in workflow["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "billing"
    )
    values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    values["build-contexts"] += "\nlocal=fleet/apps"  # a directory context, as a local one
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "buildctl-daemonless.sh"
    fake.write_text(_BUILDCTL)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "argv"
    variables = {
        name: values[key]
        for name, key in ((e["name"], e["name"].lower().replace("_", "-")) for e in template["script"]["env"])
        if key in values
    }  # fmt: skip
    subprocess.run(
        ["sh", "-c", template["script"]["source"]],
        cwd=repo, check=True, timeout=30,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "ARGV_LOG": str(log), **variables},
    )  # fmt: skip
    argv = log.read_bytes().decode().split("\0")[:-1]
    opts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--opt"]
    locals_ = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv[:-1]) if a == "--local")
    assert f"context:jdk={JDK}" in opts
    assert f"context:jvm-base={JVM_BASE}" in opts
    assert "context:local=local:context1" in opts
    assert locals_ == {
        "context": "fleet/apps/billing",
        "dockerfile": "fleet/apps/billing",
        "context1": "fleet/apps",
    }
    for directory in locals_.values():
        assert (repo / directory).is_dir()


def _run_argo_build(workflow: dict[str, Any], task_name: str, cwd: Path, tmp: Path) -> list[str]:
    """The argv the build template's script gives buildctl-daemonless.sh for a task,
    the script run under sh with the task's parameters as Argo hands them (env)."""
    template = workflow["spec"]["templates"][1]
    (task,) = [
        t for t in workflow["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == task_name
    ]
    values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "buildctl-daemonless.sh"
    fake.write_text(_BUILDCTL)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp / f"argv-{task_name}"
    variables = {e["name"]: values[e["name"].lower().replace("_", "-")]
                 for e in template["script"]["env"] if e["value"].startswith("{{inputs.")}  # fmt: skip
    (tmp / "tmp").mkdir(exist_ok=True)
    subprocess.run(
        ["sh", "-c", template["script"]["source"]],
        cwd=cwd, check=True, timeout=30,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "ARGV_LOG": str(log),
             "TMPDIR": str(tmp / "tmp"), **variables},
    )  # fmt: skip
    return log.read_bytes().decode("utf-8").split("\0")[:-1]


@pytest.mark.parametrize(
    "text",
    [
        "FROM alpine:3\nRUN true\n",
        "FROM alpine:3\r\nRUN echo \"$HOME\" '$(touch pwned)' `touch pwned` %s \\\n  x\r\n\n\n",
        "-n",
        "FROM alpine\n\t\x08\x0c\x85\u2028\u2029é\U0001f600\n::error::x\n",
    ],
)
def test_the_argo_template_builds_an_inline_dockerfile_from_its_text(
    tmp_path: Path, text: str
) -> None:
    repo = build(tmp_path / "repo", {"d/Dockerfile": "FROM evil\n", "d/x": "x"})
    builds = [ImageBuild("app", "d/Dockerfile", "d", (ImageRef.parse("acme/x:1"),),
                         dockerfile_inline=text)]  # fmt: skip
    workflow = json.loads(to_argo(ImageGraph.from_builds(builds).plan()))
    argv = _run_argo_build(workflow, "app", repo, tmp_path)
    locals_ = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv[:-1]) if a == "--local")
    opts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--opt"]
    assert locals_["context"] == "d"
    # never d/Dockerfile: a file of the text, in a directory of its own outside the repository
    directory = Path(locals_["dockerfile"])
    assert directory.parent == tmp_path / "tmp"
    assert "filename=Dockerfile" in opts
    assert (directory / "Dockerfile").read_bytes() == text.encode("utf-8")
    assert sorted(p.name for p in directory.iterdir()) == ["Dockerfile"]
    assert not (repo / "pwned").exists()
    assert (repo / "d" / "Dockerfile").read_text() == "FROM evil\n"


def test_a_git_repository_of_hostile_contexts_leaks_nothing(tmp_path: Path) -> None:
    # A fork's bake file sends a context value that would start a second line.
    root = build(
        tmp_path / "repo",
        {
            "fleet/docker-bake.hcl": 'target "a" {\n  context = "a"\n  tags = ["acme/a:1"]\n'
            '  contexts = { x = "docker-image://acme/x:1\\n--push" }\n}\n',
            "fleet/a/Dockerfile": "FROM x\n",
        },
    )
    for fmt in ("gha", "make", "argo"):
        ran = run_cli(["plan", "fleet", "--no-cache", "--format", fmt], cwd=root)
        assert ran.code == 1, ran.output
        assert "imagegraph: build 'a'" in ran.stderr
        assert "\n--push" not in ran.output
        assert_contained(ran)


# -- the real buildx, where the machine has it ------------------------------------------


@pytest.mark.skipif(BUILDX is None, reason="no buildx binary (set IMAGEGRAPH_BUILDX)")
@pytest.mark.parametrize(
    ("extra", "targets"),
    [((), 25), (("--changed", "jvm-base"), 3), (("--package", "no-such-package"), 0)],
)
def test_buildx_bake_reads_the_plans(repo: Path, extra: tuple[str, ...], targets: int) -> None:
    # bake --print reads and resolves the file without a daemon.
    (repo / "plan.json").write_text(_plan(repo, "bake", *extra), encoding="utf-8")
    done = subprocess.run(
        [BUILDX or "buildx", "bake", "-f", "plan.json", "--print"],
        cwd=repo, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert len(printed.get("target", {})) == targets
    for target in printed.get("target", {}).values():
        assert (repo / target["context"] / target["dockerfile"]).is_file()
    if targets == 3:
        assert printed["target"]["jvm-base"]["contexts"] == {"jdk": JDK}
