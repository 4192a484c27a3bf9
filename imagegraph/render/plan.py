"""A rebuild plan for tools and people: JSON, GitHub Actions matrices, bake, Makefile, a table.

Every function returns text (or a rich renderable) and prints nothing.
The JSON form follows ``imagegraph/schemas/plan-v2.json``, shipped in the
package (:func:`plan_schema`).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

from imagegraph.diagnostics import Diagnostic, Severity, printable
from imagegraph.graph import Edge
from imagegraph.inventory import ImageBuild
from imagegraph.plan import PlannedBuild, RebuildPlan, SharedTag
from imagegraph.reference import ImageRef
from imagegraph.render._json import dumps
from imagegraph.render._names import familiar, safe_names
from imagegraph.render._values import LINE_BREAK, build_arguments, refuse

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "GHA_MAX_JOBS",
    "IMPORT_COMMAND",
    "INDEX_COMMAND",
    "SCHEMA",
    "bake_diagnostics",
    "plan_schema",
    "to_bake",
    "to_data",
    "to_gha",
    "to_json",
    "to_make",
    "to_rich",
]

SCHEMA = "imagegraph/plan/v2"
GHA_MAX_JOBS = 256
"""GitHub Actions runs at most this many jobs from one matrix."""
IMPORT_COMMAND = "skopeo copy --all"
"""What pushes an image imported from an OCI layout (bashbrew's ``Builder:
oci-import``) under a tag, without a daemon: ``skopeo copy --all oci:<layout
directory> docker://<tag>``, once per tag. skopeo's ``oci:`` transport takes
the single image the layout's ``index.json`` lists (``--all``: every platform of
it), as is: nothing is rebuilt, the digest stays the layout's."""
INDEX_COMMAND = "docker buildx imagetools create"
"""What joins the builds of a shared tag (:class:`~imagegraph.plan.SharedTag`):
``docker buildx imagetools create -t <tag> <source>...`` pushes one index of
every platform of the sources (an index source is flattened into it)."""


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that :func:`to_data` output follows."""
    text = resources.files("imagegraph").joinpath("schemas/plan-v2.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _edge(edge: Edge) -> dict[str, Any]:
    return {
        "parent": edge.parent,
        "child": edge.child,
        "kind": edge.kind,
        "path": edge.path,
        "line": edge.line,
        "text": edge.text,
    }


def _chain(planned: PlannedBuild) -> str | None:
    return _text(planned.reason)


def _text(chain: tuple[Edge, ...]) -> str | None:
    if not chain:
        return None
    return " -> ".join([chain[0].parent, *(e.child for e in chain)])


def _build(planned: PlannedBuild) -> dict[str, Any]:
    build = planned.build
    data: dict[str, Any] = {
        "name": build.name,
        "tags": [str(tag) for tag in build.tags],
        "dockerfile": build.dockerfile,
        "dockerfile_inline": build.dockerfile_inline,
        "context": build.context,
        "args": dict(sorted(build.args.items())),
        "target": build.target,
        "platforms": list(build.platforms),
        "contexts": dict(sorted(build.contexts.items())),
        "build_contexts": {
            key: planned.context_images.get(key) if value.startswith("target:") else value
            for key, value in sorted(build.contexts.items())
        },
        "needs": list(planned.needs),
        "reason": _chain(planned),
        "reasons": [_edge(edge) for edge in planned.reason],
        "cause": list(planned.cause),
        "wave_reason": _text(planned.wave_reason),
        "wave_reasons": [_edge(edge) for edge in planned.wave_reason],
        "origin": build.origin,
    }
    if build.imported:
        data.update(imported=True, layout=build.context, layout_index=build.dockerfile)
    if planned.own_tags is not None:
        data["push_tags"] = [str(tag) for tag in planned.own_tags]
    return data


def _index(shared: SharedTag) -> dict[str, Any]:
    return {
        "tag": str(shared.tag),
        "builds": list(shared.builds),
        "sources": [str(source) for source in shared.sources],
        "planned": list(shared.planned),
        "after_wave": shared.wave + 1,
        "users": list(shared.users),
    }


def to_data(plan: RebuildPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (``"schema": "imagegraph/plan/v2"``).

    Paths are relative to the scanned root, and ``root`` says where that is
    from where the plan's outputs run (:attr:`~imagegraph.RebuildPlan.root`).
    ``build_contexts`` gives each named context as a build run on its own
    takes it: ``target:<build>`` as ``docker-image://<that build's first
    tag>``, or ``null`` when that build has no tag.

    An image imported from an OCI layout (bashbrew's ``Builder: oci-import``)
    has ``"imported": true``, its ``layout`` directory and ``layout_index``
    file (also its ``context`` and ``dockerfile``): push the layout's image
    under its tags (:data:`IMPORT_COMMAND`), never build it. A tag several
    builds produce (:attr:`~imagegraph.RebuildPlan.shared`) is in
    ``indexes``, made after wave ``after_wave`` from one ``source`` per
    build; each of those builds has ``push_tags``, the tags it pushes itself
    (not the shared one). Both appear only when the plan has some."""
    impact = plan.impact
    schedule = plan.schedule
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "root": plan.root,
        "changes": None if plan.changes is None else list(plan.changes),
        "matched": None
        if impact is None
        else {change: list(nodes) for change, nodes in impact.matched.items()},
        "max_parallel": plan.max_parallel,
        "build_count": len(plan),
        "waves": [
            {"wave": index + 1, "builds": [_build(planned) for planned in wave]}
            for index, wave in enumerate(plan.waves)
        ],
        "undetermined": []
        if impact is None
        else [
            {"build": build, "unresolved": list(texts)}
            for build, texts in impact.undetermined.items()
        ],
        "possibly": []
        if impact is None
        else [{"image": image, "why": list(why)} for image, why in impact.possibly.items()],
        "schedule": None
        if schedule is None
        else {
            "critical_path": list(schedule.critical_path),
            "critical_seconds": schedule.critical_seconds,
            "total_seconds": schedule.total_seconds,
            "workers": schedule.workers,
            "makespan_seconds": schedule.makespan_seconds,
            "lower_bound_seconds": schedule.lower_bound_seconds,
            "estimated": list(schedule.estimated),
        },
        "diagnostics": [
            {
                "code": d.code,
                "severity": d.severity.value,
                "path": d.path,
                "line": d.line,
                "message": d.message,
            }
            for d in plan.diagnostics
        ],
    }
    if plan.shared:
        data["indexes"] = [_index(shared) for shared in plan.shared]
    return data


def to_json(plan: RebuildPlan) -> str:
    """:func:`to_data` as indented JSON with sorted-stable content, ending in a newline."""
    return dumps(to_data(plan))


def _gha_list(build: ImageBuild, field: str, items: Iterable[str], separator: str) -> str:
    # docker/build-push-action splits a list input at line breaks (and commas,
    # but for build-args), reads it as CSV, and trims each item.
    items = list(items)
    for item in items:
        if LINE_BREAK.search(item) or (separator == "," and "," in item):
            raise refuse(build, field, item, "cannot be one item of a GitHub Actions list input")
        if item != item.strip() or item.startswith('"'):
            raise refuse(
                build, field, item, "would be trimmed or unquoted by docker/build-push-action"
            )
    return separator.join(items)


def _gha_value(build: ImageBuild, field: str, value: str) -> str:
    if value != value.strip():
        raise refuse(build, field, value, "would be trimmed by GitHub Actions")
    return value


_REMOTE = ("https://", "http://", "git://", "ssh://", "github.com/", "git@", "target:")


def _is_local(value: str) -> bool:
    """Whether a context (or a named context's value) is a directory of the repository."""
    return "://" not in value and not value.startswith(_REMOTE)


def _context(plan: RebuildPlan, build: ImageBuild) -> str:
    """The build's context as seen from where the plan's outputs run."""
    return plan.path(build.context) if _is_local(build.context) else build.context


def _dockerfile(plan: RebuildPlan, build: ImageBuild) -> str:
    """The build's Dockerfile as seen from where the plan's outputs run."""
    return plan.path(build.dockerfile) if _is_local(build.context) else build.dockerfile


def _context_image(planned: PlannedBuild, key: str, value: str, why: str) -> str:
    """The image a ``target:`` context *key* of *planned* is passed as (that
    build's first tag, ``docker-image://...``); refused, saying *why*, without one."""
    image = planned.context_images.get(key)
    if image is None:
        raise refuse(planned.build, f"build context {key}", value, why)
    return image


def _named_contexts(plan: RebuildPlan, planned: PlannedBuild) -> dict[str, str]:
    """The build's named contexts as a build run on its own takes them (sorted by
    name): a ``target:<build>`` context is that build's image,
    ``docker-image://<its first tag>``, since the parent is built (and pushed)
    by an earlier step or not at all; a directory is seen from where the
    outputs run. A ``target:`` context whose build has no tag cannot be
    passed: refused, naming the build."""
    build = planned.build
    contexts = {}
    for key, value in sorted(build.contexts.items()):
        if not key or "=" in key:
            raise refuse(build, "build context name", key, "cannot be passed as NAME=VALUE")
        if value.startswith("target:"):
            value = _context_image(
                planned, key, value,
                "names a build with no tag (or no build): a build run on its own "
                "cannot take its image; give that build a tag",
            )  # fmt: skip
        elif _is_local(value):
            value = plan.path(value)
        contexts[key] = value
    return contexts


# What a process's environment cannot hold (NUL ends a variable), nor UTF-8
# (a lone surrogate, from a name that is not UTF-8).
_NOT_ENVIRONMENT = re.compile("[\x00\ud800-\udfff]")


def _gha_inline(build: ImageBuild) -> str:
    """The build's inline Dockerfile (``""`` when it has a file): the workflow
    hands it to a step through ``env:``, which writes it to a file."""
    text = build.dockerfile_inline
    if text is None:
        return ""
    if _NOT_ENVIRONMENT.search(text):
        raise refuse(
            build, "inline Dockerfile", text,
            "holds a NUL or a lone surrogate, which a step's environment cannot hold",
        )  # fmt: skip
    return text


def _layout(plan: RebuildPlan, build: ImageBuild) -> str:
    """The OCI layout directory of an imported *build*, as seen from where the
    outputs run, for ``skopeo``'s ``oci:`` transport: refused (naming the build)
    when its index file is not the layout's ``index.json`` (``oci:`` reads only
    that one), when the directory holds a ``:`` (``oci:`` reads what follows as
    the image's name in the layout), or when the import has no tag to push."""
    index = posixpath.normpath(posixpath.join(build.context, "index.json"))
    if posixpath.normpath(build.dockerfile) != index:
        raise refuse(
            build, "OCI layout index", build.dockerfile,
            f"is not the layout's index.json ({index}), the one file an import reads",
        )  # fmt: skip
    if ":" in build.context:
        raise refuse(
            build, "OCI layout directory", build.context,
            "holds ':', which skopeo's oci: transport reads as the start of an image name",
        )  # fmt: skip
    if not build.tags:
        raise refuse(build, "import", build.name, "has no tag to push the image under")
    return plan.path(build.context)


def _gha_import(plan: RebuildPlan, planned: PlannedBuild) -> dict[str, str]:
    build = planned.build
    return {
        "name": build.name,
        "context": _gha_value(build, "OCI layout directory", _layout(plan, build)),
        "file": plan.path(build.dockerfile),
        "dockerfile-inline": "",
        "build-contexts": "",
        "tags": _gha_list(build, "tag", (str(tag) for tag in planned.pushes), "\n"),
        "build-args": "",
        "target": "",
        "platforms": _gha_list(build, "platform", build.platforms, ","),
        "import": "oci-layout",
    }


def _gha_index(shared: SharedTag) -> dict[str, Any]:
    return {"tag": str(shared.tag), "sources": [str(source) for source in shared.sources]}


def _gha_entry(plan: RebuildPlan, planned: PlannedBuild) -> dict[str, str]:
    build = planned.build
    if build.imported:
        return _gha_import(plan, planned)
    contexts = _named_contexts(plan, planned)
    inline = build.dockerfile_inline is not None
    return {
        "name": build.name,
        "context": _gha_value(build, "context", _context(plan, build)),
        "file": "" if inline else _gha_value(build, "file", _dockerfile(plan, build)),
        "dockerfile-inline": _gha_inline(build),
        "build-contexts": _gha_list(
            build, "build context", (f"{key}={value}" for key, value in contexts.items()), "\n"
        ),
        "tags": _gha_list(build, "tag", (str(tag) for tag in planned.pushes), "\n"),
        "build-args": _gha_list(
            build, "build argument", build_arguments(build, "GitHub Actions"), "\n"
        ),
        "target": _gha_value(build, "target", build.target or ""),
        "platforms": _gha_list(build, "platform", build.platforms, ","),
    }


def to_gha(plan: RebuildPlan) -> str:
    """One GitHub Actions matrix per wave, as one JSON object.

    ``{"waves": N, "wave1": {"include": [...]}, ...}``: write each
    ``waveK`` to ``$GITHUB_OUTPUT`` and give job K
    ``strategy.matrix: ${{ fromJSON(needs.plan.outputs.waveK) }}`` with
    ``needs`` on job K-1 and an ``if:`` guard for waves the plan does not
    have (an empty matrix is an error). Each entry carries the inputs of
    ``docker/build-push-action``: ``context``, ``file``, ``tags``,
    ``build-args`` and ``build-contexts`` (one per line), ``target``,
    ``platforms`` (comma-separated), and ``dockerfile-inline``: the text of
    an inline Dockerfile (compose ``dockerfile_inline``, bake
    ``dockerfile-inline``), whose ``file`` is then ``""`` (the action would
    read ``<context>/Dockerfile``): write it to a file outside the checkout
    and give that as ``file`` (``""`` for a build with a file). Paths are seen from where the plan's
    outputs run (:attr:`~imagegraph.RebuildPlan.root`); a named context
    ``target:<build>`` is that build's image, ``docker-image://<its first
    tag>``, pushed by an earlier wave (a build without a tag is refused).
    An empty plan is ``{"waves": 0}``: guard each wave's job with ``if:``.
    Raises ``ValueError`` for a wave of more than 256 builds: plan with
    ``max_parallel=256``; and :class:`~imagegraph.ImageGraphError`, naming
    the build and the field, for a value the action would read otherwise
    (a build argument holding a line break would be two build arguments,
    a platform holding a comma two platforms; the action trims each item)
    or a step's environment cannot hold (an inline Dockerfile holding NUL).

    ``name`` is the build's name as it is: pass it to a step through ``env``,
    never as ``${{ matrix.name }}`` inside a ``run`` script.

    An image imported from an OCI layout has ``"import": "oci-layout"`` (no
    other entry has the key), ``context`` its layout directory and ``file``
    the layout's ``index.json``: push it with ``skopeo copy --all
    oci:<context> docker://<tag>`` for each tag (:data:`IMPORT_COMMAND`),
    not with the build action. A tag several builds produce
    (:attr:`~imagegraph.RebuildPlan.shared`): each of those entries' ``tags``
    has its own tags and source instead, and ``indexK`` (present only for a
    wave after which some are due) lists ``{"tag", "sources"}``: after wave
    K, run ``docker buildx imagetools create -t <tag> <sources>...`` for
    each, before wave K+1 starts.
    """
    data: dict[str, Any] = {"waves": len(plan.waves)}
    for index, wave in enumerate(plan.waves, start=1):
        if len(wave) > GHA_MAX_JOBS:
            raise ValueError(
                f"wave {index} has {len(wave)} builds and a GitHub Actions matrix takes at "
                f"most {GHA_MAX_JOBS}: plan with max_parallel={GHA_MAX_JOBS}"
            )
        data[f"wave{index}"] = {"include": [_gha_entry(plan, p) for p in wave]}
    for shared in plan.shared:
        data.setdefault(f"index{shared.wave + 1}", []).append(_gha_index(shared))
    return dumps(data)


def _context_key(value: str) -> str:
    # BuildKit looks a named context up by the reference's familiar form
    # with ":latest" trimmed (FROM python -> "python", FROM acme/x:1 -> "acme/x:1").
    try:
        return ImageRef.parse(value).familiar.removesuffix(":latest")
    except ValueError:
        return value


# Bake reads each string of a JSON file as an HCL template: "${" interpolates
# and "%{" is a directive, unless written "$${" and "%%{".
_TEMPLATE = re.compile(r"([$%])\{")


def _hcl_literal(value: Any) -> Any:
    """*value* with every string (and object key) as an HCL template that is that text."""
    if isinstance(value, str):
        return _TEMPLATE.sub(r"\1\1{", value)
    if isinstance(value, list):
        return [_hcl_literal(item) for item in value]
    if isinstance(value, dict):
        return {_hcl_literal(key): _hcl_literal(item) for key, item in value.items()}
    return value


def to_bake(plan: RebuildPlan) -> str:
    """A ``docker-bake.json``: one target per build, a group per wave, ``default`` for all.

    A build's planned parents are wired in as named contexts
    (``"<reference>": "target:<parent>"``), so ``docker buildx bake`` builds
    them first and children use the fresh parent instead of pulling the old
    one; a declared ``target:`` context whose build is not in the plan is that
    build's image, ``docker-image://<its first tag>``. Paths are seen from
    where the plan's outputs run (:attr:`~imagegraph.RebuildPlan.root`). Running one wave's group alone therefore rebuilds its parents too
    (from cache when the builder has it). Every value is written so that bake
    reads it as it is: ``${`` and ``%{`` (HCL interpolation) as ``$${`` and ``%%{``.
    An empty plan is a ``default`` group of no targets, which bake builds as nothing.

    Bake can neither import an image from an OCI layout nor join several
    targets' images under one tag, and this file does neither: an imported
    image is left out (its children pull the image the registry has), and
    the builds of a shared tag push their own tags and sources, not the
    shared tag. :func:`bake_diagnostics` names each, with what to run.
    """
    waves = [f"wave-{i}" for i in range(1, len(plan.waves) + 1)]
    names = safe_names((p.build.name for p in plan), reserved=["default", *waves])
    targets: dict[str, Any] = {}
    imported = {p.build.name for p in plan if p.build.imported}
    by_name = {p.build.name: p.build for p in plan}
    for planned in plan:
        build = planned.build
        if build.imported:
            continue
        target: dict[str, Any] = {"context": _context(plan, build)}
        if build.dockerfile_inline is not None:
            target["dockerfile-inline"] = build.dockerfile_inline
        else:
            target["dockerfile"] = posixpath.relpath(build.dockerfile, build.context)
        if build.target:
            target["target"] = build.target
        if build.args:
            target["args"] = dict(sorted(build.args.items()))
        if planned.pushes:
            target["tags"] = [str(tag) for tag in planned.pushes]
        if build.platforms:
            target["platforms"] = list(build.platforms)
        contexts = {}
        for key, value in build.contexts.items():
            other = value.removeprefix("target:")
            if value.startswith("target:") and other in names and other not in imported:
                contexts[key] = f"target:{names[other]}"  # built by this file too
            elif value.startswith("target:"):
                contexts[key] = _context_image(
                    planned, key, value,
                    "names a build that is not in the plan and has no tag: bake can "
                    "neither build it from this file nor pull its image",
                )  # fmt: skip
            else:
                contexts[key] = plan.path(value) if _is_local(value) else value
        candidates: dict[str, list[str]] = {}
        for edge in planned.inputs:
            if edge.kind == "context":
                key = edge.text.partition("=")[0]
            elif edge.value is not None:
                key = _context_key(edge.value)
            else:
                continue
            if edge.parent in imported:
                continue  # not in this file: the image the registry has
            if edge.parent not in candidates.setdefault(key, []):
                candidates[key].append(edge.parent)
        for key, parents in candidates.items():
            # A shared tag has an edge from each of its builds: the first that
            # serves every platform of this build is used; with none, this build
            # pulls the tag's index (bake refuses a target of fewer platforms).
            fitting = parents if len(parents) == 1 else [
                parent for parent in parents if _fits(by_name[parent], build)
            ]  # fmt: skip
            if fitting:
                contexts[key] = f"target:{names[fitting[0]]}"
        if contexts:
            target["contexts"] = dict(sorted(contexts.items()))
        targets[names[build.name]] = _hcl_literal(target)
    groups: dict[str, Any] = {"default": {"targets": waves}}
    for wave_name, wave in zip(waves, plan.waves, strict=True):
        groups[wave_name] = {"targets": [names[p.build.name] for p in wave if not p.build.imported]}
    if not targets:
        # buildx reads "target": {} as a target block without its label, an
        # error ("Missing block label"); an empty default group builds nothing.
        return dumps({"group": groups})
    return dumps({"group": groups, "target": targets})


def _fits(parent: ImageBuild, child: ImageBuild) -> bool:
    """Whether bake can give *child* the *parent* target as a context for every
    platform of the child: the parent is built for each of them (for a Linux one
    when the child names none; any, when the parent names none)."""
    if not parent.platforms:
        return True
    if child.platforms:
        return set(child.platforms) <= set(parent.platforms)
    return any(platform.startswith("linux/") for platform in parent.platforms)


def bake_diagnostics(plan: RebuildPlan) -> list[Diagnostic]:
    """What :func:`to_bake` leaves out of a plan, as warnings to print beside it:
    ``bake-import`` for each image imported from an OCI layout (with the
    command that imports it) and ``bake-shared-tag`` for each tag several
    builds produce (with the command that joins their images once bake has
    pushed them). Empty for a plan that has neither.

    >>> from imagegraph import ImageBuild, ImageRef
    >>> from imagegraph.plan import PlannedBuild
    >>> debian = ImageBuild("debian", "oci/index.json", "oci", (ImageRef.parse("debian:12"),),
    ...                     imported=True, origin="library/debian:4")
    >>> [d.code for d in bake_diagnostics(RebuildPlan(None, ((PlannedBuild(debian, 0, ()),),)))]
    ['bake-import']
    """
    found = []
    for planned in plan:
        build = planned.build
        if not build.imported:
            continue
        path, _, line = build.origin.rpartition(":")
        tags = " ".join(str(tag) for tag in planned.pushes)
        found.append(
            Diagnostic(
                "bake-import",
                Severity.WARNING,
                f"{build.name!r} is imported from the OCI layout {plan.path(build.context)!r}, "
                "which bake cannot do: it is not in the bake file and its children pull the "
                f"image the registry has; import it first, for each tag: {IMPORT_COMMAND} "
                f"oci:{plan.path(build.context)} docker://TAG (tags: {tags})",
                path or build.origin or None,
                int(line) if path and line.isdigit() else None,
            )
        )
    for shared in plan.shared:
        sources = " ".join(str(source) for source in shared.sources)
        found.append(
            Diagnostic(
                "bake-shared-tag",
                Severity.WARNING,
                f"{shared.tag} is built by {', '.join(repr(b) for b in shared.builds)}, which "
                "bake cannot join under one tag: each pushes its own tags instead; after bake, "
                f"run {INDEX_COMMAND} -t {shared.tag} {sources}",
                None,
            )
        )
    return found


# What a Makefile line cannot hold: a line break would end the recipe line and
# start a make line of the attacker's (make -n runs a "+" line), NUL ends the
# line for make; other controls would reach the terminal of make -n.
_NOT_MAKE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _make_word(build: ImageBuild, field: str, text: str) -> str:
    """*text* as one shell word in a recipe line: quoted for the shell, ``$``
    doubled for make (``#`` and ``\\`` are literal inside the shell's quotes)."""
    if _NOT_MAKE.search(text):
        raise refuse(build, field, text, "holds a line break or control character, "
                     "which a Makefile cannot hold")  # fmt: skip
    # Inside the quotes, "##[" (a GitHub Actions runner command, should make -n
    # print the line to a log) is the same word written as '#''#['.
    return shlex.quote(text).replace("$", "$$").replace("##[", "#''#[")


def _printf_format(text: str) -> str:
    """*text* as a printf format: ``%`` and ``\\`` doubled, a newline ``\\n``, and
    every other byte outside printable ASCII an octal escape."""
    out = []
    for char in text:
        if char == "\n":
            out.append("\\n")
        elif char in "\\%":
            out.append(char * 2)
        elif " " <= char <= "~":
            out.append(char)
        else:
            data = char.encode("utf-8", "surrogatepass")
            out.append("".join(f"\\{byte:03o}" for byte in data))
    return "".join(out)


def _build_command(plan: RebuildPlan, planned: PlannedBuild) -> str:
    build = planned.build
    words = ["$(DOCKER_BUILD)"]
    if build.dockerfile_inline is None:
        words += ["-f", _make_word(build, "dockerfile", _dockerfile(plan, build))]
    else:
        words += ["-f", "-"]
    for argument in build_arguments(build, "make"):
        words += ["--build-arg", _make_word(build, "build argument", argument)]
    if build.target:
        words += ["--target", _make_word(build, "target", build.target)]
    if build.platforms:
        words += ["--platform", _make_word(build, "platforms", ",".join(build.platforms))]
    for key, value in _named_contexts(plan, planned).items():
        words += ["--build-context", _make_word(build, "build context", f"{key}={value}")]
    for tag in planned.pushes:
        words += ["-t", _make_word(build, "tag", str(tag))]
    words += ["$(BUILD_FLAGS)", _make_word(build, "context", _context(plan, build))]
    command = " ".join(words)
    if build.dockerfile_inline is not None:
        # A recipe is one line: the text goes in as a printf format, ASCII only.
        text = _printf_format(build.dockerfile_inline)
        quoted = shlex.quote(text).replace("$", "$$").replace("##[", "#''#[")
        command = f"printf {quoted} | {command}"
    return command


def _import_commands(plan: RebuildPlan, planned: PlannedBuild) -> list[str]:
    """One ``$(DOCKER_IMPORT) $(IMPORT_FLAGS) oci:<layout> docker://<tag>`` per tag."""
    build = planned.build
    layout = _make_word(build, "OCI layout directory", _layout(plan, build))
    return [
        f"$(DOCKER_IMPORT) $(IMPORT_FLAGS) oci:{layout} docker://"
        + _make_word(build, "tag", str(tag))
        for tag in planned.pushes
    ]


def _index_command(shared: SharedTag, build: ImageBuild) -> str:
    words = ["$(IMAGETOOLS_CREATE)", "-t", _make_word(build, "tag", str(shared.tag))]
    words += [_make_word(build, "source", str(source)) for source in shared.sources]
    return " ".join(words)


def to_make(plan: RebuildPlan) -> str:
    """A Makefile whose prerequisites are the planned parents: ``make -j8`` builds in order.

    ``make`` (or ``make all``) rebuilds the plan; ``make wave-2`` one wave
    and what it needs. ``DOCKER_BUILD`` and ``BUILD_FLAGS`` can be set on
    the command line (e.g. ``BUILD_FLAGS=--push``). Commands run from where
    the plan's outputs run (:attr:`~imagegraph.RebuildPlan.root`); a named
    context ``target:<build>`` is that build's image, ``docker-image://<its
    first tag>`` (push the parents, ``BUILD_FLAGS=--push``, for their
    children to see them). An empty plan is a Makefile whose ``all`` does
    nothing.

    Every value is one quoted shell word with ``$`` doubled; a value holding
    a line break or another control character is refused
    (:class:`~imagegraph.ImageGraphError` naming the build), since nothing
    in a Makefile line keeps it from ending the line. A build whose target
    has the name of the makefile itself stops make with an error instead of
    running: make would run it to "remake" the makefile, even under ``make -n``.

    An image imported from an OCI layout (bashbrew's ``Builder:
    oci-import``) is not built: its recipe runs ``$(DOCKER_IMPORT)
    $(IMPORT_FLAGS) oci:<layout directory> docker://<tag>`` once per tag,
    ``DOCKER_IMPORT`` being ``skopeo copy --all`` (:data:`IMPORT_COMMAND`;
    set it to a command taking the same two arguments, ``IMPORT_FLAGS`` to
    e.g. ``--dest-creds=...``). A tag several builds produce
    (:attr:`~imagegraph.RebuildPlan.shared`) is not pushed by those builds
    (each pushes its own tags and source): a target ``index-<tag>`` that
    depends on them runs ``$(IMAGETOOLS_CREATE) -t <tag> <source>...``
    (``docker buildx imagetools create``), and the builds that use the tag
    depend on it. Those lines and variables appear only in plans that have
    imports or shared tags.
    """
    waves = [f"wave-{i}" for i in range(1, len(plan.waves) + 1)]
    names = safe_names((p.build.name for p in plan), dots=True, reserved=["all", *waves])
    indexes = safe_names(
        (f"index-{shared.tag.familiar}" for shared in plan.shared),
        dots=True,
        reserved=["all", *waves, *names.values()],
    )
    index_of = {shared.tag: indexes[f"index-{shared.tag.familiar}"] for shared in plan.shared}
    lines = [
        "# Generated by imagegraph: the rebuild plan as make targets.",
        "DOCKER_BUILD ?= docker buildx build",
        "BUILD_FLAGS ?=",
    ]
    if any(p.build.imported for p in plan):
        lines += [
            "# An image imported from an OCI layout is pushed as it is, once per tag:",
            "# $(DOCKER_IMPORT) $(IMPORT_FLAGS) oci:<layout directory> docker://<tag>",
            f"DOCKER_IMPORT ?= {IMPORT_COMMAND}",
            "IMPORT_FLAGS ?=",
        ]
    if plan.shared:
        lines += [
            "# A tag several builds produce is one index of their images, made after them:",
            "# $(IMAGETOOLS_CREATE) -t <tag> <source of each build>...",
            f"IMAGETOOLS_CREATE ?= {INDEX_COMMAND}",
        ]
    lines += [
        "# make remakes a makefile before reading it, even under make -n: a build",
        "# named like this file must not run then.",
        "IMAGEGRAPH_GUARD = $(if $(filter $@,$(MAKEFILE_LIST)),$(error imagegraph: "
        "not building $@: it has the name of a makefile; write the plan to another file))",
        "",
    ]
    builds = [names[p.build.name] for p in plan]
    after: dict[int, list[str]] = {}
    for shared in plan.shared:
        after.setdefault(shared.wave, []).append(index_of[shared.tag])
    lines.append(".PHONY: all " + " ".join([*waves, *builds, *index_of.values()]).rstrip())
    lines.append("all: " + " ".join(waves) if waves else "all:")
    for number, (wave_name, wave) in enumerate(zip(waves, plan.waves, strict=True)):
        targets = [names[p.build.name] for p in wave] + after.get(number, [])
        lines.append(f"{wave_name}: " + " ".join(targets))
    lines.append("")
    waits: dict[str, list[str]] = {}
    for shared in plan.shared:
        for user in shared.users:
            waits.setdefault(user, []).append(index_of[shared.tag])
    for planned in plan:
        prerequisites = [names[parent] for parent in planned.needs]
        prerequisites += waits.get(planned.name, [])
        needs = " ".join(prerequisites)
        lines.append(f"{names[planned.build.name]}:{' ' + needs if needs else ''}")
        lines.append("\t$(IMAGEGRAPH_GUARD)")
        if planned.build.imported:
            lines.extend(f"\t{command}" for command in _import_commands(plan, planned))
        else:
            lines.append(f"\t{_build_command(plan, planned)}")
    by_name = {p.name: p.build for p in plan}
    for shared in plan.shared:
        lines.append(f"{index_of[shared.tag]}: " + " ".join(names[b] for b in shared.planned))
        lines.append("\t$(IMAGEGRAPH_GUARD)")
        lines.append(f"\t{_index_command(shared, by_name[shared.planned[0]])}")
    return "\n".join(lines) + "\n"


def _because_of(planned: PlannedBuild) -> list[str]:
    """The table's "because of" lines: the chain that sets the build's wave (its
    parents, from the change down), then the causes (files, packages)."""
    chain = planned.wave_reason or planned.reason
    lines = []
    via = None
    if chain:
        root = familiar(chain[0].parent)
        lines.append(" → ".join([root, *(e.child for e in chain[:-1])]))
        via = f"via {root}: "
    # A cause found in the image the chain shown starts from follows it as is.
    lines.extend(
        cause[len(via) :] if via and cause.startswith(via) else cause for cause in planned.cause
    )
    return lines or ["changed"]


def to_rich(plan: RebuildPlan) -> RenderableType:
    """A table for people: wave, build, and why it is in the plan (or its tags,
    when the plan rebuilds everything): the chain that sets its wave (the
    longest chain of planned parents; the JSON gives a shortest one too),
    then what the change found (the changed file and the line reading it;
    the package, version, where it was found and the constraint it fails).

    Every name is plain text, never rich markup or an emoji code, with its
    control characters escaped (:func:`~imagegraph.diagnostics.printable`).
    An image imported from an OCI layout says so under its name; each tag
    several builds produce (:attr:`~imagegraph.RebuildPlan.shared`) is a line
    after the table: the index of which builds, made after which wave.
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = (
        "Rebuild everything" if plan.changes is None else f"Rebuild after {', '.join(plan.changes)}"
    )
    table = Table()
    table.add_column("wave", justify="right")
    table.add_column("build")
    table.add_column("because of" if plan.changes is not None else "tags")
    for index, wave in enumerate(plan.waves, start=1):
        for position, planned in enumerate(wave):
            if plan.changes is None:
                why = [tag.familiar for tag in planned.build.tags]
            else:
                why = _because_of(planned)
            name = printable(planned.build.name, tabs=False)
            if planned.build.imported:
                name += "\n(imported from an OCI layout)"
            table.add_row(
                str(index) if position == 0 else "",
                Text(name),
                Text("\n".join(printable(line, tabs=False) for line in why)),
                end_section=position == len(wave) - 1,
            )
    builds, waves = len(plan), len(plan.waves)
    summary = (
        f"{printable(title, tabs=False)}: {builds} build{'' if builds == 1 else 's'} "
        f"in {waves} wave{'' if waves == 1 else 's'}"
    )
    shown: list[RenderableType] = [Text(summary, style="bold"), table]
    shown.extend(
        Text(
            printable(
                f"{shared.tag.familiar_name}:{shared.tag.tag or 'latest'} is one index of "
                f"{len(shared.builds)} builds ({', '.join(shared.builds)}), made after wave "
                f"{shared.wave + 1}",
                tabs=False,
            )
        )
        for shared in plan.shared
    )
    return Group(*shown)
