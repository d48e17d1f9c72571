"""max_unpool, 1-d/3-d unfold/fold (``lower_vision.py``) and the random ops that draw nothing (``lower_random.py``)
compiled on CUDA (the simulator without a GPU) vs the IR interpreter and eager mode, float32 and float64, no host
steps; max_unpool's range check and drawing dropout as a host step."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn.functional as F

from .cases_vision import VISION_CASES
from .helpers import Fn, check

TOL = {np.float32: 1e-4, np.float64: 1e-9}
# inf * 0: the simulator runs kernels on numpy scalars, which warn (the reference silences it with np.errstate)
_INF_TIMES_ZERO = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=_INF_TIMES_ZERO) if n == "dropout_no_draw" else n
                                  for n, _ in VISION_CASES])
def test_case(name: str, dtype: type) -> None:
    model, inputs = dict(VISION_CASES)[name](dtype)
    check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype])


def test_max_unpool_duplicates_last_writer_wins() -> None:
    """Every input of a plane on output 1: the last one (C order) wins, exactly, as in numpy's assignment."""
    v = np.arange(1.0, 9.0).reshape(2, 1, 4)
    i = np.ones((2, 1, 4), np.int64)
    i[1, 0, 1] = 0
    compiled = nngraph.compile(Fn(lambda m, v, i: F.max_unpool1d(v, i, 2)).eval(), target="cuda")
    got = compiled(v, i)
    np.testing.assert_array_equal(got, [[[0, 4, 0, 0, 0, 0, 0, 0]], [[6, 8, 0, 0, 0, 0, 0, 0]]])
    assert compiled.specializations[0].executable.n_host_steps == 0


def test_max_unpool_bad_index_is_the_cpu_error() -> None:
    """An index outside the output plane fails the call with the error the CPU backend raises (the reference's
    InputError, located by the interpreter replay); the next good call works."""
    model = Fn(lambda m, v, i: F.max_unpool1d(v, i, 2) * 2.0).eval()
    v, good, bad = np.arange(3.0).reshape(1, 1, 3), np.array([[[0, 2, 4]]]), np.array([[[0, 2, 6]]])
    errors = []
    for target in ("cpu", "cuda"):
        compiled = nngraph.compile(model, target=target)
        np.testing.assert_array_equal(compiled(v, good), model(v, good))
        assert compiled.specializations[0].executable.n_host_steps == 0
        with pytest.raises(Exception, match="max_unpool") as err:
            compiled(v, bad)
        errors.append(err.value)
        np.testing.assert_array_equal(compiled(v, good), model(v, good))
    cpu, cuda = errors
    assert type(cuda) is type(cpu) and str(cuda) == str(cpu)


def test_drawing_dropout_is_a_host_step_with_eager_masks() -> None:
    """Dropout that draws stays on the host (lower_random.py): one host step, eager mode's mask under the same
    seed, and the same number of draws."""
    x = np.random.default_rng(34).standard_normal((4, 6)).astype(np.float32)
    model = Fn(lambda m, x: F.dropout(x * 2.0, 0.5, training=True) + 1.0).eval()
    nngraph.manual_seed(123)
    want = model(x)
    state = nngraph._random.default_generator().bit_generator.state
    compiled = nngraph.compile(model, target="cuda", example_inputs=(x,))
    nngraph.manual_seed(123)
    got = compiled(x)
    exe = compiled.specializations[0].executable
    assert exe.n_host_steps == 1, exe.plan.host_nodes
    np.testing.assert_array_equal(got, want)
    assert nngraph._random.default_generator().bit_generator.state == state
