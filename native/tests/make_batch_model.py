"""A small .tflite file with a dynamic batch dimension, for testing liblitehrnet's batching.

    python native/tests/make_batch_model.py OUT.tflite

The project's TFLite exports have batch 1, so nothing else exercises the path where the C
library resizes the batch and runs all persons of a frame in one call. This writes two
convolutions with the demo model's input and output shapes (N x 128 x 96 x 3 -> N x 32 x 24 x 17,
N dynamic), converted by TensorFlow's TFLite converter, with lite-hrnet metadata
(``batch: "dynamic"``). Needs tensorflow (the export extra).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(out: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    from lite_hrnet.metadata import write_tflite_metadata
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec("litehrnet_18_coco_128x96")
    height, width = spec.input_size
    rng = np.random.default_rng(0)
    first = tf.constant(rng.normal(0, 0.2, (3, 3, 3, 8)).astype(np.float32))
    second = tf.constant(rng.normal(0, 0.2, (3, 3, 8, spec.num_joints)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32)])
    def net(x):
        return tf.nn.conv2d(tf.nn.relu(tf.nn.conv2d(x, first, 2, "SAME")), second, 2, "SAME")

    data = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net).convert()
    meta = dict(spec.metadata(), format="tflite", precision="fp32", layout="NHWC", batch="dynamic")
    Path(out).write_bytes(write_tflite_metadata(data, meta))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_batch_model.py OUT.tflite")
    main(sys.argv[1])
