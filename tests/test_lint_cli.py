"""``imagegraph lint``: formats, exit codes, errors as messages, and SARIF 2.1.0 that
code scanning accepts; the example fleet's findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imagegraph import Severity, scan
from imagegraph.cli import main
from imagegraph.findings import RULES, Finding, Findings, findings, rule
from imagegraph.render import findings as render
from imagegraph.render.findings import findings_schema, to_data, to_json, to_sarif, to_table

from .fleets import write

FLEET = Path(__file__).parent.parent / "examples" / "fleet"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def small_fleet(root: Path, dockerfile: str = "FROM debian\n") -> Path:
    return write(
        root,
        {
            "imagegraph.toml": '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n',
            "app/Dockerfile": dockerfile,
        },
    )


# The parts of SARIF 2.1.0 imagegraph writes, as the OASIS schema states them, plus
# what GitHub code scanning requires of a result (ruleId, a message text, a location).
SARIF_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "pattern": "^https://"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/run"}},
    },
    "$defs": {
        "message": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1}},
        },
        "multiformatMessageString": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}},
        },
        "level": {"enum": ["none", "note", "warning", "error"]},
        "run": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {
                    "type": "object",
                    "required": ["driver"],
                    "properties": {"driver": {"$ref": "#/$defs/toolComponent"}},
                },
                "results": {"type": "array", "items": {"$ref": "#/$defs/result"}},
                "originalUriBaseIds": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/artifactLocation"},
                },
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
            },
        },
        "toolComponent": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "version": {"type": "string"},
                "semanticVersion": {"type": "string"},
                "informationUri": {"type": "string", "pattern": "^https?://"},
                "rules": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/reportingDescriptor"},
                },
            },
        },
        "reportingDescriptor": {
            "type": "object",
            "required": ["id", "shortDescription", "fullDescription", "help"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "name": {"type": "string"},
                "shortDescription": {"$ref": "#/$defs/multiformatMessageString"},
                "fullDescription": {"$ref": "#/$defs/multiformatMessageString"},
                "help": {"$ref": "#/$defs/multiformatMessageString"},
                "defaultConfiguration": {
                    "type": "object",
                    "properties": {"level": {"$ref": "#/$defs/level"}},
                },
            },
        },
        "result": {
            "type": "object",
            "required": ["message", "ruleId", "locations"],
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "level": {"$ref": "#/$defs/level"},
                "message": {"$ref": "#/$defs/message"},
                "locations": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {"physicalLocation": {"$ref": "#/$defs/physicalLocation"}},
                    },
                },
                "partialFingerprints": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                },
                "properties": {"type": "object"},
            },
        },
        "physicalLocation": {
            "type": "object",
            "required": ["artifactLocation"],
            "properties": {
                "artifactLocation": {"$ref": "#/$defs/artifactLocation"},
                "region": {
                    "type": "object",
                    "required": ["startLine"],
                    "properties": {"startLine": {"type": "integer", "minimum": 1}},
                },
            },
        },
        "artifactLocation": {
            "type": "object",
            "properties": {
                "uri": {"type": "string"},
                "uriBaseId": {"type": "string"},
                "description": {"$ref": "#/$defs/message"},
            },
        },
    },
}


def check_sarif(text: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator(SARIF_SUBSET).validate(log)
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] >= 1
        artifact = location["artifactLocation"]
        uri = artifact["uri"]
        assert "\\" not in uri
        assert " " not in uri
        assert "#" not in uri
        if "uriBaseId" in artifact:  # relative to the repository, and inside it
            assert not uri.startswith("/")
            assert "://" not in uri
            assert ".." not in uri.split("/")
        else:
            assert uri.startswith("file:///")
    return log


# -- the example fleet ---------------------------------------------------------------


def test_the_example_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "lint", str(FLEET), "--no-cache", "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    jsonschema.Draft202012Validator(findings_schema()).validate(data)
    assert [(f["code"], f["image"], f["where"]) for f in data["findings"]] == [
        ("base-drift", "docs", "apps/docs/Dockerfile:7"),
        ("isolated-build", "notifier", "apps/notifier/Dockerfile:6"),
        ("straggler", "worker", "apps/worker/Dockerfile:1"),
        ("unpinned-base", "devcontainer", "ci/devcontainer/Dockerfile:1"),
        ("isolated-build", "gateway", "edge/gateway/Dockerfile:1"),
    ]
    assert data["summary"] == {"error": 0, "warning": 3, "info": 2}
    drift = data["findings"][0]
    assert drift["severity"] == "warning"
    assert drift["edge"]["parent"] == "docker.io/nginxinc/nginx-unprivileged:1.26-alpine"
    assert drift["facts"] == {
        "repository": "nginxinc/nginx-unprivileged",
        "reference": "nginxinc/nginx-unprivileged:1.26-alpine",
        "release": "1.26", "builds": 1, "images": 1,  # docs
        "target": "1.27", "target_builds": 1, "target_images": 1,  # web
        "release_count": 2, "suggested": "nginxinc/nginx-unprivileged:1.27-alpine",
    }  # fmt: skip
    assert drift["message"] == (
        "FROM nginxinc/nginx-unprivileged:1.26-alpine is nginxinc/nginx-unprivileged 1.26, used "
        "by 1 build with 1 image on it; the newest of the 2 nginxinc/nginx-unprivileged releases "
        "this fleet builds on is 1.27, used by 1 build with 1 image on it: move it to "
        "nginxinc/nginx-unprivileged:1.27-alpine so the fleet has one nginxinc/nginx-unprivileged "
        "to patch"
    )
    straggler = data["findings"][2]
    assert straggler["message"] == (
        "FROM registry.acme.internal/platform/app-base:3.11-bookworm is an older version of "
        "registry.acme.internal/platform/app-base:3.12-bookworm, which this fleet also builds "
        "(app-base-python-3.12): build worker FROM "
        "registry.acme.internal/platform/app-base:3.12-bookworm, so it stays on the line the "
        "fleet maintains"
    )
    assert straggler["edge"]["parent"] == "app-base-python-3.11"
    assert data["findings"][3]["facts"]["reference"] == (
        "registry.acme.internal/platform/ci-runner:latest"
    )


def test_the_example_fleet_with_a_stricter_policy() -> None:
    from imagegraph.findings import LintPolicy

    found = findings(scan(FLEET, cache=False), LintPolicy(max_depth=3, require_digest=True))
    deep = {f.image: f.facts["chain"] for f in found.with_code("deep-chain")}
    assert deep["api"] == ["debian", "python-3.12-bookworm", "app-base-python-3.12", "api"]
    assert sorted(deep) == ["admin", "api", "billing", "devcontainer", "search-indexer", "worker"]
    # every external image is pulled by tag: the mirror's Debian, the upstream tools
    digest = {(f.image, f.facts["reference"]) for f in found.with_code("digest-required")}
    assert ("debian", "mirror.acme.internal/dockerhub/library/debian:bookworm") in digest
    assert ("ci-runner", "docker:27-cli") in digest
    assert ("ci-runner", "ghcr.io/astral-sh/uv:0.4.30") in digest
    assert not any("registry.acme.internal" in str(ref) for _, ref in digest)


def test_sarif_for_the_example_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", str(FLEET), "--no-cache", "--format", "sarif")
    assert code == 0
    log = check_sarif(out)
    run_ = log["runs"][0]
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert run_["tool"]["driver"]["name"] == "imagegraph"
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [
        "base-drift",
        "isolated-build",
        "straggler",
        "unpinned-base",
    ]
    drift = run_["results"][0]
    assert (drift["ruleId"], drift["level"]) == ("base-drift", "warning")
    location = drift["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("apps/docs/Dockerfile")
    assert location["region"] == {"startLine": 7}
    straggler = run_["results"][2]
    assert straggler["ruleId"] == "straggler"
    assert straggler["level"] == "warning"
    location = straggler["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("apps/worker/Dockerfile")
    assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert location["region"] == {"startLine": 1}
    assert straggler["message"]["text"].startswith("worker: FROM registry.acme.internal/")
    assert (run_["results"][1]["ruleId"], run_["results"][1]["level"]) == ("isolated-build", "note")
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")


# -- formats and exit codes -------------------------------------------------------------


def test_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_fleet(tmp_path)  # one warning (no tag), one info (isolated)
    assert run(capsys, "lint", str(tmp_path))[0] == 0
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "error")[0] == 0
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "warning")[0] == 1
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "info")[0] == 1
    small_fleet(tmp_path, "FROM debian:12\n")  # only the info
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "warning")[0] == 0
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "info")[0] == 1


def test_an_error_fails_unless_never(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_fleet(tmp_path, "FROM alpine:3.20\nRUN <<EOF\nnever closed\n")
    code, out, err = run(capsys, "lint", str(tmp_path))
    assert (code, err) == (1, "")
    (finding,) = json.loads(out)["findings"]
    assert (finding["code"], finding["severity"]) == ("dockerfile-error", "error")
    assert run(capsys, "lint", str(tmp_path), "--fail-on", "never")[0] == 0


def test_json_when_piped_and_a_table_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_fleet(tmp_path)
    code, out, _ = run(capsys, "lint", str(tmp_path))
    assert json.loads(out)["schema"] == "imagegraph/findings/v1"
    code, out, _ = run(capsys, "lint", str(tmp_path), "--format", "table")
    assert code == 0
    assert "app/Dockerfile:1" in out
    assert "unpinned-base" in out
    assert "2 findings: 1 warning, 1 info" in out


def test_output_files_take_their_format_from_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = small_fleet(tmp_path / "fleet")
    sarif, data, table = tmp_path / "out.sarif", tmp_path / "out.json", tmp_path / "out.txt"
    assert run(capsys, "lint", str(fleet), "--output", str(sarif)) == (0, "", "")
    assert check_sarif(sarif.read_text())["version"] == "2.1.0"
    upper = tmp_path / "OUT.SARIF"
    assert run(capsys, "lint", str(fleet), "--output", str(upper)) == (0, "", "")
    assert check_sarif(upper.read_text())["version"] == "2.1.0"
    assert run(capsys, "lint", str(fleet), "--output", str(data)) == (0, "", "")
    assert json.loads(data.read_text())["summary"]["warning"] == 1
    assert run(capsys, "lint", str(fleet), "--output", str(table), "--format", "table")[0] == 0
    assert "unpinned-base" in table.read_text()


def test_bad_input_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, {"imagegraph.toml": "[lint]\nmax_depth = 0\n"})
    code, out, err = run(capsys, "lint", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == (
        "imagegraph: imagegraph.toml:2: 'max_depth' must be a whole number of at least 1, not 0\n"
    )
    small_fleet(tmp_path)
    code, out, err = run(capsys, "lint", str(tmp_path), "--output", str(tmp_path / "no/x.json"))
    assert code == 1
    assert err.startswith("imagegraph: ")
    assert "cannot write" in err
    assert "Traceback" not in err


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "lint", "--fail-on", "sometimes")[0] == 2
    assert run(capsys, "lint", "--format", "xml")[0] == 2
    code, out, _ = run(capsys, "lint", "--help")
    assert code == 0
    assert "imagegraph lint examples/fleet" in out
    assert "Exit codes: 0 no finding at or above --fail-on, 1 a finding at or above" in out
    code, out, _ = run(capsys, "--help")
    assert "imagegraph lint examples/fleet" in out


# -- SARIF --------------------------------------------------------------------------------


def test_sarif_paths_are_relative_to_the_git_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    small_fleet(tmp_path / "infra" / "images")
    _code, out, _ = run(capsys, "lint", str(tmp_path / "infra" / "images"), "--format", "sarif")
    run_ = check_sarif(out)["runs"][0]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    }
    assert uris == {"infra/images/app/Dockerfile"}
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_fingerprints_survive_moved_lines(tmp_path: Path) -> None:
    small_fleet(tmp_path, "FROM debian\n")
    before = json.loads(to_sarif(findings(scan(tmp_path, cache=False)), tool_version="0"))
    small_fleet(tmp_path, "# a comment\n\nFROM debian\n")
    after = json.loads(to_sarif(findings(scan(tmp_path, cache=False)), tool_version="0"))

    def by_rule(log: dict[str, Any]) -> dict[str, tuple[int, dict[str, str]]]:
        return {
            r["ruleId"]: (
                r["locations"][0]["physicalLocation"]["region"]["startLine"],
                r["partialFingerprints"],
            )
            for r in log["runs"][0]["results"]
        }

    old, new = by_rule(before), by_rule(after)
    assert old["unpinned-base"][0] == 1
    assert new["unpinned-base"][0] == 3
    assert old["unpinned-base"][1] == new["unpinned-base"][1]
    assert old["isolated-build"][1] == new["isolated-build"][1]
    assert old["unpinned-base"][1] != old["isolated-build"][1]


def test_sarif_rules_levels_and_findings_without_a_line() -> None:
    found = Findings(
        [
            Finding("undeclared-dockerfile", Severity.WARNING, None, "x/Dockerfile", None, "m"),
            Finding("digest-required", Severity.ERROR, "a", "a/Dockerfile", 2, "m"),
            Finding("digest-required", Severity.ERROR, "b", "b/Dockerfile", 2, "m"),
            Finding("isolated-build", Severity.INFO, "c", "c/Dockerfile", 1, "m"),
        ]
    )
    log = check_sarif(to_sarif(found, tool_version="1.2.3", path_prefix="deploy"))
    run_ = log["runs"][0]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert rules["digest-required"]["defaultConfiguration"] == {"level": "error"}
    assert rules["isolated-build"]["defaultConfiguration"] == {"level": "note"}
    assert rules["undeclared-dockerfile"]["defaultConfiguration"] == {"level": "warning"}
    assert rules["digest-required"]["name"] == "DigestRequired"
    assert [r["level"] for r in run_["results"]] == ["error", "error", "note", "warning"]
    (no_line,) = [r for r in run_["results"] if r["ruleId"] == "undeclared-dockerfile"]
    assert no_line["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "deploy/x/Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},  # about the whole file: code scanning wants a line
    }
    assert no_line["message"]["text"] == "m"
    assert run_["results"][0]["message"]["text"] == "a: m"
    assert run_["tool"]["driver"]["version"] == "1.2.3"
    assert "uri" not in run_["originalUriBaseIds"]["%SRCROOT%"]


def test_sarif_help_markdown_shows_its_text() -> None:
    # GitHub renders help.markdown as HTML and drops tags: <digest> would vanish.
    found = Findings(
        Finding(code, Severity.WARNING, "a", "a/Dockerfile", 1, "m")
        for code in [*RULES, "dockerfile-error"]
    )
    rules = check_sarif(to_sarif(found, tool_version="0"))["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == len(RULES) + 1
    for described in rules:
        markdown = described["help"]["markdown"]
        assert "<" not in markdown
        assert ">" not in markdown
        assert (
            markdown.replace("\\", "")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
            == rule(described["id"]).help
        )
    digest = next(r for r in rules if r["id"] == "digest-required")["help"]["markdown"]
    assert "name:tag@sha256:&lt;digest&gt;" in digest


@pytest.mark.parametrize(
    ("path", "prefix", "uri"),
    [
        ("c#app/Dockerfile", "", "c%23app/Dockerfile"),
        ("my app/Dockerfile", "infra/images", "infra/images/my%20app/Dockerfile"),
        ("数据/Dockerfile", "", "%E6%95%B0%E6%8D%AE/Dockerfile"),
        ("fleet/../shared/Dockerfile", "", "shared/Dockerfile"),
        ("../shared/Dockerfile", "infra/images", "infra/shared/Dockerfile"),
        ("./app//Dockerfile", "", "app/Dockerfile"),
        ("app\\Dockerfile", "", "app/Dockerfile"),
        ("100%/Dockerfile", "", "100%25/Dockerfile"),
    ],
)
def test_sarif_uris_are_encoded_and_normalised(path: str, prefix: str, uri: str) -> None:
    found = Findings([Finding("unpinned-base", Severity.WARNING, "a", path, 1, "m")])
    log = check_sarif(to_sarif(found, tool_version="0", path_prefix=prefix))
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": uri, "uriBaseId": "%SRCROOT%"}


@pytest.mark.parametrize(
    ("path", "prefix", "outside"),
    [
        ("../shared/Dockerfile", "", "shared/Dockerfile"),
        ("../../x y/Dockerfile", "fleet", "x%20y/Dockerfile"),
    ],
)
def test_sarif_paths_outside_the_repository_are_file_uris(
    tmp_path: Path, path: str, prefix: str, outside: str
) -> None:
    repository = tmp_path / "repo"
    found = Findings([Finding("unpinned-base", Severity.WARNING, "a", path, 1, "m")])
    log = check_sarif(
        to_sarif(found, tool_version="0", source_root=str(repository), path_prefix=prefix)
    )
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": f"{tmp_path.resolve().as_uri()}/{outside}"}


def test_sarif_locates_a_missing_dockerfile_at_its_declaration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    small_fleet(tmp_path / "images", "FROM debian:12\n")
    with (tmp_path / "images" / "imagegraph.toml").open("a") as toml:
        toml.write('\n[[image]]\nname = "gone"\ndockerfile = "gone/Dockerfile"\n')
    code, out, _ = run(capsys, "lint", str(tmp_path / "images"), "--format", "sarif")
    assert code == 1
    (result,) = [
        r for r in check_sarif(out)["runs"][0]["results"] if r["ruleId"] == "missing-dockerfile"
    ]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "images/imagegraph.toml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 5},
    }
    assert result["message"]["text"].startswith("gone: gone/Dockerfile: build 'gone' ")


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        # the places a diagnostic names move with the lines: not part of what it is about
        ("acme/a:1 is built by 'a' (imagegraph.toml:5) and by 'b' (imagegraph.toml:9)",
         "acme/a:1 is built by 'a' (imagegraph.toml:7) and by 'b' (imagegraph.toml:12)", True),
        ("build 'x' (docker-bake.hcl:12) needs this Dockerfile",
         "build 'x' (docker-bake.hcl:14) needs this Dockerfile", True),
        ("cycle: a -> b (b/Dockerfile:3)", "cycle: a -> b (b/Dockerfile:4)", True),
        ("stage in apps/Dockerfile.dev:3:7", "stage in apps/Dockerfile.dev:30:1", True),
        # tags and ports are what it is about
        ("acme/a:1 is built by 'a'", "acme/a:2 is built by 'a'", False),
        ("FROM debian:11 is bad", "FROM debian:12 is bad", False),
        ("FROM ghcr.io/acme/tool:1 is bad", "FROM ghcr.io/acme/tool:2 is bad", False),
        ("FROM registry.local:5000/x is bad", "FROM registry.local:5001/x is bad", False),
    ],
)  # fmt: skip
def test_diagnostic_fingerprints_leave_out_the_lines_they_name(
    first: str, second: str, same: bool
) -> None:
    def fingerprint(message: str) -> str:
        found = Findings(
            [Finding("duplicate-tag", Severity.WARNING, None, "a.toml", None, message)]
        )
        (result,) = json.loads(to_sarif(found, tool_version="0"))["runs"][0]["results"]
        return str(result["partialFingerprints"]["imagegraphFinding/v1"])

    assert (fingerprint(first) == fingerprint(second)) is same


def many_findings(warnings: int, errors: int) -> Findings:
    """*warnings* warnings in a/, then *errors* errors in z/: the errors sort last."""
    return Findings(
        [
            *(
                Finding("unpinned-base", Severity.WARNING, f"w{i}", f"a/{i:05}/Dockerfile", 1, "m")
                for i in range(warnings)
            ),
            *(
                Finding("digest-required", Severity.ERROR, f"e{i}", f"z/{i}/Dockerfile", 1, "m")
                for i in range(errors)
            ),
        ]
    )


def test_sarif_keeps_at_most_25000_results_the_most_severe() -> None:
    assert render.SARIF_MAX_RESULTS == 25_000
    found = many_findings(25_000, 10)
    assert len(found) == 25_010
    run_ = json.loads(to_sarif(found, tool_version="0"))["runs"][0]
    results = run_["results"]
    assert len(results) == 25_000
    assert run_["properties"] == {"imagegraph/omitted": 10}
    assert sum(r["level"] == "error" for r in results) == 10  # every error, then warnings
    assert results[-1]["properties"]["image"] == "e9"  # in the usual order
    assert results[0]["properties"]["image"] == "w0"
    assert results[-11]["properties"]["image"] == "w24989"
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [
        "unpinned-base",
        "digest-required",
    ]
    # under the limit, nothing is left out and the run says nothing of it
    run_ = json.loads(to_sarif(many_findings(3, 1), tool_version="0"))["runs"][0]
    assert len(run_["results"]) == 4
    assert "properties" not in run_


def test_fingerprints_do_not_depend_on_what_is_left_out() -> None:
    found = many_findings(4, 2)
    every = json.loads(to_sarif(found, tool_version="0"))["runs"][0]["results"]
    capped = json.loads(to_sarif(found, tool_version="0", max_results=3))["runs"][0]
    assert capped["properties"] == {"imagegraph/omitted": 3}
    assert [r["properties"]["image"] for r in capped["results"]] == ["w0", "e0", "e1"]
    fingerprints = {r["properties"]["image"]: r["partialFingerprints"] for r in every}
    for result in capped["results"]:
        assert result["partialFingerprints"] == fingerprints[result["properties"]["image"]]


def test_the_cli_warns_when_sarif_leaves_findings_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_fleet(tmp_path)  # a warning and an info
    monkeypatch.setattr(render, "SARIF_MAX_RESULTS", 1)
    code, out, err = run(capsys, "lint", str(tmp_path), "--format", "sarif")
    assert code == 0
    run_ = check_sarif(out)["runs"][0]
    assert [r["ruleId"] for r in run_["results"]] == ["unpinned-base"]
    assert run_["properties"] == {"imagegraph/omitted": 1}
    assert err == (
        "imagegraph: warning: the SARIF log holds the 1 most severe of 2 findings, as many as "
        "code scanning takes in a run; 1 left out (run property 'imagegraph/omitted'), "
        "--format json lists them all\n"
    )
    # JSON has no limit
    assert run(capsys, "lint", str(tmp_path), "--format", "json")[2] == ""


def test_an_empty_run_is_valid() -> None:
    log = check_sarif(to_sarif(Findings(), tool_version="0"))
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []


# -- JSON and the table -------------------------------------------------------------------


def test_json_follows_its_schema_and_is_stable(tmp_path: Path) -> None:
    small_fleet(tmp_path)
    found = findings(scan(tmp_path, cache=False))
    data = to_data(found)
    jsonschema.Draft202012Validator(findings_schema()).validate(data)
    assert to_json(found) == to_json(findings(scan(tmp_path, cache=False)))
    assert data["findings"][1]["edge"] == {
        "parent": "docker.io/library/debian:latest",
        "child": "app",
        "kind": "from",
        "path": "app/Dockerfile",
        "line": 1,
        "text": "debian",
        "stage": "stage-0",
        "value": "debian",
    }


def test_the_table(tmp_path: Path) -> None:
    from rich.console import Console

    console = Console(width=100, record=True, no_color=True)
    console.print(to_table(Findings()))
    small_fleet(tmp_path)
    console.print(to_table(findings(scan(tmp_path, cache=False))))
    text = console.export_text()
    assert text.startswith("No findings.")
    assert "warning unpinned-base · app" in text
    assert "2 findings: 1 warning, 1 info" in text


def test_many_stray_dockerfiles_are_one_finding_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "imagegraph.toml": '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n',
        "app/Dockerfile": "FROM scratch\nCOPY x /x\n",
    }
    files |= {f"app/old/{i}/Dockerfile": "FROM scratch\n" for i in range(12)}
    write(tmp_path, files)
    strays = sorted(f"app/old/{i}/Dockerfile" for i in range(12))
    _, out, _ = run(capsys, "lint", str(tmp_path), "--no-cache", "--format", "json")
    data = json.loads(out)
    jsonschema.Draft202012Validator(findings_schema()).validate(data)
    (entry,) = [f for f in data["findings"] if f["code"] == "undeclared-dockerfile"]
    assert entry["facts"] == {
        "count": 12, "directory": "app/old", "source": "imagegraph.toml", "paths": strays,
    }  # fmt: skip
    assert entry["where"] == strays[0]
    assert entry["message"].startswith("12 Dockerfiles under app/old/ are built by no declaration")
    _, out, _ = run(capsys, "lint", str(tmp_path), "--no-cache", "--format", "sarif")
    (result,) = [
        r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "undeclared-dockerfile"
    ]
    assert len(result["locations"]) == 1
    assert result["properties"]["facts"]["paths"] == strays
    _, out, _ = run(capsys, "lint", str(tmp_path), "--no-cache", "--format", "table")
    assert "12 Dockerfiles under app/old/" in " ".join(out.split())
