"""`make demo`: Gaussian vs orthogonal initialisation of deep linear networks (Hu et al. 2020).

A small version of SPEC §5.1: data X (32 × 8), Y = W*X with d_y = 4, α = fanout_alpha(dims),
η = ½·d_y/(L‖X‖²), 1000 steps. Prints log10(ℓ(T)/ℓ(0)) over depth × width for both inits and
writes a side-by-side heat map. Expected: Gaussian fails at large depth for a fixed width, while
orthogonal trains at every depth.

Run with ``python -m deeplinear.demo [OUT_DIR]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import init
from .init import fanout_alpha
from .train import train

D_X, N, D_Y = 32, 8, 4
DEPTHS = (2, 8, 32, 128)
WIDTHS = (8, 16, 32, 64)
SEEDS = 3
STEPS = 1000
C = 0.5


def relative_loss_grid(scheme: str) -> np.ndarray:
    """Median over seeds of log10(ℓ(T)/ℓ(0)), shape (len(DEPTHS), len(WIDTHS))."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((D_X, N))
    Y = rng.standard_normal((D_Y, D_X)) @ X
    spectral_sq = float(np.linalg.norm(X, 2)) ** 2
    grid = np.empty((len(DEPTHS), len(WIDTHS)))
    for i, depth in enumerate(DEPTHS):
        for k, width in enumerate(WIDTHS):
            dims = [D_X] + [width] * (depth - 1) + [D_Y]
            make = init.gaussian if scheme == "gaussian" else init.orthogonal
            weights = make(dims, batch=SEEDS, seed=1000 * depth + width)
            lr = C * D_Y / (depth * spectral_sq)
            res = train(
                weights, X, Y, lr=lr, steps=STEPS, alpha=fanout_alpha(dims), record_every=STEPS
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.log10(res.loss[:, -1] / res.loss[:, 0])
            grid[i, k] = np.median(np.where(res.diverged, np.inf, ratio))
    return grid


def format_table(grids: dict[str, np.ndarray]) -> str:
    header = "depth " + "".join(f"{'w=' + str(w):>9}" for w in WIDTHS)
    lines = []
    for scheme, grid in grids.items():
        lines += [f"\n{scheme}: log10(loss(T)/loss(0)) after {STEPS} steps", header]
        lines += [
            f"{d:>5} " + "".join(f"{v:>9.1f}" for v in row)
            for d, row in zip(DEPTHS, grid, strict=True)
        ]
    return "\n".join(lines)


def plot(grids: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(grids), figsize=(5 * len(grids), 4), constrained_layout=True)
    for ax, (scheme, grid) in zip(np.atleast_1d(axes), grids.items(), strict=True):
        image = ax.imshow(np.clip(grid, -30, 0), origin="lower", cmap="viridis_r", vmin=-30, vmax=0)
        ax.set_xticks(range(len(WIDTHS)), [str(w) for w in WIDTHS])
        ax.set_yticks(range(len(DEPTHS)), [str(d) for d in DEPTHS])
        ax.set_xlabel("width m")
        ax.set_ylabel("depth L")
        ax.set_title(f"{scheme} init")
        for (r, c), v in np.ndenumerate(grid):
            label = "div" if not np.isfinite(v) else str(round(v) or 0)
            ax.text(c, r, label, ha="center", va="center", color="k" if v < -15 else "w")
    fig.colorbar(image, ax=axes, label="log10 loss(T)/loss(0)")
    fig.suptitle(f"Hu et al. 2020 (small): {STEPS} steps of GD, d_x={D_X}, n={N}, d_y={D_Y}")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "results/demo")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    grids = {scheme: relative_loss_grid(scheme) for scheme in ("gaussian", "orthogonal")}
    print(format_table(grids))
    try:
        figure = out / "hu2020_demo.png"
        plot(grids, figure)
        print(f"\nwrote {figure}")
    except ImportError:
        print("\n(matplotlib not installed: skipped the figure; pip install 'deeplinear[sweep]')")
    print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
