"""The layering of the package, checked on its source (every import, also inside functions):

    backend, threads, denormals, allocator
                      <-  nn, losses, optim, kernels, gradcheck, checkpoint
                      <-  train, data, models, monitor, testing
                      <-  runner, runlog, parallel, report, plots  <-  examples

A module may import from its own layer and the layers below it, never from above. CuPy is
imported by the backend alone, and nothing in the package refers to the examples or the
benchmarks.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinynet"
LAYERS = [
    {"__init__", "backend", "threads", "denormals", "allocator"},
    {"nn", "losses", "optim", "kernels", "gradcheck", "checkpoint"},
    {"train", "data", "models", "monitor", "testing", "exercises"},
    {"runner", "runlog", "parallel", "report", "plots"},
]


def layer_of(module: str) -> int:
    """The layer of ``tinynet.<name>...`` (by its first component below tinynet)."""
    name = module.split(".")[1] if "." in module else "__init__"
    for index, names in enumerate(LAYERS):
        if name in names:
            return index
    raise AssertionError(f"tinynet.{name} is in no layer: add it to LAYERS in {__file__}")


def imports(path: Path):
    """(line, imported module) of every import statement in a file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from ((node.lineno, name) for name in names)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts)


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_layer_above_its_own(path):
    own = layer_of(module_name(path))
    for line, imported in imports(path):
        if imported == "tinynet" or not imported.startswith("tinynet."):
            continue
        assert layer_of(imported) <= own, (
            f"{path.relative_to(ROOT)}:{line} imports {imported} (layer {layer_of(imported)}) "
            f"from layer {own}")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_backend_imports_cupy_and_nothing_names_examples_or_benchmarks(path):
    if path.name != "backend.py":
        for line, imported in imports(path):
            assert imported.split(".")[0] not in ("cupy", "cupyx"), f"{path}:{line}"
    text = path.read_text()
    for name in ("examples", "benchmarks"):
        for line in (n for n, src in enumerate(text.splitlines(), 1)
                     if f"{name}/" in src or f"import {name}" in src or f"from {name}" in src):
            pytest.fail(f"{path.relative_to(ROOT)}:{line} refers to {name}")


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_use_only_the_package_and_are_declarations(path):
    for line, imported in imports(path):
        assert imported.split(".")[0] in ("tinynet", "numpy", "math", "argparse"), (
            f"{path.name}:{line} imports {imported}")
    text = path.read_text()
    for forbidden in ("argparse", "matplotlib", "open(", ".write_text", "| ---", "runpy"):
        if path.name != "quickstart.py" or forbidden != "argparse":   # quickstart: --help
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_the_six_experiment_scripts_are_at_most_900_lines():
    scripts = [p for p in (ROOT / "examples").glob("*.py")
               if p.name not in ("quickstart.py", "__init__.py")]
    assert len(scripts) == 6
    assert sum(len(p.read_text().splitlines()) for p in scripts) <= 900
