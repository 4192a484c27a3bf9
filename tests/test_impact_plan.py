"""Blast radius and rebuild plans on small fleets, case by case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagegraph import (
    ConfigError,
    ImageBuild,
    ImageGraph,
    ImageGraphError,
    UnknownImage,
    load_durations,
)

from .fleets import make_graph

FLEET = {
    "os": ["debian:bookworm"],
    "os-old": ["debian:bullseye"],
    "alpine": ["alpine:3.20"],
    "python": ["os"],
    "python-alpine": ["alpine"],
    "node": ["os"],
    "api": ["python", "copy:ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"],
    "reports": ["python-alpine"],
    "web": ["node"],
    "runner": ["os", "copy:node", "mount:python"],
    "legacy": ["os-old"],
}


@pytest.mark.parametrize(
    ("changes", "affected"),
    [
        (["debian:bookworm"], ["api", "node", "os", "python", "runner", "web"]),
        (["debian"], ["api", "legacy", "node", "os", "os-old", "python", "runner", "web"]),
        (["docker.io/library/debian:bullseye"], ["legacy", "os-old"]),
        (["alpine:3.20"], ["alpine", "python-alpine", "reports"]),
        (["python"], ["api", "python", "runner"]),
        (["acme/node:1"], ["node", "runner", "web"]),
        (["ghcr.io/grpc-ecosystem/grpc-health-probe"], ["api"]),
        (
            ["debian:bookworm", "alpine:3.20"],
            ["alpine", "api", "node", "os", "python", "python-alpine", "reports", "runner", "web"],
        ),
    ],
)
def test_blast_radius(changes: list[str], affected: list[str]) -> None:
    assert list(make_graph(FLEET).impact(changes).affected) == affected


def test_reasons_are_shortest_chains_with_lines() -> None:
    result = make_graph(FLEET).impact(["debian:bookworm"])
    assert result.reason("runner") == "docker.io/library/debian:bookworm -> os -> runner"
    assert [(e.parent, e.child, e.kind) for e in result.reasons["api"]] == [
        ("docker.io/library/debian:bookworm", "os", "from"),
        ("os", "python", "from"),
        ("python", "api", "from"),
    ]
    assert result.matched == {"debian:bookworm": ("docker.io/library/debian:bookworm",)}


def test_a_changed_build_is_rebuilt_itself() -> None:
    result = make_graph(FLEET).impact(["node"])
    assert result.reasons["node"] == ()
    assert result.reason("node") == "node (changed)"
    assert "node" in result.changed


def test_digest_pins_are_reached_by_their_tag() -> None:
    pinned = "debian:bookworm@sha256:" + "b" * 64
    graph = make_graph({"os": [pinned], "other": ["debian:bookworm"]})
    assert list(graph.impact(["debian:bookworm"]).affected) == ["os", "other"]
    assert list(graph.impact(["debian@sha256:" + "b" * 64]).affected) == ["os"]


def test_a_change_that_matches_nothing_is_an_error_with_suggestions() -> None:
    with pytest.raises(UnknownImage, match="'debain:bookworm'") as raised:
        make_graph(FLEET).impact(["debain:bookworm"])
    assert raised.value.suggestions == ("debian:bookworm",)
    assert str(raised.value).endswith("did you mean debian:bookworm?")


def test_an_invalid_change_is_an_error() -> None:
    with pytest.raises(ImageGraphError, match="'Not A Ref'"):
        make_graph(FLEET).impact(["Not A Ref"])


def test_undetermined_builds_are_listed_not_planned() -> None:
    graph = ImageGraph.from_builds(
        [
            ImageBuild("os", "os/Dockerfile", "os", dockerfile_inline="FROM debian:12\n"),
            ImageBuild(
                "mystery", "m/Dockerfile", "m", dockerfile_inline="ARG BASE\nFROM ${BASE}\n"
            ),
        ]
    )
    result = graph.impact(["debian:12"])
    assert result.affected == ("os",)
    assert result.undetermined == {"mystery": ("${BASE}",)}
    assert graph.plan(["debian:12"]).names() == [["os"]]


def test_why() -> None:
    graph = make_graph(FLEET)
    chain = graph.why("web", "debian:bookworm")
    assert chain is not None
    assert [e.child for e in chain] == ["os", "node", "web"]
    assert graph.why("reports", "debian:bookworm") is None
    assert graph.why("os", "acme/os:1") == ()


def test_plan_waves() -> None:
    plan = make_graph(FLEET).plan(["debian:bookworm"])
    assert plan.names() == [["os"], ["node", "python"], ["api", "runner", "web"]]
    runner = next(p for p in plan if p.name == "runner")
    assert runner.needs == ("node", "os", "python")
    assert runner.wave == 2
    assert {(e.parent, e.kind) for e in runner.inputs} == {
        ("os", "from"),
        ("node", "copy"),
        ("python", "mount"),
    }


def test_plan_everything() -> None:
    plan = make_graph(FLEET).plan()
    assert plan.changes is None
    assert len(plan) == len(FLEET)
    assert plan.names()[0] == ["alpine", "os", "os-old"]


def test_max_parallel_splits_waves_in_order() -> None:
    plan = make_graph(FLEET).plan(["debian"], max_parallel=2)
    assert plan.names() == [
        ["os", "os-old"],
        ["legacy", "node"],
        ["python"],
        ["api", "runner"],
        ["web"],
    ]
    with pytest.raises(ImageGraphError, match="at least 1"):
        make_graph(FLEET).plan(max_parallel=0)


def test_schedule_from_durations() -> None:
    graph = make_graph({"os": ["debian:12"], "a": ["os"], "b": ["os"], "c": ["a"]})
    plan = graph.plan(durations={"os": 10, "a": 30, "acme/b:1": 5, "c": 20}, workers=1)
    assert plan.schedule is not None
    s = plan.schedule
    assert s.critical_path == ("os", "a", "c")
    assert (s.critical_seconds, s.total_seconds) == (60, 65)
    assert s.makespan_seconds == 65  # one worker does everything in turn
    two = graph.plan(durations={"os": 10, "a": 30, "b": 5, "c": 20}, workers=2).schedule
    assert two is not None
    assert (two.makespan_seconds, two.lower_bound_seconds) == (60, 60)


def test_missing_durations_get_the_median() -> None:
    graph = make_graph({"a": [], "b": [], "c": []})
    schedule = graph.plan(durations={"a": 10, "b": 30, "elsewhere": 99}, workers=1).schedule
    assert schedule is not None
    assert schedule.estimated == ("c",)
    assert schedule.total_seconds == 60


def test_load_durations(tmp_path: Path) -> None:
    good = tmp_path / "d.json"
    good.write_text(json.dumps({"api": 120, "acme/os:1": 30.5}))
    assert load_durations(good) == {"api": 120.0, "acme/os:1": 30.5}
    bad = tmp_path / "bad.json"
    bad.write_text('{"api": "two minutes"}')
    with pytest.raises(ConfigError, match=r"'api'.*seconds"):
        load_durations(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"api": 1,\n')
    with pytest.raises(ConfigError) as caught:
        load_durations(broken)
    assert caught.value.path == str(broken)
    assert caught.value.line == 2


def test_a_name_that_is_a_build_and_an_image_means_both() -> None:
    graph = make_graph({"debian": ["debian:12"], "app": ["debian"], "other": ["debian:11"]})
    result = graph.impact(["debian"])
    assert result.matched["debian"] == (
        "debian",
        "docker.io/library/debian:11",
        "docker.io/library/debian:12",
    )
    assert result.affected == ("app", "debian", "other")
