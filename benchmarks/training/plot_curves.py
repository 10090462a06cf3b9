"""Plot the loss and validation AP curves of one or more `lite-hrnet train` runs into a PNG.

Usage: python benchmarks/training/plot_curves.py OUT.png RUN_DIR [RUN_DIR ...]

Each RUN_DIR holds the ``iterations.csv`` and ``log.csv`` that ``lite-hrnet train``
writes; runs are drawn one after the other (iterations and epochs continue),
each labelled with its folder name.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import List


def _rows(path: Path) -> List[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, runs = Path(argv[0]), [Path(p) for p in argv[1:]]
    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(12, 4.5))
    it_offset, ep_offset = 0, 0
    for run in runs:
        iters, epochs = _rows(run / "iterations.csv"), _rows(run / "log.csv")
        # iterations.csv counts from the run's start (or its resume point); shift so that runs follow each other.
        x = [it_offset + int(r["iteration"]) for r in iters]
        ax_loss.plot(x, [float(r["loss"]) for r in iters], label=run.name, lw=1)
        ex = [ep_offset + int(r["epoch"]) for r in epochs]
        ax_ap.plot(ex, [float(r["val_AP"]) for r in epochs], "o-", label=f"AP ({run.name})")
        ax_ap.plot(ex, [float(r["val_AP50"]) for r in epochs], "^-", label=f"AP50 ({run.name})")
        ax_ap.plot(ex, [float(r["val_PCK@0.2"]) for r in epochs], "s--", label=f"PCK@0.2 ({run.name})")
        it_offset = x[-1] if x else it_offset
        ep_offset = ex[-1] if ex else ep_offset
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("JointsMSELoss (train)")
    ax_loss.set_title("training loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_loss.legend()
    ax_ap.set_xlabel("epoch")
    ax_ap.set_ylabel("held-out synthetic validation")
    ax_ap.set_ylim(0, 1)
    ax_ap.set_title("validation COCO AP, AP50 (OKS) and PCK@0.2")
    ax_ap.grid(True, alpha=0.3)
    ax_ap.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
