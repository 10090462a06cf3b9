"""Exact ONNX graph rewrites that suit one runtime better than the plain export.

Lite-HRNet is slow in practice because it is made of many small operations;
some of them have poor kernels in one runtime and good ones in another. These
rewrites replace such an operation with an equivalent built from operations
the target runtime runs well. Each one computes the same function, bit for bit
in float32 (products with 1.0 plus sums of exact zeros, or copies of values);
only the runtime's own fusions around the new nodes may order float additions
differently. The exported file is checked against PyTorch with the same limits.

Which rewrite each runtime gets was decided by timing every variant
(``benchmarks/export/rewrites.py``, ``deploy_graph.py`` and ``deploy_form.py``; the
figures are in benchmarks/export/README.md, deploy_graph.md and deploy_form.md).

The largest change is not a graph pass but a model: the **deploy form**
(:mod:`lite_hrnet.models.deploy`, recorded as ``deploy_form``), the same network
with no channel split, concat or shuffle. OpenVINO and TFLite files in fp32 and
fp16, and OpenVINO int8, are made from it (``DEPLOY_FORM``); ONNX Runtime and
XNNPACK's int8 run it slower and keep the plain graph. The passes below act on
the plain graph, except ``DEPLOY_FORM_REWRITES``:

* ``channel_shuffle_as_conv``, used for OpenVINO: its ShuffleChannels kernel
  reorders out of the blocked nChw16c layout and back on each call; a 1x1
  convolution with a 0/1 permutation matrix stays blocked, and the files run
  faster at every precision. ONNX Runtime and XNNPACK run it slower than the
  shuffle.
* ``nearest_upsample_as_depth_to_space``, used for the deploy form's TFLite files:
  XNNPACK has no nearest-neighbour resize, so each upsampling leaves the delegated
  graph; as Concat + DepthToSpace the fp32 file runs faster. TensorFlow's int8
  converter rejects that graph (a strided slice feeding the 4-way concat breaks
  its same-scale rule), so int8 files, made from the plain graph, do not get it.
* ``nearest_upsample_as_broadcast``, used by nobody (2-3.5x slower in ONNX Runtime,
  OpenVINO and LiteRT: ``benchmarks/export/deploy_graph.md``): a nearest upsampling by an
  integer factor that only feeds element-wise Mul/Add (Lite-HRNet's
  cross-resolution weights and the fuse layers' upsampled branches) becomes a
  broadcast over a reshaped view: ``x * up(w)`` is ``x`` viewed as
  N x C x h x f x w x f times ``w`` viewed as N x C x h x 1 x w x 1, with no
  Resize and no upsampled copy of ``w``.
* ``channel_shuffle_folded`` (see ``_shuffle_fold``), used by nobody: the 49 channel
  shuffles of LH-18 deleted; convolution weights, per-channel constants, Concat and
  Split read the channels where they lie. Exact up to the order of a convolution's
  sums over permuted input channels. A block's weighted half then has to be gathered
  from many channel runs: no faster in ONNX Runtime, slower in OpenVINO (its
  permutation conv keeps the blocked layout) and XNNPACK
  (``benchmarks/export/shuffle_fold.md``).
* ``computed_reshapes_as_constants``, used for ONNX Runtime and OpenVINO: a
  dynamic-batch export computes every reshape target from the input's shape
  (96 Shape, 190 Slice and 96 Concat nodes in LH-18); ``[0, C, ...]`` constants
  give the same targets for any batch, so the dynamic-batch file has the static
  file's operations.
* ``tflite_batch_free_reshapes``, on every TFLite file after onnx2tf: reshape
  targets ``[1, ...]`` become ``[-1, ...]`` so that the batch-1 file runs all
  persons of a frame in one call once its input is resized.

Batch norm needs no pass: the TorchScript exporter folds it into the convolutions
(the exported graph has no BatchNormalization node).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np


def tensor_shapes(model) -> Dict[str, List]:
    """Shapes (dims as ints, or None when symbolic) of every tensor shape inference can type.

    ONNX Runtime's symbolic shape inference is used first: with a dynamic batch
    the exporter computes reshape targets with Shape/Concat, which plain ONNX
    shape inference cannot follow.
    """
    import onnx

    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # not installed, or a graph it cannot follow: fall back to ONNX's inference
        inferred = onnx.shape_inference.infer_shapes(model)
    shapes: Dict[str, List] = {}
    graph = inferred.graph
    for value in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def _remove_dead_nodes(graph) -> None:
    """Drop nodes whose outputs nobody reads (the shape arithmetic of a replaced reshape), then unread initializers."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        live = [n for n in graph.node if any(o in used for o in n.output)]
        if len(live) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(live)
    kept = [init for init in graph.initializer if init.name in used]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)


def _set_nodes(model, nodes, remove_dead: bool = True) -> None:
    """Make ``nodes`` the graph's node list (in order), drop what no longer feeds an output, and check the model."""
    import onnx

    graph = model.graph
    del graph.node[:]
    graph.node.extend(nodes)
    if remove_dead:
        _remove_dead_nodes(graph)
    onnx.checker.check_model(model)


def node_attribute(node, name: str, default=None):
    """The value of ONNX ``node``'s attribute ``name``, or ``default`` when it has none."""
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _consumers(model) -> Dict[str, List]:
    consumers: Dict[str, List] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def shuffle_permutation(channels: int, groups: int) -> np.ndarray:
    """Source channel of each output channel of a ShuffleNet channel shuffle: ``out[k] = in[perm[k]]``."""
    if channels % groups:
        raise ValueError(f"{channels} channels cannot be shuffled in {groups} groups")
    return np.arange(channels).reshape(groups, channels // groups).T.reshape(-1)


def channel_shuffles(model, shapes: Dict[str, List]) -> List:
    """Each channel shuffle (Reshape -> Transpose[0,2,1,3,4] -> Reshape) of ``model``: (unflatten, transpose, flatten, groups).

    Only shuffles of an N x C x H x W tensor whose intermediate tensors nobody else
    reads (a dynamic-batch graph's Shape nodes aside) and that are no graph outputs.
    """
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(model)
    graph_outputs = {o.name for o in graph.output}
    found = []
    for node in graph.node:
        if node.op_type != "Transpose" or list(node_attribute(node, "perm", [])) != [0, 2, 1, 3, 4]:
            continue
        unflatten = producers.get(node.input[0])
        # Besides the flattening Reshape, a dynamic-batch graph reads the shape of these tensors (Shape nodes).
        users = [u for u in consumers.get(node.output[0], []) if u.op_type != "Shape"]
        if unflatten is None or unflatten.op_type != "Reshape" or len(users) != 1 or users[0].op_type != "Reshape":
            continue
        flatten = users[0]
        five_d = shapes.get(node.input[0])
        source, result = shapes.get(unflatten.input[0]), shapes.get(flatten.output[0])
        unflatten_users = [u for u in consumers.get(unflatten.output[0], []) if u.op_type != "Shape"]
        if (not five_d or len(five_d) != 5 or None in five_d[1:3] or not source or not result
                or len(unflatten_users) != 1 or node.output[0] in graph_outputs
                or unflatten.output[0] in graph_outputs or len(source) != 4 or source[1:] != result[1:]
                or source[1] != five_d[1] * five_d[2]):
            continue
        found.append((unflatten, node, flatten, five_d[1]))
    return found


def channel_shuffle_as_conv(model) -> int:
    """Replace each channel shuffle (Reshape -> Transpose[0,2,1,3,4] -> Reshape) by a 1x1 permutation Conv.

    The weight is C x C x 1 x 1 with a single 1.0 per row. Rewrites ``model``
    (an ``onnx.ModelProto``) in place and returns the number of shuffles replaced.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = tensor_shapes(model)
    dropped, replacement = set(), {}
    shuffles = channel_shuffles(model, shapes)  # held until the end: the node ids below stay those of live objects
    for unflatten, transpose, flatten, groups in shuffles:
        channels = shapes[unflatten.input[0]][1]
        weight = np.zeros((channels, channels, 1, 1), np.float32)
        weight[np.arange(channels), shuffle_permutation(channels, groups)] = 1.0
        weight_name = f"{flatten.output[0]}_shuffle_weight"
        graph.initializer.append(numpy_helper.from_array(weight, weight_name))
        dropped.update({id(unflatten), id(transpose)})
        replacement[id(flatten)] = helper.make_node(
            "Conv", [unflatten.input[0], weight_name], [flatten.output[0]], name=f"{flatten.name}_as_conv",
            kernel_shape=[1, 1])
    nodes = [replacement.get(id(n), n) for n in graph.node if id(n) not in dropped]
    _set_nodes(model, nodes)
    return len(replacement)


def channel_shuffle_folded(model) -> int:
    """Delete every channel shuffle; the layers after it read the channels where they are (exact).

    Each tensor carries its physical channel order, which convolution weights,
    per-channel constants, Concat and Split absorb (``_shuffle_fold`` explains how);
    a Split whose logical half is no longer one physical run cuts more pieces and
    gathers them with a Concat. Rewrites ``model`` in place; returns the number of
    shuffles removed.
    """
    import onnx

    from ._shuffle_fold import fold_channel_shuffles

    shapes = tensor_shapes(model)
    consumers = _consumers(model)
    # A dynamic-batch graph may read the shape of the 5-D tensors (Shape nodes): such a shuffle stays
    # (computed_reshapes_as_constants first removes those reads).
    shuffles = [s for s in channel_shuffles(model, shapes)
                if len(consumers.get(s[0].output[0], [])) == 1 and len(consumers.get(s[1].output[0], [])) == 1]
    if not shuffles:
        return 0
    fold_channel_shuffles(model, shuffles, shapes, _constants(model.graph))
    _remove_dead_nodes(model.graph)
    onnx.checker.check_model(model)
    return len(shuffles)


def nearest_upsample_as_depth_to_space(model) -> int:
    """Replace nearest-neighbour Resize by 2^k (k >= 1) with k steps of Concat(x, x, x, x) -> DepthToSpace(2).

    DepthToSpace (DCR) with block 2 puts input channel ``(2i + j) * C + c`` at
    pixel ``(2h + i, 2w + j)`` of channel ``c``: with four copies of ``x``
    stacked on the channel axis that is ``x[c, h, w]``, the nearest upsample
    (asymmetric coordinates, floor rounding, as torch's ``mode="nearest"``).
    Rewrites ``model`` in place; returns the number of Resize nodes replaced.
    """
    from onnx import helper

    graph = model.graph
    constants = _constants(graph)
    nodes, replaced = [], 0
    for node in graph.node:
        steps = nearest_power_of_two_steps(node, constants) if node.op_type == "Resize" else 0
        if not steps:
            nodes.append(node)
            continue
        current = node.input[0]
        for step in range(steps):
            stacked = f"{node.output[0]}_d2s{step}_stack"
            out = node.output[0] if step == steps - 1 else f"{node.output[0]}_d2s{step}"
            nodes.append(helper.make_node("Concat", [current] * 4, [stacked], axis=1, name=stacked))
            nodes.append(helper.make_node("DepthToSpace", [stacked], [out], blocksize=2, mode="DCR", name=f"{out}_d2s"))
            current = out
        replaced += 1
    _set_nodes(model, nodes, remove_dead=False)
    return replaced


def nearest_power_of_two_steps(node, constants: Dict[str, np.ndarray]) -> int:
    """k when ``node`` is a nearest Resize of N x C x H x W by 2^k on both spatial axes (k >= 1), else 0."""
    factor = nearest_integer_factor(node, constants)
    return factor.bit_length() - 1 if factor and factor & (factor - 1) == 0 else 0


def symbolic_shapes(model) -> Dict[str, List]:
    """Shapes of every tensor, each dim an int or the name of a symbolic dim (``"batch"``), None when unknown.

    Needs ONNX Runtime's symbolic shape inference (it follows the Shape/Concat arithmetic
    of a dynamic-batch graph); an empty dict when it is not installed or fails.
    """
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # not installed, or a graph it cannot follow: no rewrite then
        return {}
    shapes: Dict[str, List] = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]
    return shapes


def computed_reshapes_as_constants(model) -> int:
    """Give each Reshape whose target shape is computed at run time (Shape -> Gather -> Concat) a constant one.

    A dynamic-batch export computes the target of every reshape from the input's
    shape; when the output keeps the input's batch dim (the same symbol) in front and
    every other dim is a number, ``[0, d1, d2, ...]`` (0: copy the input's dim) is the
    same target for every batch, and the shape arithmetic goes away. Rewrites ``model``
    in place; returns the number of Reshape nodes changed.
    """
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    shapes = symbolic_shapes(model)
    constants = _constants(graph)
    changed = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] in constants or node_attribute(node, "allowzero", 0):
            continue
        source, result = shapes.get(node.input[0]), shapes.get(node.output[0])
        if (not source or not result or not isinstance(source[0], str) or result[0] != source[0]
                or not all(isinstance(d, int) and d > 0 for d in result[1:])):
            continue
        target = f"{node.output[0]}_target"
        graph.initializer.append(numpy_helper.from_array(np.array([0] + result[1:], np.int64), target))
        node.input[1] = target
        changed += 1
    _remove_dead_nodes(graph)
    onnx.checker.check_model(model)
    return changed


def nearest_integer_factor(node, constants: Dict[str, np.ndarray]) -> int:
    """f when ``node`` is a nearest Resize of N x C x H x W by the integer f >= 2 on both spatial axes, else 0.

    Only torch's ``mode="nearest"`` (asymmetric coordinates, floor) is recognised: output
    pixel ``(y, x)`` then reads input pixel ``(y // f, x // f)``.
    """
    if (node_attribute(node, "mode", b"nearest") != b"nearest"
            or node_attribute(node, "coordinate_transformation_mode", b"half_pixel") != b"asymmetric"
            or node_attribute(node, "nearest_mode", b"round_prefer_floor") != b"floor"):
        return 0
    scales = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scales is None or scales.shape != (4,) or list(scales[:2]) != [1.0, 1.0] or scales[2] != scales[3]:
        return 0
    factor = float(scales[2])
    return int(factor) if factor >= 2 and factor == int(factor) else 0


def _constants(graph) -> Dict[str, np.ndarray]:
    """Initializers and Constant node outputs of ``graph``, by name."""
    from onnx import numpy_helper

    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = node_attribute(node, "value")
            if value is not None:
                constants[node.output[0]] = numpy_helper.to_array(value)
    return constants


def nearest_upsample_as_broadcast(model) -> int:
    """Replace each nearest Resize by an integer f whose only readers are Mul/Add with a full-size operand.

    ``op(x, up(w))`` with ``x``: N x C x fh x fw and ``w``: N x C x h x w becomes
    ``Reshape(op(Reshape(x, [0, C, h, f, w, f]), Reshape(w, [0, C, h, 1, w, 1])), [0, C, fh, fw])``:
    element ``(y, x)`` meets ``w[y // f, x // f]`` as before, so the products and sums
    are the same float operations on the same values (``0`` keeps the batch, dynamic or not).
    Operand order is kept. Rewrites ``model`` in place; returns the number of Resize nodes removed.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = tensor_shapes(model)
    constants = _constants(graph)
    consumers = _consumers(model)
    graph_outputs = {o.name for o in graph.output}
    before: Dict[int, List] = {}  # id(node) -> nodes to insert before it
    replace: Dict[int, object] = {}
    dropped = set()
    for node in graph.node:
        factor = nearest_integer_factor(node, constants) if node.op_type == "Resize" else 0
        small, big = shapes.get(node.input[0]), shapes.get(node.output[0])
        readers = consumers.get(node.output[0], [])
        if (not factor or not small or not big or len(small) != 4 or None in small[1:] or node.output[0] in graph_outputs
                or not readers or any(r.op_type not in ("Mul", "Add") for r in readers)):
            continue
        channels, h, w = small[1:]
        full = [None, channels, h * factor, w * factor]
        others = [r.input[1] if r.input[0] == node.output[0] else r.input[0] for r in readers]
        if any(r.input[0] == r.input[1] or (shapes.get(o) or [None])[1:] != full[1:] for r, o in zip(readers, others)):
            continue
        tag = node.output[0]
        names = {f"{tag}_view6": [0, channels, h, factor, w, factor], f"{tag}_small6": [0, channels, h, 1, w, 1],
                 f"{tag}_back4": [0, channels, h * factor, w * factor]}
        for name, value in names.items():
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name))
        small6 = f"{tag}_as_broadcast"
        # Readers are in graph order: the first one gets the view of w, each its own view of x.
        before.setdefault(id(readers[0]), []).append(
            helper.make_node("Reshape", [node.input[0], f"{tag}_small6"], [small6], name=small6))
        for index, (reader, other) in enumerate(zip(readers, others)):
            view = f"{tag}_view{index}"
            product = f"{tag}_product{index}"
            operands = [view, small6] if reader.input[0] == other else [small6, view]
            before.setdefault(id(reader), []).extend([
                helper.make_node("Reshape", [other, f"{tag}_view6"], [view], name=view),
                helper.make_node(reader.op_type, operands, [product], name=product)])
            replace[id(reader)] = helper.make_node("Reshape", [product, f"{tag}_back4"], list(reader.output),
                                                   name=f"{reader.name or product}_back")
        dropped.add(id(node))
    nodes = []
    for n in graph.node:
        if id(n) in dropped:
            continue
        nodes.extend(before.get(id(n), []))
        nodes.append(replace.get(id(n), n))
    _set_nodes(model, nodes)
    return len(dropped)


def tflite_batch_free_reshapes(model) -> int:
    """Let a batch-1 TFLite ``model`` (a flatbuffer ``ModelT``) run any batch: reshape targets ``[1, ...]`` become ``[-1, ...]``.

    onnx2tf writes every reshape's target shape as a constant with the batch of 1 in
    front, so resizing the input (``Interpreter.resize_tensor_input``) fails there. With
    -1 the reshape takes the batch from its input: the same values at batch 1, and
    each person reshaped alone at batch N (the other dims are whole per-person
    extents). The input's shape signature gets -1 as its batch, which marks the file
    as resizable. Rewrites ``model`` in place; returns the number of targets changed.
    """
    from ..metadata import tflite_schema

    schema = tflite_schema()
    graph = model.subgraphs[0]
    codes = [c.builtinCode or c.deprecatedBuiltinCode for c in model.operatorCodes]
    is_reshape = [codes[op.opcodeIndex] == schema.BuiltinOperator.RESHAPE for op in graph.operators]
    # TFLite shares a buffer between equal constants: a target whose buffer something else reads gets its own copy.
    other_use, other_tensor_use = set(), set()
    for op, reshape in zip(graph.operators, is_reshape):
        for position, index in enumerate(op.inputs):
            if index >= 0 and not (reshape and position == 1):
                other_use.add(graph.tensors[index].buffer)
                other_tensor_use.add(index)
    changed, done, own_copy = 0, set(), {}
    for op, reshape in zip(graph.operators, is_reshape):
        if not reshape or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        options = op.builtinOptions
        if options is not None and getattr(options, "newShape", None) is not None and len(options.newShape):
            if options.newShape[0] == 1:
                options.newShape = [-1] + list(options.newShape)[1:]
        shared = op.inputs[1]
        shared_data = model.buffers[graph.tensors[shared].buffer].data
        if shared in other_tensor_use and shared_data is not None and len(shared_data):
            # The constant tensor itself is read elsewhere (onnx2tf shares [1, C, H, W] between a reshape's target
            # and a strided slice's end): the reshapes reading it get one copy of it, with a buffer of its own.
            if shared not in own_copy:
                original = graph.tensors[shared]
                copied = schema.TensorT()
                copied.name = (original.name or b"") + b"/batch_free"
                copied.shape, copied.type = list(original.shape), original.type
                copied_buffer = schema.BufferT()
                copied_buffer.data = np.array(shared_data, np.uint8)
                model.buffers.append(copied_buffer)
                copied.buffer = len(model.buffers) - 1
                graph.tensors.append(copied)
                own_copy[shared] = len(graph.tensors) - 1
            op.inputs = [op.inputs[0], own_copy[shared]] + list(op.inputs[2:])
        tensor = graph.tensors[op.inputs[1]]
        buffer = model.buffers[tensor.buffer]
        if tensor.buffer in done:
            changed += 1
            continue
        if tensor.type != schema.TensorType.INT32 or buffer.data is None or len(buffer.data) == 0:
            continue
        target = np.frombuffer(bytes(bytearray(buffer.data)), np.int32).copy()
        if len(target) < 2 or target[0] != 1 or (target < 0).any():
            continue
        target[0] = -1
        if tensor.buffer in other_use:
            buffer = schema.BufferT()
            model.buffers.append(buffer)
            tensor.buffer = len(model.buffers) - 1
        buffer.data = np.frombuffer(target.tobytes(), np.uint8)
        done.add(tensor.buffer)
        changed += 1
    # Marked even when no target changed: a graph with no batch-1 reshape (the deploy form) runs any batch as it is.
    for index in graph.inputs:
        tensor = graph.tensors[index]
        shape = list(tensor.shape) if tensor.shape is not None else []
        if shape and shape[0] == 1:
            tensor.shapeSignature = [-1] + shape[1:]
    return changed


# Passes on the converted file itself, after the converter (TFLite flatbuffers from onnx2tf).
CONVERTED_FILE_REWRITES = {
    "tflite": ("tflite_batch_free_reshapes",),
}

# The rewrites each format's converter gets, in order (see the module docstring for the measurements).
FORMAT_REWRITES = {
    "onnx": ("computed_reshapes_as_constants",),
    "openvino": ("computed_reshapes_as_constants", "channel_shuffle_as_conv"),
}
_REWRITES = {
    "channel_shuffle_as_conv": channel_shuffle_as_conv,
    "channel_shuffle_folded": channel_shuffle_folded,
    "nearest_upsample_as_depth_to_space": nearest_upsample_as_depth_to_space,
    "nearest_upsample_as_broadcast": nearest_upsample_as_broadcast,
    "computed_reshapes_as_constants": computed_reshapes_as_constants,
}


# The files made from the deploy form of the network (lite_hrnet.models.deploy: no channel split,
# concat or shuffle; benchmarks/export/deploy_form.md): faster in OpenVINO at every precision (its
# NNCF int8 file x0.83, as accurate: 93-94% of the demo model's keypoints within 2 heatmap cells of
# PyTorch either way, benchmarks/export/deploy_form_int8.md) and in LiteRT fp32/fp16. ONNX Runtime runs it slower (its blocked layout has no broadcasting Mul, so the form's
# full-width weighting costs more reorders than the split and shuffle did), and so does XNNPACK's
# int8 (the pass-through half's int8 depthwise convs and products): those keep the plain graph.
DEPLOY_FORM = frozenset({("openvino", "fp32"), ("openvino", "fp16"), ("openvino", "int8"),
                         ("tflite", "fp32"), ("tflite", "fp16")})
DEPLOY_FORM_NAME = "deploy_form"


# The deploy form's options per format (measured in benchmarks/export/deploy_form.md): OpenVINO runs
# fewer, larger ops faster (all branches' weights from one conv pair: "merged_weighting"); XNNPACK
# runs one conv pair per branch faster.
DEPLOY_FORM_OPTIONS = {
    "openvino": {"merge_weighting": True},
    "tflite": {"merge_weighting": False},
}

# The ONNX rewrites a deploy-form source gets per format. XNNPACK has no nearest resize, so each
# upsampling would leave the delegated graph: as Concat + DepthToSpace the fp32 file runs ~6% faster
# (benchmarks/export/deploy_form.md). The int8 converter rejects that graph, but int8 files keep the
# plain graph anyway.
DEPLOY_FORM_REWRITES = {
    "tflite": ("nearest_upsample_as_depth_to_space",),
}


def uses_deploy_form(fmt: str, precision: str) -> bool:
    """Whether a ``fmt`` ``precision`` file is made from the deploy form, for a network that has one
    (``lite_hrnet.models.deploy.supports_deploy_form``)."""
    return (fmt, precision) in DEPLOY_FORM


def deploy_form_options(fmt: str) -> Dict[str, bool]:
    """The keyword arguments of ``lite_hrnet.models.deploy.deploy_model`` for a ``fmt`` file."""
    return dict(DEPLOY_FORM_OPTIONS.get(fmt, {"merge_weighting": True}))


def applied_rewrites(fmt: str, deploy_form: bool = False) -> List[str]:
    """The names of every rewrite a ``fmt`` file is made with, as recorded in its metadata (``graph_rewrites``).

    A file made from the deploy form gets none of the ONNX graph rewrites: it has no
    shuffle and no computed reshape for them to act on.
    """
    if deploy_form:
        merged = ["merged_weighting"] if deploy_form_options(fmt)["merge_weighting"] else []
        graph = [DEPLOY_FORM_NAME, *merged, *DEPLOY_FORM_REWRITES.get(fmt, ())]
    else:
        graph = list(FORMAT_REWRITES.get(fmt, ()))
    return graph + list(CONVERTED_FILE_REWRITES.get(fmt, ()))


def graph_rewrites(fmt: str, deploy_form: bool = False) -> Tuple[str, ...]:
    """The ONNX rewrites a ``fmt`` file's source gets (``DEPLOY_FORM_REWRITES`` for a deploy-form source)."""
    return (DEPLOY_FORM_REWRITES if deploy_form else FORMAT_REWRITES).get(fmt, ())


def rewrite_for_format(src, dst, fmt: str, deploy_form: bool = False) -> List[str]:
    """Write to ``dst`` the ONNX file ``src`` with the rewrites meant for ``fmt``; return "name xcount" for each that applied."""
    import onnx

    proto = onnx.load(str(src))
    applied = []
    for name in graph_rewrites(fmt, deploy_form):
        count = _REWRITES[name](proto)
        if count:
            applied.append(f"{name} x{count}")
    onnx.save(proto, str(dst))
    return applied
