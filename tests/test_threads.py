"""One PoseEstimator per runtime shared by several threads gives exactly the serial results; several
estimators (of one runtime or of different ones) in one process do not disturb each other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import numpy as np
import pytest

from lite_hrnet.pipeline import PoseEstimator

pytest.importorskip("torch")
pytest.importorskip("onnx")

KINDS = ["onnx", "xml", "tflite", "torch"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Dict[str, object]:
    pytest.importorskip("onnx2tf")
    from model_files import tiny_files

    return tiny_files(str(tmp_path_factory.getbasetemp()))


def estimator(tiny, kind: str, **kwargs) -> PoseEstimator:
    if kind == "torch":
        from model_files import MODEL, tiny_model

        return PoseEstimator(tiny_model(), model_name=MODEL, **kwargs)
    pytest.importorskip({"onnx": "onnxruntime", "xml": "openvino", "tflite": "ai_edge_litert"}[kind])
    return PoseEstimator(str(tiny[kind]), threads=1, **kwargs)


def work_items(n: int = 16, seed: int = 0) -> List[tuple]:
    """Images of different sizes with 0-3 person boxes each (N x 5, pixels)."""
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n):
        h, w = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        k = int(rng.integers(0, 4))
        x1, y1 = rng.uniform(0, w / 2, k), rng.uniform(0, h / 2, k)
        boxes = np.stack([x1, y1, x1 + rng.uniform(10, w / 2, k), y1 + rng.uniform(10, h / 2, k), rng.uniform(0.5, 1, k)], 1)
        items.append((image, boxes.astype(np.float32)))
    return items


def assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize("kind", KINDS)
def test_one_estimator_shared_by_threads_gives_the_serial_results(tiny, kind):
    est = estimator(tiny, kind, flip_test=True)
    items = work_items()
    serial = [est.predict(image, boxes) for image, boxes in items]
    assert sum(len(r) for r in serial) > 10
    start = threading.Barrier(4)

    def worker(offset: int):
        start.wait()  # all four threads call predict at the same moment
        # each thread walks the items from a different place, so that different images overlap
        return [(i, est.predict(*items[i])) for i in np.roll(np.arange(len(items)), offset * 4)]

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(worker, range(4)))
    for run in runs:
        for i, result in run:
            assert_same(result, serial[i])


def test_several_estimators_in_one_process(tiny):
    """Two estimators of one file and one of each other runtime, all predicting at once."""
    kinds = ["onnx", "onnx", "xml", "tflite", "torch"]
    estimators = [estimator(tiny, kind) for kind in kinds]
    items = work_items(8, seed=1)
    serial = [[est.predict(*item) for item in items] for est in estimators]
    for a, b in zip(serial[0], serial[1]):  # two sessions of one file: the same numbers
        assert_same(a, b)
    start = threading.Barrier(len(estimators))

    def worker(index: int):
        start.wait()
        return [estimators[index].predict(*item) for item in items]

    with ThreadPoolExecutor(len(estimators)) as pool:
        concurrent = list(pool.map(worker, range(len(estimators))))
    for got, want in zip(concurrent, serial):
        for a, b in zip(got, want):
            assert_same(a, b)
