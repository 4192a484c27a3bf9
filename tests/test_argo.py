"""The Argo Workflows export: the fields Argo reads, real dependencies, and splitting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from imagegraph import ImageBuild, ImageGraph, ImageGraphError, ImageRef, scan
from imagegraph.cli import main
from imagegraph.plan import RebuildPlan
from imagegraph.render.argo import to_argo

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
PARAMETERS = [
    "image", "context", "dockerfile", "dockerfile-inline", "tags", "build-args", "build-contexts",
    "target", "platforms",
]  # fmt: skip


def _check_workflow_shape(document: dict, kind: str) -> dict[str, dict]:
    assert document["apiVersion"] == "argoproj.io/v1alpha1"
    assert document["kind"] == kind
    spec = document["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert spec["entrypoint"] in templates
    tasks = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
    for task in tasks.values():
        assert DNS_LABEL.fullmatch(task["name"])
        assert len(task["name"]) <= 63
        assert set(task.get("dependencies", [])) <= set(tasks)
        assert ("template" in task) != ("templateRef" in task)
        if "template" in task:
            assert task["template"] in templates
            params = [p["name"] for p in task["arguments"]["parameters"]]
            declared = [p["name"] for p in templates[task["template"]]["inputs"]["parameters"]]
            assert params == declared == PARAMETERS
    return tasks


def test_a_plan_becomes_a_dag_with_its_parents_as_dependencies() -> None:
    graph = scan(EXAMPLE)
    plan = graph.plan(["debian:bookworm"], max_parallel=4)
    workflow = json.loads(to_argo(plan))
    tasks = _check_workflow_shape(workflow, "Workflow")
    assert workflow["spec"]["parallelism"] == 4
    assert workflow["metadata"]["generateName"] == "imagegraph-rebuild-"
    by_image = {
        next(p["value"] for p in t["arguments"]["parameters"] if p["name"] == "image"): t
        for t in tasks.values()
    }
    assert sorted(by_image) == sorted(p.name for p in plan)
    for planned in plan:
        task = by_image[planned.name]
        wanted = sorted(by_image[parent]["name"] for parent in planned.needs)
        assert task.get("dependencies", []) == wanted
    api = {p["name"]: p["value"] for p in by_image["api"]["arguments"]["parameters"]}
    build = graph.build("api")
    assert api["dockerfile"] == build.dockerfile
    assert api["context"] == build.context
    assert api["tags"] == ",".join(str(t) for t in build.tags)


def test_task_names_are_distinct_dns_labels() -> None:
    builds = [
        ImageBuild(name, f"{i}/Dockerfile", str(i), (ImageRef.parse(f"acme/x{i}:1"),),
                   dockerfile_inline="FROM alpine:3")
        for i, name in enumerate(["API_v2", "api/v2", "9lives", "x" * 80, "x" * 80 + "y"])
    ]  # fmt: skip
    workflow = json.loads(to_argo(ImageGraph.from_builds(builds).plan()))
    names = [t["name"] for t in workflow["spec"]["templates"][0]["dag"]["tasks"]]
    assert len(set(names)) == len(names) == 5
    assert all(DNS_LABEL.fullmatch(n) and len(n) <= 63 for n in names)


def test_a_large_plan_is_split_into_templates_run_wave_after_wave() -> None:
    plan = scan(EXAMPLE).plan(["debian:bookworm"])
    listing = json.loads(to_argo(plan, max_bytes=3300))
    assert listing["kind"] == "List"
    items = listing["items"]
    assert all(len(json.dumps(item, ensure_ascii=False).encode()) <= 3300 for item in items[:-1])
    templates = {i["metadata"]["name"]: i for i in items if i["kind"] == "WorkflowTemplate"}
    main_workflow = items[-1]
    runners = _check_workflow_shape(main_workflow, "Workflow")
    seen: list[str] = []
    for name, template in templates.items():
        tasks = _check_workflow_shape(template, "WorkflowTemplate")
        assert all("dependencies" not in t for t in tasks.values())  # one wave: independent
        seen += [
            next(p["value"] for p in t["arguments"]["parameters"] if p["name"] == "image")
            for t in tasks.values()
        ]
        assert re.fullmatch(r"imagegraph-rebuild-[0-9a-f]{8}-wave-\d+-part-\d+", name)
    assert sorted(seen) == sorted(p.name for p in plan)
    assert len(templates) > len(plan.waves)  # the limit really split waves
    for runner in runners.values():
        assert runner["templateRef"]["name"] in templates
        wave = int(runner["name"].split("-")[1])
        wanted = sorted(r for r in runners if int(r.split("-")[1]) == wave - 1)
        assert sorted(runner.get("dependencies", [])) == wanted


def test_cli_writes_argo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(EXAMPLE), "--changed", "debian:bookworm", "--format", "argo"]) == 0
    workflow = json.loads(capsys.readouterr().out)
    assert len(workflow["spec"]["templates"][0]["dag"]["tasks"]) == 18


# The smallest limit that holds the build template and one task, and up.
@pytest.mark.parametrize("limit", range(3210, 4210, 37))
def test_no_slice_is_over_the_limit(limit: int) -> None:
    plan = scan(EXAMPLE).plan(["debian:bookworm"])
    items = json.loads(to_argo(plan, max_bytes=limit))["items"]
    assert all(len(json.dumps(i, ensure_ascii=False).encode()) <= limit for i in items[:-1])


def test_an_empty_plan_is_a_workflow_that_does_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # kubectl create -f fails on an empty file: an empty plan is a Workflow
    # whose entrypoint resumes at once and runs no pod.
    workflow = json.loads(to_argo(RebuildPlan(changes=("busybox:1",), waves=())))
    assert workflow["kind"] == "Workflow"
    assert workflow["apiVersion"] == "argoproj.io/v1alpha1"
    (template,) = workflow["spec"]["templates"]
    assert workflow["spec"]["entrypoint"] == template["name"]
    assert template == {"name": "rebuild", "suspend": {"duration": "0"}}
    # A package no image ships is a plain answer: nothing to rebuild.
    assert main(["plan", str(EXAMPLE), "--package", "no-such-package", "--format", "argo"]) == 0
    assert json.loads(capsys.readouterr().out) == workflow


def test_an_inline_dockerfile_is_a_parameter_never_a_file_of_the_context() -> None:
    text = "FROM alpine:3\nRUN echo '$HOME' \"a\\b\"\t%s\r\n"
    builds = [
        ImageBuild("inline", "d/Dockerfile", "d", (ImageRef.parse("acme/x:1"),),
                   dockerfile_inline=text),
        ImageBuild("file", "e/Dockerfile", "e", (ImageRef.parse("acme/y:1"),)),
    ]  # fmt: skip
    workflow = json.loads(to_argo(ImageGraph.from_builds(builds).plan()))
    _check_workflow_shape(workflow, "Workflow")
    values = {
        t["name"]: {p["name"]: p["value"] for p in t["arguments"]["parameters"]}
        for t in workflow["spec"]["templates"][0]["dag"]["tasks"]
    }
    # never d/Dockerfile, which the repository does not have (or has for something else)
    assert (values["inline"]["dockerfile"], values["inline"]["dockerfile-inline"]) == ("", text)
    assert (values["file"]["dockerfile"], values["file"]["dockerfile-inline"]) == (
        "e/Dockerfile",
        "",
    )


@pytest.mark.parametrize(
    "text",
    ["FROM alpine\nRUN docker inspect -f '{{.Id}}' x\n", "FROM alpine\n\x1b]0;t\x07\n",
     "FROM alpine\n\x0b", "FROM alpine\n\U000e0001"],
)  # fmt: skip
def test_an_inline_dockerfile_argo_cannot_pass_is_refused_naming_the_build(text: str) -> None:
    build = ImageBuild("app", "d/Dockerfile", "d", dockerfile_inline=text)
    with pytest.raises(ImageGraphError, match="build 'app': dockerfile-inline "):
        to_argo(ImageGraph.from_builds([build]).plan())
