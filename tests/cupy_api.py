"""CuPy's API as data: the names tinynet can reach through ``backend.xp`` and the parameters
each callable accepts. CuPy imports and can be inspected without a GPU, so this is read from the
installed CuPy when there is one (CI installs ``tinynet[cuda12]``), and otherwise from the
committed snapshot ``tests/cupy_api.json``. Both describe the same thing, in the same form:

    {"cupy_version": "14.2.0",
     "namespaces": {"cupy": {"sum": {"kind": "function",
                                     "signature": "(a, axis, dtype, out, keepdims)"}, ...},
                    "cupy.ndarray": {...}, "cupy.random.Generator": {...}, ...}}

A signature keeps only what a call is checked against: parameter names, ``/`` and ``*``
markers, ``*args`` and ``**kwargs`` (defaults and types are dropped). After upgrading CuPy,
regenerate the snapshot (tests/test_cupy_conformance.py says when it is stale)::

    python -m tests.cupy_api
"""
from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("cupy_api.json")

# Every namespace tinynet reaches (modules, and classes whose members it uses). A path into
# anything else is reported by the conformance test as "not in the API description".
NAMESPACES = ("cupy", "cupy.lib", "cupy.lib.stride_tricks", "cupy.linalg", "cupy.random",
              "cupy.random.Generator", "cupy.ndarray", "cupy.ufunc", "cupy.cuda",
              "cupy.cuda.Device")

# ``ufunc.__call__(self, *args, **kwargs)`` hides its keywords; CuPy reads exactly these three
# and rejects any other ("TypeError: Wrong arguments {'where': None}", measured on CuPy 14.2).
UFUNC_CALL = "(*args, out, dtype, casting)"


# --- reading the API from an installed CuPy ----------------------------------------------

def installed_cupy():
    """The installed ``cupy`` module, or None (importing it needs no GPU)."""
    try:
        return importlib.import_module("cupy")
    except ImportError:
        return None


def _resolve(cupy, path: str):
    obj = cupy
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _split_parameters(text: str) -> list:
    """Split a parameter list at top-level commas (defaults may hold brackets and commas)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _normalise(parameters: list) -> str:
    """Parameter texts (maybe with Cython types and defaults) -> "(a, axis, *, out, **kw)"."""
    names = []
    for parameter in parameters:
        declaration = parameter.split("=", 1)[0].strip()
        if declaration in ("*", "/"):
            names.append(declaration)
            continue
        stars = "**" if "**" in declaration else "*" if "*" in declaration else ""
        name = re.findall(r"\w+", declaration)[-1]     # "_ndarray_base a" -> "a"
        names.append(stars + name)
    if names and names[0] == "self":
        names = names[1:]
    return "(" + ", ".join(names) + ")"


def _docstring_signature(obj):
    """CuPy's Cython functions and methods state their signature on the docstring's first line:
    ``_ndarray_base.sum(self, axis=None, dtype=None, out=None, keepdims=False) -> ...``."""
    lines = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    match = re.match(r"^[\w.]+\((.*)\)", lines[0]) if lines else None
    return _normalise(_split_parameters(match.group(1))) if match else None


def _signature(obj):
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return _docstring_signature(obj)
    names, keyword_only_marked, open_positional_only = [], False, False
    for p in signature.parameters.values():
        if open_positional_only and p.kind is not p.POSITIONAL_ONLY:
            names.append("/")
            open_positional_only = False
        if p.kind is p.POSITIONAL_ONLY:
            open_positional_only = True
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            keyword_only_marked = True
            names.append("*" + p.name)
        elif p.kind is p.KEYWORD_ONLY:
            if not keyword_only_marked:
                keyword_only_marked = True
                names.append("*")
            names.append(p.name)
        elif p.kind is p.VAR_KEYWORD:
            names.append("**" + p.name)
        else:
            names.append(p.name)
    if open_positional_only:
        names.append("/")
    if names and names[0] == "self":
        names = names[1:]
    return "(" + ", ".join(names) + ")"


def _describe(cupy, obj) -> dict:
    if inspect.ismodule(obj):
        return {"kind": "module"}
    if isinstance(obj, cupy.ufunc):
        return {"kind": "ufunc", "signature": UFUNC_CALL}
    if inspect.isclass(obj):
        return {"kind": "class"}
    if callable(obj):
        return {"kind": "function", "signature": _signature(obj)}
    return {"kind": "value"}


def _describe_member(owner, name) -> dict:
    """A class member: a method (with its signature), or an attribute or property."""
    raw = inspect.getattr_static(owner, name)
    if isinstance(raw, (staticmethod, classmethod)) or inspect.isroutine(raw):
        return {"kind": "function", "signature": _signature(getattr(owner, name))}
    return {"kind": "attribute"}


def read_installed(cupy) -> dict:
    """The API description of an imported ``cupy`` (no GPU needed)."""
    namespaces = {}
    for path in NAMESPACES:
        owner = _resolve(cupy, path)
        public = sorted(name for name in dir(owner)
                        if not name.startswith("_") or name == "__version__")
        if inspect.isclass(owner):
            members = {name: _describe_member(owner, name) for name in public}
        else:
            members = {name: _describe(cupy, getattr(owner, name)) for name in public}
        namespaces[path] = members
    return {"cupy_version": cupy.__version__, "namespaces": namespaces}


# --- the description, wherever it comes from ------------------------------------------------

@functools.lru_cache(maxsize=None)
def installed_api():
    """The installed CuPy's API, or None when CuPy is not installed."""
    cupy = installed_cupy()
    return None if cupy is None else CupyApi(read_installed(cupy), "the installed CuPy")


@functools.lru_cache(maxsize=None)
def snapshot_api():
    return CupyApi(json.loads(SNAPSHOT.read_text()), f"the snapshot {SNAPSHOT.name} of CuPy")


def api():
    """The installed CuPy's API when CuPy is installed, else the committed snapshot's."""
    return installed_api() or snapshot_api()


@dataclass(frozen=True)
class Parameters:
    """What a signature accepts: names passable by position (in order), by keyword, and
    whether ``*args`` / ``**kwargs`` take the rest."""
    positional: tuple
    keyword: frozenset
    varargs: bool
    varkw: bool

    @classmethod
    def parse(cls, text: str) -> "Parameters":
        names = _split_parameters(text.strip()[1:-1])
        positional, keyword, varargs, varkw, by_position = [], set(), False, False, True
        positional_only = "/" in names
        for name in names:
            if name == "/":
                positional_only = False
            elif name == "*":
                by_position = False
            elif name.startswith("**"):
                varkw = True
            elif name.startswith("*"):
                varargs, by_position = True, False
            else:
                if by_position:
                    positional.append(name)
                if not positional_only:
                    keyword.add(name)
        return cls(tuple(positional), frozenset(keyword), varargs, varkw)

    def problems(self, what: str, n_positional: int, keywords) -> list:
        """Why a call with ``n_positional`` positional arguments and ``keywords`` would fail."""
        found = []
        if not self.varargs and n_positional > len(self.positional):
            found.append(f"{what} takes at most {len(self.positional)} positional arguments "
                         f"{self.positional} in CuPy, got {n_positional}")
        if not self.varkw:
            unknown = sorted(set(keywords) - self.keyword)
            if unknown:
                found.append(f"{what} has no keyword argument {', '.join(unknown)} in CuPy "
                             f"(it accepts {sorted(self.keyword)})")
        return found


class CupyApi:
    """Look-ups into an API description: ``member("cupy.random.Generator", "normal")``."""

    def __init__(self, data: dict, source: str):
        self.data, self.version = data, data["cupy_version"]
        self.source = f"{source} {self.version}"
        self.namespaces = data["namespaces"]

    def member(self, namespace: str, name: str):
        """The entry for ``namespace.name``, or None when CuPy has no such name."""
        return self.namespaces[namespace].get(name)

    def parameters(self, namespace: str, name: str):
        entry = self.member(namespace, name)
        text = entry and entry.get("signature")
        return Parameters.parse(text) if text else None


def main() -> None:
    cupy = installed_cupy()
    if cupy is None:
        raise SystemExit("CuPy is not installed: pip install cupy-cuda12x (no GPU needed)")
    SNAPSHOT.write_text(json.dumps(read_installed(cupy), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT} (CuPy {cupy.__version__})")


if __name__ == "__main__":
    main()
