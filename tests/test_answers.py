"""Answers that say why, and no silent answers (issue 13, items 5, 7, 8 and 10).

A mistyped image is an error naming the closest images, never "nothing to
rebuild"; every planned build says what the change found (the package, its
version, where, the constraint; the advisory; the file and the line reading
it); the table shows the chain that sets each build's wave; the frames name a
layer and a chain length differently.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import imagegraph
from imagegraph import FileChange, ImageGraph, ImageGraphError, PackageChange, UnknownImage
from imagegraph.advisories import load_osv
from imagegraph.cli import main
from imagegraph.render import plan as render_plan
from tests.hostile import assert_contained, build, run_cli

EXAMPLES = Path(__file__).parent.parent / "examples"
FLEET = EXAMPLES / "fleet"
ADVISORY = EXAMPLES / "advisories" / "DEBIAN-CVE-2024-0727.json"
OPENSSL = "openssl 3.0.11-1~deb12u2 (sboms/debian-bookworm.cdx.json)"


@pytest.fixture(scope="module")
def fleet() -> ImageGraph:
    return imagegraph.scan(FLEET, cache=False)


def table_text(plan: imagegraph.RebuildPlan) -> str:
    console = Console(width=250, no_color=True, record=True, file=io.StringIO())
    console.print(render_plan.to_rich(plan))
    return console.export_text()


def rows(text: str) -> dict[str, list[str]]:
    """The table's "because of" lines by build (continuation lines joined to their build)."""
    found: dict[str, list[str]] = {}
    last = ""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) != 3:
            continue
        last = cells[1] or last
        found.setdefault(last, []).append(cells[2])
    return found


# -- item 5: an image that matches nothing ----------------------------------

TYPOS = [
    # (change, the suggestions it must get)
    ("debain:bookworm", ("debian:bookworm",)),
    ("debain", ("debian",)),  # a repository without tag
    ("ci-runer", ("ci-runner",)),  # a build name
    ("docker.io/library/debain:bookworm", ("debian:bookworm",)),  # written in full
    # a tag of a build: its tag, as written
    (
        "registry.acme.internal/platform/debain:bookworm",
        ("registry.acme.internal/platform/debian:bookworm",),
    ),
    ("debian:trixie", ("debian",)),  # the repository is there, not the tag
    ("zzzzzzzz", ()),  # nothing close: no guess
    ("acme/" + "x" * 150 + ":" + "y" * 100, ()),  # too long to compare: no guess
]


@pytest.mark.parametrize(("change", "suggestions"), TYPOS)
def test_an_image_that_matches_nothing_is_an_error_naming_the_closest(
    fleet: ImageGraph, change: str, suggestions: tuple[str, ...]
) -> None:
    with pytest.raises(UnknownImage) as raised:
        fleet.impact([change])
    assert raised.value.image == change
    assert raised.value.suggestions[: len(suggestions)] == suggestions
    if suggestions:
        assert f"did you mean {suggestions[0]}" in str(raised.value)
    else:
        assert raised.value.suggestions == ()
        assert "did you mean" not in str(raised.value)
    with pytest.raises(UnknownImage):  # a plan is no way around it
        fleet.plan(["debian:bookworm", change])


@pytest.mark.parametrize(
    ("change", "builds"),
    [
        ("debian:bookworm", 18),  # a parent image
        ("debian", 18),  # a build, and a repository with no tag
        ("ci-runner", 2),  # a build
        ("registry.acme.internal/platform/ci-runner:latest", 2),  # a tag of a build
        ("golang", 1),  # a repository without tag
    ],
)
def test_an_image_of_the_fleet_is_no_error(
    fleet: ImageGraph, change: str, builds: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(fleet.plan([change])) == builds
    assert main(["plan", str(FLEET), "--changed", change, "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["build_count"] == builds


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--changed", "debain:bookworm"],
            "imagegraph: no build, tag or parent image of this fleet matches "
            "'debain:bookworm', so it cannot say what to rebuild; did you mean debian:bookworm?\n",
        ),
        (
            # a valid image name holding no control character is still shown escaped
            ["--changed", "debian:bookworm", "--changed", "ci-runer"],
            "imagegraph: no build, tag or parent image of this fleet matches 'ci-runer', so "
            "it cannot say what to rebuild; did you mean ci-runner?\n",
        ),
    ],
)
def test_the_cli_stops_on_a_mistyped_image(tmp_path: Path, argv: list[str], message: str) -> None:
    ran = run_cli(["plan", str(FLEET), *argv, "--format", "json"], cwd=tmp_path)
    assert ran.code == 1
    assert ran.stdout == ""
    assert ran.stderr == message
    assert_contained(ran)


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["why", "ci-runer", str(FLEET), "--changed", "debian"], "ci-runner"),  # the image asked
        (["why", "ci-runner", str(FLEET), "--changed", "debain"], "debian"),  # the change
        (["graph", str(FLEET), "--changed", "debain:bookworm"], "debian:bookworm"),
    ],
)
def test_other_commands_name_the_closest_image_too(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--no-cache"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith(f"did you mean {suggestion}?\n")


def test_a_suggestion_from_a_hostile_fleet_is_printed_escaped(tmp_path: Path) -> None:
    root = build(
        tmp_path / "repo",
        {
            "imagegraph.toml": (
                '[[image]]\nname = "my-service\\u001b[2J"\ndockerfile = "app/Dockerfile"\n'
            ),
            "app/Dockerfile": "FROM alpine:3\n",
        },
    )
    ran = run_cli(["plan", str(root), "--changed", "my-servise", "--no-cache"], cwd=tmp_path)
    assert ran.code == 1
    assert "\x1b" not in ran.stderr
    assert "did you mean my-service\\x1b[2J?" in ran.stderr


def test_a_package_no_image_ships_is_a_plain_answer(
    fleet: ImageGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = fleet.plan([PackageChange.named("no-such-package")])
    assert len(plan) == 0
    assert [d.code for d in plan.diagnostics] == ["change-matches-nothing"]
    assert "no image of this fleet is known to ship no-such-package" in plan.diagnostics[0].message
    assert main(["plan", str(FLEET), "--package", "no-such-package", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["build_count"] == 0
    assert "warning[change-matches-nothing]" in err


@pytest.fixture
def undetermined_fleet(tmp_path: Path) -> Path:
    return build(
        tmp_path / "repo",
        {
            "imagegraph.toml": (
                '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["acme/app:1"]\n'
                '[[image]]\nname = "child"\ndockerfile = "child/Dockerfile"\n'
                '[[image]]\nname = "other"\ndockerfile = "other/Dockerfile"\n'
            ),
            "app/Dockerfile": "ARG BASE\nFROM $BASE\n",
            "child/Dockerfile": "FROM acme/app:1\n",
            "other/Dockerfile": "FROM alpine:3.20\n",
        },
    )


@pytest.mark.parametrize("change", ["debian:12", "alpine:3.2"])
def test_with_undetermined_builds_an_unknown_image_lists_them_with_suggestions(
    undetermined_fleet: Path, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``FROM $BASE`` may be built on any image: no error, but never a silent empty plan."""
    graph = imagegraph.scan(undetermined_fleet, cache=False)
    result = graph.impact([change])
    assert result.affected == ()
    assert dict(result.undetermined) == {"app": ("$BASE",), "child": ("via app",)}
    [warning] = [d for d in result.diagnostics if d.code == "change-matches-nothing"]
    assert "unresolved base of 1 build, listed as undetermined" in warning.message
    if change == "alpine:3.2":
        assert warning.message.endswith("did you mean alpine:3.20?")
    code = main(["plan", str(undetermined_fleet), "--changed", change, "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0
    assert [u["build"] for u in json.loads(out)["undetermined"]] == ["app", "child"]
    assert "warning[change-matches-nothing]" in err


_FLEET_GRAPH = imagegraph.scan(FLEET, cache=False)
_NAMES = sorted(
    {b.name for b in _FLEET_GRAPH.builds}
    | {t.familiar for b in _FLEET_GRAPH.builds for t in b.tags}
    | {_FLEET_GRAPH.nx.nodes[node]["ref"].familiar for node in _FLEET_GRAPH.external_bases()}
)


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A name of the fleet with one character replaced, dropped or added."""
    name = draw(st.sampled_from(_NAMES))
    at = draw(st.integers(0, len(name)))
    letter = draw(st.sampled_from("abdeinorstuz-.:/0123456789"))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "add":
        return name[:at] + letter + name[at:]
    if how == "drop":
        return name[:at] + name[at + 1 :]
    return name[:at] + letter + name[at + 1 :]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=40), near_misses()))
def test_a_change_either_matches_or_is_an_error(change: str) -> None:
    """Whatever is typed, the answer is never an empty plan in silence."""
    graph = _FLEET_GRAPH
    try:
        result = graph.impact([change])
    except ImageGraphError:
        return
    assert result.matched[change], change


def test_unknown_image_survives_pickling() -> None:
    import pickle

    error = UnknownImage("debain", ("debian",), message="no build matches 'debain'")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.image, again.suggestions) == (str(error), "debain", ("debian",))


# -- item 7: every build says why ----------------------------------------------


def _package_plan(graph: ImageGraph) -> imagegraph.RebuildPlan:
    return graph.plan([PackageChange.named("openssl", below="3.0.13")])


def _advisory_plan(graph: ImageGraph) -> imagegraph.RebuildPlan:
    changes, _ = load_osv(ADVISORY)
    return graph.plan(changes)


@pytest.mark.parametrize(
    ("make", "found"),
    [
        (_package_plan, f"{OPENSSL}: openssl below 3.0.13"),
        (_advisory_plan, f"{OPENSSL}: DEBIAN-CVE-2024-0727: deb openssl"),
    ],
)
def test_every_build_of_a_package_plan_names_package_version_place_and_constraint(
    fleet: ImageGraph, make: object, found: str
) -> None:
    plan = make(fleet)  # type: ignore[operator]
    assert len(plan) == 18
    data = json.loads(render_plan.to_json(plan))
    for wave in data["waves"]:
        for entry in wave["builds"]:
            assert any(c.startswith(f"via debian:bookworm: {found}") for c in entry["cause"]), entry
    table = rows(table_text(plan))
    assert len(table) == 18
    for name, lines in table.items():
        assert lines[0].startswith("debian:bookworm"), name
        assert " ".join(lines[1:]).startswith(found), (name, lines)


def test_a_package_pinned_in_a_dockerfile_names_the_line(tmp_path: Path) -> None:
    root = build(
        tmp_path / "repo",
        {
            "imagegraph.toml": (
                '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["acme/app:1"]\n'
                '[[image]]\nname = "child"\ndockerfile = "child/Dockerfile"\n'
            ),
            "app/Dockerfile": "FROM debian:12\nRUN apt-get install -y openssl=3.0.11-1~deb12u2\n",
            "child/Dockerfile": "FROM acme/app:1\n",
        },
    )
    plan = imagegraph.scan(root, cache=False).plan([PackageChange.named("openssl", below="3.0.13")])
    why = "openssl 3.0.11-1~deb12u2 (app/Dockerfile:2): openssl below 3.0.13"
    assert {p.name: p.cause for p in plan} == {"app": (why,), "child": (f"via app: {why}",)}
    assert rows(table_text(plan)) == {"app": [why], "child": ["app", why]}


def test_file_changes_name_the_file_and_the_line_reading_it(fleet: ImageGraph) -> None:
    plan = fleet.plan([FileChange.of(["apps/api/requirements.txt", "runtimes/node/Dockerfile"])])
    causes = {p.name: p.cause for p in plan}
    read = (
        "apps/api/requirements.txt: COPY requirements.txt (apps/api/Dockerfile:10, stage builder)"
    )
    assert causes["api"] == (read,)
    assert causes["node-20"] == ("runtimes/node/Dockerfile: the Dockerfile",)
    assert causes["admin"] == ("via node-20: runtimes/node/Dockerfile: the Dockerfile",)
    table = rows(table_text(plan))
    assert table["admin"] == ["node-20 → app-base-node", "runtimes/node/Dockerfile: the Dockerfile"]
    assert " ".join(table["api"]) == read


def test_an_image_change_has_no_cause_but_its_chain(fleet: ImageGraph) -> None:
    plan = fleet.plan(["debian:bookworm"])
    assert all(p.cause == () for p in plan)
    assert rows(table_text(plan))["debian"] == ["debian:bookworm"]


# -- item 8: the chain that sets the wave ------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        ["debian:bookworm"],
        ["debian"],
        ["node-20", "alpine:3.20"],
        [FileChange.of(["base/debian/Dockerfile"])],
        None,  # everything
    ],
)
@pytest.mark.parametrize("max_parallel", [None, 2])
def test_the_wave_reason_is_the_longest_chain_of_planned_parents(
    fleet: ImageGraph, changes: list[object] | None, max_parallel: int | None
) -> None:
    plan = fleet.plan(changes, max_parallel=max_parallel)  # type: ignore[arg-type]
    planned = {p.name: p for p in plan}
    layer = {}
    for each in fleet.plan(changes):  # type: ignore[arg-type]
        layer[each.name] = each.wave  # the wave before any split
    for p in plan:
        chain = p.wave_reason
        inside = [edge for edge in chain if edge.parent in planned]
        # One planned parent per wave above it: exactly its unsplit wave's number.
        assert len(inside) == layer[p.name], p.name
        if chain:
            assert chain[-1].child == p.name
            assert all(a.child == b.parent for a, b in itertools.pairwise(chain))
        for edge in inside:
            assert edge.parent in planned[edge.child].needs
        # the shortest chain is never longer
        assert len(p.reason) <= len(chain) or changes is None


def test_the_table_shows_the_chain_that_sets_the_wave(fleet: ImageGraph) -> None:
    plan = fleet.plan(["debian:bookworm"])
    runner = next(p for p in plan if p.name == "ci-runner")
    assert runner.wave == 2
    assert render_plan._chain(runner) == "docker.io/library/debian:bookworm -> debian -> ci-runner"
    table = rows(table_text(plan))
    assert table["ci-runner"] == ["debian:bookworm → debian → node-20"]
    assert table["billing"] == ["debian:bookworm → debian → jdk → jvm-base"]
    data = json.loads(render_plan.to_json(plan))
    [entry] = [b for w in data["waves"] for b in w["builds"] if b["name"] == "ci-runner"]
    # the JSON keeps the shortest chain and every planned parent, and gives the wave's chain
    assert entry["reason"] == "docker.io/library/debian:bookworm -> debian -> ci-runner"
    assert entry["needs"] == ["debian", "node-20", "python-3.12-bookworm"]
    assert entry["wave_reason"] == (
        "docker.io/library/debian:bookworm -> debian -> node-20 -> ci-runner"
    )
    assert [e["child"] for e in entry["wave_reasons"]] == ["debian", "node-20", "ci-runner"]


# -- item 10: a layer is not a chain length ----------------------------------


def test_frames_name_layer_and_chain_length_apart(fleet: ImageGraph) -> None:
    pytest.importorskip("pandas")
    nodes, _ = fleet.to_pandas()
    assert "layer" in nodes.columns
    assert "depth" not in nodes.columns
    assert nodes.set_index("image").loc["ci-runner", "layer"] == 3
    impact = fleet.impact(["debian:bookworm"]).to_pandas()
    assert "chain_length" in impact.columns
    assert "depth" not in impact.columns
    assert impact.set_index("image").loc["ci-runner", "chain_length"] == 2
    frame = fleet.plan(["debian:bookworm"]).to_pandas().set_index("build")
    assert "depth" not in frame.columns
    assert frame.loc["ci-runner", "chain_length"] == 2
    assert frame.loc["ci-runner", "wave_reason"].endswith("-> debian -> node-20 -> ci-runner")


def test_the_notebook_table_says_the_same(fleet: ImageGraph) -> None:
    """The plan's HTML table (Jupyter) shows the wave's chain and the causes as the table does."""
    html = fleet.plan(["debian:bookworm"])._repr_html_()
    assert "ci-runner</td><td" in html
    row = html.split("ci-runner</td>", 1)[1].split("</tr>", 1)[0]
    assert "debian:bookworm → debian → node-20" in row
    html = _package_plan(fleet)._repr_html_()
    row = html.split("jvm-base</td>", 1)[1].split("</tr>", 1)[0]
    assert "debian:bookworm → debian → jdk<br/>" in row
    assert "openssl 3.0.11-1~deb12u2 (sboms/debian-bookworm.cdx.json): openssl below 3.0.13" in row
