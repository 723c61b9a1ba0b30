"""No import cycle anywhere in ``nagara``: every module reads, and imports, after the ones it uses.

The layers themselves (which package may import which) are the import-linter contract in
pyproject.toml, run by ``make lint``; a cycle inside one package is allowed by that contract, so
this test looks for cycles between modules. Imports inside functions count: they still tie the
modules together, only later.
"""

from __future__ import annotations

import grimp
import pytest


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """The shortest cycle through each import that has one, each cycle once, starting at its first module by name."""
    cycles: set[tuple[str, ...]] = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            ring = (importer, *back[:-1])  # back ends where it began, at the importer
            start = ring.index(min(ring))
            cycles.add(ring[start:] + ring[:start])
    return sorted(cycles, key=lambda ring: (len(ring), ring))


def describe(graph: grimp.ImportGraph, ring: tuple[str, ...]) -> str:
    """``a:12 -> b:3,40 -> a``: each module with the lines where it imports the next."""
    steps = []
    for importer, imported in zip(ring, (*ring[1:], ring[0]), strict=True):
        lines = sorted({int(d["line_number"]) for d in graph.get_import_details(importer=importer, imported=imported)})
        steps.append(f"{importer}:{','.join(map(str, lines))}")
    return " -> ".join([*steps, ring[0]])


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("nagara", cache_dir=None)
    if cycles := import_cycles(graph):
        pytest.fail(f"{len(cycles)} import cycle(s):\n" + "\n".join(describe(graph, ring) for ring in cycles), pytrace=False)


def test_a_cycle_is_found_however_long_and_reported_once() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.e", "p.f"), ("p.f", "p.e")]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert import_cycles(graph) == [("p.e", "p.f"), ("p.a", "p.b", "p.c")]
    assert describe(graph, ("p.e", "p.f")) == "p.e:1 -> p.f:1 -> p.e"
    graph.remove_import(importer="p.c", imported="p.a")
    assert import_cycles(graph) == [("p.e", "p.f")]
