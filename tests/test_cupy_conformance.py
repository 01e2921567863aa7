"""CuPy API checks (no GPU code executed): everything tinynet's source asks of the array module
exists in CuPy, with the keywords and argument counts used.

The package source is read (not run): every attribute chain on the array module (``xp.zeros``,
``backend.xp.lib.stride_tricks.as_strided``, ``xp.add.at``, ``xp.cuda.Device().synchronize``),
every method called on the device generator (``_device_rng.random``), and every call of a
method that NumPy arrays have (``x.sum(axis=..., keepdims=True)``) is looked up in CuPy's API
(tests/cupy_api.py): the installed CuPy, and the committed snapshot. The array module is
whatever is named ``xp`` or reached as ``backend.xp``: that is tinynet's convention.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy
import pytest

import tinynet
from tests import cupy_api

pytestmark = pytest.mark.cupy_api

PACKAGE = Path(tinynet.__file__).parent
NDARRAY_MEMBERS = frozenset(name for name in dir(numpy.ndarray) if not name.startswith("_"))
MAKES_DEVICE_GENERATOR = {("xp", "random", "default_rng"), ("_make_device_rng",)}


@dataclass(frozen=True)
class Use:
    """One use of CuPy's API in the source: ``namespace`` + ``path``, called or not."""
    where: str            # "tinynet/backend.py:187"
    namespace: str        # "cupy", "cupy.ndarray" or "cupy.random.Generator"
    path: tuple           # ("lib", "stride_tricks", "as_strided"); "()" = an instance of it
    called: bool
    n_positional: int | None = None     # None: unknown (``*args`` in the call)
    keywords: tuple = ()                # ``**kwargs`` in the call is not counted

    def __str__(self):
        return f"{self.where}: {'.'.join((self.namespace,) + self.path)}"


# --- reading the source ---------------------------------------------------------------------

def _chain(node):
    """``backend.xp.lib.as_strided`` -> ("xp", "lib", "as_strided"); a call inside the chain
    becomes "()": ``xp.cuda.Device().synchronize`` -> ("xp", "cuda", "Device", "()",
    "synchronize"). None when the chain does not start at a plain name."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        else:
            return None
    parts.reverse()
    if parts[:2] == ["backend", "xp"]:
        parts = parts[1:]
    return tuple(parts)


def _imported_names(tree) -> set:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _call_details(call: ast.Call):
    n_positional = None if any(isinstance(a, ast.Starred) for a in call.args) else len(call.args)
    return n_positional, tuple(k.arg for k in call.keywords if k.arg is not None)


def uses_in_source(source: str, filename: str) -> list:
    """Every use of the array module, the device generator and ndarray methods in ``source``."""
    tree = ast.parse(source, filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    modules = _imported_names(tree)
    generators = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  and isinstance(node.value, ast.Call)
                  and _chain(node.value.func) in MAKES_DEVICE_GENERATOR
                  for target in node.targets if isinstance(target, ast.Name)}
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            continue        # a prefix (``xp.lib`` of ``xp.lib.stride_tricks``): the longer
                            # chain is recorded instead
        called = isinstance(parent, ast.Call) and parent.func is node
        n_positional, keywords = _call_details(parent) if called else (None, ())
        where = f"{filename}:{node.lineno}"
        chain = _chain(node)
        if chain and chain[0] == "xp" and len(chain) > 1:
            uses.append(Use(where, "cupy", chain[1:], called, n_positional, keywords))
        elif chain and len(chain) == 2 and chain[0] in generators:
            uses.append(Use(where, "cupy.random.Generator", chain[1:], called, n_positional,
                            keywords))
        elif called and node.attr in NDARRAY_MEMBERS and not (
                chain and (chain[0] in modules or chain[0] == "xp")):
            uses.append(Use(where, "cupy.ndarray", (node.attr,), called, n_positional,
                            keywords))
    return uses


def package_uses() -> list:
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE.parent).as_posix()
        uses += uses_in_source(path.read_text(), name)
    return uses


# --- checking a use against the API ---------------------------------------------------------

def problems_of(use: Use, api: cupy_api.CupyApi) -> list:
    """Why ``use`` would fail on CuPy (empty when it would not)."""
    namespace, entry, shown = use.namespace, None, use.namespace
    for part in use.path:
        if part == "()":
            shown = f"{shown}()"
            continue
        if entry is not None:
            namespace = _members_namespace(shown, entry, api)
            if namespace is None:
                return [f"{use.where}: the API description has no members of {shown} "
                        f"(add it to NAMESPACES in tests/cupy_api.py)"]
        entry = api.member(namespace, part)
        shown = f"{shown}.{part}"
        if entry is None:
            return [f"{use.where}: CuPy has no {shown} ({api.source})"]
    if use.called and entry.get("signature"):
        parameters = cupy_api.Parameters.parse(entry["signature"])
        found = parameters.problems(shown, use.n_positional or 0, use.keywords)
        if use.n_positional is None:
            found = [problem for problem in found if "positional" not in problem]
        return [f"{use.where}: {problem}" for problem in found]
    return []


RETURNS = {"cupy.random.default_rng()": "cupy.random.Generator"}


def _members_namespace(shown: str, entry: dict, api: cupy_api.CupyApi):
    """Where the members of ``shown`` are described: a module or class of its own, the class
    all ufuncs share, the class of an instance (``Device()``), or, for what an array function
    returns (``xp.zeros(...)``), cupy.ndarray."""
    if shown.endswith("()"):
        if shown in RETURNS:
            return RETURNS[shown]
        return shown[:-2] if entry["kind"] == "class" else "cupy.ndarray"
    if entry["kind"] == "ufunc":
        return "cupy.ufunc"
    return shown if shown in api.namespaces else None


# --- the tests ----------------------------------------------------------------------------

def _apis():
    installed = pytest.param("installed", marks=pytest.mark.skipif(
        cupy_api.installed_cupy() is None,
        reason="CuPy is not installed (pip install cupy-cuda12x: no GPU needed); "
               "the snapshot case still runs"))
    return [installed, "snapshot"]


def _api(source):
    return cupy_api.installed_api() if source == "installed" else cupy_api.snapshot_api()


@pytest.mark.parametrize("source", _apis())
def test_every_array_module_name_and_keyword_tinynet_uses_exists_in_cupy(source):
    """CuPy API check (no GPU code executed) over every file of the package."""
    api = _api(source)
    problems = [problem for use in package_uses() for problem in problems_of(use, api)]
    assert not problems, "tinynet uses what CuPy does not have:\n" + "\n".join(problems)


def test_the_source_reader_finds_the_uses_that_matter():
    """If the reader found nothing, the check above would pass vacuously."""
    found = {(use.namespace, ".".join(use.path)) for use in package_uses()}
    for expected in [("cupy", "lib.stride_tricks.as_strided"), ("cupy", "random.default_rng"),
                     ("cupy", "zeros"), ("cupy", "arange.().reshape"), ("cupy", "__version__"),
                     ("cupy", "add.at"), ("cupy", "cuda.Device.().synchronize"),
                     ("cupy.random.Generator", "random"), ("cupy", "asarray"),
                     ("cupy.ndarray", "sum"), ("cupy.ndarray", "reshape")]:
        assert expected in found, expected
    assert len(package_uses()) > 100


NUMPY_ONLY = """
from tinynet import backend

def f(x, rng):
    xp = backend.xp
    _device_rng = xp.random.default_rng(0)
    with xp.errstate(over="ignore"):
        y = xp.vecdot(x, x)
    noise = _device_rng.normal(size=3)
    total = x.sum(where=x > 0)
    view = xp.lib.stride_tricks.as_strided(x, (2,), (8,), writeable=False)
    return backend.xp.maximum(x, 0, where=x > 1), total, noise, view, y
"""


@pytest.mark.parametrize("source", _apis())
def test_numpy_only_calls_are_reported(source):
    problems = [problem for use in uses_in_source(NUMPY_ONLY, "example.py")
                for problem in problems_of(use, _api(source))]
    text = "\n".join(problems)
    for expected in ["CuPy has no cupy.errstate", "CuPy has no cupy.vecdot",
                     "CuPy has no cupy.random.Generator.normal",
                     "cupy.ndarray.sum has no keyword argument where",
                     "as_strided has no keyword argument writeable",
                     "cupy.maximum has no keyword argument where"]:
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert len(problems) == 6, text


def test_the_snapshot_matches_the_installed_cupy():
    """The committed snapshot is what the installed CuPy says (same version), so that checks
    made without CuPy installed are the same checks."""
    installed = cupy_api.installed_api()
    if installed is None:
        pytest.skip("CuPy is not installed: nothing to compare the snapshot with")
    snapshot = cupy_api.snapshot_api()
    if installed.version != snapshot.version:
        pytest.skip(f"the snapshot is of CuPy {snapshot.version}, the installed one "
                    f"{installed.version}: regenerate it with `python -m tests.cupy_api`")
    differences = [f"{namespace}.{name}: snapshot {snapshot.namespaces[namespace].get(name)}, "
                   f"installed {members.get(name)}"
                   for namespace, members in installed.namespaces.items()
                   for name in set(members) | set(snapshot.namespaces.get(namespace, {}))
                   if members.get(name) != snapshot.namespaces.get(namespace, {}).get(name)]
    assert not differences, ("regenerate with `python -m tests.cupy_api`:\n"
                             + "\n".join(sorted(differences)[:20]))


@pytest.mark.parametrize("text, accepts, refuses", [
    ("(a, axis, dtype, out, keepdims)", [(1, ("axis", "keepdims"))], [(1, ("where",)), (6, ())]),
    ("(x, shape, strides)", [(3, ())], [(3, ("writeable",)), (4, ())]),
    ("(*args, out, dtype, casting)", [(5, ("out",))], [(2, ("where",))]),
    ("(a, /, b, *, c, **kwargs)", [(2, ("c", "anything"))], [(3, ())]),
])
def test_signature_parameters(text, accepts, refuses):
    parameters = cupy_api.Parameters.parse(text)
    for n_positional, keywords in accepts:
        assert parameters.problems("f", n_positional, keywords) == []
    for n_positional, keywords in refuses:
        assert parameters.problems("f", n_positional, keywords) != []
