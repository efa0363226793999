"""Accuracy and determinism of the vectorised tanh/erf kernels (``rust/core/src/vmath``).

The reference is mpmath at 40 significant digits: the exact value, far beyond double
precision. A kernel output's error is |output − exact| in units of the spacing
(``np.spacing``) at the correctly rounded value, as a fraction, so 0.5 is what correct
rounding itself allows. NumPy/SciPy (themselves within about 1 ulp) are a second,
independent check.

Guarantees tested (f64): tanh, tanh' = sech² (formed from e^(−2|x|), not 1 − tanh², so the
bound is relative even where tanh rounds to ±1), erf and erf' = (2/√π)·exp(−x²) within 1 ulp,
relative, for every input whose exact output is a normal number; outputs in the subnormal range
are within one subnormal step (2⁻¹⁰⁷⁴) absolutely. Measured maxima are 0.6–0.9 ulp (printed
with ``-s``).

float32 is evaluated natively in f32 (the same formulas with f32 constants and polynomials):
within 2 f32 ulp by the same measure (subnormal outputs within 2⁻¹⁴⁹), checked against mpmath
on a grid of f32 inputs and, in a slow test, against the f64 kernels for every float32 input.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from deeplinear import _core

TINY = np.finfo(np.float64).tiny  # smallest normal f64
LN2 = math.log(2.0)


def _around(x: float, steps: int = 3) -> list[float]:
    """x and its float neighbours, ``steps`` each way."""
    out = [x]
    up = down = x
    for _ in range(steps):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        out += [float(up), float(down)]
    return out


def _grid() -> np.ndarray:
    xs: list[float] = list(np.linspace(-7.0, 7.0, 5601))
    # Magnitudes from subnormal to huge, log-spaced.
    xs += list(np.logspace(-323, 300, 1200))
    xs += [1e-320, 5e-324, TINY, 1e-300, 1e-17, 2.0**-27, 1e-8, 20.0, 19.06, 30.0, 1e300]
    # Branch points: where the exponential's reduction switches k (tanh: 2|x| = (k + ½)ln2;
    # erf': x² = (k + ½)ln2), erf's switch at |x| = 1 and its saturation at 6, the slopes'
    # underflow near 27.3 (erf') and 372 (tanh').
    for k in range(0, 60):
        xs += _around((k + 0.5) * LN2 / 2)
    for k in range(0, 1100, 7):
        xs += _around(math.sqrt((k + 0.5) * LN2), 1)
    for x in (1.0, 6.0, 5.9, 27.25, 27.3, 27.5, 354.0, 372.0, 372.6):
        xs += _around(x)
    arr = np.asarray(xs, dtype=np.float64)
    return np.concatenate([arr, -arr])


def _exact(name: str, x: float) -> tuple[object, object]:
    """The exact (φ(x), φ'(x)) as mpmath numbers, at 40 digits."""
    with mp.workdps(40):
        z = mp.mpf(x)
        if name == "tanh":
            return mp.tanh(z), mp.sech(z) ** 2
        return mp.erf(z), 2 / mp.sqrt(mp.pi) * mp.exp(-(z**2))


def _ulp_errors(got: np.ndarray, exact: list[object], dtype: type) -> np.ndarray:
    """|got − exact| in units of the spacing of ``dtype`` at the exact value."""
    out = np.empty(len(exact))
    for i, (g, e) in enumerate(zip(got, exact, strict=True)):
        ef = dtype(float(e))  # correctly rounded to the working dtype
        spacing = float(np.spacing(abs(ef))) if ef != 0 else float(np.spacing(dtype(0)))
        with mp.workdps(40):
            out[i] = float(abs(mp.mpf(float(g)) - e) / spacing)
    return out


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    return _grid()


@pytest.fixture(scope="module", params=["tanh", "erf"])
def exact(request: pytest.FixtureRequest, grid: np.ndarray) -> tuple[str, list, list]:
    pairs = [_exact(request.param, float(x)) for x in grid]
    return request.param, [p[0] for p in pairs], [p[1] for p in pairs]


def test_f64_within_the_stated_ulp_of_exact(grid, exact):
    name, value, slope = exact
    v, s = _core._activation(name, grid)
    assert v.dtype == np.float64 and s.dtype == np.float64
    value_err = _ulp_errors(v, value, np.float64)
    slope_err = _ulp_errors(s, slope, np.float64)
    normal = np.array([abs(float(e)) >= TINY for e in slope])
    print(f"{name}: max value error {value_err.max():.3f} ulp, slope {slope_err[normal].max():.3f}")
    assert value_err.max() <= 1.0, grid[value_err.argmax()]
    assert slope_err[normal].max() <= 1.0, grid[normal][slope_err[normal].argmax()]
    # Subnormal slopes: the error is at most one subnormal step, absolutely.
    assert slope_err[~normal].max(initial=0.0) <= 1.0


def _around32(x: float, steps: int = 2) -> list[float]:
    """The float32 nearest x and its float32 neighbours, ``steps`` each way."""
    centre = np.float32(x)
    out = [float(centre)]
    up = down = centre
    for _ in range(steps):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        out += [float(up), float(down)]
    return out


def _grid32() -> np.ndarray:
    """float32 inputs: dense on [−12, 12], every binade from the smallest subnormal to the
    largest finite float32, and the switch points of the f32 formulas."""
    xs: list[float] = list(np.linspace(-12.0, 12.0, 4801))
    xs += list(np.logspace(-45, 38.5, 900))
    # Per binade 2^e (e = −149 … 127): its first value, its middle and its last.
    for e in range(-149, 128):
        xs += [2.0**e, 1.5 * 2.0**e, 2.0 ** (e + 1) * (1 - 2.0**-24)]
    # Where the exponential's reduction switches k (tanh: 2|x| = (k + ½)ln2; erf':
    # x² = (k + ½)ln2, up to the f32 clamps at 2|x| = 110 and |x| = 10.25), erf's switch at 1
    # and its saturation at 4 (it rounds to 1 from about 3.92), the slopes' normal-range ends
    # (tanh' near 44.4, erf' near 9.35) and underflows (52.6, 10.17).
    for k in range(0, 160):
        xs += _around32((k + 0.5) * LN2 / 2, 1)
    for k in range(0, 152):
        xs += _around32(math.sqrt((k + 0.5) * LN2), 1)
    for x in (1.0, 3.92, 4.0, 9.35, 10.17, 10.25, 44.4, 52.6, 55.0, 1e-4, 2.0**-12):
        xs += _around32(x)
    arr = np.asarray(xs, dtype=np.float64).astype(np.float32)
    return np.concatenate([arr, -arr])


def test_f32_within_two_ulp_of_exact():
    x32 = _grid32()
    for name in ("tanh", "erf"):
        # The exact values at the float32 inputs themselves.
        pairs = [_exact(name, float(x)) for x in x32]
        v, s = _core._activation(name, x32)
        assert v.dtype == np.float32 and s.dtype == np.float32
        value_err = _ulp_errors(v, [p[0] for p in pairs], np.float32)
        slope_err = _ulp_errors(s, [p[1] for p in pairs], np.float32)
        print(f"{name} f32: max value error {value_err.max():.3f} ulp, slope {slope_err.max():.3f}")
        assert value_err.max() <= 2.0, x32[value_err.argmax()]
        assert slope_err.max() <= 2.0, x32[slope_err.argmax()]


def test_agrees_with_numpy_and_scipy(grid):
    finite = grid[np.isfinite(grid)]
    v, s = _core._activation("tanh", finite)
    np.testing.assert_allclose(v, np.tanh(finite), rtol=4e-16, atol=0)
    moderate = np.abs(finite) < 15
    sech2 = 1 / np.cosh(finite[moderate]) ** 2
    np.testing.assert_allclose(s[moderate], sech2, rtol=1e-15, atol=0)
    v, s = _core._activation("erf", finite)
    np.testing.assert_allclose(v, special.erf(finite), rtol=4e-16, atol=0)
    small = np.abs(finite) < 5
    expected = 2 / np.sqrt(np.pi) * np.exp(-(finite[small] ** 2))
    # NumPy's exp(−x·x) inherits x²·2⁻⁵³ of relative error from rounding x·x.
    np.testing.assert_allclose(s[small], expected, rtol=4e-16 + 30e-16, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_special_values(name, dtype):
    z = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 20.0, -20.0], dtype=dtype)
    v, s = _core._activation(name, z)
    assert not np.signbit(v[0]) and np.signbit(v[1]), "the sign of zero is kept"
    assert v[0] == 0 and v[1] == 0
    np.testing.assert_array_equal(v[[2, 3, 7, 8]], [1, -1, 1, -1])
    expected_slope_at_0 = 1.0 if name == "tanh" else 2 / math.sqrt(math.pi)
    np.testing.assert_array_equal(s[[0, 1]], dtype(expected_slope_at_0))
    np.testing.assert_array_equal(s[[2, 3]], [0, 0])
    assert np.isnan(v[4]) and np.isnan(s[4]), "NaN in, NaN out"
    # Tiny inputs: tanh x = x, erf x = (2/√π)·x (in f32, 1e-45 is the smallest subnormal).
    tiny = z[5]
    np.testing.assert_array_equal(
        v[5], tiny if name == "tanh" else dtype(expected_slope_at_0 * tiny)
    )
    assert np.signbit(v[6])


def test_tanh_slope_keeps_relative_accuracy_where_one_minus_tanh_squared_cancels():
    z = np.array([10.0, 20.0, 100.0, 300.0])
    v, s = _core._activation("tanh", z)
    assert np.all(1.0 - v[1:] * v[1:] == 0.0)  # what the textbook formula would return
    exact = [float(mp.sech(mp.mpf(x)) ** 2) for x in z]
    np.testing.assert_allclose(s, exact, rtol=4.5e-16, atol=0)


elements = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)


@given(
    values=st.lists(elements, min_size=1, max_size=150),
    offset=st.integers(0, 40),
    name=st.sampled_from(["tanh", "erf"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_each_result_depends_only_on_its_own_value(values, offset, name, dtype):
    with np.errstate(over="ignore"):  # float64 values beyond float32's range become ±inf
        z = np.asarray(values, dtype=np.float64).astype(dtype)
    v, s = _core._activation(name, z)
    # Shift the same values to another offset inside a longer slice, with other values around.
    padded = np.concatenate([np.linspace(-3, 3, offset), z, np.full(7, 0.25)]).astype(dtype)
    pv, ps = _core._activation(name, padded)
    np.testing.assert_array_equal(pv[offset : offset + len(z)].view(np.uint8), v.view(np.uint8))
    np.testing.assert_array_equal(ps[offset : offset + len(z)].view(np.uint8), s.view(np.uint8))
    # And each value alone, in a slice of length one.
    for i in range(0, len(z), 17):
        one_v, one_s = _core._activation(name, z[i : i + 1])
        assert one_v.view(np.uint8).tobytes() == v[i : i + 1].view(np.uint8).tobytes()
        assert one_s.view(np.uint8).tobytes() == s[i : i + 1].view(np.uint8).tobytes()


def test_shapes_dtypes_and_names():
    z = np.linspace(-2, 2, 24).reshape(2, 3, 4)
    v, s = _core._activation("erf", z)
    assert v.shape == s.shape == (2, 3, 4)
    v, s = _core._activation("tanh", np.empty(0))
    assert v.shape == s.shape == (0,)
    with pytest.raises(ValueError, match="name: expected 'tanh' or 'erf', got \"relu\""):
        _core._activation("relu", z)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core._activation("tanh", np.arange(3))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_f64_on_many_random_points(name):
    """The bounds of the grid test on 60k random points: uniform on [−8, 8] and [−1.2, 1.2]
    (erf's switch at 1), and log-uniform magnitudes from 1e-20 to 1e3."""
    rng = np.random.default_rng(7)
    n = 20_000
    magnitudes = 10 ** rng.uniform(-20, 3, n) * np.where(rng.random(n) < 0.5, -1, 1)
    xs = np.concatenate([rng.uniform(-8, 8, n), rng.uniform(-1.2, 1.2, n), magnitudes])
    pairs = [_exact(name, float(x)) for x in xs]
    v, s = _core._activation(name, xs)
    assert _ulp_errors(v, [p[0] for p in pairs], np.float64).max() <= 1.0
    normal = np.array([abs(float(p[1])) >= TINY for p in pairs])
    slope_err = _ulp_errors(s, [p[1] for p in pairs], np.float64)
    assert slope_err[normal].max() <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_f32_every_input_within_two_ulp(name):
    """Every float32 input, against the f64 kernels (within 1 f64 ulp of exact, that is
    2⁻²⁹ f32 ulp): every positive float32 is checked, and −x gives exactly −φ(x) and φ'(x).
    Several minutes per function. Measured maxima: tanh 0.754, tanh' 0.776, erf 0.997, erf'
    0.841 ulp."""
    worst_value = worst_slope = 0.0
    chunk = 1 << 22
    for start in range(0, 0x7F80_0000, chunk):  # every finite non-negative float32
        stop = min(start + chunk, 0x7F80_0000)
        x32 = np.arange(start, stop, dtype=np.uint32).view(np.float32)
        v32, s32 = _core._activation(name, x32)
        v64, s64 = _core._activation(name, x32.astype(np.float64))
        for got, reference, kind in ((v32, v64, "value"), (s32, s64, "slope")):
            spacing = np.spacing(np.abs(reference.astype(np.float32))).astype(np.float64)
            err = np.abs(got - reference) / spacing
            assert err.max() <= 2.0, (kind, x32[err.argmax()])
            if kind == "value":
                worst_value = max(worst_value, float(err.max()))
            else:
                worst_slope = max(worst_slope, float(err.max()))
        nv, ns = _core._activation(name, -x32)
        np.testing.assert_array_equal(nv.view(np.uint32), (-v32).view(np.uint32))
        np.testing.assert_array_equal(ns.view(np.uint32), s32.view(np.uint32))
    print(
        f"{name} f32, every input: max value error {worst_value:.3f} ulp, slope {worst_slope:.3f}"
    )
    specials = np.array([np.inf, -np.inf, np.nan], dtype=np.float32)
    v, s = _core._activation(name, specials)
    np.testing.assert_array_equal(v[:2], [1, -1])
    np.testing.assert_array_equal(s[:2], [0, 0])
    assert np.isnan(v[2]) and np.isnan(s[2])
