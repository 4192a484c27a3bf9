"""The shipped example fleet: what the README's main command prints must stay true."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from imagegraph import scan
from imagegraph.cli import main
from imagegraph.render.plan import plan_schema

FLEET = Path(__file__).parent.parent / "examples" / "fleet"


def test_it_reads_cleanly() -> None:
    graph = scan(FLEET)
    assert len(graph.builds) == 25
    assert [str(d) for d in graph.diagnostics] == []
    assert sorted(graph.inventory.sources) == ["compose.yaml", "docker-bake.hcl", "imagegraph.toml"]


def test_a_debian_patch() -> None:
    plan = scan(FLEET).plan(["debian:bookworm"])
    assert plan.names() == [
        ["debian"],
        ["jdk", "node-20", "python-3.11-bookworm", "python-3.12-bookworm"],
        [
            "app-base-node", "app-base-python-3.11", "app-base-python-3.12", "ci-runner",
            "jvm-base", "migrations", "web",
        ],
        ["admin", "api", "billing", "devcontainer", "search-indexer", "worker"],
    ]  # fmt: skip


def test_an_alpine_patch_leaves_debian_alone() -> None:
    plan = scan(FLEET).plan(["alpine"])
    assert plan.names() == [
        ["alpine"],
        ["python-3.11-alpine", "python-3.12-alpine"],
        ["docs", "reports"],
    ]


def test_the_mirror_alias_and_the_stage_choice() -> None:
    graph = scan(FLEET)
    assert graph.parents("debian") == ["docker.io/library/debian:bookworm"]
    assert graph.parents("python-3.12-alpine") == ["alpine"]
    assert graph.parents("python-3.12-bookworm") == ["debian"]
    assert graph.parents("billing") == ["jdk", "jvm-base"]
    assert {e.kind for e in graph.edges("python-3.12-bookworm", "ci-runner")} == {"copy"}
    assert {e.kind for e in graph.edges("ghcr.io/astral-sh/uv:0.4.30", "ci-runner")} == {"mount"}


def test_readme_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(FLEET), "--changed", "debian:bookworm", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, plan_schema())
    assert data["build_count"] == 18


@pytest.mark.parametrize(
    ("path", "rebuilt"),
    [
        ("base/debian/README.md", 0),  # no COPY reads it
        ("runtimes/python/README.md", 0),
        ("apps/api/README.md", 0),  # COPY . . reads it, but .dockerignore drops *.md
        ("apps/api/tests/test_health.py", 0),
        ("apps/api/requirements.txt", 1),
        ("runtimes/python/install-python.sh", 13),
        ("base/debian/acme-root-ca.crt", 18),
    ],
)
def test_file_changes_on_the_example_fleet(path: str, rebuilt: int) -> None:
    from imagegraph import FileChange

    assert len(scan(FLEET).plan([FileChange.of([path])])) == rebuilt


def test_openssl_below_a_version() -> None:
    from imagegraph import PackageChange

    graph = scan(FLEET)
    change = PackageChange.named("openssl", below="3.0.13")
    result = graph.impact([change])
    # The upstream Debian SBOM says 3.0.11-1~deb12u2; Alpine's 3.3.2-r0 is newer.
    assert result.matched[str(change)] == ("docker.io/library/debian:bookworm",)
    assert len(result.affected) == 18
    assert list(result.possibly) == ["reports"]  # installs openssl without a version
    assert "reports" not in result.affected
    assert len(graph.impact([change], include_unknown=True).affected) == 19


def test_packages_are_inherited_with_their_origin() -> None:
    graph = scan(FLEET)
    by_name = {p.name: p for p in graph.packages("api")}
    assert by_name["openssl"].version == "3.0.11-1~deb12u2"
    assert by_name["openssl"].source == "sbom"
    assert by_name["openssl"].inherited_from == "docker.io/library/debian:bookworm"
    assert by_name["ca-certificates"].inherited_from == "debian"
    assert by_name["ca-certificates"].where == "base/debian/Dockerfile:4"


def test_an_osv_advisory_on_the_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    # The advisory the README's command names, shipped beside the fleet.
    advisory = FLEET.parent / "advisories" / "DEBIAN-CVE-2024-0727.json"
    assert main(["plan", str(FLEET), "--advisory", str(advisory), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, plan_schema())
    assert data["build_count"] == 18
    assert (
        data["possibly"] == []
    )  # reports' openssl is an apk package: Debian's advisory does not name it


def test_packages_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["packages", str(FLEET), "python-3.12-alpine", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["packages"]
    assert {(r["purl"], r["inherited_from"]) for r in rows} >= {
        ("pkg:apk/alpine/openssl@3.3.2-r0", None),
        ("pkg:apk/alpine/ca-certificates", "alpine"),
    }
