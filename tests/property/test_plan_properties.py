"""Properties of graphs, impacts and plans on random fleets.

A plan contains exactly the builds a change reaches (soundness and
minimality), each in a later wave than every planned parent; the same fleet
gives byte-identical JSON whatever order its builds are declared in; a
fleet with a loop raises GraphCycleError naming a real loop.
"""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import GraphCycleError, UnknownImage
from imagegraph.render.plan import to_json

from ..fleets import make_graph

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXTERNALS = ["debian:12", "debian:11", "alpine:3.20", "ghcr.io/acme/tool:1", "busybox"]


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random acyclic fleet: build ``bI`` may use any earlier build and any external."""
    size = draw(st.integers(1, 25))
    spec: dict[str, list[str]] = {}
    for index in range(size):
        earlier = [f"b{j}" for j in range(index)]
        choices = st.sampled_from(earlier + EXTERNALS) if earlier else st.sampled_from(EXTERNALS)
        parents = draw(st.lists(choices, max_size=3, unique=True))
        kinds = draw(
            st.lists(
                st.sampled_from(["", "copy:", "mount:"]),
                min_size=len(parents),
                max_size=len(parents),
            )
        )
        spec[f"b{index}"] = [kind + parent for kind, parent in zip(kinds, parents, strict=True)]
    return spec


def shuffled(spec: dict[str, list[str]], order: list[int]) -> dict[str, list[str]]:
    names = list(spec)
    permutation = sorted(
        range(len(names)), key=lambda i: (order[i % len(order)] if order else 0, i)
    )
    return {names[i]: spec[names[i]] for i in permutation}


def known(spec: dict[str, list[str]]) -> set[str]:
    """The names a change may give: the builds and the images they use."""
    return set(spec) | {
        p.partition(":")[2] if p.startswith(("copy:", "mount:")) else p
        for ps in spec.values()
        for p in ps
    }


def expected_affected(spec: dict[str, list[str]], changes: list[str]) -> set[str]:
    """Reachability computed independently of imagegraph, on the spec itself."""
    reference = nx.DiGraph()
    for name, parents in spec.items():
        reference.add_node(name)
        for parent in parents:
            reference.add_edge(
                parent.partition(":")[2] if parent.startswith(("copy:", "mount:")) else parent, name
            )
    affected: set[str] = set()
    for change in changes:
        if change not in reference:
            continue
        if change in spec:
            affected.add(change)
        affected |= {n for n in nx.descendants(reference, change) if n in spec}
    return affected


@SETTINGS
@given(fleets(), st.data())
def test_plan_is_sound_and_minimal(spec: dict[str, list[str]], data: st.DataObject) -> None:
    graph = make_graph(spec)
    changes = data.draw(st.lists(st.sampled_from(list(spec) + EXTERNALS), max_size=3, unique=True))
    if not set(changes) <= known(spec):
        # An image the fleet neither builds nor uses: a typo, never "nothing to rebuild".
        with pytest.raises(UnknownImage):
            graph.plan(changes)
        return
    plan = graph.plan(changes)
    planned = [p.name for p in plan]
    assert len(planned) == len(set(planned)), "no build twice"
    assert set(planned) == expected_affected(spec, changes)
    wave_of = {p.name: p.wave for p in plan}
    for p in plan:
        for parent in graph.parents(p.name):
            if parent in wave_of:
                assert wave_of[parent] < p.wave, f"{parent} must come before {p.name}"
                assert parent in p.needs
        assert set(p.needs) <= set(wave_of)
    # Waves are as early as possible: each build has a planned parent in the wave before.
    for p in plan:
        if p.wave > 0:
            assert any(wave_of[n] == p.wave - 1 for n in p.needs)


@SETTINGS
@given(fleets(), st.integers(1, 4))
def test_max_parallel_keeps_the_order_and_the_builds(
    spec: dict[str, list[str]], limit: int
) -> None:
    graph = make_graph(spec)
    whole, split = graph.plan(), graph.plan(max_parallel=limit)
    assert sorted(p.name for p in split) == sorted(p.name for p in whole)
    assert all(len(wave) <= limit for wave in split.waves)
    position = {p.name: i for i, p in enumerate(split)}
    for p in split:
        assert all(position[parent] < position[p.name] for parent in p.needs)


@SETTINGS
@given(fleets(), st.lists(st.integers(0, 100), max_size=25), st.data())
def test_same_fleet_same_bytes(
    spec: dict[str, list[str]], order: list[int], data: st.DataObject
) -> None:
    changes = data.draw(st.lists(st.sampled_from(sorted(known(spec))), max_size=2, unique=True))
    first = to_json(make_graph(spec).plan(changes))
    again = to_json(make_graph(spec).plan(changes))
    reordered = to_json(make_graph(shuffled(spec, order)).plan(changes))
    assert first == again == reordered


@SETTINGS
@given(fleets(), st.data())
def test_a_loop_is_always_found(spec: dict[str, list[str]], data: st.DataObject) -> None:
    names = list(spec)
    if len(names) < 1:
        return
    # Make an early build use a later one that (directly or not) uses it, or itself.
    graph = make_graph(spec)
    late = data.draw(st.sampled_from(names))
    ancestors = [a for a in graph.ancestors(late) if a in spec] + [late]
    early = data.draw(st.sampled_from(ancestors))
    looped = {**spec, early: [*spec[early], late]}
    with pytest.raises(GraphCycleError) as caught:
        make_graph(looped)
    cycle = caught.value.cycle
    assert cycle, "the error carries the loop"
    for edge, following in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        assert edge.child == following.parent
        assert edge.parent in looped[edge.child] or any(
            p.partition(":")[2] == edge.parent for p in looped[edge.child]
        )
