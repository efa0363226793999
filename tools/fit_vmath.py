"""Regenerate the polynomial coefficients of rust/core/src/vmath (needs mpmath).

Each fit is a weighted least-squares fit at Chebyshev nodes refined by Lawson's iteration
(which converges to the weighted minimax fit), done at 50 digits. The coefficients are then
rounded to f64 and the error of the rounded polynomial is measured on a fine grid, relative
to the function the kernel finally returns.

    python tools/fit_vmath.py expm1 9        # exp.rs, EXPM1_S
    python tools/fit_vmath.py erf1 12 1      # erf.rs, ERF_SMALL_Q (|x| < 1)
    python tools/fit_vmath.py erf2 11 1 3    # erf.rs, ERFC_G (1 <= |x| <= 6, K = 3)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import mpmath as mp

mp.mp.dps = 50
Fn = Callable[[mp.mpf], mp.mpf]


def fit(f: Fn, w: Fn, var: Fn, a: mp.mpf, b: mp.mpf, degree: int) -> tuple[list[float], mp.mpf]:
    """Coefficients c (rounded to f64) minimising max |w(x)·(Σ c_j var(x)^j − f(x))| on [a, b],
    and that maximum measured on 3001 points."""
    npts = 400
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + 0.5) / npts) for k in range(npts)]
    rows = [([var(x) ** j for j in range(degree + 1)], f(x), w(x)) for x in xs]
    lawson = [mp.mpf(1)] * npts
    for _ in range(30):
        A = mp.matrix(npts, degree + 1)
        rhs = mp.matrix(npts, 1)
        for i, (powers, fx, wx) in enumerate(rows):
            s = mp.sqrt(lawson[i]) * wx
            for j in range(degree + 1):
                A[i, j] = s * powers[j]
            rhs[i] = s * fx
        c, _ = mp.qr_solve(A, rhs)
        errs = [abs(wx * (mp.fdot(c, powers) - fx)) for powers, fx, wx in rows]
        total = mp.fsum(lw * e for lw, e in zip(lawson, errs, strict=True))
        lawson = [lw * e / total for lw, e in zip(lawson, errs, strict=True)]
    rounded = [float(c[j]) for j in range(degree + 1)]
    worst = mp.mpf(0)
    for k in range(3001):
        x = a + (b - a) * mp.mpf(k) / 3000
        t = var(x)
        value = mp.fsum(mp.mpf(cj) * t**j for j, cj in enumerate(rounded))
        worst = max(worst, abs(w(x) * (value - f(x))))
    return rounded, worst


def main(argv: list[str]) -> None:
    job, degree = argv[0], int(argv[1])
    if job == "expm1":
        # e^r − 1 = r + r²/2 + r³·S(r) on |r| ≤ ln2/2; error relative to e^r − 1.
        h = mp.log(2) / 2
        coeffs, err = fit(
            lambda r: (mp.expm1(r) - r - r * r / 2) / r**3 if r != 0 else mp.mpf(1) / 6,
            lambda r: abs(r**3 / mp.expm1(r)) if r != 0 else mp.mpf(0),
            lambda r: r,
            -h,
            h,
            degree,
        )
    elif job == "erf1":
        # erf x = x + x·Q(x²) on |x| < A; error relative to erf.
        A = mp.mpf(argv[2])
        coeffs, err = fit(
            lambda s: mp.erf(mp.sqrt(s)) / mp.sqrt(s) - 1 if s > 0 else 2 / mp.sqrt(mp.pi) - 1,
            lambda s: mp.sqrt(s) / mp.erf(mp.sqrt(s)) if s > 0 else mp.sqrt(mp.pi) / 2,
            lambda s: s,
            mp.mpf(0),
            A * A,
            degree,
        )
    elif job == "erf2":
        # erfc x = e^(−x²)·G((x − K)/(x + K)) on A ≤ x ≤ 6; error relative to erf.
        A, K = mp.mpf(argv[2]), mp.mpf(argv[3])
        coeffs, err = fit(
            lambda x: mp.exp(x * x) * mp.erfc(x),
            lambda x: mp.exp(-x * x) / mp.erf(x),
            lambda x: (x - K) / (x + K),
            A,
            mp.mpf(6),
            degree,
        )
    else:
        raise SystemExit(__doc__)
    print(f"// max weighted error with the f64 coefficients: {mp.nstr(err, 3)}")
    print("[" + ", ".join(repr(c) for c in coeffs) + "]")


if __name__ == "__main__":
    main(sys.argv[1:])
