"""Passes on converted TFLite files (lite_hrnet.export.rewrite), on small files built here operator by operator."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from model_files import empty_tflite  # noqa: E402

from lite_hrnet import metadata as md  # noqa: E402
from lite_hrnet.export.rewrite import tflite_batch_free_reshapes  # noqa: E402


def _reshape_then_slice_sharing_one_constant() -> bytes:
    """x (1 x 4 x 4 x 2) -> reshape to T = [1, 2, 8, 2] -> strided slice [.., 1:] with T as its end.

    onnx2tf writes LH-18 at 256x192 this way: one [1, C, H, W] constant is both a reshape's target and
    the end of a channel slice whose batch bit is masked. The slice must keep its end; the reshape must
    take the batch from its input.
    """
    model, graph, edit = empty_tflite()
    x = edit.tensor("x", [1, 4, 4, 2], np.float32)
    shared = edit.tensor("shared_target_and_end", [4], np.int32, np.array([1, 2, 8, 2], np.int32))
    reshaped = edit.tensor("reshaped", [1, 2, 8, 2], np.float32)
    graph.operators.append(edit.op("RESHAPE", [x, shared], [reshaped], "ReshapeOptions", newShape=[1, 2, 8, 2]))
    sliced = edit.tensor("sliced", [1, 2, 8, 1], np.float32)
    begin = edit.tensor("begin", [4], np.int32, np.array([0, 0, 0, 1], np.int32))
    strides = edit.tensor("strides", [4], np.int32, np.array([1, 1, 1, 1], np.int32))
    graph.operators.append(edit.op("STRIDED_SLICE", [reshaped, begin, shared, strides], [sliced],
                                   "StridedSliceOptions", beginMask=1, endMask=1))
    graph.inputs, graph.outputs = [x], [sliced]
    return md.pack_tflite(model)


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_batch_free_reshapes_where_a_target_is_shared_with_a_slice_end():
    data = _reshape_then_slice_sharing_one_constant()
    x = np.arange(3 * 32, dtype=np.float32).reshape(3, 4, 4, 2)
    singles = [_run(data, x[i:i + 1]) for i in range(3)]
    np.testing.assert_array_equal(singles[1], x[1:2].reshape(1, 2, 8, 2)[..., 1:])
    with pytest.raises(RuntimeError):  # as converted: the reshape's target holds the batch of 1
        _run(data, x)

    model = md.unpack_tflite(data)
    assert tflite_batch_free_reshapes(model) == 1
    fixed = md.pack_tflite(model)
    np.testing.assert_array_equal(_run(fixed, x), np.concatenate(singles))
    graph = md.unpack_tflite(fixed).subgraphs[0]
    slice_end = graph.tensors[graph.operators[1].inputs[2]]
    reshape_target = graph.tensors[graph.operators[0].inputs[1]]
    values = md.unpack_tflite(fixed).buffers
    assert np.frombuffer(bytes(bytearray(values[slice_end.buffer].data)), np.int32).tolist() == [1, 2, 8, 2]
    assert np.frombuffer(bytes(bytearray(values[reshape_target.buffer].data)), np.int32).tolist() == [-1, 2, 8, 2]
    assert list(graph.tensors[graph.inputs[0]].shapeSignature) == [-1, 4, 4, 2]
