"""Write a generated fleet shaped like a large image catalogue, for benchmarks.

Usage::

    python benchmarks/generate_fleet.py (--images N | --dockerfiles N) [--seed S] OUT

OUT (which must not exist) becomes a repository of about N Dockerfiles:

* OS bases: debian, ubuntu, alpine and ubi in several releases, each FROM
  the upstream image, pinning packages in RUN lines;
* language runtimes (python, node, openjdk, go, ruby, php) in several
  versions per OS, with the ``ENV <RUNTIME>_VERSION`` + download-URL
  pattern of official images;
* frameworks on the runtimes, some on other frameworks (chains 4 to 6
  deep);
* applications, the bulk: multi-stage builds with a builder stage,
  ``COPY --from`` the builder and an external tool image, an ARG in FROM,
  pinned packages, 20 to 200 lines each.

Most applications are declared one by one in ``imagegraph.toml``; a tenth
(``--matrix-share``) are variants of shared Dockerfiles declared with a
``matrix`` (one Dockerfile per directory, several images from it). With
``--dockerfiles N`` the fleet has N Dockerfiles (and somewhat more images). Everything is
deterministic for a seed: the same arguments write the same bytes.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

OS_RELEASES = {
    "debian": ["bookworm", "bullseye", "trixie"],
    "ubuntu": ["24.04", "22.04", "20.04"],
    "alpine": ["3.20", "3.19", "3.18"],
    "ubi": ["9.4", "8.10"],
}
UPSTREAM = {
    "debian": "debian:{release}-slim",
    "ubuntu": "ubuntu:{release}",
    "alpine": "alpine:{release}",
    "ubi": "registry.access.redhat.com/ubi{major}/ubi-minimal:{release}",
}
RUNTIMES = {
    "python": ["3.10.14", "3.11.9", "3.12.4", "3.13.0"],
    "node": ["18.20.4", "20.17.0", "22.9.0"],
    "openjdk": ["17.0.12", "21.0.4"],
    "go": ["1.22.7", "1.23.1"],
    "ruby": ["3.2.5", "3.3.5"],
    "php": ["8.2.24", "8.3.12"],
}
OS_PACKAGES = {
    "debian": (
        "apt-get install -y --no-install-recommends",
        [
            "ca-certificates=20230311",
            "curl=7.88.1-10+deb12u7",
            "libssl3=3.0.14-1~deb12u2",
            "tzdata=2024a-0+deb12u1",
            "libc6=2.36-9+deb12u8",
            "zlib1g=1:1.2.13.dfsg-1",
            "netbase=6.4",
        ],
    ),
    "ubuntu": (
        "apt-get install -y --no-install-recommends",
        [
            "ca-certificates=20240203",
            "curl=8.5.0-2ubuntu10.4",
            "libssl3t64=3.0.13-0ubuntu3.4",
            "tzdata=2024a-3ubuntu1.1",
            "locales=2.39-0ubuntu8.3",
        ],
    ),
    "alpine": (
        "apk add --no-cache",
        [
            "ca-certificates=20240705-r0",
            "curl=8.9.1-r1",
            "libssl3=3.3.2-r0",
            "tzdata=2024b-r0",
            "musl=1.2.5-r0",
        ],
    ),
    "ubi": (
        "microdnf install -y --nodocs",
        [
            "ca-certificates-2024.2.69_v8.0.303-91.4.el9_4",
            "curl-7.76.1-29.el9_4.1",
            "openssl-3.0.7-27.el9",
            "tzdata-2024a-1.el9",
        ],
    ),
}
TOOLS = [
    "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28",
    "docker.io/tianon/gosu:1.17",
    "quay.io/prometheus/node-exporter:v1.8.2",
    "ghcr.io/astral-sh/uv:0.4.30",
]
PY_LIBS = [
    "requests==2.32.3",
    "flask==3.0.3",
    "django==5.1.1",
    "numpy==2.1.1",
    "pydantic==2.9.2",
    "sqlalchemy==2.0.35",
    "celery==5.4.0",
    "gunicorn==23.0.0",
]
REGISTRY = "registry.example.com/catalog"


@dataclass
class Image:
    name: str
    tag: str
    directory: str
    dockerfile: str
    args: dict[str, str] = field(default_factory=dict)
    matrix: dict[str, list[str]] | None = None

    @property
    def ref(self) -> str:
        return f"{REGISTRY}/{self.name}:{self.tag}"


def os_dockerfile(rng: random.Random, os_name: str, release: str) -> str:
    upstream = UPSTREAM[os_name].format(release=release, major=release.split(".")[0])
    installer, packages = OS_PACKAGES[os_name]
    chosen = rng.sample(packages, k=rng.randint(3, len(packages)))
    lines = [
        f"# {os_name} {release} base: upstream image, pinned packages, the catalogue's user.",
        f"FROM {upstream}",
        "LABEL org.opencontainers.image.vendor=example",
    ]
    if os_name in ("debian", "ubuntu"):
        lines.append("RUN apt-get update \\")
        lines.append(f" && {installer} \\")
    else:
        lines.append(f"RUN {installer} \\")
    lines += [f"      {p} \\" for p in chosen]
    lines.append(" && echo done")
    lines += ["ENV LANG=C.UTF-8", "USER 1001"]
    return "\n".join(lines) + "\n"


def runtime_dockerfile(rng: random.Random, runtime: str, version: str, base: Image) -> str:
    var = {"openjdk": "JAVA", "go": "GOLANG"}.get(runtime, runtime.upper())
    lines = [
        f"# {runtime} {version} on {base.name}:{base.tag}",
        f"ARG BASE={base.ref}",
        "FROM ${BASE}",
        "USER root",
        f"ENV {var}_VERSION={version}",
        "RUN set -eux; \\",
        f'    url="https://downloads.example.com/{runtime}/${{{var}_VERSION}}/{runtime}-${{{var}_VERSION}}.tar.gz"; \\',
        '    curl -fsSL "$url" -o /tmp/rt.tgz; \\',
        "    tar -xzf /tmp/rt.tgz -C /usr/local --strip-components=1; \\",
        "    rm /tmp/rt.tgz",
    ]
    lines += [f"ENV PATH=/usr/local/{runtime}/bin:$PATH" for _ in range(rng.randint(0, 2))]
    lines.append("USER 1001")
    return "\n".join(lines) + "\n"


def framework_dockerfile(rng: random.Random, name: str, parent: Image, runtime: str) -> str:
    lines = [f"# framework {name}", f"FROM {parent.ref}", "USER root"]
    if runtime == "python":
        lines.append("RUN pip install --no-cache-dir " + " ".join(rng.sample(PY_LIBS, k=3)))
    elif runtime == "node":
        lines.append(
            f"RUN npm install -g pm2@5.4.{rng.randint(0, 3)} typescript@5.6.{rng.randint(0, 3)}"
        )
    elif runtime == "ruby":
        lines.append(f"RUN gem install rails -v 7.2.{rng.randint(0, 2)}")
    else:
        lines.append(f"RUN mkdir -p /opt/{name} && echo {name} > /opt/{name}/VERSION")
    lines += [f"COPY config/{name}.conf /etc/{name}/" for _ in range(1)]
    lines.append("USER 1001")
    return "\n".join(lines) + "\n"


def app_dockerfile(rng: random.Random, name: str, parent: Image, builder: Image) -> str:
    lines = [
        "# syntax=docker/dockerfile:1.7",
        f"# application {name}",
        f"ARG BUILDER={builder.ref}",
        "FROM ${BUILDER} AS build",
        "WORKDIR /src",
        "COPY . .",
    ]
    for step in range(rng.randint(3, 60)):
        lines.append(f"RUN --mount=type=cache,target=/cache make step-{step} \\")
        lines.append(f"    && echo 'built step {step}' >> /src/build.log")
    lines += [
        "",
        f"FROM {parent.ref} AS runtime",
        "COPY --from=build /src/out /app",
        f"COPY --from={rng.choice(TOOLS)} /usr/local/bin/ /usr/local/bin/",
    ]
    for index in range(rng.randint(2, 60)):
        lines.append(f'ENV SETTING_{index}="value-{index}"')
    lines += ["EXPOSE 8080", "USER 1001", 'ENTRYPOINT ["/app/run"]']
    return "\n".join(lines) + "\n"


def generate(
    out: Path, images: int, seed: int, *, dockerfiles: int | None = None, matrix_share: float = 0.1
) -> int:
    """Write the fleet; return the number of images declared.

    With *dockerfiles*, the fleet grows until it has that many Dockerfiles
    (and *images* is ignored); *matrix_share* is the share of applications
    declared as a matrix of 2 to 4 variants of one Dockerfile.
    """
    rng = random.Random(seed)
    declared: list[Image] = []
    files: dict[str, str] = {}

    bases: list[Image] = []
    for os_name, releases in OS_RELEASES.items():
        for release in releases:
            directory = f"os/{os_name}/{release}"
            image = Image(f"{os_name}", release, directory, f"{directory}/Dockerfile")
            files[image.dockerfile] = os_dockerfile(rng, os_name, release)
            bases.append(image)
    declared += bases

    runtimes: dict[str, list[Image]] = {r: [] for r in RUNTIMES}
    for runtime, versions in RUNTIMES.items():
        for version in versions:
            for base in rng.sample(bases, k=min(len(bases), 3)):
                minor = ".".join(version.split(".")[:2])
                directory = f"runtimes/{runtime}/{minor}/{base.name}-{base.tag}"
                image = Image(
                    runtime, f"{minor}-{base.name}{base.tag}", directory, f"{directory}/Dockerfile"
                )
                files[image.dockerfile] = runtime_dockerfile(rng, runtime, version, base)
                runtimes[runtime].append(image)
                declared.append(image)

    if dockerfiles is not None:
        # Every image so far has its own Dockerfile; apps add one each.
        images = dockerfiles
    budget = max(0, images - len(declared))
    frameworks: list[tuple[Image, str]] = []
    for index in range(max(10, budget // 40)):
        runtime = rng.choice(list(RUNTIMES))
        # Some frameworks build on other frameworks: chains of 4 to 6.
        candidates = [f for f in frameworks if f[1] == runtime]
        parent = (
            rng.choice(candidates)[0]
            if candidates and rng.random() < 0.4
            else rng.choice(runtimes[runtime])
        )
        name = f"fw{index:04d}-{runtime}"
        directory = f"frameworks/{name}"
        image = Image(name, "1", directory, f"{directory}/Dockerfile")
        files[image.dockerfile] = framework_dockerfile(rng, name, parent, runtime)
        files[f"{directory}/config/{name}.conf"] = f"name = {name}\n"
        frameworks.append((image, runtime))
        declared.append(image)

    remaining = max(0, images - len(declared))
    shared: list[tuple[str, list[str]]] = []
    index = 0
    while remaining > 0:
        parent, runtime = rng.choice(frameworks)
        builder = rng.choice(runtimes[runtime])
        name = f"app{index:06d}"
        directory = f"apps/{name[:5]}/{name}"
        dockerfile = f"{directory}/Dockerfile"
        files[dockerfile] = app_dockerfile(rng, name, parent, builder)
        if rng.random() < matrix_share and remaining >= 4:
            variants = [f"v{n}" for n in range(rng.randint(2, 4))]
            shared.append((dockerfile, variants))
            declared.append(
                Image(
                    f"{name}-${{VARIANT}}",
                    "1",
                    directory,
                    dockerfile,
                    {"VARIANT": "${VARIANT}"},
                    {"VARIANT": variants},
                )
            )
            remaining -= 1 if dockerfiles is not None else len(variants)
        else:
            declared.append(Image(name, "1", directory, dockerfile))
            remaining -= 1
        index += 1

    out.mkdir(parents=True)
    for path, text in sorted(files.items()):
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    config = ["# Generated by benchmarks/generate_fleet.py; do not edit.", ""]
    count = 0
    for image in declared:
        config += [
            "[[image]]",
            f'name = "{image.name.replace(":", "-")}-{image.tag}"'.replace(
                "${VARIANT}-1", "${VARIANT}"
            ),
        ]
        config.append(f'dockerfile = "{image.dockerfile}"')
        config.append(f'tags = ["{image.ref}"]')
        if image.args:
            config.append(
                "args = { " + ", ".join(f'{k} = "{v}"' for k, v in image.args.items()) + " }"
            )
        if image.matrix:
            config.append(
                "matrix = { "
                + ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in image.matrix.items())
                + " }"
            )
            count += len(next(iter(image.matrix.values())))
        else:
            count += 1
        config.append("")
    (out / "imagegraph.toml").write_text("\n".join(config))
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to create (must not exist)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--images", type=int, default=1000, help="images to declare")
    size.add_argument("--dockerfiles", type=int, help="Dockerfiles to write (instead of --images)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--matrix-share", type=float, default=0.1,
        help="share of applications declared as a matrix of 2-4 variants (default 0.1)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new directory")
    count = generate(
        args.out, args.images, args.seed, dockerfiles=args.dockerfiles,
        matrix_share=args.matrix_share,
    )  # fmt: skip
    files = sum(1 for _ in args.out.rglob("Dockerfile"))
    print(f"{args.out}: {count} images from {files} Dockerfiles declared in imagegraph.toml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
