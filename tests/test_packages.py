"""Packages from Dockerfile RUN lines: each installer's syntax, stages, variables, diagnostics."""

from __future__ import annotations

from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ImageGraphError, Severity, parse_dockerfile
from imagegraph.packages import Package, PackageUse, dockerfile_packages

Row = tuple[str, str | None, str | None]


def found(text: str, target: str | None = None, distro: str | None = None) -> PackageUse:
    return dockerfile_packages(parse_dockerfile(dedent(text).lstrip()), target, distro=distro)


def rows(use: PackageUse) -> list[Row]:
    return [(p.purl, p.version, p.constraint) for p in use.packages]


def run(line: str, base: str = "debian:12", distro: str | None = None) -> list[Row]:
    return rows(found(f"FROM {base}\nRUN {line}\n", distro=distro))


def codes(use: PackageUse) -> list[str]:
    return [d.code for d in use.diagnostics]


# apt-get(8): -o/-c/-t/-a take a value; name=version pins, name/release picks a
# release, name:arch an architecture.
APT_CASES: list[tuple[str, list[Row]]] = [
    ("apt-get install -y curl", [("pkg:deb/debian/curl", None, None)]),
    (
        "apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates",
        [
            ("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5", "7.88.1-10+deb12u5", None),
            ("pkg:deb/debian/ca-certificates", None, None),
        ],
    ),
    (
        "apt-get -y -o Dpkg::Options::=--force-confnew install nginx",
        [("pkg:deb/debian/nginx", None, None)],
    ),
    (
        "apt-get install -t bookworm-backports -y golang-go",
        [("pkg:deb/debian/golang-go", None, None)],
    ),
    (
        "apt-get -qq install -y nginx/bookworm-backports",
        [("pkg:deb/debian/nginx", None, None)],
    ),
    ("apt install -y libc6:i386", [("pkg:deb/debian/libc6?arch=i386", None, None)]),
    (
        "aptitude install -y vim=2:9.0.1378-2",
        [("pkg:deb/debian/vim@2:9.0.1378-2", "2:9.0.1378-2", None)],
    ),
    (
        "apt-get install -y --option=APT::Get::Assume-Yes=1 -oDebug::x=1 git",
        [("pkg:deb/debian/git", None, None)],
    ),
    (
        "install_packages curl jq=1.6-2.1",
        [("pkg:deb/debian/curl", None, None), ("pkg:deb/debian/jq@1.6-2.1", "1.6-2.1", None)],
    ),
    ("apt-get install -y ./local.deb /tmp/other.deb", []),
    ("apt-get update && apt-get upgrade -y && apt-get autoremove", []),
    (
        "DEBIAN_FRONTEND=noninteractive apt-get install -yq tzdata",
        [("pkg:deb/debian/tzdata", None, None)],
    ),
    ("sudo -E -u root apt-get install -y git", [("pkg:deb/debian/git", None, None)]),
    (
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y git",
        [("pkg:deb/debian/git", None, None)],
    ),
    (
        "eatmydata apt-get install -y git >/dev/null 2>&1",
        [("pkg:deb/debian/git", None, None)],
    ),
    ("/usr/bin/apt-get install -y make", [("pkg:deb/debian/make", None, None)]),
]


@pytest.mark.parametrize(("line", "expected"), APT_CASES)
def test_apt(line: str, expected: list[Row]) -> None:
    assert run(line) == expected


def test_deb_namespace_is_the_distro() -> None:
    assert run("apt-get install -y curl", distro="ubuntu") == [("pkg:deb/ubuntu/curl", None, None)]


# apk(8): --virtual/-t NAME is a group, --repository/-X URL a repository;
# name=ver pins, ~ < > <= >= ~= constrain, name@tag picks a tagged repository.
APK_CASES: list[tuple[str, list[Row]]] = [
    ("apk add --no-cache curl", [("pkg:apk/alpine/curl", None, None)]),
    (
        "apk --no-cache add curl=8.5.0-r0",
        [("pkg:apk/alpine/curl@8.5.0-r0", "8.5.0-r0", None)],
    ),
    (
        "apk add -U 'python3~3.11' 'openssl>3.1' 'zlib<1.3' 'musl>=1.2' 'bash~=5'",
        [
            ("pkg:apk/alpine/python3", None, "~3.11"),
            ("pkg:apk/alpine/openssl", None, ">3.1"),
            ("pkg:apk/alpine/zlib", None, "<1.3"),
            ("pkg:apk/alpine/musl", None, ">=1.2"),
            ("pkg:apk/alpine/bash", None, "~=5"),
        ],
    ),
    ("apk add --virtual .build-deps gcc", [("pkg:apk/alpine/gcc", None, None)]),
    ("apk add -t .deps make", [("pkg:apk/alpine/make", None, None)]),
    ("apk add --virtual=.deps make", [("pkg:apk/alpine/make", None, None)]),
    (
        "apk add --repository http://dl-cdn.alpinelinux.org/alpine/edge/testing foo",
        [("pkg:apk/alpine/foo", None, None)],
    ),
    ("apk add -X https://x.example/main bar@testing", [("pkg:apk/alpine/bar", None, None)]),
    ("apk add so:libc.musl-x86_64.so.1 cmd:bash ./local.apk", []),
    (
        "apk update && apk add --update-cache --no-cache -q git=2.45.2-r0",
        [("pkg:apk/alpine/git@2.45.2-r0", "2.45.2-r0", None)],
    ),
    ("apk upgrade --no-cache && apk info", []),
]


@pytest.mark.parametrize(("line", "expected"), APK_CASES)
def test_apk(line: str, expected: list[Row]) -> None:
    assert run(line, base="alpine:3.20") == expected


# dnf(8), yum(8), microdnf: --enablerepo/--setopt/-x take a value, @group and
# file provides are not package names; name-version[-release] pins.
DNF_CASES: list[tuple[str, list[Row]]] = [
    (
        "dnf install -y nodejs-18.19.0-1.el9",
        [("pkg:rpm/redhat/nodejs@18.19.0-1.el9", "18.19.0-1.el9", None)],
    ),
    (
        "yum -y install httpd-2.4.57 git",
        [("pkg:rpm/redhat/httpd@2.4.57", "2.4.57", None), ("pkg:rpm/redhat/git", None, None)],
    ),
    (
        "microdnf install -y --nodocs --setopt=install_weak_deps=0 shadow-utils",
        [("pkg:rpm/redhat/shadow-utils", None, None)],
    ),
    (
        "dnf --enablerepo crb install -y java-17-openjdk-devel gcc-toolset-13",
        [
            ("pkg:rpm/redhat/java-17-openjdk-devel", None, None),
            ("pkg:rpm/redhat/gcc-toolset-13", None, None),
        ],
    ),
    (
        "dnf install -y --enablerepo=epel @development-tools /usr/bin/make "
        "https://x.example/y.rpm jq",
        [("pkg:rpm/redhat/jq", None, None)],
    ),
    (
        "yum install -y java-17-openjdk-17.0.9.0.9-2.el9",
        [("pkg:rpm/redhat/java-17-openjdk@17.0.9.0.9-2.el9", "17.0.9.0.9-2.el9", None)],
    ),
    (
        "dnf -y --setopt tsflags=nodocs -x kernel install vim-enhanced-2:9.0.2153-1.fc39",
        [("pkg:rpm/redhat/vim-enhanced@2:9.0.2153-1.fc39", "2:9.0.2153-1.fc39", None)],
    ),
    ("dnf module install -y nodejs:20 && dnf clean all", []),
]


@pytest.mark.parametrize(("line", "expected"), DNF_CASES)
def test_dnf(line: str, expected: list[Row]) -> None:
    assert run(line, base="fedora:40") == expected


def test_rpm_namespace_is_the_distro() -> None:
    assert run("dnf install -y git", base="fedora:40", distro="fedora") == [
        ("pkg:rpm/fedora/git", None, None)
    ]


# pip install: PEP 508 requirements; == and === pin, other specifiers
# constrain; -r/-c/-e/-f/-i/-t/--prefix/--root take a value.
PIP_CASES: list[tuple[str, list[Row]]] = [
    (
        "pip install --no-cache-dir requests==2.32.3",
        [("pkg:pypi/requests@2.32.3", "2.32.3", None)],
    ),
    (
        "pip3 install 'Django>=4.2,<5' Flask_SQLAlchemy",
        [("pkg:pypi/django", None, ">=4.2,<5"), ("pkg:pypi/flask-sqlalchemy", None, None)],
    ),
    (
        "python3 -m pip install --upgrade pip setuptools wheel",
        [
            ("pkg:pypi/pip", None, None),
            ("pkg:pypi/setuptools", None, None),
            ("pkg:pypi/wheel", None, None),
        ],
    ),
    (
        "python -m pip install -U 'uvicorn[standard]==0.30.1'",
        [("pkg:pypi/uvicorn@0.30.1", "0.30.1", None)],
    ),
    (
        "pip install -e . ./pkg /wheels/*.whl https://x.example/y.tar.gz git+https://x/y.git",
        [],
    ),
    (
        "pip install --index-url https://pypi.example/simple --extra-index-url https://x "
        "-f /wheels --target /opt 'numpy~=1.26'",
        [("pkg:pypi/numpy", None, "~=1.26")],
    ),
    (
        "pip install --prefix /install --root / --user --break-system-packages --no-index "
        "attrs===23.2.0",
        [("pkg:pypi/attrs@23.2.0", "23.2.0", None)],
    ),
    ("pip install 'foo==1.*'", [("pkg:pypi/foo", None, "==1.*")]),
    ("pip install 'foo >= 1.0, < 2'", [("pkg:pypi/foo", None, ">=1.0,<2")]),
    ("pip install 'pkg @ https://x.example/pkg.whl' other @ https://x/o.whl", []),
    ("uv pip install --system ruff==0.5.0", [("pkg:pypi/ruff@0.5.0", "0.5.0", None)]),
    ("pip3.12 install black", [("pkg:pypi/black", None, None)]),
    ("/usr/local/bin/python3.12 -m pip install black", [("pkg:pypi/black", None, None)]),
    ("python3 -m venv /venv && pip download x && pip wheel y", []),
    ("pip --no-cache-dir -q install Cython", [("pkg:pypi/cython", None, None)]),
]


@pytest.mark.parametrize(("line", "expected"), PIP_CASES)
def test_pip(line: str, expected: list[Row]) -> None:
    assert run(line, base="python:3.12") == expected


def test_pip_requirements_files_are_noted_not_read() -> None:
    use = found(
        """
        FROM python:3.12
        RUN pip install -r requirements.txt -c constraints.txt gunicorn
        """
    )
    assert rows(use) == [("pkg:pypi/gunicorn", None, None)]
    notes = [(d.code, d.severity, d.line) for d in use.diagnostics]
    assert notes == [("requirements-file", Severity.INFO, 2)] * 2
    assert "'requirements.txt'" in use.diagnostics[0].message
    assert "'constraints.txt'" in use.diagnostics[1].message


# npm install/i/add (with or without -g), yarn [global] add, pnpm add:
# name@1.2.3 pins, ranges and tags constrain, @scope/name is scoped.
NPM_CASES: list[tuple[str, list[Row]]] = [
    ("npm install -g npm@10.8.1", [("pkg:npm/npm@10.8.1", "10.8.1", None)]),
    (
        "npm i -g @angular/cli@17.3.8 typescript@^5.4",
        [("pkg:npm/%40angular/cli@17.3.8", "17.3.8", None), ("pkg:npm/typescript", None, "^5.4")],
    ),
    ("npm install --global --unsafe-perm pm2@latest", [("pkg:npm/pm2", None, None)]),
    ("npm install express", [("pkg:npm/express", None, None)]),
    ("npm ci && npm install && npm run build", []),
    ("npm install ./local user/repo git+https://x/y.git https://x/y.tgz", []),
    ("yarn global add serve@14.2.3", [("pkg:npm/serve@14.2.3", "14.2.3", None)]),
    ("yarn add --dev jest@29", [("pkg:npm/jest", None, "29")]),
    ("pnpm add -g pnpm@9.4.0", [("pkg:npm/pnpm@9.4.0", "9.4.0", None)]),
    (
        "npm install --registry https://r.example/ lodash@4.17.21",
        [("pkg:npm/lodash@4.17.21", "4.17.21", None)],
    ),
    ("npm add @types/node", [("pkg:npm/%40types/node", None, None)]),
]


@pytest.mark.parametrize(("line", "expected"), NPM_CASES)
def test_npm(line: str, expected: list[Row]) -> None:
    assert run(line, base="node:20") == expected


def test_npm_scoped_name_and_installer() -> None:
    use = found("FROM node:20\nRUN npm i -g @angular/cli@17.3.8\nRUN yarn global add serve\n")
    assert [(p.name, p.installer, p.ecosystem) for p in use.packages] == [
        ("@angular/cli", "npm", "npm"),
        ("serve", "yarn", "npm"),
    ]


# gem install: -v/--version VERSION applies to the gem, name:VERSION too;
# -i/-n/-s take a value.
GEM_CASES: list[tuple[str, list[Row]]] = [
    ("gem install bundler -v 2.5.14", [("pkg:gem/bundler@2.5.14", "2.5.14", None)]),
    (
        "gem install --no-document rails --version '~> 7.1'",
        [("pkg:gem/rails", None, "~> 7.1")],
    ),
    (
        "gem install bundler:2.5.14 rake",
        [("pkg:gem/bundler@2.5.14", "2.5.14", None), ("pkg:gem/rake", None, None)],
    ),
    ("gem install -N -i /usr/local/bundle puma", [("pkg:gem/puma", None, None)]),
    ("gem install --version=3.2.0 -- nokogiri", [("pkg:gem/nokogiri@3.2.0", "3.2.0", None)]),
    ("gem install ./local.gem && gem update --system", []),
]


@pytest.mark.parametrize(("line", "expected"), GEM_CASES)
def test_gem(line: str, expected: list[Row]) -> None:
    assert run(line, base="ruby:3.3") == expected


# go install path@version: a full semver or a commit pins, latest moves, other
# queries (branches, v1) constrain; flags like -ldflags take a value.
GO_CASES: list[tuple[str, list[Row]]] = [
    (
        "go install golang.org/x/tools/gopls@v0.16.1",
        [("pkg:golang/golang.org/x/tools/gopls@v0.16.1", "v0.16.1", None)],
    ),
    (
        "CGO_ENABLED=0 go install -ldflags '-s -w' github.com/go-delve/delve/cmd/dlv@latest",
        [("pkg:golang/github.com/go-delve/delve/cmd/dlv", None, None)],
    ),
    (
        "go install -trimpath example.com/tool@master",
        [("pkg:golang/example.com/tool", None, "master")],
    ),
    (
        "go install example.com/cmd/x@a1b2c3d",
        [("pkg:golang/example.com/cmd/x@a1b2c3d", "a1b2c3d", None)],
    ),
    ("go install ./cmd/... && go build -o /app . && go install", []),
]


@pytest.mark.parametrize(("line", "expected"), GO_CASES)
def test_go(line: str, expected: list[Row]) -> None:
    assert run(line, base="golang:1.22") == expected


def test_go_name_is_the_path() -> None:
    use = found("FROM golang:1.22\nRUN go install golang.org/x/tools/gopls@v0.16.1\n")
    assert [(p.name, p.installer, p.ecosystem) for p in use.packages] == [
        ("golang.org/x/tools/gopls", "go", "golang")
    ]


# Shell structure: chains, continuations, comments, quoting, subshells, sh -c.
SHELL_CASES: list[tuple[str, list[str]]] = [
    (
        "set -eux; apt-get update; apt-get install -y aa \\\n    bb && rm -rf /var/lib/apt/lists/*",
        ["pkg:deb/debian/aa", "pkg:deb/debian/bb"],
    ),
    ("apt-get update && apt-get install -y aa || true", ["pkg:deb/debian/aa"]),
    ("echo 'apt-get install -y nope' && apt-get install -y yes", ["pkg:deb/debian/yes"]),
    (
        "if [ -f x ]; then apt-get install -y aa; else apt-get install -y bb; fi",
        ["pkg:deb/debian/aa", "pkg:deb/debian/bb"],
    ),
    ("(cd /tmp && pip install cc)", ["pkg:pypi/cc"]),
    (
        "apt-get install -y aa | tee log; apt-get install -y bb &",
        ["pkg:deb/debian/aa", "pkg:deb/debian/bb"],
    ),
    ("sh -c 'apt-get install -y aa && pip install bb'", ["pkg:deb/debian/aa", "pkg:pypi/bb"]),
    ('bash -o pipefail -ec "apk add cc"', ["pkg:apk/alpine/cc"]),
    ('["apt-get", "install", "-y", "aa"]', ["pkg:deb/debian/aa"]),
    ('["/bin/sh", "-c", "apt-get install -y aa bb"]', ["pkg:deb/debian/aa", "pkg:deb/debian/bb"]),
    ("PKGS='aa bb'; apt-get install -y $PKGS", ["pkg:deb/debian/aa", "pkg:deb/debian/bb"]),
    ('export V=1.2; pip install "cc==$V"', ["pkg:pypi/cc@1.2"]),
    ("apt-get install -y aa # bb", ["pkg:deb/debian/aa"]),
]


@pytest.mark.parametrize(("line", "expected"), SHELL_CASES)
def test_shell_structure(line: str, expected: list[str]) -> None:
    assert [purl for purl, _, _ in run(line)] == expected


def test_continuation_lines_keep_the_instruction_line() -> None:
    use = found(
        """
        FROM debian:12
        # runtime dependencies
        RUN set -eux; \\
            apt-get update; \\
            apt-get install -y --no-install-recommends \\
        # comment lines inside a continuation are dropped by BuildKit
                ca-certificates \\
                netbase \\
            ; \\
            rm -rf /var/lib/apt/lists/*
        RUN apt-get install -y tzdata
        """
    )
    assert [(p.name, p.line, p.stage) for p in use.packages] == [
        ("ca-certificates", 3, "stage-0"),
        ("netbase", 3, "stage-0"),
        ("tzdata", 11, "stage-0"),
    ]


def test_heredoc_script_bodies() -> None:
    use = found(
        """
        FROM debian:12
        ARG JQ=1.6-2.1
        RUN <<EOF
        set -e
        # apt-get install -y commented-out
        apt-get update
        apt-get install -y \\
            curl \\
            jq=${JQ}
        EOF
        RUN bash -ex <<'EOT'
        pip install "black==24.4.2"
        EOT
        RUN cat <<EOF > /etc/not-a-script
        apt-get install -y nope
        EOF
        RUN python3 <<EOF
        print("apt-get install -y nope")
        EOF
        RUN <<EOF
        #!/usr/bin/env python3
        import os; os.system("apt-get install -y nope")
        EOF
        RUN <<EOF
        #!/bin/bash
        apk add musl
        EOF
        """
    )
    assert [(p.purl, p.line) for p in use.packages] == [
        ("pkg:deb/debian/curl", 3),
        ("pkg:deb/debian/jq@1.6-2.1", 3),
        ("pkg:pypi/black@24.4.2", 11),
        ("pkg:apk/alpine/musl", 24),
    ]
    assert use.diagnostics == ()


def test_arg_and_env_values_are_expanded() -> None:
    text = """
        ARG PY_PIN=3.1.4
        FROM debian:12
        ARG CURL_VERSION=7.88.1-10+deb12u5
        ARG PY_PIN
        ENV TOOL=jq TOOL_VERSION="1.6-2.1"
        RUN apt-get install -y curl=${CURL_VERSION} "$TOOL=$TOOL_VERSION" \\
            && pip install "flask==${PY_PIN}" "django==${DJANGO:-5.0}"
        """
    use = found(text)
    assert rows(use) == [
        ("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5", "7.88.1-10+deb12u5", None),
        ("pkg:deb/debian/jq@1.6-2.1", "1.6-2.1", None),
        ("pkg:pypi/flask@3.1.4", "3.1.4", None),
    ]
    # DJANGO is set nowhere in the Dockerfile, but the base image may set it.
    assert codes(use) == ["unresolved-package"]
    overridden = dockerfile_packages(
        parse_dockerfile(dedent(text), build_args={"CURL_VERSION": "8.0-1", "DJANGO": "4.2"})
    )
    # A build argument only counts for an ARG the Dockerfile declares.
    assert [p.version for p in overridden.packages] == ["8.0-1", "1.6-2.1", "3.1.4"]


def test_unresolved_package_words_are_reported_not_guessed() -> None:
    use = found(
        """
        FROM debian:12
        ARG VERSION
        ARG TARGETARCH
        RUN apt-get install -y curl=$VERSION wget "lib-${TARGETARCH}" $(cat /pkgs.txt)
        """
    )
    assert rows(use) == [("pkg:deb/debian/wget", None, None)]
    assert [(d.code, d.severity, d.line) for d in use.diagnostics] == [
        ("unresolved-package", Severity.WARNING, 4)
    ] * 3
    assert "'curl=${VERSION}' depends on VERSION" in use.diagnostics[0].message
    assert "TARGETARCH" in use.diagnostics[1].message
    assert "only known when the command runs" in use.diagnostics[2].message


def test_global_arg_is_unknown_in_a_stage_until_redeclared() -> None:
    use = found(
        """
        ARG V=1.0-r0
        FROM alpine:3.20
        RUN apk add foo=$V
        ARG V
        RUN apk add bar=$V
        """
    )
    assert rows(use) == [("pkg:apk/alpine/bar@1.0-r0", "1.0-r0", None)]
    assert codes(use) == ["unresolved-package"]


def test_unknown_installers_are_noted_once_per_instruction() -> None:
    use = found(
        """
        FROM opensuse/leap
        RUN zypper in -y git && zypper install -y make
        RUN pacman -Syu --noconfirm base-devel
        RUN pacman -Q
        RUN conda install -y numpy && cargo install ripgrep
        RUN curl -fsSL https://sh.rustup.rs | sh -s -- -y
        RUN echo hi | sh && cargo build && zypper refresh
        """
    )
    assert use.packages == ()
    assert [(d.code, d.severity, d.line) for d in use.diagnostics] == [
        ("unknown-installer", Severity.INFO, 2),
        ("unknown-installer", Severity.INFO, 3),
        ("unknown-installer", Severity.INFO, 5),
        ("unknown-installer", Severity.INFO, 6),
    ]
    assert "`zypper in`" in use.diagnostics[0].message
    assert "`conda install`" in use.diagnostics[2].message
    assert "`curl ... | sh`" in use.diagnostics[3].message


def test_unbalanced_quotes_are_a_diagnostic() -> None:
    use = found("FROM debian:12\nRUN apt-get install -y curl 'oops\n")
    assert use.packages == ()
    assert codes(use) == ["unparsed-shell"]


STAGES = """
    FROM golang:1.22-alpine AS build
    RUN apk add git
    FROM build AS test
    RUN apk add make
    FROM alpine:3.20 AS base
    RUN apk add ca-certificates
    FROM alpine:3.20 AS tools
    RUN apk add jq
    FROM base
    COPY --from=build /x /x
    RUN --mount=from=tools,target=/t apk add tzdata
    """


def test_builder_stages_are_not_in_the_image() -> None:
    use = found(STAGES)
    assert [(p.name, p.stage, p.in_image) for p in use.packages] == [
        ("git", "build", False),
        ("ca-certificates", "base", True),
        ("jq", "tools", False),
        ("tzdata", "stage-4", True),
    ]
    assert use.purls == ("pkg:apk/alpine/ca-certificates", "pkg:apk/alpine/tzdata")


def test_target_stage_and_its_from_chain_are_the_image() -> None:
    use = found(STAGES, target="test")
    assert [(p.name, p.stage, p.in_image) for p in use.packages] == [
        ("git", "build", True),
        ("make", "test", True),
    ]


def test_unknown_target_reads_every_stage() -> None:
    use = found(STAGES, target="nope")
    assert [(p.name, p.in_image) for p in use.packages] == [
        ("git", False),
        ("make", False),
        ("ca-certificates", True),
        ("jq", False),
        ("tzdata", True),
    ]
    assert codes(use) == ["unknown-target"]


def test_removed_packages_are_not_in_the_image() -> None:
    use = found(
        """
        FROM alpine:3.20 AS app
        RUN apk add --no-cache --virtual .build-deps gcc musl-dev \\
            && apk add --no-cache libffi curl \\
            && pip install cffi \\
            && apk del --no-network .build-deps curl
        RUN apk add --virtual .later make
        FROM debian:12
        RUN apt-get install -y gnupg wget && apt-get purge -y --auto-remove gnupg
        RUN apt-get remove wget
        """,
        target="app",
    )
    assert [(p.name, p.in_image) for p in use.packages] == [
        ("gcc", False),
        ("musl-dev", False),
        ("libffi", True),
        ("curl", False),
        ("cffi", True),
        ("make", True),
    ]
    debian = found(
        """
        FROM debian:12
        RUN apt-get install -y gnupg wget curl && apt-get purge -y --auto-remove gnupg
        RUN apt-get remove wget
        """
    )
    assert [(p.name, p.in_image) for p in debian.packages] == [
        ("gnupg", False),
        ("wget", False),
        ("curl", True),
    ]
    final = found(
        """
        FROM alpine:3.20
        RUN apk add --virtual .build-deps gcc libffi && apk del .build-deps
        RUN apk add --virtual .build-deps make && apk add libffi
        """
    )
    assert [(p.name, p.in_image) for p in final.packages] == [
        ("gcc", False),
        ("libffi", False),
        ("make", True),
        ("libffi", True),
    ]


def test_runtime_versions_from_env_and_arg() -> None:
    use = found(
        """
        FROM debian:12 AS base
        ENV PYTHON_VERSION 3.12.4
        ENV GOLANG_VERSION=1.22.5 JDK_VERSION=21.0.3 FOO_VERSION=1.0 RUBY_VERSION=lts
        ARG NODE_VERSION=20.15.0
        ARG YARN_VERSION
        RUN wget "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"
        RUN echo $FOO_VERSION $RUBY_VERSION $YARN_VERSION $NODE_VERSION
        FROM base
        RUN curl -fsSLO https://go.dev/dl/go${GOLANG_VERSION}.linux-amd64.tar.gz \\
            && echo $JDK_VERSION $PYTHON_VERSION
        """
    )
    assert [(p.purl, p.version, p.line, p.stage, p.installer) for p in use.packages] == [
        ("pkg:generic/python@3.12.4", "3.12.4", 2, "base", "env"),
        ("pkg:generic/node@20.15.0", "20.15.0", 4, "base", "env"),
        ("pkg:generic/go@1.22.5", "1.22.5", 3, "stage-1", "env"),
        ("pkg:generic/java@21.0.3", "21.0.3", 3, "stage-1", "env"),
        ("pkg:generic/python@3.12.4", "3.12.4", 2, "stage-1", "env"),
    ]
    assert all(p.ecosystem == "generic" and p.in_image for p in use.packages)


def test_runtime_version_not_used_in_a_run_is_not_a_package() -> None:
    use = found("FROM debian:12\nENV NODE_VERSION=20.15.0\nRUN echo hi\nCMD node\n")
    assert use.packages == ()


def test_package_fields() -> None:
    df = parse_dockerfile(
        "FROM debian:12 AS app\nRUN apt-get install -y curl=7.88.1-10\n", path="x/Dockerfile"
    )
    assert dockerfile_packages(df).packages == (
        Package(
            purl="pkg:deb/debian/curl@7.88.1-10",
            ecosystem="deb",
            name="curl",
            version="7.88.1-10",
            constraint=None,
            path="x/Dockerfile",
            line=2,
            stage="app",
            installer="apt-get",
            in_image=True,
        ),
    )


# -- real-world Dockerfiles, copied verbatim --------------------------------------

# docker-library/python, 3.12/slim-bookworm/Dockerfile at commit
# 4f07059567fa61c80397126e8063dbbde011b794 (Copyright (c) 2014 Docker, Inc.; MIT licence).
PYTHON_SLIM = r"""#
# NOTE: THIS DOCKERFILE IS GENERATED VIA "apply-templates.sh"
#
# PLEASE DO NOT EDIT IT DIRECTLY.
#

FROM debian:bookworm-slim

# ensure local python is preferred over distribution python
ENV PATH /usr/local/bin:$PATH

# cannot remove LANG even though https://bugs.python.org/issue19846 is fixed
# last attempted removal of LANG broke many users:
# https://github.com/docker-library/python/pull/570
ENV LANG C.UTF-8

# runtime dependencies
RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		ca-certificates \
		netbase \
		tzdata \
	; \
	rm -rf /var/lib/apt/lists/*

ENV GPG_KEY 7169605F62C751356D054A26A821E680E5FA6305
ENV PYTHON_VERSION 3.12.13
ENV PYTHON_SHA256 c08bc65a81971c1dd5783182826503369466c7e67374d1646519adf05207b684

RUN set -eux; \
	\
	savedAptMark="$(apt-mark showmanual)"; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		dpkg-dev \
		gcc \
		gnupg \
		libbluetooth-dev \
		libbz2-dev \
		libc6-dev \
		libdb-dev \
		libffi-dev \
		libgdbm-dev \
		liblzma-dev \
		libncursesw5-dev \
		libreadline-dev \
		libsqlite3-dev \
		libssl-dev \
		make \
		tk-dev \
		uuid-dev \
		wget \
		xz-utils \
		zlib1g-dev \
	; \
	\
	wget -O python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"; \
	echo "$PYTHON_SHA256 *python.tar.xz" | sha256sum -c -; \
	wget -O python.tar.xz.asc "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz.asc"; \
	GNUPGHOME="$(mktemp -d)"; export GNUPGHOME; \
	gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys "$GPG_KEY"; \
	gpg --batch --verify python.tar.xz.asc python.tar.xz; \
	gpgconf --kill all; \
	rm -rf "$GNUPGHOME" python.tar.xz.asc; \
	mkdir -p /usr/src/python; \
	tar --extract --directory /usr/src/python --strip-components=1 --file python.tar.xz; \
	rm python.tar.xz; \
	\
	cd /usr/src/python; \
	gnuArch="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)"; \
	./configure \
		--build="$gnuArch" \
		--enable-loadable-sqlite-extensions \
		--enable-optimizations \
		--enable-option-checking=fatal \
		--enable-shared \
		$(test "${gnuArch%%-*}" != 'riscv64' && echo '--with-lto') \
		--with-ensurepip \
	; \
	nproc="$(nproc)"; \
	EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)"; \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"; \
	LDFLAGS="${LDFLAGS:-} -Wl,--strip-all"; \
	arch="$(dpkg --print-architecture)"; arch="${arch##*-}"; \
# https://docs.python.org/3.12/howto/perf_profiling.html
# https://github.com/docker-library/python/pull/1000#issuecomment-2597021615
	case "$arch" in \
		amd64|arm64) \
			# only add "-mno-omit-leaf" on arches that support it
			# https://gcc.gnu.org/onlinedocs/gcc-14.2.0/gcc/x86-Options.html#index-momit-leaf-frame-pointer-2
			# https://gcc.gnu.org/onlinedocs/gcc-14.2.0/gcc/AArch64-Options.html#index-momit-leaf-frame-pointer
			EXTRA_CFLAGS="${EXTRA_CFLAGS:-} -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer"; \
			;; \
		i386) \
			# don't enable frame-pointers on 32bit x86 due to performance drop.
			;; \
		*) \
			# other arches don't support "-mno-omit-leaf"
			EXTRA_CFLAGS="${EXTRA_CFLAGS:-} -fno-omit-frame-pointer"; \
			;; \
	esac; \
	make -j "$nproc" \
		"EXTRA_CFLAGS=${EXTRA_CFLAGS:-}" \
		"LDFLAGS=${LDFLAGS:-}" \
	; \
# https://github.com/docker-library/python/issues/784
# prevent accidental usage of a system installed libpython of the same version
	rm python; \
	make -j "$nproc" \
		"EXTRA_CFLAGS=${EXTRA_CFLAGS:-}" \
		"LDFLAGS=${LDFLAGS:-} -Wl,-rpath='\$\$ORIGIN/../lib'" \
		python \
	; \
	make install; \
	\
	cd /; \
	rm -rf /usr/src/python; \
	\
	find /usr/local -depth \
		\( \
			\( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
			-o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \) \) \
		\) -exec rm -rf '{}' + \
	; \
	\
	ldconfig; \
	\
	apt-mark auto '.*' > /dev/null; \
	apt-mark manual $savedAptMark; \
	find /usr/local -type f -executable -not \( -name '*tkinter*' \) -exec ldd '{}' ';' \
		| awk '/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) { next }; gsub("^/(usr/)?", "", so); printf "*%s\n", so }' \
		| sort -u \
		| xargs -rt dpkg-query --search \
# https://manpages.debian.org/bookworm/dpkg/dpkg-query.1.en.html#S (we ignore diversions and it'll be really unusual for more than one package to provide any given .so file)
		| awk 'sub(":$", "", $1) { print $1 }' \
		| sort -u \
		| xargs -r apt-mark manual \
	; \
	apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false; \
	rm -rf /var/lib/apt/lists/*; \
	\
	export PYTHONDONTWRITEBYTECODE=1; \
	python3 --version; \
	pip3 --version

# make some useful symlinks that are expected to exist ("/usr/local/bin/python" and friends)
RUN set -eux; \
	for src in idle3 pip3 pydoc3 python3 python3-config; do \
		dst="$(echo "$src" | tr -d 3)"; \
		[ -s "/usr/local/bin/$src" ]; \
		[ ! -e "/usr/local/bin/$dst" ]; \
		ln -svT "$src" "/usr/local/bin/$dst"; \
	done

CMD ["python3"]
"""

# nginxinc/docker-nginx, stable/debian/Dockerfile at commit
# b430becb8f0f6b8d69e68cc73a82ea2873c38639 (Copyright (C) 2011-2023 F5, Inc.; BSD-2-Clause licence).
NGINX_DEBIAN = r"""#
# NOTE: THIS DOCKERFILE IS GENERATED VIA "update.sh"
#
# PLEASE DO NOT EDIT IT DIRECTLY.
#
FROM debian:bookworm-slim

LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"

ENV NGINX_VERSION   1.26.3
ENV NJS_VERSION     0.8.9
ENV NJS_RELEASE     1~bookworm
ENV PKG_RELEASE     1~bookworm
ENV DYNPKG_RELEASE  2~bookworm

RUN set -x \
# create nginx user/group first, to be consistent throughout docker variants
    && groupadd --system --gid 101 nginx \
    && useradd --system --gid nginx --no-create-home --home /nonexistent --comment "nginx user" --shell /bin/false --uid 101 nginx \
    && apt-get update \
    && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates \
    && \
    NGINX_GPGKEYS="573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62 8540A6F18833A80E9C1653A42FD21310B49F6B46 9E9BE90EACBCDE69FE9B204CBCDCD8A38D88A2B3"; \
    NGINX_GPGKEY_PATH=/etc/apt/keyrings/nginx-archive-keyring.gpg; \
    export GNUPGHOME="$(mktemp -d)"; \
    found=''; \
    for NGINX_GPGKEY in $NGINX_GPGKEYS; do \
    for server in \
        hkp://keyserver.ubuntu.com:80 \
        pgp.mit.edu \
    ; do \
        echo "Fetching GPG key $NGINX_GPGKEY from $server"; \
        gpg1 --keyserver "$server" --keyserver-options timeout=10 --recv-keys "$NGINX_GPGKEY" && found=yes && break; \
    done; \
    test -z "$found" && echo >&2 "error: failed to fetch GPG key $NGINX_GPGKEY" && exit 1; \
    done; \
    gpg1 --export "$NGINX_GPGKEYS" > "$NGINX_GPGKEY_PATH" ; \
    rm -rf "$GNUPGHOME"; \
    apt-get remove --purge --auto-remove -y gnupg1 && rm -rf /var/lib/apt/lists/* \
    && dpkgArch="$(dpkg --print-architecture)" \
    && nginxPackages=" \
        nginx=${NGINX_VERSION}-${PKG_RELEASE} \
        nginx-module-xslt=${NGINX_VERSION}-${DYNPKG_RELEASE} \
        nginx-module-geoip=${NGINX_VERSION}-${DYNPKG_RELEASE} \
        nginx-module-image-filter=${NGINX_VERSION}-${DYNPKG_RELEASE} \
        nginx-module-njs=${NGINX_VERSION}+${NJS_VERSION}-${NJS_RELEASE} \
    " \
    && case "$dpkgArch" in \
        amd64|arm64) \
# arches officialy built by upstream
            echo "deb [signed-by=$NGINX_GPGKEY_PATH] https://nginx.org/packages/debian/ bookworm nginx" >> /etc/apt/sources.list.d/nginx.list \
            && apt-get update \
            ;; \
        *) \
# we're on an architecture upstream doesn't officially build for
# let's build binaries from the published packaging sources
# new directory for storing sources and .deb files
            tempDir="$(mktemp -d)" \
            && chmod 777 "$tempDir" \
# (777 to ensure APT's "_apt" user can access it too)
            \
# save list of currently-installed packages so build dependencies can be cleanly removed later
            && savedAptMark="$(apt-mark showmanual)" \
            \
# build .deb files from upstream's packaging sources
            && apt-get update \
            && apt-get install --no-install-recommends --no-install-suggests -y \
                curl \
                devscripts \
                equivs \
                git \
                libxml2-utils \
                lsb-release \
                xsltproc \
            && ( \
                cd "$tempDir" \
                && REVISION="${NGINX_VERSION}-${PKG_RELEASE}" \
                && REVISION=${REVISION%~*} \
                && curl -f -L -O https://github.com/nginx/pkg-oss/archive/${REVISION}.tar.gz \
                && PKGOSSCHECKSUM="3a4e869eded0c71e92f522e94edffea7fbfb5e78886ea7e484342fa2e028c62099a67d08860c249bf93776da97b924225e0d849dbb4697b298afe5421d7d6fea *${REVISION}.tar.gz" \
                && if [ "$(openssl sha512 -r ${REVISION}.tar.gz)" = "$PKGOSSCHECKSUM" ]; then \
                    echo "pkg-oss tarball checksum verification succeeded!"; \
                else \
                    echo "pkg-oss tarball checksum verification failed!"; \
                    exit 1; \
                fi \
                && tar xzvf ${REVISION}.tar.gz \
                && cd pkg-oss-${REVISION} \
                && cd debian \
                && for target in base module-geoip module-image-filter module-njs module-xslt; do \
                    make rules-$target; \
                    mk-build-deps --install --tool="apt-get -o Debug::pkgProblemResolver=yes --no-install-recommends --yes" \
                        debuild-$target/nginx-$NGINX_VERSION/debian/control; \
                done \
                && make base module-geoip module-image-filter module-njs module-xslt \
            ) \
# we don't remove APT lists here because they get re-downloaded and removed later
            \
# reset apt-mark's "manual" list so that "purge --auto-remove" will remove all build dependencies
# (which is done after we install the built packages so we don't have to redownload any overlapping dependencies)
            && apt-mark showmanual | xargs apt-mark auto > /dev/null \
            && { [ -z "$savedAptMark" ] || apt-mark manual $savedAptMark; } \
            \
# create a temporary local APT repo to install from (so that dependency resolution can be handled by APT, as it should be)
            && ls -lAFh "$tempDir" \
            && ( cd "$tempDir" && dpkg-scanpackages . > Packages ) \
            && grep '^Package: ' "$tempDir/Packages" \
            && echo "deb [ trusted=yes ] file://$tempDir ./" > /etc/apt/sources.list.d/temp.list \
# work around the following APT issue by using "Acquire::GzipIndexes=false" (overriding "/etc/apt/apt.conf.d/docker-gzip-indexes")
#   Could not open file /var/lib/apt/lists/partial/_tmp_tmp.ODWljpQfkE_._Packages - open (13: Permission denied)
#   ...
#   E: Failed to fetch store:/var/lib/apt/lists/partial/_tmp_tmp.ODWljpQfkE_._Packages  Could not open file /var/lib/apt/lists/partial/_tmp_tmp.ODWljpQfkE_._Packages - open (13: Permission denied)
            && apt-get -o Acquire::GzipIndexes=false update \
            ;; \
    esac \
    \
    && apt-get install --no-install-recommends --no-install-suggests -y \
                        $nginxPackages \
                        gettext-base \
                        curl \
    && apt-get remove --purge --auto-remove -y && rm -rf /var/lib/apt/lists/* /etc/apt/sources.list.d/nginx.list \
    \
# if we have leftovers from building, let's purge them (including extra, unnecessary build deps)
    && if [ -n "$tempDir" ]; then \
        apt-get purge -y --auto-remove \
        && rm -rf "$tempDir" /etc/apt/sources.list.d/temp.list; \
    fi \
# forward request and error logs to docker log collector
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log \
# create a docker-entrypoint.d directory
    && mkdir /docker-entrypoint.d

COPY docker-entrypoint.sh /
COPY 10-listen-on-ipv6-by-default.sh /docker-entrypoint.d
COPY 15-local-resolvers.envsh /docker-entrypoint.d
COPY 20-envsubst-on-templates.sh /docker-entrypoint.d
COPY 30-tune-worker-processes.sh /docker-entrypoint.d
ENTRYPOINT ["/docker-entrypoint.sh"]

EXPOSE 80

STOPSIGNAL SIGQUIT

CMD ["nginx", "-g", "daemon off;"]
"""

# nginxinc/docker-nginx, stable/alpine-slim/Dockerfile at the same commit.
NGINX_ALPINE_SLIM = r"""#
# NOTE: THIS DOCKERFILE IS GENERATED VIA "update.sh"
#
# PLEASE DO NOT EDIT IT DIRECTLY.
#
FROM alpine:3.20

LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"

ENV NGINX_VERSION  1.26.3
ENV PKG_RELEASE    1
ENV DYNPKG_RELEASE 2

RUN set -x \
# create nginx user/group first, to be consistent throughout docker variants
    && addgroup -g 101 -S nginx \
    && adduser -S -D -H -u 101 -h /var/cache/nginx -s /sbin/nologin -G nginx -g nginx nginx \
    && apkArch="$(cat /etc/apk/arch)" \
    && nginxPackages=" \
        nginx=${NGINX_VERSION}-r${PKG_RELEASE} \
    " \
# install prerequisites for public key and pkg-oss checks
    && apk add --no-cache --virtual .checksum-deps \
        openssl \
    && case "$apkArch" in \
        x86_64|aarch64) \
# arches officially built by upstream
            set -x \
            && KEY_SHA512="e09fa32f0a0eab2b879ccbbc4d0e4fb9751486eedda75e35fac65802cc9faa266425edf83e261137a2f4d16281ce2c1a5f4502930fe75154723da014214f0655" \
            && wget -O /tmp/nginx_signing.rsa.pub https://nginx.org/keys/nginx_signing.rsa.pub \
            && if echo "$KEY_SHA512 */tmp/nginx_signing.rsa.pub" | sha512sum -c -; then \
                echo "key verification succeeded!"; \
                mv /tmp/nginx_signing.rsa.pub /etc/apk/keys/; \
            else \
                echo "key verification failed!"; \
                exit 1; \
            fi \
            && apk add -X "https://nginx.org/packages/alpine/v$(egrep -o '^[0-9]+\.[0-9]+' /etc/alpine-release)/main" --no-cache $nginxPackages \
            ;; \
        *) \
# we're on an architecture upstream doesn't officially build for
# let's build binaries from the published packaging sources
            set -x \
            && tempDir="$(mktemp -d)" \
            && chown nobody:nobody $tempDir \
            && apk add --no-cache --virtual .build-deps \
                gcc \
                libc-dev \
                make \
                openssl-dev \
                pcre2-dev \
                zlib-dev \
                linux-headers \
                bash \
                alpine-sdk \
                findutils \
                curl \
            && su nobody -s /bin/sh -c " \
                export HOME=${tempDir} \
                && cd ${tempDir} \
                && curl -f -L -O https://github.com/nginx/pkg-oss/archive/${NGINX_VERSION}-${PKG_RELEASE}.tar.gz \
                && PKGOSSCHECKSUM=\"3a4e869eded0c71e92f522e94edffea7fbfb5e78886ea7e484342fa2e028c62099a67d08860c249bf93776da97b924225e0d849dbb4697b298afe5421d7d6fea *${NGINX_VERSION}-${PKG_RELEASE}.tar.gz\" \
                && if [ \"\$(openssl sha512 -r ${NGINX_VERSION}-${PKG_RELEASE}.tar.gz)\" = \"\$PKGOSSCHECKSUM\" ]; then \
                    echo \"pkg-oss tarball checksum verification succeeded!\"; \
                else \
                    echo \"pkg-oss tarball checksum verification failed!\"; \
                    exit 1; \
                fi \
                && tar xzvf ${NGINX_VERSION}-${PKG_RELEASE}.tar.gz \
                && cd pkg-oss-${NGINX_VERSION}-${PKG_RELEASE} \
                && cd alpine \
                && make base \
                && apk index --allow-untrusted -o ${tempDir}/packages/alpine/${apkArch}/APKINDEX.tar.gz ${tempDir}/packages/alpine/${apkArch}/*.apk \
                && abuild-sign -k ${tempDir}/.abuild/abuild-key.rsa ${tempDir}/packages/alpine/${apkArch}/APKINDEX.tar.gz \
                " \
            && cp ${tempDir}/.abuild/abuild-key.rsa.pub /etc/apk/keys/ \
            && apk del --no-network .build-deps \
            && apk add -X ${tempDir}/packages/alpine/ --no-cache $nginxPackages \
            ;; \
    esac \
# remove checksum deps
    && apk del --no-network .checksum-deps \
# if we have leftovers from building, let's purge them (including extra, unnecessary build deps)
    && if [ -n "$tempDir" ]; then rm -rf "$tempDir"; fi \
    && if [ -f "/etc/apk/keys/abuild-key.rsa.pub" ]; then rm -f /etc/apk/keys/abuild-key.rsa.pub; fi \
# Bring in gettext so we can get `envsubst`, then throw
# the rest away. To do this, we need to install `gettext`
# then move `envsubst` out of the way so `gettext` can
# be deleted completely, then move `envsubst` back.
    && apk add --no-cache --virtual .gettext gettext \
    && mv /usr/bin/envsubst /tmp/ \
    \
    && runDeps="$( \
        scanelf --needed --nobanner /tmp/envsubst \
            | awk '{ gsub(/,/, "\nso:", $2); print "so:" $2 }' \
            | sort -u \
            | xargs -r apk info --installed \
            | sort -u \
    )" \
    && apk add --no-cache $runDeps \
    && apk del --no-network .gettext \
    && mv /tmp/envsubst /usr/local/bin/ \
# Bring in tzdata so users could set the timezones through the environment
# variables
    && apk add --no-cache tzdata \
# forward request and error logs to docker log collector
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log \
# create a docker-entrypoint.d directory
    && mkdir /docker-entrypoint.d

COPY docker-entrypoint.sh /
COPY 10-listen-on-ipv6-by-default.sh /docker-entrypoint.d
COPY 15-local-resolvers.envsh /docker-entrypoint.d
COPY 20-envsubst-on-templates.sh /docker-entrypoint.d
COPY 30-tune-worker-processes.sh /docker-entrypoint.d
ENTRYPOINT ["/docker-entrypoint.sh"]

EXPOSE 80

STOPSIGNAL SIGQUIT

CMD ["nginx", "-g", "daemon off;"]
"""


def test_real_world_python_slim() -> None:
    use = dockerfile_packages(parse_dockerfile(PYTHON_SLIM, path="python/Dockerfile"))
    runtime = [p for p in use.packages if p.installer == "env"]
    debs = [p for p in use.packages if p.installer == "apt-get"]
    assert [(p.name, p.line) for p in debs[:3]] == [
        ("ca-certificates", 18),
        ("netbase", 18),
        ("tzdata", 18),
    ]
    assert [p.name for p in debs[3:]] == [
        "dpkg-dev", "gcc", "gnupg", "libbluetooth-dev", "libbz2-dev", "libc6-dev", "libdb-dev",
        "libffi-dev", "libgdbm-dev", "liblzma-dev", "libncursesw5-dev", "libreadline-dev",
        "libsqlite3-dev", "libssl-dev", "make", "tk-dev", "uuid-dev", "wget", "xz-utils",
        "zlib1g-dev",
    ]  # fmt: skip
    assert {p.line for p in debs[3:]} == {31}
    assert [(p.purl, p.line) for p in runtime] == [("pkg:generic/python@3.12.13", 28)]
    assert use.diagnostics == ()


def test_real_world_nginx_debian() -> None:
    use = dockerfile_packages(parse_dockerfile(NGINX_DEBIAN))
    # $nginxPackages is a shell variable assigned earlier in the same RUN.
    pinned = [(p.name, p.version) for p in use.packages if p.version and p.ecosystem == "deb"]
    assert pinned == [
        ("nginx", "1.26.3-1~bookworm"),
        ("nginx-module-xslt", "1.26.3-2~bookworm"),
        ("nginx-module-geoip", "1.26.3-2~bookworm"),
        ("nginx-module-image-filter", "1.26.3-2~bookworm"),
        ("nginx-module-njs", "1.26.3+0.8.9-1~bookworm"),
    ]
    assert "pkg:deb/debian/nginx-module-njs@1.26.3%2B0.8.9-1~bookworm" in use.purls
    # gnupg1 is installed for the key check, then removed.
    assert [(p.name, p.in_image) for p in use.packages][:2] == [
        ("gnupg1", False),
        ("ca-certificates", True),
    ]
    assert "pkg:deb/debian/gettext-base" in use.purls
    assert ("pkg:generic/nginx@1.26.3", 10) in [(p.purl, p.line) for p in use.packages]
    assert use.diagnostics == ()


def test_real_world_nginx_alpine_slim() -> None:
    use = dockerfile_packages(parse_dockerfile(NGINX_ALPINE_SLIM))
    assert use.purls == (
        "pkg:apk/alpine/nginx@1.26.3-r1",
        "pkg:apk/alpine/tzdata",
        "pkg:generic/nginx@1.26.3",
    )
    removed = {p.name for p in use.packages if not p.in_image}
    assert {"openssl", "gcc", "alpine-sdk", "curl", "gettext"} <= removed
    # runDeps is the output of scanelf | ... | apk info: unknown until the build runs.
    assert [(d.code, d.line) for d in use.diagnostics] == [("unresolved-package", 14)]
    assert "runDeps" in use.diagnostics[0].message


# -- robustness ------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "apt-get install -y ", "apk add ", "apk del ", "--virtual ", "dnf install ", "pip install ",
        "python -m pip install ", "npm i -g ", "yarn global add ", "gem install ", "-v ",
        "go install ", "sh -c ", "bash <<EOF\n", "<<EOF\n", "\nEOF\n", "EOF", "$", "${", "}",
        "$(", ")", "(", "`", "'", '"', "\\", "\\\n", "\n", " ", ";", "&&", "||", "|", "&", "#",
        "=", "==", "@", "~", ">=", "<", ">", ":", "/", ".", "-", "-r ", "x", "1.2.3", "@scope/",
        "A=1 ", "${A:-b}", "${#A}", "$A", "[", "]", "\t", "\ue000", "\ue001", "RUN ", "ENV A=",
        "ARG A", "FROM a AS b\n", "FROM b\n", "ONBUILD ", "#!/bin/sh\n", "PYTHON_VERSION",
        "curl x | sh", "zypper in ",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, max_size=30).map("".join), st.booleans())
def test_any_run_text_gives_a_package_use(body: str, as_run: bool) -> None:
    text = f"FROM alpine\nARG A=1\nRUN {body}\n" if as_run else body
    try:
        dockerfile = parse_dockerfile(text)
    except ImageGraphError:
        return
    assert isinstance(dockerfile_packages(dockerfile), PackageUse)
    assert isinstance(dockerfile_packages(dockerfile, "b", distro="ubuntu"), PackageUse)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_package_use(body: str) -> None:
    for text in (body, f"FROM alpine\nRUN {body}\n"):
        try:
            dockerfile = parse_dockerfile(text)
        except ImageGraphError:
            continue
        assert isinstance(dockerfile_packages(dockerfile), PackageUse)


@pytest.mark.parametrize(
    ("text", "purls", "diagnostics"),
    [
        # The pre-check that skips RUN text naming no installer must not skip these.
        ('FROM debian\nRUN echo "unterminated\n', [], ["unparsed-shell"]),
        ('FROM debian\nRUN ap""t-get install -y curl\n', ["pkg:deb/debian/curl"], []),
        ("FROM alpine\nRUN M=ap; N=k; $M$N add curl\n", ["pkg:apk/alpine/curl"], []),
        ("FROM debian\nRUN make x && echo 'built x' >> /log\n", [], []),
    ],
)
def test_runs_that_name_no_installer_are_skipped_only_when_plain(
    text: str, purls: list[str], diagnostics: list[str]
) -> None:
    use = found(text)
    assert [p.purl for p in use.packages] == purls
    assert codes(use) == diagnostics
