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

Most applications are declared one by one; a tenth (``--matrix-share``)
are variants of shared Dockerfiles (one Dockerfile per directory, several
images from it, told apart by a ``VARIANT`` build argument that the
Dockerfile never declares). With ``--dockerfiles N`` the fleet has N
Dockerfiles (and somewhat more images). Everything is deterministic for a
seed: the same arguments write the same bytes.

``--format`` picks how the images are declared; the Dockerfiles, images,
tags and parent links are the same in every format but the last:

* ``toml`` (the default): ``[[image]]`` tables in ``imagegraph.toml``, the
  variants as a ``matrix``;
* ``bake-hcl``, ``bake-json``: ``docker-bake.hcl`` / ``docker-bake.json``,
  one target per image with its directory as the context, the variants as a
  ``matrix`` target named ``<app>-${VARIANT}``, and a ``default`` group of
  every target;
* ``compose``: ``compose.yaml``, one service per image; compose has no
  matrix, so each variant is a service of its own (with its build arg);
* ``manifests``: docker-library manifests, one file per repository under
  ``library/`` (``Tags`` and ``Directory`` per entry), each listed as a
  ``[[manifests]]`` table in ``imagegraph.toml`` with its repository. A
  manifest has no build arguments; since no Dockerfile reads ``VARIANT``,
  each variant is an entry of its own repository without it;
* ``convention``: no declaration at all. imagegraph then names each image
  after its directory (``apps/app00/app000001``, tagged
  ``apps/app00/app000001:latest``), one per Dockerfile, so variants are one
  image. The Dockerfiles' ``FROM`` lines name ``registry.example.com/...``
  tags, which no convention name matches: every image is a root whose
  parents are all external, and a change reaches only the images that name
  it (or read the changed file) themselves.
"""

from __future__ import annotations

import argparse
import json
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

    @property
    def toml_name(self) -> str:
        """The build's name: ``<name>-<tag>``, ``<name>-${VARIANT}`` for a matrix."""
        return f"{self.name.replace(':', '-')}-{self.tag}".replace("${VARIANT}-1", "${VARIANT}")

    def variants(self) -> list[tuple[str, str, dict[str, str]]]:
        """(name, reference, args) of each image this declaration makes, the matrix expanded."""
        if not self.matrix:
            return [(self.toml_name, self.ref, dict(self.args))]
        made = []
        for value in self.matrix["VARIANT"]:

            def sub(text: str, value: str = value) -> str:
                return text.replace("${VARIANT}", value)

            args = {key: sub(arg) for key, arg in self.args.items()}
            made.append((sub(self.toml_name), sub(self.ref), args))
        return made


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
    out: Path,
    images: int,
    seed: int,
    *,
    dockerfiles: int | None = None,
    matrix_share: float = 0.1,
    format: str = "toml",
) -> int:
    """Write the fleet, declared in *format* (one of :data:`FORMATS`); return the number of
    images declared.

    With *dockerfiles*, the fleet grows until it has that many Dockerfiles
    (and *images* is ignored); *matrix_share* is the share of applications
    declared as a matrix of 2 to 4 variants of one Dockerfile. The format
    changes only the declaration files: for one seed and size every format
    gets the same Dockerfiles, images, tags and parents (bar ``convention``,
    which declares nothing: see the module's docstring).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
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
    if format == "convention":
        return len({image.dockerfile for image in declared})
    WRITERS[format](out, declared)
    return sum(len(image.variants()) for image in declared)


HEADER = "# Generated by benchmarks/generate_fleet.py; do not edit."


def write_toml(out: Path, declared: list[Image]) -> None:
    """``imagegraph.toml``: one ``[[image]]`` per image, a ``matrix`` for the variants."""
    config = [HEADER, ""]
    for image in declared:
        config += ["[[image]]", f'name = "{image.toml_name}"']
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
        config.append("")
    (out / "imagegraph.toml").write_text("\n".join(config))


def _bake_targets(declared: list[Image]) -> dict[str, dict[str, object]]:
    """Target label -> attributes, as both bake syntaxes write them (a matrix stays one target)."""
    targets: dict[str, dict[str, object]] = {}
    for image in declared:
        target: dict[str, object] = {}
        if image.matrix:
            label = image.toml_name.replace("-${VARIANT}", "")
            target["name"] = image.toml_name
            target["matrix"] = image.matrix
        else:
            label = image.toml_name.replace(".", "_")  # bake names: [a-zA-Z0-9_-]+
        target["context"] = image.directory
        if image.args:
            target["args"] = image.args
        target["tags"] = [image.ref]
        targets[label] = target
    return targets


def write_bake_hcl(out: Path, declared: list[Image]) -> None:
    """``docker-bake.hcl``: a ``default`` group of every target, a ``matrix`` for the variants."""
    targets = _bake_targets(declared)
    lines = [HEADER, "", 'group "default" {', "  targets = ["]
    lines += [f'    "{label}",' for label in targets]
    lines += ["  ]", "}", ""]
    for label, target in targets.items():
        lines.append(f'target "{label}" {{')
        for key, value in target.items():
            if isinstance(value, dict):
                lines.append(f"  {key} = {{")
                lines += [f"    {k} = {json.dumps(v)}" for k, v in value.items()]
                lines.append("  }")
            else:
                lines.append(f"  {key} = {json.dumps(value)}")
        lines += ["}", ""]
    (out / "docker-bake.hcl").write_text("\n".join(lines))


def write_bake_json(out: Path, declared: list[Image]) -> None:
    """``docker-bake.json``: the same targets and group as the HCL file."""
    targets = _bake_targets(declared)
    document = {"group": {"default": {"targets": list(targets)}}, "target": targets}
    (out / "docker-bake.json").write_text(json.dumps(document, indent=2) + "\n")


def write_compose(out: Path, declared: list[Image]) -> None:
    """``compose.yaml``: compose has no matrix, so each variant is a service of its own."""
    lines = [HEADER, "", "services:"]
    for image in declared:
        for name, ref, args in image.variants():
            lines += [f"  {name}:", f'    image: "{ref}"']
            if args:
                lines += ["    build:", f'      context: "{image.directory}"', "      args:"]
                lines += [f'        {k}: "{v}"' for k, v in args.items()]
            else:
                lines.append(f'    build: "{image.directory}"')
    (out / "compose.yaml").write_text("\n".join(lines) + "\n")


def write_manifests(out: Path, declared: list[Image]) -> None:
    """docker-library manifests: one file per repository under ``library/``, listed in
    ``imagegraph.toml`` as ``[[manifests]]``.

    A manifest has no build arguments. The variants' only argument,
    ``VARIANT``, is one no Dockerfile declares (it changes nothing that is
    built), so each variant is an entry of its own repository, without it.
    """
    repositories: dict[str, list[tuple[str, str]]] = {}
    for image in declared:
        for _, ref, _args in image.variants():
            repository, _, tag = ref.rpartition(":")
            repositories.setdefault(repository, []).append((tag, image.directory))
    config = [HEADER, ""]
    (out / "library").mkdir()
    for repository, entries in repositories.items():
        name = repository.rpartition("/")[2]
        blocks = [
            f"{HEADER}\nMaintainers: Catalogue Team <catalogue@example.com> (@catalogue)\n"
            "GitRepo: https://git.example.com/catalogue.git\n"
        ]
        blocks += [f"Tags: {tag}\nDirectory: {directory}\n" for tag, directory in entries]
        (out / "library" / name).write_text("\n".join(blocks))
        config += [
            "[[manifests]]",
            f'path = "library/{name}"',
            f'repository = "{repository}"',
            "",
        ]
    (out / "imagegraph.toml").write_text("\n".join(config))


WRITERS = {
    "toml": write_toml,
    "bake-hcl": write_bake_hcl,
    "bake-json": write_bake_json,
    "compose": write_compose,
    "manifests": write_manifests,
}
FORMATS = (*WRITERS, "convention")
DECLARED_IN = {
    "toml": "imagegraph.toml",
    "bake-hcl": "docker-bake.hcl",
    "bake-json": "docker-bake.json",
    "compose": "compose.yaml",
    "manifests": "library/* (listed in imagegraph.toml)",
    "convention": "nothing (images named after their directories)",
}


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
    parser.add_argument(
        "--format", choices=FORMATS, default="toml",
        help="how the images are declared (default toml; see the module's docstring)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new directory")
    count = generate(
        args.out, args.images, args.seed, dockerfiles=args.dockerfiles,
        matrix_share=args.matrix_share, format=args.format,
    )  # fmt: skip
    files = sum(1 for _ in args.out.rglob("Dockerfile"))
    print(
        f"{args.out}: {count} images from {files} Dockerfiles, declared in "
        f"{DECLARED_IN[args.format]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
