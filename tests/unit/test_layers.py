"""Which way imports go (docs/architecture.md), read from the code with ast:
every import, at module level or inside a function, counts."""

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("stacklab", "topologies", "controller")
# what only builds a lab or talks to its user: the layers below never import it
ABOVE_THE_CORE = ("topologies", "stacklab.cli", "stacklab.console", "stacklab.runner")
CORE = ("stacklab.runtime", "stacklab.observe", "stacklab.scenario", "stacklab.checks")


def module_files(root=ROOT):
    """{module name: path} of the project's packages."""
    out = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(root, package)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    name = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                    out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def imports_of(source, module, is_package, known):
    """The project's modules that `source` (module `module`) imports anywhere in it."""
    def resolve(name):
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(resolve(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                # `from pkg import mod` imports the module; `from mod import name`, mod
                found.add(base + "." + alias.name if base + "." + alias.name in known else resolve(base))
    found.discard(None)
    found.discard(module)
    return found


def import_graph(root=ROOT):
    files = module_files(root)
    graph = {}
    for name, path in files.items():
        with open(path) as f:
            graph[name] = imports_of(f.read(), name, path.endswith("__init__.py"), files)
    return graph


def circles(graph):
    """Every import circle, each as the modules around it (Tarjan's strongly
    connected components of more than one module)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def within(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def crossings(graph, importers, forbidden):
    """["a -> b"] where a module under `importers` imports one under `forbidden`."""
    return sorted("%s -> %s" % (m, t) for m, targets in graph.items() if within(m, importers)
                  for t in targets if within(t, forbidden))


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_every_kind_of_import():
    known = {"a", "a.b", "a.b.c", "a.d"}
    source = ("import a.b.c\nfrom a import d\nfrom .c import thing\n"
              "def later():\n    from a.b import c\n    import os\n")
    assert imports_of(source, "a.b.x", False, known) == {"a.b.c", "a.d"}
    assert imports_of("from . import d\n", "a", True, known) == {"a.d"}


def test_circles_are_found_however_long():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles(graph):
    found = circles(graph)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_controller_imports_only_itself(graph):
    """The OpenFlow apps run on their own: os-ken and controller/, nothing of the lab."""
    assert crossings(graph, ("controller",), ("stacklab", "topologies")) == []


def test_the_core_imports_nothing_that_builds_or_talks(graph):
    """A lab's record, looking into it, the scenario and the checks work
    without the Mininet side and without the CLI."""
    assert crossings(graph, CORE, ABOVE_THE_CORE) == []


def test_the_builder_imports_no_interface(graph):
    """topologies/ is handed what it needs; it never reaches up to the CLI or the runner."""
    assert crossings(graph, ("topologies",), ("stacklab.cli", "stacklab.console", "stacklab.runner",
                                               "stacklab.checks", "stacklab.exercises")) == []


def test_the_rules_fail_when_broken():
    broken = {"controller.x": {"stacklab.naming"}, "stacklab.observe.walk": {"topologies.lab"},
              "topologies.lab": {"stacklab.runner"}}
    assert crossings(broken, ("controller",), ("stacklab", "topologies")) == ["controller.x -> stacklab.naming"]
    assert crossings(broken, CORE, ABOVE_THE_CORE) == ["stacklab.observe.walk -> topologies.lab"]


# Running `stacklab down` and `status` must not need what builds or checks a
# lab: they work on a machine where a lab's scenario no longer loads, and fast.
LIGHT = """
import json, os, sys
os.geteuid = lambda: 0          # down asks for root; this lab's record is the test's own
from stacklab.cli import main
from stacklab.runtime.state import LabState
lab = LabState.create("layers", "layers.yaml")
lab.phase = "up"
lab.save()
codes = [main(["status"]), main(["status", "layers"]), main(["down", "layers"])]
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""
HEAVY = ("stacklab.scenario.loader", "stacklab.checks", "topologies", "mininet", "scapy", "os_ken")


def test_down_and_status_import_no_loader_checks_or_mininet(tmp_path):
    env = dict(os.environ, STACKLAB_RUN_DIR=str(tmp_path / "run"), PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", LIGHT], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0], done.stdout
    assert not (tmp_path / "run" / "layers").exists()
    heavy = [m for m in result["modules"] if within(m, HEAVY)]
    assert heavy == [], "down and status imported %s" % ", ".join(heavy)
