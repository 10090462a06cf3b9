"""Exact ONNX graph rewrites that suit one runtime better than the plain export.

Lite-HRNet is slow in practice because it is made of many small operations;
some of them have poor kernels in one runtime and good ones in another. These
rewrites replace such an operation with an equivalent built from operations
the target runtime runs well. Each one computes the same function, bit for bit
in float32 (products with 1.0 plus sums of exact zeros, or copies of values);
only the runtime's own fusions around the new nodes may order float additions
differently. The exported file is checked against PyTorch with the same limits.

Which rewrite each runtime gets was decided by timing every variant
(``benchmarks/export/rewrites.py``; the figures are in benchmarks/export/README.md):

* ``channel_shuffle_as_conv``, used for OpenVINO: its ShuffleChannels kernel
  reorders out of the blocked nChw16c layout and back on each call; a 1x1
  convolution with a 0/1 permutation matrix stays blocked, and the files run
  faster at every precision. ONNX Runtime and XNNPACK run it slower than the
  shuffle.
* ``nearest_upsample_as_depth_to_space``, used by nobody yet: XNNPACK has no
  nearest-neighbour resize, so each upsampling leaves the delegated graph; as
  Concat + DepthToSpace the fp32 TFLite file runs faster, but TensorFlow's int8
  converter then rejects the graph (a strided slice feeding the 4-way concat
  breaks its same-scale rule), and one onnx2tf run makes all precisions. Kept,
  tested, for a later fp32-only path.

ONNX Runtime gets the plain graph: it runs neither rewrite faster.
"""

from __future__ import annotations

from typing import Dict, List

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
    """Drop nodes whose outputs nobody reads (the shape arithmetic of a replaced reshape)."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        live = [n for n in graph.node if any(o in used for o in n.output)]
        if len(live) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(live)


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


def channel_shuffle_as_conv(model) -> int:
    """Replace each channel shuffle (Reshape -> Transpose[0,2,1,3,4] -> Reshape) by a 1x1 permutation Conv.

    The weight is C x C x 1 x 1 with a single 1.0 per row. Rewrites ``model``
    (an ``onnx.ModelProto``) in place and returns the number of shuffles replaced.
    """
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = tensor_shapes(model)
    producers = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(model)
    graph_outputs = {o.name for o in graph.output}
    dropped, replacement = set(), {}
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
                or unflatten.output[0] in graph_outputs or len(source) != 4 or source[1:] != result[1:]):
            continue
        groups, per_group = five_d[1], five_d[2]
        channels = groups * per_group
        if source[1] != channels:
            continue
        weight = np.zeros((channels, channels, 1, 1), np.float32)
        weight[np.arange(channels), shuffle_permutation(channels, groups)] = 1.0
        weight_name = f"{flatten.output[0]}_shuffle_weight"
        graph.initializer.append(numpy_helper.from_array(weight, weight_name))
        dropped.update({id(unflatten), id(node)})
        replacement[id(flatten)] = helper.make_node(
            "Conv", [unflatten.input[0], weight_name], [flatten.output[0]], name=f"{flatten.name}_as_conv",
            kernel_shape=[1, 1])
    nodes = [replacement.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    _remove_dead_nodes(graph)
    onnx.checker.check_model(model)
    return len(replacement)


def nearest_upsample_as_depth_to_space(model) -> int:
    """Replace nearest-neighbour Resize by 2^k (k >= 1) with k steps of Concat(x, x, x, x) -> DepthToSpace(2).

    DepthToSpace (DCR) with block 2 puts input channel ``(2i + j) * C + c`` at
    pixel ``(2h + i, 2w + j)`` of channel ``c``: with four copies of ``x``
    stacked on the channel axis that is ``x[c, h, w]``, the nearest upsample
    (asymmetric coordinates, floor rounding, as torch's ``mode="nearest"``).
    Rewrites ``model`` in place; returns the number of Resize nodes replaced.
    """
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = node_attribute(node, "value")
            if value is not None:
                constants[node.output[0]] = numpy_helper.to_array(value)
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
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return replaced


def nearest_power_of_two_steps(node, constants: Dict[str, np.ndarray]) -> int:
    """k when ``node`` is a nearest Resize of N x C x H x W by 2^k on both spatial axes (k >= 1), else 0."""
    if (node_attribute(node, "mode", b"nearest") != b"nearest"
            or node_attribute(node, "coordinate_transformation_mode", b"half_pixel") != b"asymmetric"
            or node_attribute(node, "nearest_mode", b"round_prefer_floor") != b"floor"):
        return 0
    scales = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scales is None or scales.shape != (4,) or list(scales[:2]) != [1.0, 1.0] or scales[2] != scales[3]:
        return 0
    factor = float(scales[2])
    steps = int(round(np.log2(factor))) if factor > 1 else 0
    return steps if steps >= 1 and 2.0 ** steps == factor else 0


# The rewrites each format's converter gets, in order (see the module docstring for the measurements).
FORMAT_REWRITES = {
    "openvino": ("channel_shuffle_as_conv",),
}
_REWRITES = {
    "channel_shuffle_as_conv": channel_shuffle_as_conv,
    "nearest_upsample_as_depth_to_space": nearest_upsample_as_depth_to_space,
}


def rewrite_for_format(src, dst, fmt: str) -> List[str]:
    """Write to ``dst`` the ONNX file ``src`` with the rewrites meant for ``fmt``; return "name xcount" for each that applied."""
    import onnx

    proto = onnx.load(str(src))
    applied = []
    for name in FORMAT_REWRITES.get(fmt, ()):
        count = _REWRITES[name](proto)
        if count:
            applied.append(f"{name} x{count}")
    onnx.save(proto, str(dst))
    return applied
