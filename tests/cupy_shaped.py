"""A "CuPy-shaped" array module for tests: NumPy does the arithmetic, CuPy's rules apply.

CuPy API checks (no GPU code executed). Activated by ``activate()`` (the "cupy-shaped" case of
the ``backend_name`` fixture), it makes tinynet run as if on CuPy, and fails where real CuPy
would fail or where a GPU run would silently pay a device->host transfer:

- names: only those CuPy has (``tests/cupy_api.py``: read from the installed CuPy, else from its
  snapshot). ``xp.errstate``, ``xp.vecdot`` or ``Generator.normal`` are AttributeErrors;
- keywords and positional counts: only what CuPy's signatures accept (``sum(where=...)``, a ufunc
  with ``where=``, ``as_strided(..., writeable=False)`` are TypeErrors);
- arrays (:class:`DeviceArray`) that refuse implicit conversion to the host:
  ``numpy.asarray(a)``, ``float(a)``, ``int(a)``, ``bool(a)``, ``a.item()``, ``a.tolist()``,
  ``f"{a:.3f}"``, NumPy functions and ufuncs applied to them;
- no mixing: a device array combined with a NumPy array (in arithmetic, as an index, as a
  function argument) is a TypeError, as in CuPy. NumPy scalars and Python numbers are fine;
- integer-array indices out of range wrap around instead of raising, as CuPy documents;
- a transfer counter: host->device (``xp.asarray``/``xp.array`` of host data) and device->host
  (``a.get()``, which ``backend.to_numpy`` and ``backend.to_float`` call) are counted in
  :data:`TRANSFERS`; ``counting()`` gives a fresh count for a block of code.

Values are NumPy's, so results equal the NumPy backend's exactly (same random streams too).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy

from tests import cupy_api
from tinynet import backend

NAME = "cupy-shaped"


class ImplicitTransferError(TypeError):
    """A device array was converted to host data implicitly (CuPy either refuses or silently
    synchronises; tinynet converts explicitly with backend.to_numpy / backend.to_float)."""


class MixedArraysError(TypeError):
    """A NumPy (host) array met a device array in one operation (CuPy refuses)."""


# --- counting transfers ----------------------------------------------------------------------

@dataclass
class Transfers:
    """Transfers since the last ``reset()``: counts and (direction, shape, dtype) per transfer."""
    to_device: int = 0
    to_host: int = 0
    log: list = field(default_factory=list)

    def record(self, direction: str, array) -> None:
        setattr(self, direction, getattr(self, direction) + 1)
        self.log.append((direction, tuple(numpy.shape(array)), str(numpy.asarray(array).dtype)))

    def reset(self) -> None:
        self.to_device, self.to_host, self.log = 0, 0, []


TRANSFERS = Transfers()


@contextmanager
def counting():
    """``with counting() as transfers: ...`` counts the transfers made inside the block."""
    TRANSFERS.reset()
    yield TRANSFERS


# --- wrapping and unwrapping ----------------------------------------------------------------

def _refuse_host_array(what: str):
    raise MixedArraysError(f"{what}: got a NumPy (host) array where CuPy needs a device array; "
                           f"move it first with backend.to_device(...)")


def _unwrap(value, what: str):
    """Device arrays -> their NumPy storage, recursively through lists/tuples; host arrays are
    refused (CuPy functions do not take NumPy arrays)."""
    if isinstance(value, DeviceArray):
        return value._data
    if isinstance(value, numpy.ndarray):
        _refuse_host_array(what)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(item, what) for item in value)
    return value


def _wrap(value):
    """NumPy results -> device arrays (a NumPy scalar becomes a 0-d array, as CuPy returns)."""
    if isinstance(value, numpy.ndarray):
        return DeviceArray(value)
    if isinstance(value, numpy.generic):
        return DeviceArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(item) for item in value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _check_signature(qualified_name: str, parameters, n_positional: int, kwargs) -> None:
    """TypeError when CuPy's signature would not take this call (None: nothing known)."""
    problems = parameters.problems(qualified_name, n_positional, kwargs) if parameters else []
    if problems:
        raise TypeError("; ".join(problems))


def _checked(qualified_name: str, parameters, function):
    """``function`` with CuPy's signature enforced, device arrays unwrapped, results wrapped."""
    def call(*args, **kwargs):
        _check_signature(qualified_name, parameters, len(args), kwargs)
        out = kwargs.get("out")
        result = function(*_unwrap(args, qualified_name),
                          **{key: _unwrap(value, qualified_name)
                             for key, value in kwargs.items()})
        if isinstance(out, DeviceArray) and result is out._data:
            return out                   # CuPy returns the ``out`` array itself
        return _wrap(result)
    call.__name__ = qualified_name
    return call


# --- the device array ---------------------------------------------------------------------

def _operand(value, what="operation"):
    if isinstance(value, DeviceArray):
        return value._data
    if isinstance(value, numpy.ndarray):
        _refuse_host_array(f"cupy.ndarray {what}")
    if isinstance(value, (bool, int, float, complex, numpy.generic)):
        return value
    raise TypeError(f"cupy.ndarray {what}: unsupported operand type {type(value).__name__}")


def _index_width(item) -> int:
    """How many axes of the indexed array an index item consumes (Ellipsis: counted later)."""
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, DeviceArray) and item.dtype == bool:
        return item.ndim
    return 1


def _index(key, shape):
    """An index for the NumPy storage: device index arrays unwrapped, host arrays refused, and
    out-of-range integer-array indices wrapped around (CuPy's documented behaviour)."""
    items = key if isinstance(key, tuple) else (key,)
    widths = [_index_width(item) for item in items]
    axis, converted = 0, []
    for item, width in zip(items, widths):
        if item is Ellipsis:
            width = len(shape) - sum(widths)
        elif isinstance(item, numpy.ndarray):
            _refuse_host_array("cupy.ndarray indexing")
        elif isinstance(item, DeviceArray):
            item = item._data
            if item.dtype != bool and axis < len(shape) and shape[axis] > 0:
                item = item % shape[axis]
        converted.append(item)
        axis += width
    return tuple(converted) if isinstance(key, tuple) else converted[0]


def _refuse(what: str):
    def refuse(self, *args, **kwargs):
        raise ImplicitTransferError(
            f"{what} of a device array is an implicit device->host transfer (CuPy refuses it or "
            f"synchronises with the GPU silently); convert explicitly with backend.to_numpy(...) "
            f"or backend.to_float(...)")
    return refuse


class DeviceArray:
    """A NumPy array standing for a ``cupy.ndarray``: the same values, CuPy's rules."""

    __slots__ = ("_data",)
    __array_ufunc__ = None          # numpy.exp(a), numpy_array + a: refused (see _operand)
    __hash__ = None

    def __init__(self, data: numpy.ndarray):
        self._data = data

    # explicit transfer: the only way to the host
    def get(self, stream=None, order="C", out=None, blocking=True):
        TRANSFERS.record("to_host", self._data)
        return numpy.array(self._data, order=order)

    # what CuPy would convert implicitly (or refuse): refused here
    __array__ = _refuse("numpy.asarray()")
    __float__ = _refuse("float()")
    __int__ = _refuse("int()")
    __index__ = _refuse("operator.index()")
    __complex__ = _refuse("complex()")
    __bool__ = _refuse("bool()")
    item = _refuse(".item()")
    tolist = _refuse(".tolist()")
    tobytes = _refuse(".tobytes()")
    tofile = _refuse(".tofile()")
    dump = _refuse(".dump()")
    dumps = _refuse(".dumps()")

    def __format__(self, spec):
        if spec:
            _refuse(f"format(..., {spec!r})")(self)
        return repr(self)

    def __repr__(self):
        return f"DeviceArray(shape={self._data.shape}, dtype={self._data.dtype})"

    __str__ = __repr__

    # attributes every array has
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    strides = property(lambda self: self._data.strides)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)
    T = property(lambda self: DeviceArray(self._data.T))

    def __getattr__(self, name):
        """Methods: only those cupy.ndarray has, with its keywords."""
        if name.startswith("_"):
            raise AttributeError(name)
        entry = _api().member("cupy.ndarray", name)
        if entry is None:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r} "
                                 f"(checked against {_api().source})")
        value = getattr(self._data, name, None)
        if value is None:
            raise AttributeError(f"cupy.ndarray.{name} exists in CuPy but the CuPy-shaped test "
                                 f"backend cannot emulate it with NumPy")
        if entry["kind"] != "function":
            return _wrap(value)
        return _checked(f"cupy.ndarray.{name}", _api().parameters("cupy.ndarray", name), value)

    def __len__(self):
        return len(self._data)

    def __iter__(self):             # CuPy yields device sub-arrays (no transfer)
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (DeviceArray(row) for row in self._data)

    def __getitem__(self, key):
        return _wrap(self._data[_index(key, self._data.shape)])

    def __setitem__(self, key, value):
        self._data[_index(key, self._data.shape)] = _operand(value, "assignment")

    def __deepcopy__(self, memo):
        return DeviceArray(self._data.copy())

    def __copy__(self):
        return DeviceArray(self._data.copy())


def _binary(ufunc, reflected=False):
    def op(self, other):
        other = _operand(other, ufunc.__name__)
        return _wrap(ufunc(other, self._data) if reflected else ufunc(self._data, other))
    return op


def _inplace(ufunc):
    def op(self, other):
        ufunc(self._data, _operand(other, ufunc.__name__), out=self._data)
        return self
    return op


def _unary(ufunc):
    return lambda self: _wrap(ufunc(self._data))


for _name, _ufunc in [("add", numpy.add), ("sub", numpy.subtract), ("mul", numpy.multiply),
                      ("truediv", numpy.true_divide), ("floordiv", numpy.floor_divide),
                      ("mod", numpy.remainder), ("pow", numpy.power), ("matmul", numpy.matmul),
                      ("and", numpy.bitwise_and), ("or", numpy.bitwise_or),
                      ("xor", numpy.bitwise_xor), ("lshift", numpy.left_shift),
                      ("rshift", numpy.right_shift)]:
    setattr(DeviceArray, f"__{_name}__", _binary(_ufunc))
    setattr(DeviceArray, f"__r{_name}__", _binary(_ufunc, reflected=True))
    if _name != "matmul":
        setattr(DeviceArray, f"__i{_name}__", _inplace(_ufunc))
for _name, _ufunc in [("eq", numpy.equal), ("ne", numpy.not_equal), ("lt", numpy.less),
                      ("le", numpy.less_equal), ("gt", numpy.greater),
                      ("ge", numpy.greater_equal)]:
    setattr(DeviceArray, f"__{_name}__", _binary(_ufunc))
for _name, _ufunc in [("neg", numpy.negative), ("pos", numpy.positive), ("abs", numpy.absolute),
                      ("invert", numpy.invert)]:
    setattr(DeviceArray, f"__{_name}__", _unary(_ufunc))


# --- the namespace ------------------------------------------------------------------------

class ShapedUfunc:
    """A NumPy ufunc called with CuPy's ufunc keywords; methods (``at``, ``reduce``, ...) only
    where CuPy's ufunc has them."""

    def __init__(self, name: str, ufunc):
        self._name, self._ufunc = name, ufunc
        self._call = _checked(f"cupy.{name}", cupy_api.Parameters.parse(cupy_api.UFUNC_CALL),
                              ufunc)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        entry = _api().member("cupy.ufunc", name)
        if entry is None:
            raise AttributeError(f"'cupy.ufunc' object has no attribute {name!r} "
                                 f"(checked against {_api().source})")
        value = getattr(self._ufunc, name)
        if entry["kind"] != "function":
            return value
        return _checked(f"cupy.{self._name}.{name}", _api().parameters("cupy.ufunc", name),
                        value)


class ShapedGenerator:
    """A NumPy Generator that offers only what ``cupy.random.Generator`` has (no ``normal``,
    ``permutation``, ``choice``, ``shuffle``); draws are device arrays."""

    def __init__(self, generator: numpy.random.Generator):
        self._generator = generator

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if _api().member("cupy.random.Generator", name) is None:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r} "
                                 f"(checked against {_api().source}); draw on the host with "
                                 f"backend.host_rng() or use standard_normal/uniform/integers/"
                                 f"random")
        return _checked(f"cupy.random.Generator.{name}",
                        _api().parameters("cupy.random.Generator", name),
                        getattr(self._generator, name))


def _to_device(qualified_name, parameters, make):
    """``asarray``/``array``: host data in -> a device copy out, counted as a transfer; a device
    array in -> itself (or a device-side copy/cast), no transfer."""
    def call(obj, *args, **kwargs):
        _check_signature(qualified_name, parameters, 1 + len(args), kwargs)
        kwargs.pop("blocking", None)            # CuPy-only keyword
        if isinstance(obj, DeviceArray):
            result = make(obj._data, *args, **kwargs)
            return obj if result is obj._data else DeviceArray(result)
        TRANSFERS.record("to_device", obj)
        return DeviceArray(numpy.array(make(obj, *args, **kwargs), copy=True))
    return call


_MISSING = object()


class Namespace:
    """``cupy`` or one of its submodules, emulated: attributes CuPy lacks raise AttributeError."""

    def __init__(self, path: str, numpy_module):
        self._path, self._numpy = path, numpy_module

    def __repr__(self):
        return f"<CuPy-shaped test module {self._path!r}>"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        path = f"{self._path}.{name}"
        entry = _api().member(self._path, name)
        if entry is None:
            raise AttributeError(f"module {self._path!r} has no attribute {name!r} "
                                 f"(checked against {_api().source})")
        value = self._emulate(path, name, entry)
        setattr(self, name, value)          # cache: the next look-up skips __getattr__
        return value

    def _emulate(self, path, name, entry):
        if path == "cupy.ndarray":
            return DeviceArray
        if path == "cupy.random.default_rng":
            return _checked(path, _api().parameters("cupy.random", name),
                            lambda *a, **k: ShapedGenerator(numpy.random.default_rng(*a, **k)))
        target = getattr(self._numpy, name, _MISSING)
        if target is _MISSING:
            raise AttributeError(f"{path} exists in CuPy but the CuPy-shaped test backend has no "
                                 f"NumPy counterpart to emulate it with")
        if entry["kind"] == "module":
            return Namespace(path, target)
        if entry["kind"] == "ufunc":
            return ShapedUfunc(name, target)
        parameters = _api().parameters(self._path, name)
        if path in ("cupy.asarray", "cupy.array"):
            return _to_device(path, parameters, getattr(numpy, name))
        if entry["kind"] == "function":
            return _checked(path, parameters, target)
        return target                       # dtypes, constants (float32, integer, inf, ...)


def _api():
    return cupy_api.api()


xp = Namespace("cupy", numpy)


def activate() -> None:
    """Make the CuPy-shaped module tinynet's array module (reset by ``backend.use(...)``)."""
    TRANSFERS.reset()
    backend.use_module(xp, NAME)
