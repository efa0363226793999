"""Property-based fuzz of the public API: whatever a user passes, only a clear exception escapes.

Every public function of ``deeplinear``, ``deeplinear.init`` and ``deeplinear.metrics`` (taken
from the modules' ``__all__``, so a new function is fuzzed as soon as it is exported) and every
keyword argument of ``deeplinear.train`` (taken from its signature) is called with drawn shapes,
dtypes, memory layouts, non-finite values, wrong types and out-of-range values, mostly around a
valid call so that the draws reach the deep checks. The only exceptions allowed to escape are
ValueError, TypeError, MemoryError and numpy.linalg.LinAlgError, each with a non-empty message.
A function or parameter without a strategy here fails
:func:`test_every_public_parameter_has_a_strategy`.

Sizes stay small in process. Huge sizes and thread counts run in a child interpreter (with its
address space capped, so a mistake cannot fill the machine's memory), so that an abort in Rust's
allocation-error handler fails the test instead of killing the test run.

Length: ``DEEPLINEAR_FUZZ_EXAMPLES`` examples per function (default: 2/5 of the hypothesis
profile's ``max_examples``, i.e. 40 with the default ``ci`` profile, a few seconds per function).
For a long soak: ``HYPOTHESIS_PROFILE=thorough`` (400 per function) or e.g.
``DEEPLINEAR_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_api.py``.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import deeplinear as dl

ALLOWED = (ValueError, TypeError, MemoryError, np.linalg.LinAlgError)

EXAMPLES = int(os.environ.get("DEEPLINEAR_FUZZ_EXAMPLES", 0)) or max(
    5, settings().max_examples * 2 // 5
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Exported names that are not functions to fuzz, and why.
NOT_FUZZED = {
    "deeplinear.TrainResult": "a result dataclass built by train",
    "deeplinear.TrainState": "a result dataclass built by train; fuzzed as train(state=...)",
    "deeplinear.errors": "the exception classes",
    "deeplinear.kernels": "a module, fuzzed through its own __all__",
    **{
        f"deeplinear.{name}": "an exception class"
        for name in (
            "ArgumentTypeError",
            "DeeplinearError",
            "InvalidValueError",
            "NoConvergenceError",
            "OutOfMemoryError",
            "ShapeError",
        )
    },
    "deeplinear.__version__": "a string",
    "deeplinear.data": "loaders and preprocessing of data files; bad files and arrays are "
    "tested case by case in tests/test_data.py",
    "deeplinear.init": "a module, fuzzed through its own __all__",
    "deeplinear.metrics": "a module, fuzzed through its own __all__",
    "deeplinear.options": "the TrainOptions value train builds from its keywords; fuzzed as "
    "train's arguments",
    "deeplinear.optim": "the values of train's lr, weight_decay and lr_schedule; fuzzed as "
    "train's arguments, and every bad value tested case by case in tests/test_optim.py",
    "deeplinear.reference": "the NumPy twins, plain-NumPy oracles of the fuzzed functions",
    "deeplinear.sweep": "grid specs are validated by tests/test_sweep_grid.py",
}


def public_functions() -> dict[str, Callable[..., Any]]:
    """Every exported function, by qualified name."""
    found = {}
    for module in (dl, dl.init, dl.metrics, dl.kernels):
        for name in module.__all__:
            qualified = f"{module.__name__}.{name}"
            obj = getattr(module, name)
            if qualified in NOT_FUZZED:
                continue
            assert callable(obj), f"{qualified} is exported but is neither fuzzed nor listed"
            found[qualified] = obj
    return found


# ----------------------------------------------------------------------------------------------
# Building blocks


@dataclass(frozen=True)
class Net:
    """The shapes a call is drawn around: widths, batch, examples, dtype."""

    dims: tuple[int, ...]
    batch: int
    n: int
    dtype: type
    seed: int

    @property
    def depth(self) -> int:
        return len(self.dims) - 1


nets = st.builds(
    lambda dims, batch, n, dtype, seed: Net(tuple(dims), batch, n, dtype, seed),
    st.lists(st.integers(1, 4), min_size=2, max_size=4),
    st.integers(1, 3),
    st.integers(1, 4),
    st.sampled_from([np.float64, np.float32]),
    st.integers(0, 2**32),
)

#: Values of the wrong type for almost any parameter.
wrong = st.sampled_from(
    [None, "3", b"3", 1.5, [2], (), {}, {"a": 1}, object(), 3j, np.array([1.0, 2.0]), print]
)


def often(valid: st.SearchStrategy[Any], *invalid: st.SearchStrategy[Any]) -> st.SearchStrategy:
    """``valid`` about 3 times in 4, else one of ``invalid`` (and wrong types)."""
    bad = st.one_of(wrong, *invalid)
    return st.integers(0, 3).flatmap(lambda k: bad if k == 0 else valid)


reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3),
    st.sampled_from([np.float32(0.5), np.float64(-0.0), 1e308, -1e-308, np.int64(2), True]),
)
small_ints = st.one_of(st.integers(-2, 5), st.sampled_from([np.int64(2), np.int32(1), np.uint8(3)]))
dtypes = st.sampled_from(
    [np.float64, np.float32, "float32", "f8", np.dtype(np.float64), np.float16, np.int64,
     np.complex128, np.bool_, "bogus", object, 3]
)  # fmt: skip
seeds = st.one_of(
    st.none(),
    st.integers(-3, 2**64 + 3),
    st.lists(st.integers(-1, 2**64), max_size=4),
    st.sampled_from(["0", 1.0, np.uint64(3), np.array([1, 2]), [1.5], [[1]]]),
)
threads_in_process = st.one_of(st.none(), st.integers(-1, 3), st.sampled_from([np.int64(2)]))


def choice_of(*names: str) -> st.SearchStrategy[Any]:
    return often(st.sampled_from(names), st.sampled_from(["", "bogus", names[0].upper(), None]))


@st.composite
def arrays(draw, shape: tuple[int, ...], dtype: type) -> Any:
    """Mostly a finite C-contiguous array of ``shape`` and ``dtype``; else any of: another shape,
    dtype or memory layout, non-finite or extreme values, a list, a scalar."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["valid"] * 6 + ["shape", "dtype", "nonfinite", "extreme"]))
    if kind == "shape":
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    a = rng.standard_normal(shape)
    if kind == "nonfinite" and a.size:
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if kind == "extreme":
        a *= draw(st.sampled_from([1e300, 1e-300, 0.0]))
    if kind == "dtype":
        dtype = draw(st.sampled_from([np.float16, np.int64, np.complex128, np.bool_, object, "U3"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 1e300 to float32 overflows, on purpose
        a = a.astype(dtype)
    layout = draw(st.sampled_from(["C"] * 4 + ["F", "strided", "reversed", "readonly", "list"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        wide = np.repeat(a, 2, axis=-1)
        a = wide[..., ::2]
    elif layout == "reversed" and a.ndim:
        a = a[..., ::-1]
    elif layout == "readonly":
        a.setflags(write=False)
    elif layout == "list":
        return a.tolist()
    return a


@st.composite
def layer_lists(draw, net: Net) -> Any:
    """Per-layer arrays (batch, d_out, d_in) of ``net``; sometimes a broken list."""
    layers = [
        draw(arrays((net.batch, d_out, d_in), net.dtype))
        for d_in, d_out in zip(net.dims[:-1], net.dims[1:])
    ]
    how = draw(st.sampled_from(["list"] * 6 + ["tuple", "empty", "drop", "extra", "stacked"]))
    if how == "tuple":
        return tuple(layers)
    if how == "empty":
        return []
    if how == "drop" and len(layers) > 1:
        return layers[1:]
    if how == "extra":
        return [*layers, layers[0]]
    if how == "stacked":
        return np.zeros((len(layers), 2, 2))
    return layers


def per_network_or_shared(net: Net, rows: int, cols: int) -> st.SearchStrategy[Any]:
    return st.one_of(arrays((rows, cols), net.dtype), arrays((net.batch, rows, cols), net.dtype))


def biases(net: Net, allow_none_entries: bool) -> st.SearchStrategy[Any]:
    entries = [arrays((net.batch, d), net.dtype) for d in net.dims[1:]]
    if allow_none_entries:
        entries = [st.one_of(st.none(), e) for e in entries]
    return often(st.one_of(st.none(), st.tuples(*entries).map(list)))


def dims_of(net: Net) -> st.SearchStrategy[Any]:
    return often(
        st.one_of(st.just(list(net.dims)), st.just(tuple(net.dims)), st.just(np.array(net.dims))),
        st.lists(st.integers(-1, 4), max_size=5),
        st.sampled_from(["34", [2.0, 3.0], [[2, 3]], [True, 2], np.array([2.5, 3.0])]),
    )


# ----------------------------------------------------------------------------------------------
# Strategies per parameter: (net) -> strategy. Shared by name, overridden per function.

Param = Callable[[Net], st.SearchStrategy[Any]]

COMMON: dict[str, Param] = {
    "dims": dims_of,
    "batch": lambda net: often(st.just(net.batch), small_ints, st.just(None)),
    "seed": lambda net: often(st.just(net.seed), seeds),
    "dtype": lambda net: often(st.just(net.dtype), dtypes),
    "threads": lambda net: often(st.one_of(st.none(), st.just(1), st.just(2)), threads_in_process),
    "std": lambda net: often(st.just(1.0), reals),
    "gain": lambda net: often(st.just(1.0), reals),
    "sigma": lambda net: often(st.just(0.1), reals),
    "sigma_w": lambda net: often(st.just(1.0), reals),
    "sigma_b": lambda net: often(st.just(0.1), reals),
    "q_star": lambda net: often(st.sampled_from([1 / 64, 0.5, 2.0]), reals),
    "alpha": lambda net: often(st.just(0.7), reals),
    "weights": layer_lists,
    "w0": layer_lists,
    "w1": layer_lists,
    "X": lambda net: per_network_or_shared(net, net.dims[0], net.n),
    "Phi": lambda net: per_network_or_shared(net, net.dims[-1], net.dims[0]),
    "activation": lambda net: choice_of("linear", "tanh", "relu", "erf"),
    "parameterization": lambda net: choice_of("standard", "ntk"),
    "biases": lambda net: biases(net, allow_none_entries=False),
    "biases0": lambda net: biases(net, allow_none_entries=False),
    "biases1": lambda net: biases(net, allow_none_entries=False),
    "method": lambda net: choice_of("auto", "dense", "lanczos", "matrix_free"),
    "loss": lambda net: choice_of("mse", "cross_entropy"),
    "fisher": lambda net: choice_of("true", "empirical"),
    "labels": lambda net: often(
        st.one_of(
            st.none(),
            st.just(np.arange(net.n) % max(net.dims[-1], 1)),
            arrays((net.dims[-1], net.n), net.dtype),
            arrays((net.batch, net.n), np.int64),
        )
    ),
    "k": lambda net: often(st.integers(1, 3), small_ints, st.just(10**6)),
    "params": lambda net: choice_of("all", "weights"),
    "iterations": lambda net: often(st.one_of(st.none(), st.integers(1, 30)), small_ints),
    "tol": lambda net: often(st.sampled_from([1e-10, 1e-3, 0.0]), reals),
    "per_layer": lambda net: often(st.booleans(), st.just(np.bool_(True))),
    "i": lambda net: often(st.integers(-net.depth, net.depth - 1), st.integers(-9, 9)),
    "j": lambda net: often(st.integers(-net.depth, net.depth - 1), st.integers(-9, 9)),
    "rows": lambda net: often(st.integers(1, 5), small_ints),
    "cols": lambda net: often(st.one_of(st.none(), st.integers(1, 5)), small_ints),
    "randomize": lambda net: often(st.booleans()),
    "product": lambda net: st.one_of(
        st.none(), per_network_or_shared(net, net.dims[-1], net.dims[0])
    ),
}

TRAIN: dict[str, Param] = {
    "X": lambda net: st.one_of(st.none(), per_network_or_shared(net, net.dims[0], net.n)),
    "Y": lambda net: per_network_or_shared(net, net.dims[-1], net.n),
    "lr": lambda net: often(
        st.sampled_from([0.01, 0.0]),
        reals,
        st.lists(reals, min_size=net.batch, max_size=net.batch),
        st.lists(st.floats(0, 0.1), max_size=4).map(np.array),
        st.builds(
            lambda base, group, value: dl.optim.Rates(base, **{group: value}),
            st.sampled_from([0.01, 0.0]),
            st.sampled_from(["manifold", "output", "biases", "scales"]),
            st.one_of(reals, st.lists(st.floats(0, 0.1), max_size=4)),
        ),
    ),
    "lr_schedule": lambda net: often(
        st.sampled_from(
            [None, dl.optim.constant(), dl.optim.step_decay(2, 0.5), dl.optim.warmup_cosine(3, 1)]
        ),
        st.just("cosine"),
        st.just(("step_decay", 2, 0.5)),
    ),
    "weight_decay": lambda net: often(
        st.sampled_from([0.0, 0.1]),
        reals,
        st.builds(lambda v: dl.optim.Rates(0.1, biases=v), reals),
    ),
    "decay": lambda net: often(st.sampled_from([None, 0.9]), reals),
    "centered": lambda net: often(st.booleans()),
    "oblique_penalty": lambda net: often(st.sampled_from([0.0, 0.1]), reals),
    "steps": lambda net: often(st.integers(0, 4), small_ints),
    "tol": lambda net: often(st.one_of(st.none(), st.just(1e-3)), reals),
    "record_every": lambda net: often(st.integers(1, 3), small_ints),
    "biases": lambda net: biases(net, allow_none_entries=True),
    "record": lambda net: often(
        st.lists(
            st.sampled_from(
                [
                    "loss",
                    "balancedness",
                    "balancedness_per_layer",
                    "singular_values",
                    "grad_norms",
                    "fisher_max_eigenvalue",
                    "fisher_max_eigenvalue_weights",
                    "empirical_fisher_max_eigenvalue",
                    "ntk_relative_change",
                    "jacobian_max_singular_value",
                ]
            ),
            max_size=3,
        ),
        st.just("loss"),
        st.lists(st.sampled_from(["bogus", 3, None, "loss"]), max_size=2),
    ),
    "manifold": lambda net: choice_of("euclidean", "stiefel", "oblique"),
    # Announced options of the engine rewrite, fuzzed as soon as train takes them.
    "loss": lambda net: choice_of("mse", "cross_entropy"),
    "reduction": lambda net: often(st.sampled_from([None, "sum", "mean"]), st.just("bogus")),
    "optimizer": lambda net: choice_of("gd", "sgd", "adam", "adamw", "rmsprop"),
    "momentum": lambda net: often(st.sampled_from([0.0, 0.9]), reals),
    "nesterov": lambda net: often(st.booleans()),
    "betas": lambda net: often(st.just((0.9, 0.999)), st.tuples(reals, reals), st.just((0.9,))),
    "eps": lambda net: often(st.just(1e-8), reals),
    "batch_size": lambda net: often(st.one_of(st.none(), st.integers(1, net.n)), small_ints),
    "data_seed": lambda net: often(st.one_of(st.none(), st.just(net.seed)), seeds),
    "learn_scale": lambda net: often(st.booleans()),
    "eval_data": lambda net: often(
        st.one_of(
            st.none(),
            st.tuples(
                per_network_or_shared(net, net.dims[0], net.n),
                per_network_or_shared(net, net.dims[-1], net.n),
            ),
        ),
        st.just((np.ones(3),)),
    ),
    "target_accuracy": lambda net: often(st.one_of(st.none(), st.just(0.5)), reals),
    "state": lambda net: often(st.none(), st.just("a state"), st.just({"step": 1})),
    "record_data": lambda net: often(
        st.one_of(
            st.none(),
            per_network_or_shared(net, net.dims[0], 3),
            st.tuples(
                per_network_or_shared(net, net.dims[0], 3),
                st.one_of(st.none(), per_network_or_shared(net, net.dims[-1], 3)),
            ),
        ),
        st.just((np.ones(3),)),
    ),
}

KERNELS: dict[str, Param] = {
    "X2": lambda net: often(st.one_of(st.none(), arrays((net.dims[0], 2), np.float64))),
    "sigma_b": lambda net: often(st.one_of(st.none(), st.just(0.1)), reals),
    "method": lambda net: choice_of("auto", "closed_form", "quadrature"),
    "parameterization": lambda net: choice_of("ntk", "standard"),
}

OVERRIDES: dict[str, dict[str, Param]] = {
    "deeplinear.train": TRAIN,
    "deeplinear.kernels.nngp": KERNELS,
    "deeplinear.kernels.ntk": KERNELS,
    "deeplinear.init.mean_field": {"weights": lambda net: choice_of("gaussian", "orthogonal")},
    "deeplinear.init.critical": {"weights": lambda net: choice_of("orthogonal", "gaussian")},
    "deeplinear.haar_orthogonal": {
        "batch": lambda net: often(st.one_of(st.none(), st.integers(1, 3)), small_ints)
    },
}


def strategy_for(function: str, param: str) -> Param | None:
    return OVERRIDES.get(function, {}).get(param) or COMMON.get(param)


def test_every_public_parameter_has_a_strategy():
    """A new export or parameter must get a strategy here (or be listed in NOT_FUZZED)."""
    missing = [
        f"{name}({param})"
        for name, fn in public_functions().items()
        for param in inspect.signature(fn).parameters
        if strategy_for(name, param) is None
    ]
    assert not missing, f"no fuzz strategy for {missing}"
    assert {"deeplinear.train", "deeplinear.haar_orthogonal", "deeplinear.metrics.ntk"} <= set(
        public_functions()
    )


@st.composite
def calls(draw, name: str, fn: Callable[..., Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments for ``fn``: required ones always, optional ones half the
    time (else the default), each from its strategy around one drawn network."""
    net = draw(nets)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        required = param.default is inspect.Parameter.empty
        if not required and not draw(st.booleans()):
            continue
        strategy = strategy_for(name, param.name)
        assert strategy is not None, f"{name}({param.name}) has no strategy"
        value = draw(strategy(net))
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and required:
            args.append(value)
        else:
            kwargs[param.name] = value
    return tuple(args), kwargs


def outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """None if the call returned or raised an allowed exception with a message; else what went
    wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. NumPy's overflow warnings: not exceptions
            fn(*args, **kwargs)
    except ALLOWED as err:
        if not str(err).strip():
            return f"{type(err).__name__} with an empty message"
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - a PanicException is a BaseException
        return f"{type(err).__module__}.{type(err).__name__}: {err}"
    return None


def _describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    def short(v: Any) -> str:
        if isinstance(v, np.ndarray):
            return f"array(shape={v.shape}, dtype={v.dtype}, C={v.flags.c_contiguous})"
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], np.ndarray):
            return f"{type(v).__name__}[{', '.join(short(x) for x in v)}]"
        return repr(v)[:200]

    return ", ".join([*map(short, args), *(f"{k}={short(v)}" for k, v in kwargs.items())])


@pytest.mark.parametrize("name", sorted(public_functions()))
def test_only_clear_exceptions_escape(name: str):
    fn = public_functions()[name]

    @FUZZ
    @given(calls(name, fn))
    def run(call: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
        args, kwargs = call
        problem = outcome(fn, args, kwargs)
        assert problem is None, f"{name}({_describe(args, kwargs)}) raised {problem}"

    run()


# ----------------------------------------------------------------------------------------------
# Huge sizes and thread counts, in a child interpreter

#: Any one of these as a size makes a request of at least 80 TB (or one no machine word holds).
HUGE = [10**13, 2**40 * 10, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**70]
THREADS = [None, 1, 2, 0, -1, 10**4, 2**31, 2**63, 2**64, 2**70, "max", "max+1"]
#: The child's address space: far more than any legitimate case here needs, far less than a
#: mistaken huge allocation would take, so a bug cannot fill the machine's memory.
CHILD_ADDRESS_SPACE = 16 * 2**30


def _child(conn: Any) -> None:
    """Run (function name, args, kwargs) calls sent over ``conn``; answer with the problem."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))
    functions = public_functions()
    cap = dl._core.max_threads()
    while True:
        try:
            name, args, kwargs = conn.recv()
        except EOFError:
            return
        if kwargs.get("threads") in ("max", "max+1"):
            kwargs["threads"] = cap + (kwargs["threads"] == "max+1")
        conn.send(outcome(functions[name], args, kwargs))


class Child:
    """A child interpreter that runs calls; restarted after it dies."""

    TIMEOUT_S = 120  # every call here is refused or tiny: a hang is the failure this catches

    def __init__(self) -> None:
        self.process: Any = None
        self.conn: Any = None

    def run(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        if self.process is None or not self.process.is_alive():
            context = multiprocessing.get_context("spawn")
            self.conn, theirs = context.Pipe()
            self.process = context.Process(target=_child, args=(theirs,), daemon=True)
            self.process.start()
            theirs.close()  # else the child's death would not close the pipe
        self.conn.send((name, args, kwargs))
        if not self.conn.poll(self.TIMEOUT_S):
            self.process.kill()
            self.process = None
            return f"no answer within {self.TIMEOUT_S} s (hung)"
        try:
            answer: str | None = self.conn.recv()
        except EOFError:
            self.process.join()
            code = self.process.exitcode
            self.process = None
            return f"the child died (exit status {code}; -6 is SIGABRT)"
        return answer

    def close(self) -> None:
        if self.process is not None:
            self.conn.close()
            self.process.join(timeout=10)
            if self.process.is_alive():
                self.process.kill()


@pytest.fixture(scope="module")
def child():
    runner = Child()
    yield runner
    runner.close()


@st.composite
def allocation_calls(draw, engine: bool) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """A call with one huge size (and a normal thread count), or small sizes and an extreme
    thread count. Arrays stay small."""
    extreme_threads = draw(st.booleans())
    threads = draw(st.sampled_from(THREADS if extreme_threads else [None, 1, 2, "max"]))
    huge = st.sampled_from(HUGE)

    def sizes(count: int) -> list[int]:
        """``count`` sizes, small but one huge (unless the threads are the point)."""
        values = [draw(st.integers(1, 4)) for _ in range(count)]
        if not extreme_threads:
            values[draw(st.integers(0, count - 1))] = draw(huge)
        return values

    if engine:
        steps = draw(st.sampled_from([1, 10**13, 2**62, 2**63 - 1]))
        d = draw(st.sampled_from([2, 10**6]))
        weights = [np.ones((1, 1, d)), np.ones((1, 1, 1))]
        kwargs = {"lr": 0.0, "steps": steps, "threads": threads, "tol": 10.0}
        return "deeplinear.train", (weights, None, np.ones((1, d))), kwargs
    which = draw(st.sampled_from(["haar", "init", "metric"]))
    if which == "haar":
        rows, cols, batch = sizes(3)
        kwargs = {"batch": batch, "threads": threads, "seed": 0}
        return "deeplinear.haar_orthogonal", (rows, cols), kwargs
    if which == "init":
        scheme = draw(
            st.sampled_from(
                ["gaussian", "orthogonal", "xavier", "he", "lecun", "identity", "zas",
                 "near_identity", "balanced", "critical"]
            )
        )  # fmt: skip
        *dims, batch = sizes(draw(st.integers(2, 4)) + 1)
        return f"deeplinear.init.{scheme}", (dims,), {"batch": batch, "threads": threads, "seed": 0}
    metric = draw(st.sampled_from(["singular_values", "balancedness", "ntk"]))
    weights = [np.ones((2, 3, 2)), np.ones((2, 2, 3))]
    args = (weights, np.ones((2, 3))) if metric == "ntk" else (weights,)
    return f"deeplinear.metrics.{metric}", args, {"threads": threads}


#: A failing child call restarts the child; shrinking would repeat that many times, so the first
#: failing example is reported as drawn (its description names every argument).
IN_CHILD = settings(FUZZ, max_examples=3 * EXAMPLES, phases=(Phase.explicit, Phase.generate))


@IN_CHILD
@given(allocation_calls(engine=False))
def test_huge_sizes_and_thread_counts_never_abort_or_hang(child, call):
    name, args, kwargs = call
    problem = child.run(name, args, kwargs)
    assert problem is None, f"{name}({_describe(args, kwargs)}): {problem}"


@IN_CHILD
@given(allocation_calls(engine=True))
def test_huge_training_requests_never_abort(child, call):
    name, args, kwargs = call
    problem = child.run(name, args, kwargs)
    assert problem is None, f"{name}({_describe(args, kwargs)}): {problem}"
