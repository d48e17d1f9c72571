"""The on-disk cache of generated executor modules.

Generated source goes to ``<cache dir>/<key>.py`` and is imported by module name (registered in ``sys.modules``)
so that Numba's ``cache=True`` persists the machine code beside it; a new process with the same key reuses both.
The key covers the graph, shapes, dtypes, target, nngraph/numba/llvmlite versions, CPU features and codegen
settings, and for executors the generated source itself (code generation reads state the graph does not record,
such as autotune's choices: one name must never stand for two different modules in a process). Files are
written atomically (temp file + rename), so concurrent processes never see a partial module; a module that fails
to import (corrupted, stale) is deleted with its Numba cache files and rebuilt.
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import sys
import tempfile
from types import ModuleType

import llvmlite
import numba

import nngraph

_PREFIX = "nngraph_gen_"


def cache_dir() -> str:
    """``NNGRAPH_CACHE_DIR``, else ``$XDG_CACHE_HOME/nngraph`` (``~/.cache/nngraph``)."""
    path = os.environ.get("NNGRAPH_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "nngraph")
    os.makedirs(path, exist_ok=True)
    return path


def _cpu_features() -> str:
    import llvmlite.binding as llvm

    return f"{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}"


def environment_key() -> str:
    """What besides the graph decides the generated machine code."""
    from ..backends.cpu import KERNEL_STAMP

    env = [nngraph.__version__, KERNEL_STAMP[:16], numba.__version__, llvmlite.__version__, _cpu_features(),
           os.environ.get("NUMBA_SLP_VECTORIZE", ""), os.environ.get("NUMBA_OPT", ""),
           os.environ.get("NUMBA_BOUNDSCHECK", "")]
    return "|".join(env)


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in (environment_key(), *parts):
        h.update(p.encode())
        h.update(b"\0")
    return _PREFIX + h.hexdigest()[:24]


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _purge(directory: str, name: str, keep_source: bool = False) -> None:
    paths = glob.glob(os.path.join(directory, "__pycache__", name + ".*"))
    if not keep_source:
        paths.append(os.path.join(directory, name + ".py"))
    for path in paths:
        try:
            os.remove(path)
        except OSError:
            pass


def is_cache_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from loading Numba's on-disk cache (a corrupted index or data file)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core", "caching.py")):
            return True
        tb = tb.tb_next
    return False


def forget(names: list[str], use_cache: bool = True) -> None:
    """Drop generated modules from this process and delete their Numba cache files (sources are kept)."""
    for name in names:
        sys.modules.pop(name, None)
        if use_cache:
            _purge(cache_dir(), name, keep_source=True)


def load_module(name: str, source: str, use_cache: bool = True) -> ModuleType:
    """Import the generated module ``name`` (writing ``source`` if the cached file is missing or different)."""
    if name in sys.modules:
        return sys.modules[name]
    directory = cache_dir() if use_cache else tempfile.mkdtemp(prefix="nngraph_")
    path = os.path.join(directory, name + ".py")
    try:
        with open(path) as f:
            current = f.read()
    except OSError:
        current = None
    if current != source:
        if current is not None:
            _purge(directory, name)  # stale: same key, other text
        _write_atomic(path, source)
    try:
        return _import(name, path)
    except Exception:  # noqa: BLE001 -- a corrupted entry: rebuild once from scratch
        sys.modules.pop(name, None)
        _purge(directory, name)
        _write_atomic(path, source)
        return _import(name, path)


def _import(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
