"""End-to-end model files: a uint8 RGB crop in, decoded keypoints out, for apps that cannot run Python.

An end-to-end file is a plain exported file (heatmaps out) with the steps around the
network moved inside, so that a C, Java or Kotlin app only warps the crop and maps the
keypoints back to its image:

- input ``input``: N x H x W x 3 uint8 RGB crops (NHWC, ``(H, W)`` the model's input
  size), normalized inside as ``(pixel - mean) / std`` with the metadata's mean/std;
- output ``keypoints``: N x K x 3 float32, ``(x, y, score)`` per joint: the heatmap
  arg-max (first maximum in row-major order) moved a quarter heatmap pixel toward the
  higher neighbour with :func:`lite_hrnet.codec.refine_default`'s mmpose 1.x bounds
  (x where ``1 < x < W_hm - 1`` and ``y > 0``, y where ``1 < y < H_hm - 1`` and
  ``x > 0``), then converted to input-crop pixels the way the pipeline maps heatmaps
  back (:func:`lite_hrnet.geometry.heatmap_to_image` with the crop as the box):
  ``x_crop = x_hm * W_in / W_hm``, ``y_crop = y_hm * H_in / H_hm`` (no half-pixel
  offset); the score is the heatmap maximum.

A caller gets image pixels as ``x_image = x_crop * scale_w / W_in + center_x - scale_w / 2``
(likewise y), which is what :class:`lite_hrnet.pipeline.PoseEstimator` computes from heatmaps.

Files, for a model NAME: ``NAME_e2e.onnx`` (fp32, the plain ONNX's batch) and
``NAME_e2e_{fp32,fp16,int8}.tflite`` (batch 1). Both are built by editing the plain
files, which stay bit for bit inside:

- ONNX: nodes prepended (Cast, Sub, Div, Transpose to NCHW) and appended (Reshape,
  ArgMax, GatherElements, Sign, ...) with ``onnx.helper``;
- TFLite: builtin operators prepended (CAST, SUB, DIV) and appended (RESHAPE, ARG_MAX,
  REDUCE_MAX, FLOOR_MOD, FLOOR_DIV, GATHER_ND, GREATER, LESS, LOGICAL_AND, ...) by editing
  the flatbuffer, so any stock LiteRT runs the file. Editing instead of converting again
  keeps the network's kernels exactly those of the checked plain file (an int8 file keeps
  its quantization; the decoding runs in float32 after its DEQUANTIZE) and needs no second
  onnx2tf run. Tried here: onnx2tf on the end-to-end ONNX took its NHWC uint8 input for
  NCHW (the file wanted 1 x 96 x 3 x 128 crops), and the export's int8-only TFLite
  conversion would have quantized the decoding as well.

:func:`check_end_to_end` runs an end-to-end file and its plain file on the same crops
and requires the keypoints to equal :func:`lite_hrnet.codec.decode_heatmaps` of the plain
file's heatmaps: same arg-max positions, coordinates within ``MAX_SHIFT_PX``, scores within
``MAX_SCORE_DIFF``.

Metadata: the plain file's, plus ``end_to_end: true``, ``layout: "NHWC"``,
``input_dtype: "uint8"``, ``output: "keypoints"``, ``output_name`` and ``output_description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import metadata as md

INPUT_NAME = "input"
OUTPUT_NAME = "keypoints"
OUTPUT_DESCRIPTION = (
    "N x K x 3 float32 per person and joint: x, y in input-crop pixels (heatmap arg-max with the "
    "quarter-pixel shift of lite_hrnet.codec, times W_in / W_hm and H_in / H_hm) and the heatmap maximum as score"
)
MAX_SHIFT_PX = 1e-4  # keypoint difference (input-crop pixels) allowed against decoding the plain file
MAX_SCORE_DIFF = 1e-5  # score difference allowed against the plain file's heatmap maximum

__all__ = [
    "INPUT_NAME", "OUTPUT_NAME", "EndToEndParity", "check_end_to_end", "decode_to_crop", "e2e_metadata",
    "e2e_path", "e2e_target", "onnx_end_to_end", "tflite_end_to_end", "write_end_to_end",
]


def e2e_path(out_dir: Union[str, Path], name: str, fmt: str, precision: str = "fp32") -> Path:
    """``OUT/NAME_e2e.onnx`` (fp32 only) or ``OUT/NAME_e2e_{precision}.tflite``."""
    out_dir = Path(out_dir)
    if fmt == "onnx":
        if precision != "fp32":
            raise ValueError(f"end-to-end ONNX files are fp32 only, not {precision!r}")
        return out_dir / f"{name}_e2e.onnx"
    if fmt == "tflite":
        return out_dir / f"{name}_e2e_{precision}.tflite"
    raise ValueError(f"no end-to-end file for format {fmt!r}; choose onnx or tflite")


def e2e_target(fmt: str, precision: str, plain: Union[str, Path]) -> Optional[Path]:
    """The end-to-end file made from the plain export ``plain`` (``fmt`` at ``precision``), beside it;
    None where there is none (OpenVINO, ONNX fp16/int8)."""
    if fmt not in ("onnx", "tflite") or (fmt == "onnx" and precision != "fp32"):
        return None
    plain = Path(plain)
    tag = f"_{precision}.tflite"  # NAME_fp32.tflite -> NAME_e2e_fp32.tflite
    name = plain.name[: -len(tag)] if fmt == "tflite" and plain.name.endswith(tag) else plain.stem
    return e2e_path(plain.parent, name, fmt, precision)


def write_end_to_end(fmt: str, plain: Union[str, Path], path: Union[str, Path], meta: Optional[Dict[str, Any]] = None) -> Path:
    """:func:`onnx_end_to_end` or :func:`tflite_end_to_end` by ``fmt``."""
    if fmt == "onnx":
        return onnx_end_to_end(plain, path, meta)
    if fmt == "tflite":
        return tflite_end_to_end(plain, path, meta)
    raise ValueError(f"no end-to-end file for format {fmt!r}; choose onnx or tflite")


def e2e_metadata(plain: Dict[str, Any]) -> Dict[str, Any]:
    """The metadata of an end-to-end file made from a plain file with metadata ``plain`` (an RGB model)."""
    if str(plain.get("color_order", "RGB")).upper() != "RGB":
        raise ValueError(f"end-to-end files take RGB crops; this model's color order is {plain.get('color_order')}")
    return dict(
        plain, end_to_end=True, layout="NHWC", input_dtype="uint8", input_name=INPUT_NAME,
        output=OUTPUT_NAME, output_name=OUTPUT_NAME, output_description=OUTPUT_DESCRIPTION,
    )


def _crop_factors(meta: Dict[str, Any], heatmap_hw: Tuple[int, int]) -> Tuple[float, float]:
    """(W_in / W_hm, H_in / H_hm): heatmap pixels to input-crop pixels."""
    in_h, in_w = (int(v) for v in meta["input_size"])
    return in_w / heatmap_hw[1], in_h / heatmap_hw[0]


def decode_to_crop(heatmaps: np.ndarray, input_size: Tuple[int, int]) -> np.ndarray:
    """What an end-to-end file computes, in numpy: N x K x H_hm x W_hm heatmaps -> N x K x 3 (x, y, score).

    :func:`lite_hrnet.codec.decode_heatmaps` (quarter-pixel shift), then heatmap pixels to
    input-crop pixels as :func:`lite_hrnet.geometry.heatmap_to_image` maps them for a box
    that is the crop itself (``x * W_in / W_hm``).
    """
    from ..codec import decode_heatmaps
    from ..geometry import heatmap_to_image

    n, k, h, w = heatmaps.shape
    coords, scores = decode_heatmaps(heatmaps)
    in_h, in_w = input_size
    centers = np.tile(np.array([[in_w / 2.0, in_h / 2.0]]), (n, 1))
    scales = np.tile(np.array([[float(in_w), float(in_h)]]), (n, 1))
    xy = heatmap_to_image(coords, centers, scales, (h, w))
    return np.concatenate([xy, scores[..., None]], axis=-1).astype(np.float32)


# ---------------------------------------------------------------- ONNX

def onnx_end_to_end(plain: Union[str, Path], path: Union[str, Path], meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``path``, the end-to-end ONNX file of the plain fp32 ONNX file ``plain``.

    ``meta``: the plain file's metadata (read from ``plain`` when None); the end-to-end
    metadata (:func:`e2e_metadata`) is derived from it. The batch dimension stays as in
    ``plain`` (static or dynamic).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    plain, path = Path(plain), Path(path)
    meta = md.read_onnx_metadata(plain) if meta is None else meta
    model = onnx.load(str(plain))
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError(f"{plain}: a plain pose model has one input and one output")
    old_in, old_out = graph.input[0], graph.output[0]
    in_dims = old_in.type.tensor_type.shape.dim
    out_dims = old_out.type.tensor_type.shape.dim
    if len(in_dims) != 4 or in_dims[1].dim_value != 3 or len(out_dims) != 4:
        raise ValueError(f"{plain}: expected an N x 3 x H x W input and N x K x H x W heatmaps")
    in_h, in_w = (int(v) for v in meta["input_size"])
    k, h, w = (int(d.dim_value) for d in out_dims[1:])
    if (in_dims[2].dim_value, in_dims[3].dim_value) != (in_h, in_w) or k != int(meta["num_joints"]):
        raise ValueError(f"{plain}: its shapes do not match its metadata (input {in_h}x{in_w}, {meta['num_joints']} joints)")
    batch = in_dims[0].dim_param or in_dims[0].dim_value or "batch"
    fx, fy = _crop_factors(meta, (h, w))

    # The plain graph's I/O become internal tensors under new names.
    normalized, heatmaps = "e2e/normalized", "e2e/heatmaps"
    for op in graph.node:
        op.input[:] = [normalized if name == old_in.name else name for name in op.input]
        op.output[:] = [heatmaps if name == old_out.name else name for name in op.output]

    consts: List[onnx.TensorProto] = []

    def const(name: str, value, dtype) -> str:
        consts.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name=f"e2e/const/{name}"))
        return f"e2e/const/{name}"

    def node(op: str, inputs: Sequence[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    nodes: List[onnx.NodeProto] = []
    x = node("Cast", [INPUT_NAME], "e2e/pixels", to=TensorProto.FLOAT)
    x = node("Sub", [x, const("mean", meta["mean"], np.float32)], "e2e/centered")
    x = node("Div", [x, const("std", meta["std"], np.float32)], "e2e/scaled")
    node("Transpose", [x], normalized, perm=[0, 3, 1, 2])
    front = nodes
    nodes = []
    flat = node("Reshape", [heatmaps, const("flat_shape", [0, k, h * w], np.int64)], "e2e/flat")  # N x K x HW
    idx = node("ArgMax", [flat], "e2e/argmax", axis=2, keepdims=1)  # N x K x 1, first maximum
    score = node("GatherElements", [flat, idx], "e2e/score", axis=2)  # N x K x 1
    width = const("w", [w], np.int64)
    col = node("Mod", [idx, width], "e2e/x")
    row = node("Div", [idx, width], "e2e/y")
    xy = node("Concat", [col, row], "e2e/xy", axis=2)  # N x K x 2 integer heatmap pixels
    yx = node("Concat", [row, col], "e2e/yx", axis=2)
    # Neighbours along x (+-1) and y (+-W) of each maximum, clamped into the map; a clamped one is never used.
    plus = node("Min", [node("Add", [idx, const("step", [1, w], np.int64)], "e2e/plus_raw"),
                        const("last", [h * w - 1], np.int64)], "e2e/plus")
    minus = node("Max", [node("Add", [idx, const("back", [-1, -w], np.int64)], "e2e/minus_raw"),
                         const("zero", [0], np.int64)], "e2e/minus")
    diff = node("Sub", [node("GatherElements", [flat, plus], "e2e/v_plus", axis=2),
                        node("GatherElements", [flat, minus], "e2e/v_minus", axis=2)], "e2e/diff")
    # mmpose 1.x bounds: x refined where 1 < x < W-1 and y > 0, y where 1 < y < H-1 and x > 0.
    inside = node("And", [node("Greater", [xy, const("one", [1, 1], np.int64)], "e2e/above_one"),
                          node("Less", [xy, const("below", [w - 1, h - 1], np.int64)], "e2e/below_last")], "e2e/inside")
    ok = node("And", [inside, node("Greater", [yx, const("zero2", [0, 0], np.int64)], "e2e/other_positive")], "e2e/ok")
    quarter = node("Mul", [node("Cast", [ok], "e2e/ok_f", to=TensorProto.FLOAT), const("quarter", [0.25], np.float32)], "e2e/quarter")
    shift = node("Mul", [node("Sign", [diff], "e2e/sign"), quarter], "e2e/shift")
    coords = node("Add", [node("Cast", [xy], "e2e/xy_f", to=TensorProto.FLOAT), shift], "e2e/coords")
    crop = node("Mul", [coords, const("to_crop", [fx, fy], np.float32)], "e2e/crop")
    node("Concat", [crop, score], OUTPUT_NAME, axis=2)

    new_nodes = front + list(graph.node) + nodes
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(consts)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, [batch, in_h, in_w, 3]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [batch, k, 3]))
    del graph.value_info[:]
    md.write_onnx_metadata(model, e2e_metadata(meta))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# ---------------------------------------------------------------- TFLite

class _TFLiteEditor:
    """Adds tensors and builtin operators to subgraph 0 of an unpacked TFLite model (``ModelT``)."""

    _DTYPES = {np.dtype(np.float32): "FLOAT32", np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8",
               np.dtype(np.bool_): "BOOL"}

    def __init__(self, model) -> None:
        self.schema = md.tflite_schema()
        self.model = model
        self.graph = model.subgraphs[0]

    def tensor(self, name: str, shape: Sequence[int], dtype, data: Optional[np.ndarray] = None) -> int:
        s = self.schema
        t = s.TensorT()
        t.name = name
        t.shape = [int(v) for v in shape]
        t.type = getattr(s.TensorType, self._DTYPES[np.dtype(dtype)])
        t.buffer = 0  # buffer 0 is the empty one by convention: a computed tensor
        if data is not None:
            buffer = s.BufferT()
            buffer.data = list(np.ascontiguousarray(data, dtype=dtype).tobytes())
            self.model.buffers.append(buffer)
            t.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def const(self, name: str, value, dtype) -> int:
        value = np.asarray(value, dtype=dtype)
        return self.tensor(f"e2e/const/{name}", value.shape, dtype, value)

    def _opcode(self, op: str) -> int:
        s = self.schema
        code = getattr(s.BuiltinOperator, op)
        for i, oc in enumerate(self.model.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
                return i
        oc = s.OperatorCodeT()
        oc.builtinCode = code
        # Codes below 127 must also be in the deprecated byte field, which older runtimes read.
        oc.deprecatedBuiltinCode = min(code, s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        oc.version = 1
        self.model.operatorCodes.append(oc)
        return len(self.model.operatorCodes) - 1

    def op(self, op: str, inputs: Sequence[int], outputs: Sequence[int], options: Optional[str] = None, **fields) -> Any:
        s = self.schema
        o = s.OperatorT()
        o.opcodeIndex = self._opcode(op)
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        if options is not None:
            opts = getattr(s, f"{options}T")()
            for key, value in fields.items():
                setattr(opts, key, value)
            o.builtinOptionsType = getattr(s.BuiltinOptions, options)
            o.builtinOptions = opts
        return o

    def out(self, op: str, name: str, shape, dtype, inputs: Sequence[int], options: Optional[str] = None, **fields) -> int:
        """Append ``op`` computing a new tensor ``name``; returns the tensor's index."""
        index = self.tensor(f"e2e/{name}", shape, dtype)
        self.graph.operators.append(self.op(op, inputs, [index], options, **fields))
        return index


def tflite_end_to_end(plain: Union[str, Path], path: Union[str, Path], meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``path``, the end-to-end TFLite file of the plain (NHWC, float32 I/O) TFLite file ``plain``.

    Works for fp32, fp16 and int8 plain files alike: the network's operators are kept as
    they are; normalization runs before its input (float32) and decoding after its
    output (float32). ``meta``: the plain file's metadata (read from ``plain`` when None).
    """
    plain, path = Path(plain), Path(path)
    meta = md.read_tflite_metadata(plain) if meta is None else meta
    data = plain.read_bytes()
    model = md.unpack_tflite(data)
    e = _TFLiteEditor(model)
    s, g = e.schema, e.graph
    if len(model.subgraphs) != 1 or len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ValueError(f"{plain}: a plain pose model has one subgraph with one input and one output")
    old_in, old_out = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    if old_in.type != s.TensorType.FLOAT32 or old_out.type != s.TensorType.FLOAT32:
        raise ValueError(f"{plain}: expected float32 input and output (the plain export's)")
    n, in_h, in_w, c = (int(v) for v in old_in.shape)
    n_out, h, w, k = (int(v) for v in old_out.shape)
    if c != 3 or [in_h, in_w] != [int(v) for v in meta["input_size"]] or k != int(meta["num_joints"]) or n_out != n:
        raise ValueError(f"{plain}: expected NHWC I/O matching its metadata, got input {list(old_in.shape)}, output {list(old_out.shape)}")
    fx, fy = _crop_factors(meta, (h, w))
    old_in.name, old_out.name = "e2e/normalized", "e2e/heatmaps"
    network = list(g.operators)
    f32, i32, b8 = np.float32, np.int32, np.bool_

    # Normalization in front of the network.
    g.operators = []
    pixels = e.tensor(INPUT_NAME, [n, in_h, in_w, 3], np.uint8)
    x = e.out("CAST", "pixels", [n, in_h, in_w, 3], f32, [pixels], "CastOptions",
              inDataType=s.TensorType.UINT8, outDataType=s.TensorType.FLOAT32)
    x = e.out("SUB", "centered", [n, in_h, in_w, 3], f32, [x, e.const("mean", meta["mean"], f32)], "SubOptions")
    g.operators.append(e.op("DIV", [x, e.const("std", meta["std"], f32)], [g.inputs[0]], "DivOptions"))
    g.operators += network

    # Decoding after it. NHWC heatmaps N x H x W x K -> N x HW x K: the row-major (y, x) order of the codec.
    flat = e.out("RESHAPE", "flat", [n, h * w, k], f32, [g.outputs[0], e.const("flat_shape", [n, h * w, k], i32)],
                 "ReshapeOptions", newShape=[n, h * w, k])
    idx = e.out("ARG_MAX", "argmax", [n, k], i32, [flat, e.const("axis1", [1], i32)], "ArgMaxOptions",
                outputType=s.TensorType.INT32)  # the first maximum, as numpy's argmax
    score = e.out("REDUCE_MAX", "score", [n, k], f32, [flat, e.const("axes1", [1], i32)], "ReducerOptions", keepDims=False)
    w_const = e.const("w", [w], i32)
    col = e.out("FLOOR_MOD", "x", [n, k], i32, [idx, w_const], "FloorModOptions")
    row = e.out("FLOOR_DIV", "y", [n, k], i32, [idx, w_const], "FloorDivOptions")
    xy = e.out("PACK", "xy", [n, k, 2], i32, [col, row], "PackOptions", valuesCount=2, axis=2)
    yx = e.out("PACK", "yx", [n, k, 2], i32, [row, col], "PackOptions", valuesCount=2, axis=2)
    # Neighbours along x (+-1) and y (+-W) of each maximum, clamped into the map; a clamped one is never used.
    idx3 = e.out("RESHAPE", "argmax3", [n, k, 1], i32, [idx, e.const("shape_nk1", [n, k, 1], i32)],
                 "ReshapeOptions", newShape=[n, k, 1])
    plus = e.out("ADD", "plus_raw", [n, k, 2], i32, [idx3, e.const("step", [1, w], i32)], "AddOptions")
    plus = e.out("MINIMUM", "plus", [n, k, 2], i32, [plus, e.const("last", [h * w - 1], i32)], "MaximumMinimumOptions")
    minus = e.out("ADD", "minus_raw", [n, k, 2], i32, [idx3, e.const("back", [-1, -w], i32)], "AddOptions")
    minus = e.out("MAXIMUM", "minus", [n, k, 2], i32, [minus, e.const("zero", [0], i32)], "MaximumMinimumOptions")
    # GATHER_ND indices (n, position, k) into N x HW x K.
    batch_index = e.const("batch_index", np.broadcast_to(np.arange(n)[:, None, None], (n, k, 2)), i32)
    joint_index = e.const("joint_index", np.broadcast_to(np.arange(k)[None, :, None], (n, k, 2)), i32)
    values = []
    for name, pos in (("plus", plus), ("minus", minus)):
        where = e.out("PACK", f"{name}_index", [n, k, 2, 3], i32, [batch_index, pos, joint_index], "PackOptions",
                      valuesCount=3, axis=3)
        values.append(e.out("GATHER_ND", f"v_{name}", [n, k, 2], f32, [flat, where], "GatherNdOptions"))
    diff = e.out("SUB", "diff", [n, k, 2], f32, values, "SubOptions")
    zero_f = e.const("zero_f", [0.0], f32)
    up = e.out("CAST", "up", [n, k, 2], f32, [e.out("GREATER", "rises", [n, k, 2], b8, [diff, zero_f], "GreaterOptions")],
               "CastOptions", inDataType=s.TensorType.BOOL, outDataType=s.TensorType.FLOAT32)
    down = e.out("CAST", "down", [n, k, 2], f32, [e.out("LESS", "falls", [n, k, 2], b8, [diff, zero_f], "LessOptions")],
                 "CastOptions", inDataType=s.TensorType.BOOL, outDataType=s.TensorType.FLOAT32)
    sign = e.out("SUB", "sign", [n, k, 2], f32, [up, down], "SubOptions")  # np.sign: 0 where the neighbours are equal
    # mmpose 1.x bounds: x refined where 1 < x < W-1 and y > 0, y where 1 < y < H-1 and x > 0.
    above = e.out("GREATER", "above_one", [n, k, 2], b8, [xy, e.const("one", [1, 1], i32)], "GreaterOptions")
    below = e.out("LESS", "below_last", [n, k, 2], b8, [xy, e.const("below", [w - 1, h - 1], i32)], "LessOptions")
    other = e.out("GREATER", "other_positive", [n, k, 2], b8, [yx, e.const("zero2", [0, 0], i32)], "GreaterOptions")
    ok = e.out("LOGICAL_AND", "inside", [n, k, 2], b8, [above, below], "LogicalAndOptions")
    ok = e.out("LOGICAL_AND", "ok", [n, k, 2], b8, [ok, other], "LogicalAndOptions")
    ok = e.out("CAST", "ok_f", [n, k, 2], f32, [ok], "CastOptions", inDataType=s.TensorType.BOOL, outDataType=s.TensorType.FLOAT32)
    quarter = e.out("MUL", "quarter", [n, k, 2], f32, [ok, e.const("quarter_px", [0.25], f32)], "MulOptions")
    shift = e.out("MUL", "shift", [n, k, 2], f32, [sign, quarter], "MulOptions")
    coords = e.out("CAST", "xy_f", [n, k, 2], f32, [xy], "CastOptions", inDataType=s.TensorType.INT32,
                   outDataType=s.TensorType.FLOAT32)
    coords = e.out("ADD", "coords", [n, k, 2], f32, [coords, shift], "AddOptions")
    crop = e.out("MUL", "crop", [n, k, 2], f32, [coords, e.const("to_crop", [fx, fy], f32)], "MulOptions")
    score = e.out("RESHAPE", "score3", [n, k, 1], f32, [score, e.const("shape_nk1_f", [n, k, 1], i32)],
                  "ReshapeOptions", newShape=[n, k, 1])
    output = e.tensor(OUTPUT_NAME, [n, k, 3], f32)
    g.operators.append(e.op("CONCATENATION", [crop, score], [output], "ConcatenationOptions", axis=2))
    g.inputs, g.outputs = [pixels], [output]

    # The signature names the file's I/O for interpreters that run by signature.
    for signature in model.signatureDefs or []:
        i, o = s.TensorMapT(), s.TensorMapT()
        i.name, i.tensorIndex = INPUT_NAME, pixels
        o.name, o.tensorIndex = OUTPUT_NAME, output
        signature.inputs, signature.outputs = [i], [o]
    # The plain file's metadata entry is replaced, its buffer emptied.
    for entry in model.metadata or []:
        if entry.name in (md.METADATA_KEY, md.METADATA_KEY.encode()):
            model.buffers[entry.buffer].data = None
    model.metadata = [m for m in (model.metadata or []) if m.name not in (md.METADATA_KEY, md.METADATA_KEY.encode())]
    packed = md.pack_tflite(model, len(data))
    path.write_bytes(md.write_tflite_metadata(packed, e2e_metadata(meta)))
    return path


# ---------------------------------------------------------------- running and checking

@dataclass
class EndToEndParity:
    """How an end-to-end file's keypoints compare with decoding its plain file's heatmaps with the codec."""

    joints: int  # persons x joints compared
    argmax_mismatches: int  # joints whose integer heatmap arg-max differs
    max_shift_px: float  # largest |dx| or |dy|, input-crop pixels
    max_score_diff: float
    passed: bool
    limit: str


def check_end_to_end(e2e: Union[str, Path], plain: Union[str, Path], crops_bgr: Sequence[np.ndarray]) -> EndToEndParity:
    """Run ``e2e`` and its ``plain`` file on the same crops (:func:`lite_hrnet.runtimes.load`) and compare the keypoints.

    ``crops_bgr``: H x W x 3 uint8 BGR crops of the input size (as
    :func:`lite_hrnet.export.calibration.synthetic_crops` makes them). The plain file
    runs on them normalized as the pipeline does, through :func:`lite_hrnet.runtimes.load`;
    its heatmaps are decoded by :func:`decode_to_crop`. Passes when every arg-max is the
    same, every coordinate is within ``MAX_SHIFT_PX`` and every score within ``MAX_SCORE_DIFF``.
    """
    from ..geometry import normalize_crops
    from ..runtimes import load

    backend = load(plain)
    bgr = np.stack(crops_bgr)
    heatmaps = backend(normalize_crops(bgr, backend.metadata["mean"], backend.metadata["std"]))  # as the pipeline
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    want = decode_to_crop(heatmaps, backend.input_size)
    got = load(e2e).keypoints(rgb)
    if got.shape != want.shape:
        raise ValueError(f"{e2e}: output shape {got.shape}, expected {want.shape} (N x K x 3)")
    h, w = heatmaps.shape[2:]
    to_hm = np.array([w / backend.input_size[1], h / backend.input_size[0]], np.float32)
    # The quarter shift never crosses half a pixel, so rounding recovers the integer arg-max.
    mismatches = int(np.any(np.rint(got[..., :2] * to_hm) != np.rint(want[..., :2] * to_hm), axis=-1).sum())
    shift = float(np.abs(got[..., :2] - want[..., :2]).max()) if got.size else 0.0
    score = float(np.abs(got[..., 2] - want[..., 2]).max()) if got.size else 0.0
    passed = mismatches == 0 and shift <= MAX_SHIFT_PX and score <= MAX_SCORE_DIFF
    limit = f"same arg-max, keypoints within {MAX_SHIFT_PX:g} px and scores within {MAX_SCORE_DIFF:g} of the codec on {Path(plain).name}"
    return EndToEndParity(int(got.shape[0] * got.shape[1]), mismatches, shift, score, passed, limit)
