"""The package's shape (ARCHITECTURE.md, "Who may import what"), checked on every module's AST,
imports inside functions included: no import cycle between modules, bpy only where the UI and the
Blender adapters live, torch only in training code, and each folder importing only the folders
below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "emotive"
OUTSIDE = {"tests", "bench", "scripts", "demo", "docs", "wheels", "build", ".venv", ".git", ".ci"}
BLENDER = {"bpy", "bpy_extras", "mathutils", "addon_utils", "bl_math", "gpu", "blf"}

# folder (or module) -> folders (or modules) of the package it must never import
NEVER = {
    "rigs": ("pipeline", "rigs.blender", "ml", "operators", "panels", "headless", "properties", "preferences"),
    "ml": ("pipeline", "operators", "panels", "headless", "properties", "preferences", "rigs.blender"),
    "pipeline": ("rigs.blender", "operators", "panels", "headless", "properties", "preferences"),
    "rigs.blender": ("operators", "panels", "headless", "properties", "preferences", "ml.train_text",
                     "ml.train_expressions", "ml.evaluate_text", "ml.evaluate_expressions", "pipeline"),
    "operators": ("headless", "panels"),
    "headless": ("operators", "panels"),
    "panels": ("pipeline", "ml", "operators", "headless"),
}
# ...except these narrower modules (a leaf of names; the Take and key thinning the adapters write)
ALLOWED = {"rigs": ("ml.labels",), "rigs.blender": ("pipeline.take", "pipeline.keys")}
# modules that may import bpy (and mathutils, bpy_extras, ...)
BPY_ALLOWED = ("rigs.blender", "operators", "panels", "headless.commands", "headless.preview",
               "properties", "preferences", "__init__", "cli")
TORCH_ALLOWED = ("ml.train_", "ml.evaluate_", "ml.expression_model")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in OUTSIDE:
            continue
        found[module_name(path)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> tuple[set[str], set[str], set[str]]:
    """(package modules imported, outside top-level names imported, package imports that resolve to
    no module) by the module, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if name == "__init__":
        package = ""      # the package's own __init__.py
    else:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside, outside, unresolved = set(), set(), set()

    def resolve(base: str, names):
        for alias in names:
            candidate = f"{base}.{alias}" if base else alias
            if candidate in MODULES:
                inside.add(candidate)
            elif (base or "__init__") in MODULES:
                inside.add(base or "__init__")   # a name defined in that module
            else:
                unresolved.add(candidate)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == PACKAGE:
                    resolve("", [alias.name.partition(".")[2] or "__init__"])
                else:
                    outside.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = (node.module or "").split(".")[0]
                if top == PACKAGE:
                    resolve((node.module or "").partition(".")[2], [a.name for a in node.names])
                else:
                    outside.add(top)
                continue
            parts = package.split(".") if package else []
            parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
            base = ".".join(parts + ([node.module] if node.module else []))
            resolve(base, [a.name for a in node.names])
    return inside, outside, unresolved


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def packages_run(module: str) -> set[str]:
    """The package __init__ modules importing `module` runs first (pipeline.keys runs pipeline)."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES}


# What importing each module runs: its imports and the packages they sit in (except its own
# packages, which Python has started before it).
RUNS = {name: {m for target in inside for m in {target} | packages_run(target)} - packages_run(name)
        for name, (inside, _, _) in GRAPH.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt != node:
                visit(nxt)
        stack.pop()

    for name in sorted(graph):
        visit(name)
    return cycles


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def folder_of(name: str) -> str | None:
    for folder in sorted(NEVER, key=len, reverse=True):
        if within(name, folder):
            return folder
    return None


def test_the_walk_sees_the_package():
    """The checks below are only as good as the walk: it must find the layers and their edges."""
    assert {"rigs.blender.targets", "pipeline.take", "ml.metrics", "operators.take", "headless.commands"} <= set(MODULES)
    assert "rigs.blender.actions" in GRAPH["rigs.blender.targets"][0]
    assert "pipeline.take" in GRAPH["pipeline.text"][0]
    assert "bpy" in GRAPH["rigs.blender.actions"][1]
    assert "rigs.head_mesh" in GRAPH["pipeline.take"][0]  # an import inside a function counts


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycle():
    """Counting the package __init__ each import runs: a cycle through one is a cycle too."""
    cycles = find_cycles(RUNS)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_every_package_import_resolves():
    bad = sorted(f"{name}: {', '.join(sorted(unresolved))}" for name, (_, _, unresolved) in GRAPH.items()
                 if unresolved)
    assert not bad, "imports of package modules that do not exist:\n" + "\n".join(bad)


@pytest.mark.parametrize("folder", sorted(NEVER))
def test_folders_import_only_what_they_may(folder):
    bad = []
    for name, (inside, _, _) in GRAPH.items():
        if folder_of(name) != folder:
            continue
        for target in inside:
            if any(within(target, a) for a in ALLOWED.get(folder, ())):
                continue
            if any(within(target, n) for n in NEVER[folder]):
                bad.append(f"{name} -> {target}")
    assert not bad, f"{folder}/ imports what it must not:\n" + "\n".join(sorted(bad))


def test_bpy_only_where_blender_is():
    bad = sorted(name for name, (_, outside, _) in GRAPH.items()
                 if outside & BLENDER and not any(within(name, a) for a in BPY_ALLOWED))
    assert not bad, f"bpy imported outside rigs/blender, operators, panels and headless' Blender side: {bad}"


def test_torch_only_in_training_code():
    bad = sorted(name for name, (_, outside, _) in GRAPH.items()
                 if "torch" in outside and not name.startswith(TORCH_ALLOWED))
    assert not bad, f"torch imported by run-time modules: {bad}"


def test_no_blender_adapters_left_flat_in_rigs():
    assert not sorted(p.name for p in (ROOT / "rigs").glob("blender_*.py"))
