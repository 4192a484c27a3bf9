"""A rebuild plan as an Argo Workflows ``Workflow``: a DAG whose tasks wait for their parents.

Argo, not imagegraph, runs a plan of tens of thousands of builds on a
Kubernetes cluster. :func:`to_argo` writes a ``Workflow`` (JSON, which
``argo submit`` and ``kubectl create -f`` read like YAML) whose entrypoint
is a ``dag`` template with one task per build: its ``dependencies`` are the
build's planned parents, so a child starts as soon as its own parents are
built, not when a whole wave is; ``spec.parallelism`` caps the builds that
run at once. Each task passes the build's parameters (``context``,
``dockerfile``, ``dockerfile-inline``, ``tags``, ``build-args``, ``target``,
``platforms``) to one
``build`` template that runs ``buildctl-daemonless.sh`` from the rootless
BuildKit image on the repository at ``/workspace`` (mount or check it out
there), pushing the tags; replace that template, or pass ``image=``, to
build the way your cluster does. The template runs rootless BuildKit as
user 1000 with no seccomp profile (``seccompProfile: Unconfined``) and no
process sandbox (``BUILDKITD_FLAGS=--oci-worker-no-process-sandbox``): it
needs no privileged pod, and a build step sees the pod's processes.

Kubernetes keeps an object under about 1 MB (etcd's request limit), so a
plan whose Workflow would be larger is written as a ``List``: one
``WorkflowTemplate`` per slice of a wave (builds of one wave never wait for
each other) and a ``Workflow`` whose DAG runs the slices, each after every
slice of the wave before it. The templates' names carry a digest of the
plan, so two plans never collide; ``kubectl create -f plan.json`` creates
them and then the Workflow.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from imagegraph.inventory import ImageBuild
from imagegraph.plan import PlannedBuild, RebuildPlan, SharedTag
from imagegraph.render._json import dumps
from imagegraph.render._names import safe_names
from imagegraph.render._values import LINE_BREAK, build_arguments, refuse
from imagegraph.render.plan import _context, _dockerfile, _layout, _named_contexts

__all__ = ["ARGO_MAX_BYTES", "BUILDKIT_IMAGE", "IMAGETOOLS_IMAGE", "SKOPEO_IMAGE", "to_argo"]

ARGO_MAX_BYTES = 1_000_000
"""Largest Workflow or WorkflowTemplate written as one object."""
BUILDKIT_IMAGE = "moby/buildkit:v0.16.0-rootless"
"""The image of the default ``build`` template."""
SKOPEO_IMAGE = "quay.io/skopeo/stable:v1.16.1"
"""The image of the ``import`` template (an image imported from an OCI layout)."""
IMAGETOOLS_IMAGE = "docker:27.3.1-cli"
"""The image of the ``index`` template (a tag several builds produce): the
docker CLI with its buildx plugin, for ``docker buildx imagetools create``,
which needs no daemon."""
_IMPORT_PARAMETERS = ("image", "layout", "tags")
_INDEX_PARAMETERS = ("tag", "sources")
_PARAMETERS = (
    "image", "context", "dockerfile", "dockerfile-inline", "tags", "build-args", "build-contexts",
    "target", "platforms",
)  # fmt: skip
# Argo puts a parameter into the template's JSON as Go's strconv.Quote writes
# it: \a, \v, \xNN (other C0 controls, DEL) and \UXXXXXXXX (a character
# outside the BMP that Go does not print) are no JSON escapes, so the Workflow
# would fail; a lone surrogate (a name that is not UTF-8) reaches it as U+FFFD.
_NOT_ARGO = re.compile("[\x00-\x07\x0b\x0e-\x1f\x7f\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _argo_cannot_pass(value: str) -> bool:
    """Whether Argo's substitution would not hand *value* to the template as it is."""
    if _NOT_ARGO.search(value):
        return True
    return any(unicodedata.category(char)[0] in "CZ" for char in _ASTRAL.findall(value))


def _check(build: ImageBuild, values: dict[str, str], *, free: tuple[str, ...] = ()) -> None:
    """Refuse a value Argo would not pass as it is: ``{{`` anywhere, and in a
    *free* text (not a reference) a character its substitution cannot write."""
    for key, value in values.items():
        if "{{" in value:
            # Argo reads {{...}} in a parameter as a variable or an expression,
            # and has no way to write the braces themselves.
            raise refuse(build, key, value, "holds '{{', which Argo would evaluate")
        if key in free and _argo_cannot_pass(value):
            raise refuse(
                build, key, value,
                "holds a control character (or a lone surrogate) that Argo cannot pass "
                "to the template",
            )  # fmt: skip


def _parameters(keys: tuple[str, ...], values: dict[str, str]) -> dict[str, Any]:
    return {"parameters": [{"name": key, "value": values[key]} for key in keys]}


def _dependencies(
    planned: PlannedBuild, names: dict[str, str], waits: dict[str, list[str]]
) -> list[str]:
    return sorted({*(names[parent] for parent in planned.needs), *waits.get(planned.name, ())})


def _import_task(
    plan: RebuildPlan,
    planned: PlannedBuild,
    names: dict[str, str],
    waits: dict[str, list[str]],
    *,
    with_needs: bool,
) -> dict[str, Any]:
    build = planned.build
    values = {
        "image": build.name,
        "layout": _layout(plan, build),
        "tags": ",".join(str(tag) for tag in planned.pushes),
    }
    _check(build, values, free=("layout",))
    task: dict[str, Any] = {
        "name": names[build.name],
        "template": "import",
        "arguments": _parameters(_IMPORT_PARAMETERS, values),
    }
    if with_needs and _dependencies(planned, names, waits):
        task["dependencies"] = _dependencies(planned, names, waits)
    return task


def _index_task(
    shared: SharedTag, name: str, names: dict[str, str], build: ImageBuild, *, with_needs: bool
) -> dict[str, Any]:
    values = {"tag": str(shared.tag), "sources": ",".join(str(s) for s in shared.sources)}
    _check(build, values)
    task: dict[str, Any] = {
        "name": name,
        "template": "index",
        "arguments": _parameters(_INDEX_PARAMETERS, values),
    }
    if with_needs:
        task["dependencies"] = sorted(names[b] for b in shared.planned)
    return task


def _task(
    plan: RebuildPlan,
    planned: PlannedBuild,
    names: dict[str, str],
    *,
    with_needs: bool,
    waits: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    build = planned.build
    if build.imported:
        return _import_task(plan, planned, names, waits or {}, with_needs=with_needs)
    contexts = [f"{key}={value}" for key, value in _named_contexts(plan, planned).items()]
    for context in contexts:
        if LINE_BREAK.search(context):
            raise refuse(build, "build context", context, "holds a line break")
    for platform in build.platforms:
        if "," in platform or LINE_BREAK.search(platform):
            raise refuse(build, "platform", platform, "cannot be one of a comma-separated list")
    inline = build.dockerfile_inline
    values = {
        "image": build.name,
        "context": _context(plan, build),
        # an inline Dockerfile: "" (the template writes the text to a file)
        "dockerfile": "" if inline is not None else _dockerfile(plan, build),
        "dockerfile-inline": inline or "",
        "tags": ",".join(str(tag) for tag in planned.pushes),
        "build-args": "\n".join(build_arguments(build, "the build template")),
        "build-contexts": "\n".join(contexts),
        "target": build.target or "",
        "platforms": ",".join(build.platforms),
    }
    _check(build, values, free=("dockerfile-inline",))
    task: dict[str, Any] = {
        "name": names[build.name],
        "template": "build",
        "arguments": {"parameters": [{"name": key, "value": values[key]} for key in _PARAMETERS]},
    }
    if with_needs and (planned.needs or (waits and planned.name in waits)):
        task["dependencies"] = _dependencies(planned, names, waits or {})
    return task


def _script_template(
    name: str, parameters: tuple[str, ...], image: str, script: str
) -> dict[str, Any]:
    return {
        "name": name,
        "inputs": {"parameters": [{"name": key} for key in parameters]},
        "script": {
            "image": image,
            "command": ["sh"],
            "source": script,
            "workingDir": "/workspace",
            "env": [
                {
                    "name": key.upper().replace("-", "_"),
                    "value": "{{inputs.parameters.%s}}" % key,  # noqa: UP031 - Argo's braces
                }
                for key in parameters
            ],
        },
    }


def _import_template(image: str) -> dict[str, Any]:
    # skopeo's oci: transport takes the one image the layout's index.json
    # lists; --all copies every platform of it, as it is.
    script = (
        "set -euf\nIFS=,\n"
        'for tag in $TAGS; do skopeo copy --all "oci:$LAYOUT" "docker://$tag"; done\n'
    )
    return _script_template("import", _IMPORT_PARAMETERS, image, script)


def _index_template(image: str) -> dict[str, Any]:
    script = (
        'set -euf\nIFS=,\nset -- $SOURCES\nexec docker buildx imagetools create -t "$TAG" "$@"\n'
    )
    return _script_template("index", _INDEX_PARAMETERS, image, script)


def _build_template(image: str) -> dict[str, Any]:
    script = (
        "set -eu\nset --\n"
        'while IFS= read -r arg; do [ -z "$arg" ] || set -- "$@" --opt "build-arg:$arg"; done <<EOF\n'
        "$BUILD_ARGS\nEOF\n"
        "n=0\n"
        'while IFS= read -r ctx; do [ -n "$ctx" ] || continue; key="${ctx%%=*}"; value="${ctx#*=}"\n'
        '  case "$value" in\n'
        '  *://*) set -- "$@" --opt "context:$key=$value" ;;\n'
        '  *) n=$((n + 1)); set -- "$@" --local "context$n=$value" --opt "context:$key=local:context$n" ;;\n'
        "  esac\ndone <<EOF\n$BUILD_CONTEXTS\nEOF\n"
        '[ -z "$TARGET" ] || set -- "$@" --opt "target=$TARGET"\n'
        '[ -z "$PLATFORMS" ] || set -- "$@" --opt "platform=$PLATFORMS"\n'
        'if [ -n "$TAGS" ]; then set -- "$@" --output "type=image,\\"name=$TAGS\\",push=true"\n'
        'else set -- "$@" --output type=cacheonly; fi  # no tag: build only\n'
        'if [ -z "$DOCKERFILE" ]; then  # an inline Dockerfile: its text, as a file of its own\n'
        '  DOCKERFILE="$(mktemp -d)/Dockerfile"\n'
        '  printf \'%s\' "$DOCKERFILE_INLINE" > "$DOCKERFILE"\nfi\n'
        "exec buildctl-daemonless.sh build --frontend dockerfile.v0 \\\n"
        '  --local context="$CONTEXT" --local dockerfile="$(dirname "$DOCKERFILE")" \\\n'
        '  --opt filename="$(basename "$DOCKERFILE")" "$@"\n'
    )
    template = _script_template("build", _PARAMETERS, image, script)
    template["script"]["env"].append(
        {"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"}
    )
    # Rootless BuildKit in an unprivileged pod: no seccomp profile, and
    # no process sandbox (BUILDKITD_FLAGS; it cannot mount a new /proc).
    template["script"]["securityContext"] = {
        "seccompProfile": {"type": "Unconfined"},
        "runAsUser": 1000,
        "runAsGroup": 1000,
    }
    return template


def _workflow(
    name: str,
    tasks: list[dict[str, Any]],
    parallelism: int | None,
    image: str,
    *,
    kind: str,
    extra: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "entrypoint": "rebuild",
        "templates": [
            {"name": "rebuild", "dag": {"tasks": tasks}},
            _build_template(image),
            *extra,
        ],
    }
    if parallelism is not None:
        spec["parallelism"] = parallelism
    metadata = {"generateName": f"{name}-"} if kind == "Workflow" else {"name": name}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def _size(document: dict[str, Any]) -> int:
    return len(dumps(document, indent=None).encode("utf-8")) - 1  # without the newline


def to_argo(
    plan: RebuildPlan,
    *,
    name: str = "imagegraph-rebuild",
    parallelism: int | None = None,
    image: str = BUILDKIT_IMAGE,
    max_bytes: int = ARGO_MAX_BYTES,
    import_image: str = SKOPEO_IMAGE,
    index_image: str = IMAGETOOLS_IMAGE,
) -> str:
    """The plan as an Argo ``Workflow`` (or, past *max_bytes*, a ``List`` of
    ``WorkflowTemplate`` slices and the ``Workflow`` that runs them), as JSON.

    *parallelism* defaults to the plan's ``max_parallel``; *name* prefixes
    the objects' names; *image* is the builder image of the ``build`` template.

    A value the Workflow cannot pass as it is raises
    :class:`~imagegraph.ImageGraphError` naming the build and the field: a
    build argument holding a line break (the template reads one a line), a
    platform holding a comma, any value holding ``{{`` (Argo evaluates it),
    or an inline Dockerfile holding a control character Argo's substitution
    cannot write in JSON (``\\x1b``, ``\\x07``, NUL; a tab, ``\\r`` and line
    breaks pass) or a lone surrogate.

    A build whose Dockerfile is inline (compose ``dockerfile_inline``, bake
    ``dockerfile-inline``) has ``dockerfile`` ``""`` and its text in
    ``dockerfile-inline``: the template writes it to a file of a temporary
    directory, the ``dockerfile`` local of the build.

    Paths are seen from where the plan's outputs run
    (:attr:`~imagegraph.RebuildPlan.root`): check the repository out at
    ``/workspace`` from there. A named context ``target:<build>`` is passed
    as that build's image (``docker-image://<its first tag>``, pushed by the
    task it waits for); a directory as a local context. An empty plan is a
    Workflow whose entrypoint does nothing (a ``suspend`` of 0 seconds).

    An image imported from an OCI layout (bashbrew's ``Builder:
    oci-import``) is a task of an ``import`` template (image *import_image*)
    that runs ``skopeo copy --all oci:<layout> docker://<tag>`` for each tag,
    never a build; a layout directory Argo cannot pass is refused like an
    inline Dockerfile. A tag several builds produce
    (:attr:`~imagegraph.RebuildPlan.shared`) is a task ``index-<tag>`` of an
    ``index`` template (image *index_image*) that waits for those builds
    and runs ``docker buildx imagetools create -t <tag> <source>...``; the
    builds push their own tags and sources, and the builds that use the tag
    wait for it. In a ``List``, a wave's indexes are a slice of their own
    between that wave and the next. The two templates are written only in
    plans that use them.
    """
    if not len(plan):
        # A Workflow that does nothing: its entrypoint resumes at once, no pod runs.
        empty = _workflow(name, [], parallelism, image, kind="Workflow")
        empty["spec"]["templates"] = [{"name": "rebuild", "suspend": {"duration": "0"}}]
        return dumps(empty)
    if parallelism is None:
        parallelism = plan.max_parallel
    names = safe_names((p.build.name for p in plan), dns=True)
    keys = {shared.tag: f"index-{shared.tag.familiar}" for shared in plan.shared}
    index_names = safe_names(keys.values(), dns=True, reserved=names.values())
    waits: dict[str, list[str]] = {}
    for shared in plan.shared:
        for user in shared.users:
            waits.setdefault(user, []).append(index_names[keys[shared.tag]])
    by_name = {p.name: p.build for p in plan}
    extra: tuple[dict[str, Any], ...] = ()
    if any(p.build.imported for p in plan):
        extra += (_import_template(import_image),)
    if plan.shared:
        extra += (_index_template(index_image),)

    def index_task(shared: SharedTag, *, with_needs: bool) -> dict[str, Any]:
        return _index_task(
            shared, index_names[keys[shared.tag]], names, by_name[shared.planned[0]],
            with_needs=with_needs,
        )  # fmt: skip

    whole = _workflow(
        name,
        [_task(plan, p, names, with_needs=True, waits=waits) for p in plan]
        + [index_task(shared, with_needs=True) for shared in plan.shared],
        parallelism,
        image,
        kind="Workflow",
        extra=extra,
    )
    if _size(whole) <= max_bytes:
        return dumps(whole)
    items: list[dict[str, Any]] = []
    runners: list[dict[str, Any]] = []
    previous: list[str] = []
    digest = hashlib.sha256(
        "\n".join(" ".join(p.build.name for p in wave) for wave in plan.waves).encode(
            "utf-8",
            "surrogatepass",  # a name from a directory name that is not UTF-8
        )
    ).hexdigest()[:8]
    prefix = f"{name}-{digest}"
    longest = f"{prefix}-wave-{len(plan.waves)}-part-{len(plan)}"
    budget = max_bytes - _size(
        _workflow(longest, [], None, image, kind="WorkflowTemplate", extra=extra)
    )
    for index, wave in enumerate(plan.waves, start=1):
        slices: list[list[dict[str, Any]]] = [[]]
        used = 0
        for planned in wave:
            task = _task(plan, planned, names, with_needs=False)
            size = _size(task) + 2
            if slices[-1] and used + size > budget:
                slices.append([])
                used = 0
            slices[-1].append(task)
            used += size
        current = []
        for part, tasks in enumerate(slices, start=1):
            template = f"{prefix}-wave-{index}-part-{part}"
            # parallelism counts on the Workflow only: templateRef ignores a template's own.
            items.append(
                _workflow(template, tasks, None, image, kind="WorkflowTemplate", extra=extra)
            )
            runner: dict[str, Any] = {
                "name": f"wave-{index}-part-{part}",
                "templateRef": {"name": template, "template": "rebuild"},
            }
            if previous:
                runner["dependencies"] = previous
            runners.append(runner)
            current.append(runner["name"])
        previous = current
        indexes = [
            index_task(shared, with_needs=False)
            for shared in plan.shared
            if shared.wave == index - 1
        ]
        if indexes:  # after every slice of the wave, before the next wave
            template = f"{prefix}-wave-{index}-indexes"
            items.append(
                _workflow(template, indexes, None, image, kind="WorkflowTemplate", extra=extra)
            )
            runners.append(
                {
                    "name": f"wave-{index}-indexes",
                    "templateRef": {"name": template, "template": "rebuild"},
                    "dependencies": previous,
                }
            )
            previous = [f"wave-{index}-indexes"]
    main = _workflow(name, runners, None, image, kind="Workflow")
    main["spec"]["templates"] = main["spec"]["templates"][:1]  # the slices hold the builds
    if parallelism is not None:
        main["spec"]["parallelism"] = parallelism
    items.append(main)
    return dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=None)
