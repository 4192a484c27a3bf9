"""HTML for notebooks: a graph, an impact, a plan or a package listing, summarised.

Jupyter shows these through the objects' ``_repr_html_``. The output is
well-formed (every element closed, only XML's entities), every text in it
is escaped, there is no script, and the only inline styles are left
alignment and a muted tone, so it reads in light and dark themes alike.

Tables stop after :data:`ROWS` rows per section and say how many more there
are, pointing to ``.to_pandas()``: a plan of 43,000 builds renders in a few
milliseconds and a few kilobytes. External images are shown as people write
them (``debian:bookworm``), builds by name, chains with ``→``, as the
command line's table does.

These functions format what the objects hold; the only things they work out
are counts (and, for a graph, how many images sit on the external images
it shows).

An image imported from an OCI layout (bashbrew's ``Builder: oci-import``) is
counted in a graph's facts and marked ``(imported from OCI layout)`` in a
plan's waves; without imports, neither line nor mark is there.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import posixpath
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from imagegraph._pickling import paused_gc
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.layers import foundations
from imagegraph.render._names import IMPORTED, familiar
from imagegraph.render._xml import xml_escape

if TYPE_CHECKING:
    from imagegraph.findings import Findings
    from imagegraph.graph import Edge, ImageGraph
    from imagegraph.image_packages import ImagePackage
    from imagegraph.impact import Impact
    from imagegraph.plan import PlannedBuild, RebuildPlan
    from imagegraph.stale import StaleReport

__all__ = [
    "ROWS",
    "findings_html",
    "graph_html",
    "impact_html",
    "packages_html",
    "plan_html",
    "stale_html",
]

ROWS = 50
"""At most this many rows per table; the rest are counted, not shown."""
_FEW = 10
"""Rows for secondary sections (diagnostics, external images, matches of a change)."""
_PLAN_WAVES = 20
"""Waves shown with their builds when a plan has more than :data:`ROWS` builds."""

_CELL = ' style="text-align:left;vertical-align:top"'
_MUTED = ' style="opacity:0.7"'


def _e(value: object) -> str:
    """*value* as text for XML content or a quoted attribute: escaped, and
    each character XML cannot hold (a form feed in a build's name) shown as �."""
    return xml_escape(str(value))


def _count(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _muted(text: str) -> str:
    return f"<span{_MUTED}>{_e(text)}</span>"


def _title(text: str, detail: str = "", sep: str = " ") -> str:
    """A heading line: *text* in bold, then *detail* (already in HTML)."""
    tail = f"{sep}{detail}" if detail else ""
    return f"<p><strong>{_e(text)}</strong>{tail}</p>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of cells already in HTML."""
    head = "".join(f"<th{_CELL}>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{_CELL}>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of label and value (the value already in HTML)."""
    body = "".join(f"<tr><th{_CELL}>{_e(k)}</th><td{_CELL}>{v}</td></tr>" for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _more(hidden: int, what: str, hint: str = "use .to_pandas()") -> str:
    if hidden <= 0:
        return ""
    return f"<p{_MUTED}>… {_e(what)} not shown: {hidden:,}; {_e(hint)}</p>"


def _names(nodes: Sequence[str], limit: int = _FEW) -> str:
    shown = ", ".join(_e(familiar(n)) for n in nodes[:limit])
    if len(nodes) > limit:
        shown += f" {_muted(f'… and {len(nodes) - limit:,} more')}"
    return shown or _muted("nothing")


def _wrap(parts: Iterable[str]) -> str:
    return '<div class="imagegraph">' + "".join(parts) + "</div>"


def _diagnostics(diagnostics: Sequence[Diagnostic], hint: str) -> str:
    if not diagnostics:
        return ""
    ranked = heapq.nsmallest(_FEW, diagnostics, key=lambda d: d.severity.rank)  # stable
    rows = [
        [
            _e(d.severity.value),
            _e(d.code),
            _e(f"{d.path}:{d.line}" if d.path and d.line is not None else d.path or ""),
            _e(d.message),
        ]
        for d in ranked
    ]
    opened = ' open="open"' if any(d.severity is Severity.ERROR for d in diagnostics) else ""
    return (
        f"<details{opened}><summary>Diagnostics: {_e(_severities(diagnostics))}</summary>"
        + _table(["severity", "code", "where", "message"], rows)
        + _more(len(diagnostics) - len(ranked), "diagnostics", hint)
        + "</details>"
    )


def _severity_count(count: int, severity: str) -> str:
    """``1 error``, ``2 errors``, ``2 info``: info is uncountable."""
    return _count(count, severity, "info" if severity == Severity.INFO.value else None)


def _severities(diagnostics: Sequence[Diagnostic]) -> str:
    counts = Counter(d.severity for d in diagnostics)
    return ", ".join(_severity_count(counts[s], s.value) for s in Severity)


# -- the graph --------------------------------------------------------------


def _images_below(externals: Iterable[str], succ: Mapping[str, Mapping[str, Any]]) -> list[int]:
    """How many images sit on each of *externals*, however indirectly: its
    descendants, counted exactly by one breadth-first walk each (linear in
    the part of the graph it reaches)."""
    counts = []
    for node in externals:
        seen = {node}
        frontier: Iterable[str] = (node,)
        while frontier:
            reached: set[str] = set()
            for each in frontier:
                reached.update(succ[each])
            reached -= seen
            seen |= reached
            frontier = reached
        counts.append(len(seen) - 1)
    return counts


def _built_on(graph: ImageGraph, externals: Sequence[str]) -> list[int]:
    """For each external image, the images on it that linear time can tell:
    those whose base chain (``FROM``, followed through the fleet's builds)
    ends in it, and those that use it directly otherwise. A lower bound of
    the images on it, which leaves out those that reach it only through
    another image that copies or mounts from it (an app ``FROM`` a base that
    copies from a tool, for the tool)."""
    succ: Mapping[str, Mapping[str, Any]] = graph._graph._succ  # type: ignore[attr-defined]
    found = foundations(graph)
    on_chain = Counter(found.values())
    return [
        on_chain[node] - 1 + sum(1 for child in succ[node] if found[child] != node)
        for node in externals
    ]


@paused_gc()
def _summary(graph: ImageGraph) -> tuple[int, list[tuple[str, int, int]], Counter[str], int]:
    """How many external images there are and the :data:`_FEW` most built on
    (each with the builds using it directly and the images on it), uses by
    kind and parent-child pairs: worked out once per graph (a graph does not
    change).

    Counting the images on every external image would be quadratic (the
    images reachable from each), so they are ranked by :func:`_built_on`,
    which is linear, and only those shown are counted exactly.
    """
    key = ("", "html-summary-most-built-on")
    cached: tuple[int, list[tuple[str, int, int]], Counter[str], int] | None = graph._cache.get(key)
    if cached is None:
        nx_graph = graph._graph
        data_of: Mapping[str, Mapping[str, Any]] = nx_graph._node  # type: ignore[attr-defined]
        succ: Mapping[str, Mapping[str, Any]] = nx_graph._succ  # type: ignore[attr-defined]
        externals = [node for node, data in data_of.items() if data["kind"] == "external"]
        # Every use of every edge, counted by kind without a Python loop per use.
        datas: Iterable[Mapping[str, Any]] = itertools.chain.from_iterable(
            children.values() for children in succ.values()
        )
        uses: Iterable[Edge] = itertools.chain.from_iterable(
            map(operator.itemgetter("uses"), datas)
        )
        kinds: Counter[str] = Counter(map(operator.attrgetter("kind"), uses))
        pairs = sum(len(children) for children in succ.values())
        top: list[tuple[str, int, int]] = []
        if externals:
            built_on = _built_on(graph, externals)
            picked = heapq.nsmallest(
                _FEW,
                range(len(externals)),
                key=lambda i: (-built_on[i], -len(succ[externals[i]]), externals[i]),
            )
            chosen = [externals[i] for i in picked]
            top = sorted(
                (
                    (node, len(succ[node]), below)
                    for node, below in zip(chosen, _images_below(chosen, succ), strict=True)
                ),
                key=lambda row: (-row[2], -row[1], row[0]),
            )
        cached = graph._cache[key] = (len(externals), top, kinds, pairs)
    return cached


def _imported_count(graph: ImageGraph) -> int:
    """How many builds are imported from an OCI layout: counted once per graph
    (a loop over 160,000 builds would be most of a notebook's redraw)."""
    key = ("", "html-imported-count")
    count: int | None = graph._cache.get(key)
    if count is None:
        count = graph._cache[key] = sum(1 for build in graph.builds if build.imported)
    return count


def graph_html(graph: ImageGraph) -> str:
    """Counts of builds (and of those imported from an OCI layout, when there
    are any), external images, edges by kind and diagnostics by severity; the
    external images most built on (ranked by :func:`_built_on`, each with
    exactly how many images sit on it); undetermined builds; the first
    diagnostics."""
    externals, top, kinds, pairs = _summary(graph)
    uses = ", ".join(f"{kinds[k]:,} {k}" for k in ("from", "copy", "mount", "context") if kinds[k])
    inventory = graph.inventory
    sources = ", ".join(inventory.sources) or "convention"
    imported = _imported_count(graph)
    facts = [
        ("builds", f"{len(graph.builds):,}"),
        *([("imported", _e(f"{imported:,} of them from OCI layouts"))] if imported else []),
        ("external images", f"{externals:,}"),
        ("edges", f"{pairs:,}" + (f" {_muted(f'({uses} uses)')}" if uses else "")),
        ("undetermined", f"{len(graph.undetermined):,}"),
        ("diagnostics", _e(_severities(graph.diagnostics))),
        ("declared in", _e(sources)),
    ]
    # The directory's name, not its path: a notebook's saved output must not
    # carry a path of the machine it ran on.
    shown = posixpath.basename(inventory.root.replace("\\", "/").rstrip("/")) or inventory.root
    parts = [_title("ImageGraph", f"<code>{_e(shown)}</code>"), _facts(facts)]
    if top:
        rows = [[_e(familiar(node)), f"{direct:,}", f"{below:,}"] for node, direct, below in top]
        parts += [
            _title("Most built-on external images"),
            _table(["image", "used directly by", "images on it"], rows),
            _more(externals - len(rows), "external images", "see graph.external_bases()"),
        ]
    if graph.undetermined:
        items = list(graph.undetermined.items())
        parts += [
            _title(f"Undetermined: {len(items):,}", _muted("(a parent could not be resolved)")),
            _table(
                ["build", "unresolved parent"],
                [[_e(build), _e(", ".join(texts))] for build, texts in items[:_FEW]],
            ),
            _more(len(items) - _FEW, "builds", "see graph.undetermined"),
        ]
    parts.append(_diagnostics(graph.diagnostics, "see graph.diagnostics"))
    parts.append(f"<p{_MUTED}>graph.to_pandas() gives every node and edge as DataFrames.</p>")
    return _wrap(parts)


# -- impact and plan ----------------------------------------------------------


def _because(chain: tuple[Edge, ...], cause: tuple[str, ...]) -> str:
    """Why a build is in, as the plan's table says it: the chain through its parents
    (for a plan, the one that sets its wave), then what the change found (files,
    packages; one found where the chain starts follows it without ``via``)."""
    lines = []
    via = None
    if chain:
        root = familiar(chain[0].parent)
        lines.append(" → ".join([root, *(edge.child for edge in chain[:-1])]))
        via = f"via {root}: "
    lines += [c[len(via) :] if via and c.startswith(via) else c for c in cause]
    if not lines:
        return _muted("changed")
    return "<br/>".join(_e(line) for line in lines)


def _changes_table(changes: Sequence[str], matched: Mapping[str, tuple[str, ...]]) -> str:
    rows = [[_e(change), _names(matched.get(change, ()))] for change in changes[:ROWS]]
    return _table(["change", "matches"], rows) + _more(len(changes) - ROWS, "changes")


def _listing(
    title: str, detail: str, headers: list[str], items: Mapping[str, Sequence[str]]
) -> str:
    if not items:
        return ""
    shown = list(items.items())[:ROWS]
    rows = [[_e(familiar(image)), "<br/>".join(_e(t) for t in texts)] for image, texts in shown]
    return (
        _title(title, _muted(detail))
        + _table(headers, rows)
        + _more(len(items) - len(shown), "images")
    )


def _side_sections(impact: Impact) -> list[str]:
    return [
        _listing(
            f"Possibly affected: {len(impact.possibly):,}",
            "(a changed package of unknown version; not rebuilt unless include_unknown)",
            ["image", "why"],
            impact.possibly,
        ),
        _listing(
            f"Undetermined: {len(impact.undetermined):,}",
            "(a parent could not be resolved; the change may reach them)",
            ["build", "unresolved parent"],
            impact.undetermined,
        ),
    ]


def impact_html(impact: Impact) -> str:
    """The changes and what each matched, the counts, the affected builds with
    the chain that reaches each, and the possibly affected and undetermined ones."""
    from imagegraph.impact import _changes_text

    reasons = impact.reasons
    external = sum(1 for node in impact.changed if node not in reasons)
    externals = _muted(f"({_count(external, 'external image')})") if external else ""
    facts = [
        ("to rebuild", f"{len(impact.affected):,}"),
        ("changed", f"{len(impact.changed):,} {externals}".rstrip()),
        ("possibly affected", f"{len(impact.possibly):,}"),
        ("undetermined", f"{len(impact.undetermined):,}"),
    ]
    if impact.diagnostics:
        facts.append(("diagnostics", _e(_severities(impact.diagnostics))))
    shown = impact.affected[:ROWS]
    rows = [
        [
            _e(build),
            _because(reasons[build], tuple(impact.causes.get(build, ()))),
        ]
        for build in shown
    ]
    parts = [
        _title("Impact", f"of {_e(_changes_text(impact.changes))}"),
        _facts(facts),
        _changes_table(impact.changes, impact.matched),
    ]
    if impact.affected:
        parts += [
            _title(f"To rebuild: {len(impact.affected):,}"),
            _table(["build", "because of"], rows),
            _more(len(impact.affected) - len(shown), "builds"),
        ]
    parts += _side_sections(impact)
    parts.append(_diagnostics(impact.diagnostics, "see impact.diagnostics"))
    return _wrap(parts)


def _wave_rows(plan: RebuildPlan) -> tuple[str, int]:
    """The body of the waves table, one ``<tbody>`` per wave, and the waves left out.

    Every build is shown when the plan has at most :data:`ROWS`; otherwise
    the first :data:`_PLAN_WAVES` waves show their first few builds each."""
    waves = plan.waves
    if len(plan) <= ROWS:
        shown_waves, per_wave = len(waves), ROWS
    else:
        shown_waves = min(len(waves), _PLAN_WAVES)
        per_wave = max(3, ROWS // shown_waves)
    everything = plan.changes is None
    bodies = []
    for number, wave in enumerate(waves[:shown_waves], start=1):
        shown: Sequence[PlannedBuild] = wave[:per_wave]
        hidden = len(wave) - len(shown)
        span = len(shown) + (1 if hidden else 0)
        label = f"{number:,}<br/>{_muted(_count(len(wave), 'build'))}"
        rows = []
        for position, planned in enumerate(shown):
            if everything:
                why = "<br/>".join(_e(tag.familiar) for tag in planned.build.tags)
            else:
                why = _because(planned.wave_reason or planned.reason, planned.cause)
            first = f'<td rowspan="{span}"{_CELL}>{label}</td>' if position == 0 else ""
            name = _e(planned.name)
            if planned.build.imported:
                name += f" {_muted(f'({IMPORTED})')}"
            rows.append(f"<tr>{first}<td{_CELL}>{name}</td><td{_CELL}>{why}</td></tr>")
        if hidden:
            rows.append(
                f'<tr><td colspan="2"{_CELL}>{_muted(f"… and {hidden:,} more in wave {number:,}")}'
                "</td></tr>"
            )
        bodies.append("<tbody>" + "".join(rows) + "</tbody>")
    return "".join(bodies), len(waves) - shown_waves


def _seconds(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.3g}s"


def plan_html(plan: RebuildPlan) -> str:
    """The builds and waves, the changes, a table of the waves with each
    build (an image imported from an OCI layout marked so) and why it is in,
    the schedule when there is one, the possibly affected and undetermined
    images, and the diagnostics."""
    from imagegraph.impact import _changes_text

    title = (
        "Rebuild everything"
        if plan.changes is None
        else f"Rebuild after {_changes_text(plan.changes)}"
    )
    detail = f"{_count(len(plan), 'build')} in {_count(len(plan.waves), 'wave')}"
    if plan.max_parallel is not None:
        detail += f", at most {plan.max_parallel:,} per wave"
    parts = [_title(title, _e(detail), sep=": ")]
    impact = plan.impact
    if impact is not None:
        parts.append(_changes_table(impact.changes, impact.matched))
    if plan.waves:
        body, hidden_waves = _wave_rows(plan)
        headers = ["wave", "build", "tags" if plan.changes is None else "because of"]
        head = "".join(f"<th{_CELL}>{_e(h)}</th>" for h in headers)
        parts.append(f"<table><thead><tr>{head}</tr></thead>{body}</table>")
        if hidden_waves:
            rest = sum(len(wave) for wave in plan.waves[-hidden_waves:])
            parts.append(
                _more(hidden_waves, f"waves with {_count(rest, 'build')}", "use .to_pandas()")
            )
        elif len(plan) > ROWS:
            parts.append(f"<p{_MUTED}>Every build, with its reason: plan.to_pandas()</p>")
    schedule = plan.schedule
    if schedule is not None:
        path = [familiar(node) for node in schedule.critical_path]
        shown_path = " → ".join(path[:_FEW]) + (
            f" → … ({len(path) - _FEW:,} more)" if len(path) > _FEW else ""
        )
        parts += [
            _title("Schedule", f"on {_count(schedule.workers, 'worker')}"),
            _facts(
                [
                    ("makespan", _e(_seconds(schedule.makespan_seconds))),
                    ("lower bound", _e(_seconds(schedule.lower_bound_seconds))),
                    (
                        "critical path",
                        f"{_e(_seconds(schedule.critical_seconds))}: {_e(shown_path)}",
                    ),
                    ("total build time", _e(_seconds(schedule.total_seconds))),
                    (
                        "estimated",
                        _e(_count(len(schedule.estimated), "build") + " without a duration")
                        + f" {_muted('(given the median of the known ones)')}",
                    ),
                ]
            ),
        ]
    if impact is not None:
        parts += _side_sections(impact)
    parts.append(_diagnostics(plan.diagnostics, "see plan.diagnostics"))
    return _wrap(parts)


# -- packages -----------------------------------------------------------------


def _version(package: ImagePackage) -> str:
    if package.version is not None:
        return _e(package.version)
    if package.constraint is not None:
        return _muted(package.constraint)
    return _muted("not known")


def packages_html(packages: Sequence[ImagePackage], image: str | None = None) -> str:
    """A table of an image's packages: name, version, ecosystem, source,
    where, and the image each inherited one comes from."""
    if image is None:
        image = getattr(packages, "image", None)
    inherited = sum(1 for p in packages if p.inherited_from is not None)
    detail = (
        f"{_count(len(packages), 'package')}, {len(packages) - inherited:,} own, "
        f"{inherited:,} inherited"
    )
    shown = packages[:ROWS]
    rows = [
        [
            _e(p.name),
            _version(p),
            _e(p.ecosystem),
            _e(p.source),
            _e(p.where),
            _e(familiar(p.inherited_from)) if p.inherited_from is not None else _muted("own"),
        ]
        for p in shown
    ]
    title = f"Packages of {familiar(image)}" if image is not None else "Packages"
    parts = [_title(title, _e(detail), sep=": ")]
    if packages:
        parts += [
            _table(["name", "version", "ecosystem", "source", "where", "inherited from"], rows),
            _more(len(packages) - len(shown), "packages"),
        ]
    return _wrap(parts)


def findings_html(findings: Findings) -> str:
    """The hygiene findings as a table: severity, code, image, where, and what to do."""
    counts = findings.counts()
    detail = ", ".join(_severity_count(n, s) for s, n in counts.items() if n) or "none"
    shown = findings[:ROWS]
    rows = [
        [
            _e(f.severity.value),
            _e(f.code),
            _e(f.image) if f.image is not None else _muted("-"),
            _e(f.where) if f.path is not None else _muted("-"),
            _e(f.message),
        ]
        for f in shown
    ]
    parts = [_title("Findings", _e(detail), sep=": ")]
    if findings:
        parts += [
            _table(["severity", "code", "image", "where", "what to do"], rows),
            _more(len(findings) - len(shown), "findings"),
        ]
    return _wrap(parts)


# -- freshness ----------------------------------------------------------------


def _digest_cell(digest: str | None) -> str:
    return _e(digest.partition(":")[2][:12]) if digest else _muted("?")


def stale_html(report: StaleReport) -> str:
    """The counts, then every entry that is not fresh (stale, missing, unknown) with
    its base, the base's digest then and now, since when, and why."""
    counts = [
        (status, len(entries))
        for status, entries in (
            ("stale", report.stale), ("missing", report.missing),
            ("unknown", report.unknown), ("fresh", report.fresh),
        )
    ]  # fmt: skip
    facts = [(status, f"{count:,}") for status, count in counts]
    if report.diagnostics:
        facts.append(("diagnostics", _e(_severities(report.diagnostics))))
    shown = [e for e in report.entries if e.status != "fresh"]
    rows = [
        [
            _e(e.image),
            _e(familiar(e.tag)),
            _e(e.platform) if e.platform else _muted("-"),
            _e(e.status),
            _e(familiar(e.base)) if e.base else _muted("-"),
            f"{_digest_cell(e.old_digest)} → {_digest_cell(e.new_digest)}"
            if e.status == "stale"
            else "",
            _e(e.since or ""),
            _e(e.reason + (f" [{e.code}]" if e.code else "")),
        ]
        for e in shown[:ROWS]
    ]
    parts = [_title("Freshness", _e(f"of {len(report.entries):,} images")), _facts(facts)]
    if shown:
        parts += [
            _table(
                ["image", "tag", "platform", "status", "base", "base then → now", "since", "why"],
                rows,
            ),
            _more(len(shown) - ROWS, "entries", "see report.entries"),
        ]
    parts.append(_diagnostics(report.diagnostics, "see report.diagnostics"))
    return _wrap(parts)
