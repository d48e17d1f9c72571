"""The engines a benchmark compares, each a zero-argument callable on fixed inputs.

- ``nngraph compiled``: ``nngraph.compile(model, threads=N)``;
- ``nngraph eager``: the module itself (numpy; callers limit BLAS threads with ``blas_threads``);
- ``torch eager``: the equivalent ``torch.nn`` model with the same weights, ``torch.set_num_threads(N)``,
  ``inference_mode``. Zoo models use the hand-written references in the source checkout's
  ``tests/models/torch_reference.py``; user models need ``torch_factory`` (``package.module:factory``);
- ``onnxruntime``: that torch model exported to ONNX (TorchScript exporter), CPU provider, ``intra_op_num_threads=N``.

Optional engines that are not installed or fail to build are *skipped* with a reason, never an error.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..modelref import ModelRef, import_factory

__all__ = ["COMPILED", "EAGER", "TORCH", "ORT", "OPTIONAL_ENGINES", "EngineSet", "build_engines", "leaves",
           "differences", "blas_threads", "blas_limit_available", "torch_reference_path"]

COMPILED, EAGER, TORCH, ORT = "nngraph compiled", "nngraph eager", "torch eager", "onnxruntime"
#: ``--compare`` names -> engine names.
OPTIONAL_ENGINES = {"eager": EAGER, "torch": TORCH, "onnxruntime": ORT, "ort": ORT}


@dataclass
class EngineSet:
    engines: dict[str, Callable[[], Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # engine -> why
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # engine -> flattened outputs (one call)
    compiled: Any = None  # the CompiledModule


def leaves(value: Any) -> list[np.ndarray]:
    """The arrays of a (nested) output, as float64/int numpy arrays, in order."""
    if isinstance(value, dict):
        return [a for v in value.values() for a in leaves(v)]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in leaves(v)]
    if hasattr(value, "detach"):  # torch.Tensor
        return [value.detach().cpu().numpy()]
    return [np.asarray(value)]


def differences(out: list[np.ndarray], ref: list[np.ndarray]) -> dict[str, float]:
    """``max_abs_diff`` (max |out - ref|) and ``max_rel_diff`` (max |out - ref| / max |ref|) over all outputs."""
    if len(out) != len(ref) or any(a.shape != b.shape for a, b in zip(out, ref)):
        return {"max_abs_diff": float("inf"), "max_rel_diff": float("inf")}
    abs_diff, scale = 0.0, 0.0
    for a, b in zip(out, ref):
        if a.size == 0:
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(invalid="ignore"):
            d = np.abs(a64 - b64)
        d = np.where(np.isnan(a64) & np.isnan(b64), 0.0, d)
        abs_diff = max(abs_diff, float(np.nan_to_num(d, nan=np.inf).max()))
        scale = max(scale, float(np.abs(b64[np.isfinite(b64)]).max(initial=0.0)))
    return {"max_abs_diff": abs_diff, "max_rel_diff": abs_diff / scale if scale > 0 else abs_diff}


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[bool]:
    """Limit numpy's BLAS to ``n`` threads while inside (yields whether threadpoolctl could do it)."""
    if n is None:
        yield False
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield True


def blas_limit_available() -> bool:
    """Whether ``blas_threads`` can limit numpy's BLAS (threadpoolctl is installed)."""
    return importlib.util.find_spec("threadpoolctl") is not None


def torch_reference_path() -> str | None:
    """``tests/models/torch_reference.py`` of the source checkout nngraph runs from, if there is one."""
    import nngraph

    root = os.path.dirname(os.path.dirname(os.path.abspath(nngraph.__file__)))
    path = os.path.join(root, "tests", "models", "torch_reference.py")
    return path if os.path.exists(path) else None


def _torch_model(ref: ModelRef, model: Any, torch_factory: str | None) -> Any:
    import torch

    if torch_factory:
        factory = import_factory(torch_factory)
        tm = factory()
    elif ref.zoo:
        path = torch_reference_path()
        if path is None:
            raise LookupError("no torch reference model: the zoo's torch.nn equivalents live in the source "
                              "checkout's tests/models/torch_reference.py (or pass --torch-model)")
        spec = importlib.util.spec_from_file_location("nngraph_torch_reference", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        factory = getattr(module, "FACTORIES", {}).get(ref.name) or getattr(module, ref.name, None)
        if factory is None:
            raise LookupError(f"tests/models/torch_reference.py has no torch model for {ref.name!r}")
        tm = factory(**ref.kwargs)
    else:
        raise LookupError("no torch equivalent of a user model: pass --torch-model package.module:factory")
    state = {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}
    tm.load_state_dict(state)
    return tm.eval()


def _reason(e: BaseException) -> str:
    if isinstance(e, ImportError):
        return f"not installed ({e.name or e})"
    return f"{type(e).__name__}: {e}"[:160]


def build_engines(ref: ModelRef, model: Any, inputs: tuple[np.ndarray, ...], threads: int | None,
                  compare: tuple[str, ...] = (), passes: Any = "default", disable: tuple[str, ...] = (),
                  torch_factory: str | None = None, compiled: Any = None) -> EngineSet:
    """Engines for ``model`` on ``inputs``: always nngraph compiled and eager, plus ``compare`` (engine names).
    ``compiled`` may be an already compiled (and called) module."""
    import nngraph

    es = EngineSet()
    if compiled is None:
        compiled = nngraph.compile(model, threads=threads, passes=passes, disable=disable)
        compiled(*inputs)
    es.compiled = compiled
    es.engines[COMPILED] = lambda: compiled(*inputs)
    es.outputs[COMPILED] = leaves(compiled(*inputs))

    es.engines[EAGER] = lambda: model(*inputs)
    es.outputs[EAGER] = leaves(model(*inputs))
    if TORCH not in compare and ORT not in compare:
        return es
    try:
        import torch

        if threads:
            torch.set_num_threads(threads)
        tm = _torch_model(ref, model, torch_factory)
        tx = tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs)

        def run_torch() -> Any:
            with torch.inference_mode():
                return tm(*tx)

        if TORCH in compare:
            es.engines[TORCH] = run_torch
            es.outputs[TORCH] = leaves(run_torch())
    except Exception as e:  # noqa: BLE001 -- optional engine
        for name in (TORCH, ORT):
            if name in compare:
                es.skipped[name] = _reason(e)
        return es
    if ORT in compare:
        try:
            es.engines[ORT], es.outputs[ORT] = _ort_engine(tm, tx, inputs, threads)
        except Exception as e:  # noqa: BLE001 -- optional engine
            es.skipped[ORT] = _reason(e)
    return es


def _ort_engine(tm: Any, tx: tuple, inputs: tuple[np.ndarray, ...], threads: int | None
                ) -> tuple[Callable[[], Any], list[np.ndarray]]:
    import onnxruntime as ort
    import torch

    names = [f"x{i}" for i in range(len(inputs))]
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(tm, tx, buf, dynamo=False, input_names=names)
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    feed = dict(zip(names, inputs))
    fn = lambda: sess.run(None, feed)  # noqa: E731
    return fn, leaves(fn())
