"""Image references: the distribution grammar and docker's normalisation."""

from __future__ import annotations

import pytest

from imagegraph import ImageRef, InvalidReference

DIGEST = "sha256:" + "0123456789abcdef" * 4

# (text, normalised, familiar)
VALID = [
    ("python", "docker.io/library/python:latest", "python"),
    ("python:3.12-slim", "docker.io/library/python:3.12-slim", "python:3.12-slim"),
    ("library/python:3", "docker.io/library/python:3", "python:3"),
    ("docker.io/python", "docker.io/library/python:latest", "python"),
    ("index.docker.io/library/python:3", "docker.io/library/python:3", "python:3"),
    ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2", "bitnami/redis:7.2"),
    (
        "docker.io/bitnami/minideb:bookworm",
        "docker.io/bitnami/minideb:bookworm",
        "bitnami/minideb:bookworm",
    ),
    ("ghcr.io/acme/base", "ghcr.io/acme/base:latest", "ghcr.io/acme/base"),
    ("localhost/app:dev", "localhost/app:dev", "localhost/app:dev"),
    ("localhost:5000/team/app:1", "localhost:5000/team/app:1", "localhost:5000/team/app:1"),
    (
        "registry.example.com:443/a/b/c:v1.2.3",
        "registry.example.com:443/a/b/c:v1.2.3",
        "registry.example.com:443/a/b/c:v1.2.3",
    ),
    ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app"),
    ("192.168.1.10:5000/app:x", "192.168.1.10:5000/app:x", "192.168.1.10:5000/app:x"),
    (f"alpine@{DIGEST}", f"docker.io/library/alpine@{DIGEST}", f"alpine@{DIGEST}"),
    (f"alpine:3.20@{DIGEST}", f"docker.io/library/alpine:3.20@{DIGEST}", f"alpine:3.20@{DIGEST}"),
    ("Example.COM/app", "Example.COM/app:latest", "Example.COM/app"),
    ("a__b/c--d.e_f:TAG_1", "docker.io/a__b/c--d.e_f:TAG_1", "a__b/c--d.e_f:TAG_1"),
]


@pytest.mark.parametrize(("text", "normalised", "familiar"), VALID)
def test_valid(text: str, normalised: str, familiar: str) -> None:
    ref = ImageRef.parse(text)
    assert str(ref) == normalised
    assert ref.familiar == familiar
    assert ref.text == text
    assert ImageRef.parse(str(ref)) == ref


def test_equality_and_hash_use_the_normalised_form() -> None:
    same = {
        ImageRef.parse(t)
        for t in (
            "python",
            "python:latest",
            "library/python",
            "docker.io/library/python:latest",
            "index.docker.io/python",
        )
    }
    assert len(same) == 1
    assert ImageRef.parse("python:3") != ImageRef.parse("python:3.12")
    assert ImageRef.parse(f"alpine@{DIGEST}") != ImageRef.parse("alpine")


def test_parts() -> None:
    ref = ImageRef.parse(f"localhost:5000/team/app:1@{DIGEST}")
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (
        "localhost:5000",
        "team/app",
        "1",
        DIGEST,
    )
    assert ref.name == "localhost:5000/team/app"
    assert ImageRef.parse(f"app@{DIGEST}").tag is None
    assert ImageRef.parse("python:3").with_tag("3.12").familiar == "python:3.12"


# (text, reason)
INVALID = [
    ("", "empty reference"),
    ("Python:3", "repository name must be lowercase"),
    ("docker.io/Library/python", "repository name must be lowercase"),
    ("python:", "invalid tag ''"),
    ("python:-bad", "invalid tag '-bad'"),
    ("python:" + "x" * 129, "invalid tag '" + "x" * 129 + "'"),
    ("python@sha256:abc", "invalid digest 'sha256:abc'"),
    ("python@", "invalid digest ''"),
    ("a//b", "invalid repository path 'a//b'"),
    ("a/b_", "invalid repository path 'a/b_'"),
    ("-a/b", "invalid repository path '-a/b'"),
    ("exa_mple.com/app", "invalid registry 'exa_mple.com'"),
    ("with space", "invalid repository path 'library/with space'"),
    ("0123456789abcdef" * 4, "a 64-character hexadecimal string is an image ID, not a name"),
    ("a/" + "b" * 260, "repository name longer than 255 characters"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        ImageRef.parse(text)
    assert caught.value.reason == reason
    assert str(caught.value) == f"invalid image reference {text!r}: {reason}"


def test_very_long_text_is_refused_without_quoting_all_of_it() -> None:
    with pytest.raises(InvalidReference) as caught:
        ImageRef.parse("a" * 1_000_000)
    assert len(str(caught.value)) < 200


# (aliases, text, normalised)
ALIASES = [
    (
        {"mirror.corp/hub": "docker.io"},
        "mirror.corp/hub/library/debian:12",
        "docker.io/library/debian:12",
    ),
    ({"mirror.corp/hub": "docker.io"}, "mirror.corp/hub/debian:12", "docker.io/library/debian:12"),
    (
        {"mirror.corp/hub": "docker.io"},
        "mirror.corp/other/debian:12",
        "mirror.corp/other/debian:12",
    ),
    ({"mirror.corp": "docker.io"}, "mirror.corp/bitnami/redis", "docker.io/bitnami/redis:latest"),
    (
        {"bitnami/minideb": "ghcr.io/acme/minideb"},
        "docker.io/bitnami/minideb:bookworm",
        "ghcr.io/acme/minideb:bookworm",
    ),
    (
        {"mirror.corp": "docker.io", "mirror.corp/special": "quay.io"},
        "mirror.corp/special/x",
        "quay.io/x:latest",
    ),
    ({"docker.io/library/node": "mirror.corp/node"}, "node:20", "mirror.corp/node:20"),
    ({"mirror.corp/hub": "docker.io"}, "mirror.corp/hubx/debian", "mirror.corp/hubx/debian:latest"),
]


@pytest.mark.parametrize(("aliases", "text", "normalised"), ALIASES)
def test_aliases(aliases: dict[str, str], text: str, normalised: str) -> None:
    assert str(ImageRef.parse(text, aliases=aliases)) == normalised
