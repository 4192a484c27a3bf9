"""Imported images and shared tags in every plan format (issue 14, item 3).

An image imported from an OCI layout (bashbrew's ``Builder: oci-import``:
docker-library's debian, ubuntu, busybox) is pushed as it is, never built;
a tag several builds produce (``SharedTags``, a Dockerfile per
architecture, a Linux and a Windows build of one tag) is pushed by none of
them: each pushes its own tags, and an index step after the last of them
joins their images under the tag. The builds are made here directly
(``ImageBuild(..., imported=True)``), so nothing depends on the manifest
reader. The commands each format writes are run for real where they are
shell: GNU make with stand-ins for docker, skopeo and imagetools, the
workflow's import and index steps, Argo's import and index templates.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageGraphError, ImageRef
from imagegraph.graph import GraphCycleError
from imagegraph.plan import RebuildPlan
from imagegraph.render import plan as render
from imagegraph.render.argo import to_argo
from tests.hostile import run_cli
from tests.test_workflow import DATA, WAVE_JOBS, import_step, index_step

R = ImageRef.parse
MAKE = shutil.which("make")
BUILDX = os.environ.get("IMAGEGRAPH_BUILDX") or shutil.which("docker-buildx")
ARGO_SCHEMA = Path("/tmp/argo-schema.json")
REPO = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")
LAYOUT = "debian/bookworm/oci"


def fleet(layout: str = LAYOUT) -> list[ImageBuild]:
    """debian imported from a layout; golang:latest shared by three builds, one
    without a tag of its own; app built on golang:latest."""
    return [
        ImageBuild(
            "debian", f"{layout}/index.json", layout,
            (R("acme/debian:bookworm"), R("acme/debian:12")),
            platforms=("linux/amd64", "linux/arm64"), imported=True, origin="library/debian:5",
        ),
        ImageBuild(
            "golang", "golang/Dockerfile", "golang",
            (R("acme/golang:1.22-bookworm"), R("acme/golang:latest")),
            platforms=("linux/amd64",), dockerfile_inline="FROM acme/debian:bookworm",
        ),
        ImageBuild(
            "golang-arm", "golang/Dockerfile", "golang", (R("acme/golang:latest"),),
            platforms=("linux/arm64/v8",), dockerfile_inline="FROM acme/debian:bookworm",
        ),
        ImageBuild(
            "golang-win", "golang/win/Dockerfile", "golang/win",
            (R("acme/golang:1.22-windowsservercore"), R("acme/golang:latest")),
            platforms=("windows/amd64",), dockerfile_inline="FROM mcr.microsoft.com/windows/servercore:ltsc2022",
        ),
        ImageBuild("app", "app/Dockerfile", "app", (R("acme/app:1"),),
                   dockerfile_inline="FROM acme/golang"),
    ]  # fmt: skip


def the_plan(
    builds: list[ImageBuild] | None = None, changes: list[str] | None = None
) -> RebuildPlan:
    return ImageGraph.from_builds(builds or fleet()).plan(changes)


GOLANG = "docker.io/acme/golang:latest"
SOURCES = [
    "docker.io/acme/golang:1.22-bookworm",
    "docker.io/acme/golang:latest-linux-arm64-v8",
    "docker.io/acme/golang:1.22-windowsservercore",
]


# -- the model -------------------------------------------------------------------------


def test_the_plan_names_the_shared_tag_its_sources_and_who_waits() -> None:
    plan = the_plan()
    assert plan.names() == [["debian", "golang-win"], ["golang", "golang-arm"], ["app"]]
    (shared,) = plan.shared
    assert str(shared.tag) == GOLANG
    assert shared.builds == ("golang", "golang-arm", "golang-win")
    # a build's own tag in the repository, else a tag derived from its platform
    assert [str(s) for s in shared.sources] == SOURCES
    assert shared.planned == shared.builds
    assert shared.wave == 1  # after golang and golang-arm, in wave 2
    assert shared.users == ("app",)
    pushes = {p.name: [str(t) for t in p.pushes] for p in plan}
    assert pushes == {
        "debian": ["docker.io/acme/debian:bookworm", "docker.io/acme/debian:12"],
        "golang-win": ["docker.io/acme/golang:1.22-windowsservercore"],
        "golang": ["docker.io/acme/golang:1.22-bookworm"],
        "golang-arm": ["docker.io/acme/golang:latest-linux-arm64-v8"],
        "app": ["docker.io/acme/app:1"],
    }
    # app pulls the index: it waits for every build of it, not only the one
    # the graph binds the tag to
    (app,) = plan.waves[2]
    assert set(app.needs) == {"golang", "golang-arm", "golang-win"}


def test_a_plan_of_one_build_of_a_shared_tag_still_joins_every_source() -> None:
    plan = the_plan(changes=["mcr.microsoft.com/windows/servercore:ltsc2022"])
    # app pulls the index, which changes: it is rebuilt after it
    assert plan.names() == [["golang-win"], ["app"]]
    (shared,) = plan.shared
    # the others keep what they pushed before; the index is made again with them
    assert [str(s) for s in shared.sources] == SOURCES
    assert shared.planned == ("golang-win",)
    assert (shared.wave, shared.users) == (0, ("app",))
    assert plan.builds[1].needs == ("golang-win",)
    assert [str(t) for t in plan.builds[0].pushes] == [
        "docker.io/acme/golang:1.22-windowsservercore"
    ]


@pytest.mark.parametrize(
    ("from_line", "contexts", "aliases"),
    [
        # a mirror the user declared as the same images
        ("FROM mirror.corp/hub/acme/golang", {}, {"mirror.corp/hub": "docker.io"}),
        # a named context standing for the tag
        ("FROM go", {"go": "docker-image://acme/golang:latest"}, {}),
    ],
)
def test_a_user_that_spells_the_shared_tag_otherwise_still_waits_for_its_index(
    from_line: str, contexts: dict[str, str], aliases: dict[str, str]
) -> None:
    builds = [*fleet()[:-1], ImageBuild("app", "app/Dockerfile", "app", (R("acme/app:1"),),
                                        dockerfile_inline=from_line, contexts=contexts)]  # fmt: skip
    plan = ImageGraph.from_builds(builds, aliases=aliases).plan()
    (shared,) = plan.shared
    assert shared.users == ("app",)
    assert "\napp: golang golang-arm golang-win index-acme-golang\n" in render.to_make(plan)


def test_a_duplicate_planned_alone_does_not_push_the_shared_tag() -> None:
    # acme/z:1 is the index of b (arm64) and d (amd64); e builds it again (a
    # duplicate-tag): planned without b or d, e must still not replace the index
    builds = [
        ImageBuild(name, f"{name}/Dockerfile", name, (R("acme/z:1"), *own), platforms=platforms,
                   dockerfile_inline="FROM debian:12")
        for name, platforms, own in [("b", ("linux/arm64",), ()), ("d", ("linux/amd64",), ()),
                                     ("e", (), (R("acme/e:1"),))]
    ]  # fmt: skip
    graph = ImageGraph.from_builds(builds)
    assert graph.tag_owners(R("acme/z:1")) == ("b", "d")
    plan = graph.plan(["e"])
    assert plan.names() == [["e"]]
    assert [t.familiar for t in plan.builds[0].pushes] == ["acme/e:1"]


def test_a_plan_without_shared_tags_pushes_the_declared_tags() -> None:
    builds = [b for b in fleet() if b.name not in {"golang-arm", "golang-win"}]
    plan = the_plan(builds)
    assert plan.shared == ()
    assert all(p.own_tags is None and p.pushes == p.build.tags for p in plan)


def test_shared_tags_built_on_each_other_are_said_not_to_wait() -> None:
    # d uses x:1 (whose index waits for f), f uses x:2 (whose index waits for d);
    # each is built on a's image, the one of the platform it names
    amd64, arm64 = ("linux/amd64",), ("linux/arm64",)
    builds = [
        ImageBuild("a", "a/Dockerfile", "a", (R("acme/x:1"), R("acme/x:2")), platforms=amd64,
                   dockerfile_inline="FROM debian:12"),
        ImageBuild("d", "d/Dockerfile", "d", (R("acme/x:2"),), platforms=arm64,
                   dockerfile_inline="FROM --platform=linux/amd64 acme/x:1"),
        ImageBuild("f", "f/Dockerfile", "f", (R("acme/x:1"),), platforms=arm64,
                   dockerfile_inline="FROM --platform=linux/amd64 acme/x:2"),
    ]  # fmt: skip
    plan = the_plan(builds)
    assert sorted(p.name for p in plan) == ["a", "d", "f"]  # none dropped
    assert [d.code for d in plan.diagnostics if d.code == "shared-tag-cycle"] == [
        "shared-tag-cycle"
    ]
    assert all(shared.users == () for shared in plan.shared)
    assert len(plan.shared) == 2


def test_a_derived_source_never_takes_a_tag_of_the_fleet() -> None:
    builds = [
        *fleet(),
        ImageBuild("other", "o/Dockerfile", "o", (R("acme/golang:latest-linux-arm64-v8"),),
                   dockerfile_inline="FROM scratch"),
    ]  # fmt: skip
    (shared,) = the_plan(builds).shared
    assert str(shared.sources[1]) == "docker.io/acme/golang:latest-linux-arm64-v8-2"


def test_a_derived_source_is_a_valid_tag_however_long_the_name() -> None:
    tag = R("acme/x:" + "t" * 120)
    builds = [
        ImageBuild(f"b{i}/" + "n" * 200, f"{i}/Dockerfile", str(i), (tag,),
                   platforms=(platform,), dockerfile_inline="FROM scratch")
        for i, platform in enumerate(["linux/amd64", "linux/arm64"])
    ]  # fmt: skip
    (shared,) = the_plan(builds).shared
    assert len({str(s) for s in shared.sources}) == 2
    for source in shared.sources:
        assert source.tag is not None
        assert len(source.tag) <= 128
        assert R(str(source)) == source


names = st.sampled_from(["a", "b", "c", "d", "e", "f"])
tags = st.sampled_from(["acme/x:1", "acme/x:2", "acme/y", "acme/z:1"])
platforms = st.sampled_from([(), ("linux/amd64",), ("linux/arm64",), ("windows/amd64",)])


@st.composite
def fleets(draw: st.DrawFn) -> list[ImageBuild]:
    chosen = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    builds = []
    for index, name in enumerate(chosen):
        own = draw(st.lists(tags, max_size=3, unique=True))
        # a tag of a build before it (no cycle) it does not produce, or an outside image
        parents = sorted(
            {t.familiar for b in builds for t in b.tags} - {R(t).familiar for t in own}
        )
        parent = draw(st.sampled_from(parents)) if parents and draw(st.booleans()) else "debian:12"
        builds.append(
            ImageBuild(
                name, f"{name}/Dockerfile", name, tuple(R(t) for t in own),
                platforms=draw(platforms), imported=index == 0 and draw(st.booleans()),
                dockerfile_inline=f"FROM {parent}",
            )
        )  # fmt: skip
    return builds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.booleans())
def test_no_planned_build_pushes_a_tag_another_build_produces(
    builds: list[ImageBuild], everything: bool
) -> None:
    try:
        graph = ImageGraph.from_builds(builds)
    except GraphCycleError:
        # builds of a tag split by platform are built on each other: the graph refuses it
        reject()
    plan = graph.plan(None if everything else [builds[0].name])
    # a tag several builds share as one multi-platform image, as the graph has it
    # (a second build of it for the same platform is a duplicate-tag warning)
    producers = {t: set(graph.tag_owners(t)) for b in builds for t in b.tags}
    shared = {tag for tag, who in producers.items() if len(who) > 1}
    duplicates = {d.code for d in graph.diagnostics} & {"duplicate-tag"}
    wave_of = {p.name: p.wave for p in plan}
    pushed: dict[ImageRef, str] = {}
    for planned in plan:
        for tag in planned.pushes:
            assert tag not in shared
            if pushed.setdefault(tag, planned.name) != planned.name:
                assert duplicates  # two pushers of one tag: the graph said so
    assert {s.tag for s in plan.shared} == {tag for tag in shared if producers[tag] & set(wave_of)}
    for index in plan.shared:
        assert set(index.builds) == producers[index.tag]
        assert index.wave == max(wave_of[name] for name in index.planned)
        # each planned build pushes its source; every user comes after the index
        for name, source in zip(index.builds, index.sources, strict=True):
            if name in wave_of:
                assert source in next(p for p in plan if p.name == name).pushes
        assert all(wave_of[user] > index.wave for user in index.users)
    # waves stay a topological order of the needs
    assert all(wave_of[parent] < p.wave for p in plan for parent in p.needs)


# -- json ----------------------------------------------------------------------------


def test_json_lists_the_import_and_the_index_and_follows_the_schema() -> None:
    data = render.to_data(the_plan())
    jsonschema.Draft202012Validator.check_schema(render.plan_schema())
    jsonschema.validate(data, render.plan_schema())
    builds = {b["name"]: b for wave in data["waves"] for b in wave["builds"]}
    debian = builds["debian"]
    assert debian["imported"] is True
    assert debian["layout"] == LAYOUT
    assert debian["layout_index"] == f"{LAYOUT}/index.json"
    assert "imported" not in builds["golang"]
    assert builds["golang-arm"]["push_tags"] == [SOURCES[1]]
    assert builds["golang-arm"]["tags"] == [GOLANG]  # as declared
    assert "push_tags" not in builds["debian"]
    assert "push_tags" not in builds["app"]
    assert data["indexes"] == [
        {
            "tag": GOLANG,
            "builds": ["golang", "golang-arm", "golang-win"],
            "sources": SOURCES,
            "planned": ["golang", "golang-arm", "golang-win"],
            "after_wave": 2,
            "users": ["app"],
        }
    ]
    # a plan without either has neither key
    plain = render.to_data(the_plan([b for b in fleet() if "golang-" not in b.name]))
    assert "indexes" not in plain
    jsonschema.validate(plain, render.plan_schema())


def test_the_schema_refuses_a_false_imported_and_a_half_index() -> None:
    data = render.to_data(the_plan())
    data["waves"][0]["builds"][0]["imported"] = False
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, render.plan_schema())
    data = render.to_data(the_plan())
    del data["indexes"][0]["sources"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, render.plan_schema())


# -- make, for real ---------------------------------------------------------------------

_STAND_IN = """#!/bin/sh
# docker buildx build, skopeo copy and imagetools create as far as a plan is
# concerned: the role, then the arguments, NUL-separated, one run a line.
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$ARGV_LOG"
printf '\\n' >> "$ARGV_LOG"
if [ "$1" = import ]; then
  case "$2" in oci:*) [ -f "${2#oci:}/index.json" ] || { echo "no layout $2" >&2; exit 4; } ;;
  *) echo "not oci: $2" >&2; exit 5 ;; esac
fi
"""


def _stand_in(tmp: Path) -> tuple[Path, Path]:
    stand_in = tmp / "stand-in"
    stand_in.write_text(_STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    return stand_in, tmp / "argv.log"


def _runs(log: Path) -> list[list[str]]:
    runs = log.read_bytes().split(b"\n")[:-1] if log.exists() else []
    return [[arg.decode() for arg in run.split(b"\0")[:-1]] for run in runs]


def _make(tmp: Path, makefile: str, *argv: str) -> list[list[str]]:
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    (tmp / "plan.mk").write_text(makefile, encoding="utf-8")
    stand_in, log = _stand_in(tmp)
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [MAKE or "make", "-f", str(tmp / "plan.mk"), "-j1",
         f"DOCKER_BUILD={stand_in} build", f"DOCKER_IMPORT={stand_in} import",
         f"IMAGETOOLS_CREATE={stand_in} index", *argv],
        cwd=work, capture_output=True, text=True, timeout=60,
        env={**os.environ, "ARGV_LOG": str(log)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return _runs(log)


def _layout(root: Path, layout: str) -> None:
    (root / layout).mkdir(parents=True)
    (root / layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')


@needs_make
def test_make_imports_the_layout_and_joins_the_shared_tag_after_its_builds(
    tmp_path: Path,
) -> None:
    _layout(tmp_path / "work", LAYOUT)
    makefile = render.to_make(the_plan())
    assert "DOCKER_IMPORT ?= skopeo copy --all\n" in makefile
    assert "IMAGETOOLS_CREATE ?= docker buildx imagetools create\n" in makefile
    runs = _make(tmp_path, makefile)
    roles = [run[0] for run in runs]
    imports = [run[1:] for run in runs if run[0] == "import"]
    assert imports == [
        [f"oci:{LAYOUT}", "docker://docker.io/acme/debian:bookworm"],
        [f"oci:{LAYOUT}", "docker://docker.io/acme/debian:12"],
    ]
    assert "build" in roles
    assert all(GOLANG not in run for run in runs if run[0] == "build")
    (index,) = [i for i, run in enumerate(runs) if run[0] == "index"]
    assert runs[index][1:] == ["-t", GOLANG, *SOURCES]
    # the index comes after every build of the tag, the app after the index
    position = {run[run.index("-t") + 1]: i for i, run in enumerate(runs) if run[0] == "build"}
    assert all(position[source] < index for source in SOURCES)
    assert position["docker.io/acme/app:1"] > index
    # make wave-2 makes the index too; wave-1 does not
    assert any(run[0] == "index" for run in _make(tmp_path, makefile, "wave-2"))
    assert not any(run[0] == "index" for run in _make(tmp_path, makefile, "wave-1"))


def test_make_of_a_plan_without_imports_or_shared_tags_has_none_of_their_lines() -> None:
    makefile = render.to_make(the_plan([b for b in fleet()[1:] if "golang-" not in b.name]))
    for word in ("DOCKER_IMPORT", "IMPORT_FLAGS", "IMAGETOOLS_CREATE", "index-"):
        assert word not in makefile


HOSTILE_LAYOUTS = ["o c i/$(touch pwned)/$HOME", "oci/'q\"`touch pwned`", "oci/##[x]/%s\\n"]


@needs_make
@pytest.mark.parametrize("layout", HOSTILE_LAYOUTS)
def test_make_passes_a_hostile_layout_directory_as_it_is(tmp_path: Path, layout: str) -> None:
    _layout(tmp_path / "work", layout)
    runs = _make(tmp_path, render.to_make(the_plan(fleet(layout))))
    assert [run[1] for run in runs if run[0] == "import"] == [f"oci:{layout}"] * 2
    assert not (tmp_path / "work" / "pwned").exists()


@pytest.mark.parametrize(
    ("layout", "index", "error"),
    [
        ("oci/a\nb", None, "line break"),
        ("oci/a\x1bb", None, "control character"),
        ("oci:x", None, "holds ':'"),
        (LAYOUT, f"{LAYOUT}/other.json", "not the layout's index.json"),
    ],
)
def test_a_layout_an_import_cannot_take_is_refused_naming_the_build(
    layout: str, index: str | None, error: str
) -> None:
    debian = fleet(layout)[0]
    if index is not None:
        debian = ImageBuild(debian.name, index, debian.context, debian.tags, imported=True,
                            origin=debian.origin)  # fmt: skip
    plan = the_plan([debian])
    formats = [render.to_make, render.to_gha, to_argo]
    if "\n" in layout or "\x1b" in layout:
        formats = [render.to_make]  # gha and argo hand a line break on through env
    for writer in formats:
        with pytest.raises(ImageGraphError, match="build 'debian'") as caught:
            writer(plan)
        assert error in str(caught.value), writer


def test_an_import_without_a_tag_is_refused() -> None:
    untagged = ImageBuild("debian", f"{LAYOUT}/index.json", LAYOUT, imported=True)
    for writer in (render.to_make, render.to_gha, to_argo):
        with pytest.raises(ImageGraphError, match="no tag to push"):
            writer(the_plan([untagged]))


# -- gha, and the workflow's steps for real ------------------------------------------------


def test_gha_marks_the_import_and_lists_the_index_after_its_wave() -> None:
    data = json.loads(render.to_gha(the_plan()))
    assert set(data) == {"waves", "wave1", "wave2", "wave3", "index2"}
    entries = {e["name"]: e for k in (1, 2, 3) for e in data[f"wave{k}"]["include"]}
    assert entries["debian"]["import"] == "oci-layout"
    assert entries["debian"]["context"] == LAYOUT
    assert entries["debian"]["file"] == f"{LAYOUT}/index.json"
    assert entries["debian"]["tags"] == "docker.io/acme/debian:bookworm\ndocker.io/acme/debian:12"
    assert all("import" not in e for name, e in entries.items() if name != "debian")
    assert entries["golang-arm"]["tags"] == SOURCES[1]
    assert data["index2"] == [{"tag": GOLANG, "sources": SOURCES}]


def _bash(script: str, cwd: Path, env: dict[str, str], bin_dir: Path) -> None:
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd, capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _fake(bin_dir: Path, name: str, log: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / name
    fake.write_text(
        f"#!/bin/sh\nfor arg in \"$@\"; do printf '%s\\0' \"$arg\"; done >> '{log}'\n"
        f"printf '\\n' >> '{log}'\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("layout", [LAYOUT, *HOSTILE_LAYOUTS])
@pytest.mark.parametrize("push", [True, False])
def test_the_workflow_imports_each_tag_with_skopeo_only_on_main(
    tmp_path: Path, layout: str, push: bool
) -> None:
    (entry,) = json.loads(render.to_gha(the_plan(fleet(layout))))["wave1"]["include"][:1]
    steps = [import_step(DATA["jobs"][name]) for name in WAVE_JOBS]
    assert all(step == steps[0] for step in steps)
    step = steps[0]
    assert "${{" not in step["run"]  # the layout and tags come through env
    assert step["env"]["LAYOUT"] == "${{ matrix.context }}"
    assert step["env"]["TAGS"] == "${{ matrix.tags }}"
    log = tmp_path / "argv"
    _fake(tmp_path / "bin", "skopeo", log)
    env = {"LAYOUT": entry["context"], "TAGS": entry["tags"], "PUSH": "true" if push else "false"}
    _bash(step["run"], tmp_path, env, tmp_path / "bin")
    if push:
        assert _runs(log) == [
            ["copy", "--all", f"oci:{layout}", "docker://docker.io/acme/debian:bookworm"],
            ["copy", "--all", f"oci:{layout}", "docker://docker.io/acme/debian:12"],
        ]
    else:  # a pull request pushes nothing: it reads the layout
        assert _runs(log) == [["inspect", "--raw", f"oci:{layout}"]]
    assert not (tmp_path / "pwned").exists()


def test_the_workflow_index_job_joins_each_tag_of_its_wave(tmp_path: Path) -> None:
    builds = [
        *fleet(),
        ImageBuild("tools", "t/Dockerfile", "t", (R("acme/tools:1"),),
                   platforms=("linux/amd64",), dockerfile_inline="FROM debian:12"),
        ImageBuild("tools-win", "tw/Dockerfile", "tw", (R("acme/tools:1"),),
                   platforms=("windows/amd64",), dockerfile_inline="FROM debian:12"),
    ]  # fmt: skip
    data = json.loads(render.to_gha(the_plan(builds)))
    assert [i["tag"] for i in data["index1"]] == ["docker.io/acme/tools:1"]
    steps = [index_step(DATA["jobs"][f"index{k}"]) for k in range(1, len(WAVE_JOBS) + 1)]
    for k, step in enumerate(steps, start=1):
        assert step["env"] == {"INDEXES": f"${{{{ needs.plan.outputs.index{k} }}}}"}
        assert "${{" not in step["run"]
    log = tmp_path / "argv"
    _fake(tmp_path / "bin", "docker", log)
    _bash(steps[0]["run"], tmp_path, {"INDEXES": json.dumps(data["index1"])}, tmp_path / "bin")
    _bash(steps[1]["run"], tmp_path, {"INDEXES": json.dumps(data["index2"])}, tmp_path / "bin")
    assert _runs(log) == [
        ["buildx", "imagetools", "create", "-t", "docker.io/acme/tools:1",
         "docker.io/acme/tools:1-linux-amd64", "docker.io/acme/tools:1-windows-amd64"],
        ["buildx", "imagetools", "create", "-t", GOLANG, *SOURCES],
    ]  # fmt: skip


# -- argo ------------------------------------------------------------------------------


def _template(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (template,) = [t for t in workflow["spec"]["templates"] if t["name"] == name]
    return template


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow["spec"]["templates"][0]["dag"]["tasks"]}


def _run_template(
    workflow: dict[str, Any], task: dict[str, Any], command: str, tmp: Path
) -> list[list[str]]:
    template = _template(workflow, task["template"])
    values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    env = {e["name"]: values[e["value"][len("{{inputs.parameters.") : -2]]
           for e in template["script"]["env"]}  # fmt: skip
    log = tmp / f"argv-{task['name']}"
    _fake(tmp / "bin", command, log)
    subprocess.run(
        ["sh", "-c", template["script"]["source"]], cwd=tmp, check=True, timeout=30,
        env={"PATH": f"{tmp / 'bin'}:{os.environ['PATH']}", **env},
    )  # fmt: skip
    return _runs(log)


@pytest.mark.parametrize("layout", [LAYOUT, *HOSTILE_LAYOUTS])
def test_argo_imports_with_skopeo_and_makes_the_index_after_its_builds(
    tmp_path: Path, layout: str
) -> None:
    workflow = json.loads(to_argo(the_plan(fleet(layout))))
    tasks = _tasks(workflow)
    assert tasks["debian"]["template"] == "import"
    assert tasks["index-acme-golang"]["template"] == "index"
    assert tasks["index-acme-golang"]["dependencies"] == ["golang", "golang-arm", "golang-win"]
    assert "index-acme-golang" in tasks["app"]["dependencies"]
    assert _run_template(workflow, tasks["debian"], "skopeo", tmp_path) == [
        ["copy", "--all", f"oci:{layout}", "docker://docker.io/acme/debian:bookworm"],
        ["copy", "--all", f"oci:{layout}", "docker://docker.io/acme/debian:12"],
    ]
    assert _run_template(workflow, tasks["index-acme-golang"], "docker", tmp_path) == [
        ["buildx", "imagetools", "create", "-t", GOLANG, *SOURCES]
    ]
    assert not (tmp_path / "pwned").exists()
    # no build task pushes the shared tag
    for task in tasks.values():
        if task["template"] == "build":
            values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
            assert GOLANG not in values["tags"].split(",")


def test_argo_refuses_a_layout_it_would_evaluate() -> None:
    with pytest.raises(ImageGraphError, match=r"build 'debian'.*'\{\{'"):
        to_argo(the_plan(fleet("oci/{{workflow.name}}")))


def test_argo_of_a_plan_without_either_has_neither_template() -> None:
    workflow = json.loads(to_argo(the_plan([b for b in fleet()[1:] if "golang-" not in b.name])))
    assert [t["name"] for t in workflow["spec"]["templates"]] == ["rebuild", "build"]


def test_a_sliced_argo_plan_makes_the_index_between_the_waves() -> None:
    text = to_argo(the_plan(), max_bytes=6000)
    data = json.loads(text)
    assert data["kind"] == "List"
    runners = {t["name"]: t for t in data["items"][-1]["spec"]["templates"][0]["dag"]["tasks"]}
    assert runners["wave-2-indexes"]["dependencies"] == [
        name for name in runners if name.startswith("wave-2-part-")
    ]
    assert all(
        runner["dependencies"] == ["wave-2-indexes"]
        for name, runner in runners.items()
        if name.startswith("wave-3-")
    )


@pytest.mark.skipif(not ARGO_SCHEMA.is_file(), reason="no Argo schema at /tmp/argo-schema.json")
@pytest.mark.parametrize("max_bytes", [1_000_000, 6000])
def test_argo_schema_accepts_the_import_and_index_templates(tmp_path: Path, max_bytes: int) -> None:
    plan = tmp_path / "argo.json"
    plan.write_text(to_argo(the_plan(), max_bytes=max_bytes))
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "argo_schema.py"), str(ARGO_SCHEMA), str(plan)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# -- bake and the table ------------------------------------------------------------------


def test_bake_leaves_the_import_out_and_names_what_it_cannot_do() -> None:
    plan = the_plan()
    data = json.loads(render.to_bake(plan))
    assert "debian" not in data["target"]
    assert data["group"]["wave-1"] == {"targets": ["golang-win"]}
    # children of the import pull it; no target pushes the shared tag
    assert "contexts" not in data["target"]["golang"]
    assert all(GOLANG not in t.get("tags", []) for t in data["target"].values())
    # app's golang is the build for its platform, never the Windows one
    assert data["target"]["app"]["contexts"] == {"acme/golang": "target:golang"}
    codes = [(d.code, d.path, d.line) for d in render.bake_diagnostics(plan)]
    assert codes == [("bake-import", "library/debian", 5), ("bake-shared-tag", None, None)]
    message = render.bake_diagnostics(plan)[1].message
    assert f"docker buildx imagetools create -t {GOLANG} {' '.join(SOURCES)}" in message


def test_bake_wires_no_build_of_a_shared_tag_that_lacks_a_platform_of_the_child() -> None:
    # golang (amd64) and golang-arm (arm64) are one index: no one target serves both
    multi = ImageBuild("multi", "m/Dockerfile", "m", (R("acme/multi:1"),),
                       platforms=("linux/amd64", "linux/arm64/v8"),
                       dockerfile_inline="FROM acme/golang")  # fmt: skip
    data = json.loads(render.to_bake(the_plan([*fleet(), multi])))
    assert "contexts" not in data["target"]["multi"]  # it pulls the index
    assert data["target"]["app"]["contexts"] == {"acme/golang": "target:golang"}


@pytest.mark.skipif(BUILDX is None, reason="no buildx binary (set IMAGEGRAPH_BUILDX)")
def test_buildx_bake_reads_a_plan_with_an_import_and_a_shared_tag(tmp_path: Path) -> None:
    for directory in ("golang", "golang/win", "app"):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
    (tmp_path / "plan.json").write_text(render.to_bake(the_plan()))
    done = subprocess.run(
        [BUILDX or "buildx", "bake", "-f", "plan.json", "--print"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert sorted(printed["target"]) == ["app", "golang", "golang-arm", "golang-win"]


def test_the_table_marks_the_import_and_says_when_the_index_is_made() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(render.to_rich(the_plan()))
    text = console.export_text()
    assert "(imported from an OCI layout)" in text
    assert (
        "acme/golang:latest is one index of 3 builds (golang, golang-arm, golang-win), made after wave 2"
        in text
    )


# -- the command line, end to end, with a declared fleet ------------------------------------

_TOML = """
[[image]]
name = "base"
dockerfile = "base/Dockerfile"
tags = ["acme/base:1"]

[[image]]
name = "tool"
dockerfile = "tool/Dockerfile"
tags = ["acme/tool:1", "acme/tool:latest"]
platforms = ["linux/amd64"]

[[image]]
name = "tool-win"
dockerfile = "tool-win/Dockerfile"
tags = ["acme/tool:latest"]
platforms = ["windows/amd64"]

[[image]]
name = "app"
dockerfile = "app/Dockerfile"
tags = ["acme/app:1"]
"""


@pytest.fixture
def declared(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    files = {
        "imagegraph.toml": _TOML,
        "base/Dockerfile": "FROM debian:12\n",
        "tool/Dockerfile": "FROM acme/base:1\n",
        "tool-win/Dockerfile": "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n",
        "app/Dockerfile": "FROM acme/tool\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("fmt", ["json", "gha", "bake", "make", "argo", "table"])
def test_the_command_line_joins_a_shared_tag_in_every_format(declared: Path, fmt: str) -> None:
    ran = run_cli(["plan", ".", "--no-cache", "--format", fmt], cwd=declared)
    assert ran.code == 0, ran.output
    tag = "docker.io/acme/tool:latest"
    if fmt == "json":
        data = json.loads(ran.stdout)
        jsonschema.validate(data, render.plan_schema())
        assert [i["tag"] for i in data["indexes"]] == [tag]
    elif fmt == "gha":
        data = json.loads(ran.stdout)
        (index,) = [data[key] for key in data if key.startswith("index")]
        assert index == [
            {
                "tag": tag,
                "sources": ["docker.io/acme/tool:1", "docker.io/acme/tool:latest-windows-amd64"],
            }
        ]
    elif fmt == "bake":
        assert "warning[bake-shared-tag]" in ran.stderr
        targets = json.loads(ran.stdout)["target"]
        assert all(tag not in target["tags"] for target in targets.values())
    elif fmt == "make":
        assert f"$(IMAGETOOLS_CREATE) -t {tag} " in ran.stdout
        assert "\napp: tool tool-win index-acme-tool\n" in ran.stdout
    elif fmt == "argo":
        assert '"template": "index"' in ran.stdout
    else:
        assert "acme/tool:latest is one index of 2 builds" in ran.stdout
    if fmt != "bake":
        assert "bake-" not in ran.stderr


# -- end to end, through docker-library manifests -----------------------------------------

_HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/{}.git\n"
_LIBRARY = {
    "imagegraph.toml": '[[manifests]]\npath = "library/debian"\n\n'
    '[[manifests]]\npath = "library/app"\n',
    "library/debian": _HEADER.format("debian")
    + "\nTags: bookworm, 12\nArchitectures: amd64, arm64v8\nBuilder: oci-import\n"
    "Directory: bookworm/oci\nFile: index.json\n",
    "library/app": _HEADER.format("app")
    + "\nTags: 1-linux\nSharedTags: 1\nArchitectures: amd64, arm64v8\nDirectory: linux\n"
    "\nTags: 1-windows\nSharedTags: 1\nArchitectures: windows-amd64\nDirectory: windows\n"
    "Constraints: windowsservercore-ltsc2022\n"
    "\nTags: tool\nDirectory: tool\n",
    "bookworm/oci/index.json": '{"schemaVersion": 2, "manifests": []}\n',
    "linux/Dockerfile": "FROM debian:bookworm\n",
    "windows/Dockerfile": "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n",
    "tool/Dockerfile": "FROM app:1\n",
}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    for name, text in _LIBRARY.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_manifest_oci_import_and_shared_tag_end_to_end(library: Path) -> None:
    ran = run_cli(["plan", ".", "--no-cache", "--format", "json"], cwd=library)
    assert ran.code == 0, ran.output
    data = json.loads(ran.stdout)
    jsonschema.validate(data, render.plan_schema())
    builds = {b["name"]: b for wave in data["waves"] for b in wave["builds"]}
    debian = builds["debian:bookworm"]
    assert (debian["imported"], debian["layout"], debian["layout_index"]) == (
        True, "bookworm/oci", "bookworm/oci/index.json",
    )  # fmt: skip
    assert [(i["tag"], i["sources"], i["users"]) for i in data["indexes"]] == [
        ("docker.io/library/app:1",
         ["docker.io/library/app:1-linux", "docker.io/library/app:1-windows"], ["app:tool"]),
    ]  # fmt: skip


@needs_make
def test_a_manifest_plan_runs_under_make_import_builds_index_then_children(
    library: Path,
) -> None:
    ran = run_cli(["plan", ".", "--no-cache", "--format", "make"], cwd=library)
    assert ran.code == 0, ran.output
    runs = _make(library.parent, ran.stdout)
    steps = [(run[0], run[-1]) for run in runs]
    assert steps == [
        ("build", "windows"),
        ("import", "docker://docker.io/library/debian:bookworm"),
        ("import", "docker://docker.io/library/debian:12"),
        ("build", "linux"),
        ("index", "docker.io/library/app:1-windows"),
        ("build", "tool"),
    ]
    assert all("docker.io/library/app:1" not in run for run in runs if run[0] == "build")
