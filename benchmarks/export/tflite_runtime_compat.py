"""Do lite-hrnet's .tflite files load and agree in tflite-runtime 2.14 (numpy < 2, older Raspberry Pi images)?

Usage:  python benchmarks/export/tflite_runtime_compat.py TFLITE_RUNTIME_PYTHON FILE.tflite...

TFLITE_RUNTIME_PYTHON is the python of a venv made with
`python -m venv V && V/bin/pip install "numpy<2" tflite-runtime==2.14.0`. Each file is run on
one synthetic person crop in ai-edge-litert (this venv) and in tflite-runtime (that one);
writes tflite_runtime_compat.json beside this script.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from parity_table import TFLITE_RUNTIME_CHECK  # the child-side check, shared with parity_table.py

HERE = Path(__file__).resolve().parent


def main(argv) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    import ai_edge_litert

    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.runtimes import load

    child, files = argv[0], [str(Path(f).resolve()) for f in argv[1:]]
    for path in files:
        backend = load(path)
        meta = backend.metadata
        x = calibration_batch(None, tuple(meta["input_size"]), meta["mean"], meta["std"], count=1, seed=3)
        np.save(path + ".x.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
        np.save(path + ".litert.npy", backend(x).transpose(0, 2, 3, 1))
    result = subprocess.run([child, "-c", TFLITE_RUNTIME_CHECK, *files], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 1
    compat = json.loads(result.stdout)
    compat["files"] = {Path(k).name: v for k, v in compat["files"].items()}
    compat["ai_edge_litert"] = getattr(ai_edge_litert, "__version__", "2.3")
    for path in files:
        for suffix in (".x.npy", ".litert.npy"):
            Path(path + suffix).unlink(missing_ok=True)
    (HERE / "tflite_runtime_compat.json").write_text(json.dumps(compat, indent=1))
    print(json.dumps(compat, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
