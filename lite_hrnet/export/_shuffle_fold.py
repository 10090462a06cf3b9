"""Channel shuffles folded away: every tensor keeps its channels in a "physical" order, the weights follow.

A ShuffleNet channel shuffle (Reshape -> Transpose -> Reshape) moves no value, it
only renames channels. This pass therefore deletes it and instead records, for
each N x C x H x W tensor, its *layout*: an array ``layout`` of C logical channel
indices, physical channel ``p`` holding logical channel ``layout[p]`` (identity
when nothing is recorded). The layout travels forward:

* element-wise unary ops, pooling and resizing keep it;
* a depthwise convolution keeps it (its per-channel weights and biases are permuted);
* a dense convolution absorbs it (input columns of the weight permuted) and may emit
  its output in any order (rows of weight and bias permuted): when an Add/Mul meets
  two operands in different orders, the convolution that produced one of them
  (through ops that keep the layout and read nothing else) is asked for the other's
  order, and the pass runs again;
* Concat concatenates layouts; Split of a logical range takes the physical channels
  that hold it: when they are one contiguous run the Split is as before, otherwise
  the Split cuts the runs (one op, the same copy) and a Concat gathers each output's
  runs (a copy of that output only). A Concat of pieces that only feeds another
  Concat is merged into it, so a pass-through half costs no extra copy;
* anything else (a graph output, an op not listed) gets its input back in logical
  order with a Gather (a copy, exact).

Values are never changed: products are the same float products, depthwise and
element-wise ops are bit-exact; only a dense convolution whose input is permuted
adds its products in another order (float rounding: 5e-6 relative L2 at LH-18's heatmaps).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

_KEEPS_LAYOUT = {"Relu", "Sigmoid", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Identity",
                 "AveragePool", "GlobalAveragePool", "MaxPool", "GlobalMaxPool", "Resize"}


class _Restart(Exception):
    """A convolution was asked for a new output order: the pass starts again with it."""


def _runs(positions: np.ndarray) -> List[Tuple[int, int]]:
    """Maximal runs [start, stop) of consecutive integers in sorted ``positions``."""
    runs, start = [], positions[0]
    for previous, current in zip(positions[:-1], positions[1:]):
        if current != previous + 1:
            runs.append((int(start), int(previous) + 1))
            start = current
    runs.append((int(start), int(positions[-1]) + 1))
    return runs


def fold_channel_shuffles(model, shuffles, shapes: Dict[str, List], constants: Dict[str, np.ndarray]) -> Dict[str, int]:
    """Rewrite ``model`` in place without the channel ``shuffles`` (tuples unflatten, transpose, flatten, groups).

    ``shapes``: tensor shapes (dims or None); ``constants``: initializers by name.
    Returns counts of what the pass had to add (gather: Gather nodes, split_outputs_added: extra Split outputs).
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    original = list(graph.node)
    producers = {out: node for node in original for out in node.output}
    readers: Dict[str, set] = {}
    for node in original:
        for name in node.input:
            readers.setdefault(name, set()).add(id(node))
    graph_outputs = {o.name for o in graph.output}
    skipped = {id(n) for shuffle in shuffles for n in shuffle[:2]}
    shuffle_at = {id(s[2]): s for s in shuffles}
    demands: Dict[str, np.ndarray] = {}  # dense Conv name -> order of its output channels

    def channels(name: str) -> Optional[int]:
        shape = shapes.get(name)
        return shape[1] if shape and len(shape) == 4 and isinstance(shape[1], int) else None

    for _ in range(10000):
        try:
            nodes, initializers, counts = _one_pass(original, skipped, shuffle_at, producers, readers, graph_outputs,
                                                     channels, constants, demands, helper)
            break
        except _Restart:
            continue
    else:  # pragma: no cover - the demands only grow, each convolution is asked once per order
        raise RuntimeError("channel shuffle folding did not settle")
    del graph.node[:]
    graph.node.extend(_merge_concats(nodes, graph_outputs))
    graph.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(array), name) for name, array in initializers)
    return counts


def _merge_concats(nodes, graph_outputs):
    """Concat(axis 1) inputs that are Concat(axis 1) outputs read by nothing else take that Concat's inputs."""
    reads: Dict[str, int] = {}
    for node in nodes:
        for name in node.input:
            reads[name] = reads.get(name, 0) + 1
    concat_of = {n.output[0]: n for n in nodes if n.op_type == "Concat" and _axis(n) == 1}
    merged_away = set()
    for node in nodes:
        if node.op_type != "Concat" or _axis(node) != 1:
            continue
        inputs = []
        for name in node.input:
            inner = concat_of.get(name)
            if inner is not None and reads.get(name) == 1 and name not in graph_outputs:
                inputs.extend(inner.input)
                merged_away.add(id(inner))
            else:
                inputs.append(name)
        del node.input[:]
        node.input.extend(inputs)
    return [n for n in nodes if id(n) not in merged_away]


def _axis(node) -> int:
    for attribute in node.attribute:
        if attribute.name == "axis":
            return attribute.i
    return 0


def _one_pass(original, skipped, shuffle_at, producers, readers, graph_outputs, channels, constants, demands, helper):
    shuffle_by_unflatten = {id(s[0]): s for s in shuffle_at.values()}
    producers_by_id = {id(n): n for n in original}
    layouts: Dict[str, np.ndarray] = {}  # original tensor name -> layout of the physical tensor
    rename: Dict[str, str] = {}  # original tensor name -> physical tensor name (after a folded shuffle)
    split_pieces: Dict[str, Tuple[int, int]] = {}  # Split output -> physical [start, stop) in its input, when contiguous
    gathered_runs: Dict[str, List[str]] = {}  # Split output made of several runs -> the runs' tensors, in order
    nodes, initializers = [], []
    counts = {"gather": 0, "split_outputs_added": 0}
    gathered: Dict[Tuple[str, bytes], str] = {}
    serial = [0]

    def layout_of(name: str) -> Optional[np.ndarray]:
        c = channels(name)
        if c is None:
            return None
        return layouts.get(name, np.arange(c))

    def physical(name: str) -> str:
        return rename.get(name, name)

    def constant(array: np.ndarray, hint: str) -> str:
        serial[0] += 1
        name = f"{hint}_folded{serial[0]}"
        initializers.append((name, array))  # made into tensors once, after the last pass
        return name

    def next_split_halves(name: str, total: int) -> Optional[np.ndarray]:
        """For each logical channel of ``name``, 0/1/2/3: which half of which output of the Split after the shuffle
        reading ``name`` receives it; None when ``name`` does not feed a shuffle and then a Split."""
        users = readers.get(name, ())
        shuffle = shuffle_by_unflatten.get(next(iter(users))) if len(users) == 1 else None
        if shuffle is None:
            return None
        flatten = shuffle[2].output[0]
        split = producers_by_id.get(next(iter(readers.get(flatten, ())), None)) if len(readers.get(flatten, ())) == 1 else None
        if split is None or split.op_type != "Split" or _axis(split) != 1:
            return None
        groups = shuffle[3]
        inverse = np.argsort(np.arange(total).reshape(groups, total // groups).T.reshape(-1))
        starts = _split_starts(split, constants, channels)
        sizes = _split_sizes(split, constants, channels)
        destination = np.empty(total, np.int64)
        for k, (start, size) in enumerate(zip(starts, sizes)):
            for half, (lo, hi) in enumerate(((start, start + size // 2), (start + size // 2, start + size))):
                destination[(inverse >= lo) & (inverse < hi)] = 2 * k + half
        return destination

    def in_layout(name: str, target: np.ndarray) -> str:
        """The physical tensor of ``name`` with channels in ``target`` order (a Gather when it is not already)."""
        current = layout_of(name)
        if current is None or np.array_equal(current, target):
            return physical(name)
        key = (name, target.tobytes())
        if key not in gathered:
            where = np.argsort(current)  # where[l]: physical position of logical channel l
            indices = constant(where[target].astype(np.int64), f"{name}_gather")
            out = f"{name}_reordered{len(gathered)}"
            nodes.append(helper.make_node("Gather", [physical(name), indices], [out], axis=1, name=out))
            gathered[key] = out
            counts["gather"] += 1
        return gathered[key]

    def convs_for(name: str, target: np.ndarray) -> Optional[Dict[str, np.ndarray]]:
        """The dense Convs (name -> output order) that would make ``name`` come out in ``target`` order, through
        ops that keep the order and read nothing else; None when some path reaches no such Conv."""
        node = producers.get(name)
        if node is None or name in graph_outputs or len(readers.get(name, ())) != 1 or id(node) in skipped:
            return None
        if node.op_type in _KEEPS_LAYOUT:
            return convs_for(node.input[0], target)
        if node.op_type in ("Add", "Mul") and channels(node.output[0]) == len(target):
            operands = [i for i in dict.fromkeys(node.input) if i not in constants and channels(i) == len(target)]
            found: Dict[str, np.ndarray] = {}
            for operand in operands:
                more = convs_for(operand, target)
                if more is None:
                    return None
                found.update(more)
            return found or None
        if node.op_type == "Conv":
            weight = constants.get(node.input[1])
            if weight is None:
                return None
            if _attribute(node, "group", 1) == 1:
                return {node.name: target}
            if _attribute(node, "group", 1) == weight.shape[0] == channels(node.input[0]) and weight.shape[1] == 1:
                return convs_for(node.input[0], target)
            return None
        if node.op_type == "Split" and name in split_pieces:
            start, stop = split_pieces[name]
            first = _split_starts(node, constants, channels)[list(node.output).index(name)]
            whole = layout_of(node.input[0]).copy()
            whole[start:stop] = target + first
            return convs_for(node.input[0], whole)
        return None

    def ask(name: str, target: np.ndarray) -> bool:
        """Ask the dense Convs behind ``name`` to emit ``target`` order: the pass restarts, or False when they cannot."""
        found = convs_for(name, target)
        if not found or all(key in demands and np.array_equal(demands[key], order) for key, order in found.items()):
            return False
        demands.update(found)
        raise _Restart

    for node in original:
        if id(node) in skipped:
            continue
        if id(node) in shuffle_at:
            unflatten, _, flatten, groups = shuffle_at[id(node)]
            source = unflatten.input[0]
            c = channels(source)
            inverse = np.argsort(np.arange(c).reshape(groups, c // groups).T.reshape(-1))
            layouts[flatten.output[0]] = inverse[layout_of(source)]
            rename[flatten.output[0]] = physical(source)
            continue
        op = node.op_type
        new = helper.make_node(op, [], list(node.output), name=node.name)
        new.attribute.extend(node.attribute)
        inputs = list(node.input)
        out = node.output[0] if node.output else None
        if op in _KEEPS_LAYOUT and channels(inputs[0]) is not None:
            inputs[0] = physical(inputs[0])
            if out is not None and channels(out) is not None:
                layouts[out] = layout_of(node.input[0])
        elif op == "Conv" and node.input[1] in constants and channels(inputs[0]) is not None:
            weight, group = constants[node.input[1]], _attribute(node, "group", 1)
            bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            source = layout_of(inputs[0])
            if group == 1:
                order = demands.get(node.name, np.arange(weight.shape[0]))
                weight = weight[order][:, source]
                bias = bias[order] if bias is not None else None
                layouts[out] = order
                inputs[0] = physical(inputs[0])
            elif group == weight.shape[0] == len(source) and weight.shape[1] == 1:
                weight, bias = weight[source], bias[source] if bias is not None else None
                layouts[out] = source
                inputs[0] = physical(inputs[0])
            else:
                inputs[0] = in_layout(inputs[0], np.arange(len(source)))
            if not np.array_equal(weight, constants[node.input[1]]):
                inputs[1] = constant(weight, node.input[1])
            if bias is not None and not np.array_equal(bias, constants[node.input[2]]):
                inputs[2] = constant(bias, node.input[2])
        elif op in ("Add", "Mul", "Sub", "Div") and channels(out) is not None:
            full = [i for i, name in enumerate(inputs) if name not in constants and channels(name) == channels(out)]
            target = layout_of(inputs[full[0]]) if full else np.arange(channels(out))
            for i in full[1:]:
                if not np.array_equal(layout_of(inputs[i]), target):
                    # the operand from a convolution takes the other's order (the pass restarts), else a Gather
                    ask(inputs[i], target) or ask(inputs[full[0]], layout_of(inputs[i]))
            for i, name in enumerate(inputs):
                if i in full:
                    inputs[i] = in_layout(name, target)
                elif name in constants and constants[name].ndim >= 3 and constants[name].shape[-3] == len(target) > 1:
                    inputs[i] = constant(np.take(constants[name], target, axis=-3), name)
                elif channels(name) == len(target) and len(target) > 1:
                    inputs[i] = in_layout(name, target)
                else:
                    inputs[i] = physical(name)
            layouts[out] = target
        elif op == "Concat" and _axis(node) == 1 and all(channels(name) is not None for name in inputs):
            atoms, offset = [], 0  # (physical tensor, its layout in this Concat's logical channels)
            for name in inputs:
                if name in gathered_runs and len(readers.get(name, ())) == 1:
                    for run in gathered_runs[name]:  # the runs go straight in: no gathering copy
                        atoms.append((run, layouts[run] + offset))
                else:
                    atoms.append((physical(name), layout_of(name) + offset))
                offset += channels(name)
            destination = next_split_halves(out, offset)
            if destination is not None:
                # channels bound for the next Split's first output first, the rest after, each in logical order
                atoms.sort(key=lambda atom: (destination[atom[1]].min() + destination[atom[1]].max(), atom[1].min()))
            layouts[out] = np.concatenate([layout for _, layout in atoms])
            inputs = [name for name, _ in atoms]
        elif op == "Split" and _axis(node) == 1 and channels(inputs[0]) is not None and (
                len(inputs) < 2 or inputs[1] in constants):
            nodes.extend(_split(node, layout_of(inputs[0]), physical(inputs[0]), constants, channels, layouts,
                                split_pieces, gathered_runs, constant, counts, helper, cut_halves=inputs[0] in rename))
            continue
        elif op == "Shape":
            inputs = [physical(name) for name in inputs]
        else:
            inputs = [in_layout(name, np.arange(channels(name))) if channels(name) else physical(name) for name in inputs]
        new.input.extend(inputs)
        nodes.append(new)
    # graph outputs are read in logical order: a Gather under the output's name, the other readers keep the physical one
    for name in graph_outputs:
        layout = layout_of(name)
        if layout is None or np.array_equal(layout, np.arange(len(layout))):
            continue
        kept = f"{name}_physical"
        for node in nodes:
            node.output[:] = [kept if o == name else o for o in node.output]
            node.input[:] = [kept if i == name else i for i in node.input]
        where = constant(np.argsort(layout).astype(np.int64), name)
        nodes.append(helper.make_node("Gather", [kept, where], [name], axis=1, name=f"{name}_logical"))
        counts["gather"] += 1
    return nodes, initializers, counts


def _attribute(node, name, default):
    for attribute in node.attribute:
        if attribute.name == name:
            from onnx import helper

            return helper.get_attribute_value(attribute)
    return default


def _split_sizes(node, constants, channels) -> List[int]:
    if len(node.input) > 1 and node.input[1]:
        return [int(s) for s in constants[node.input[1]]]
    sizes = _attribute(node, "split", None)
    if sizes is None:
        total = channels(node.input[0])
        sizes = [total // len(node.output)] * len(node.output)
    return [int(s) for s in sizes]


def _split_starts(node, constants, channels) -> List[int]:
    return [int(s) for s in np.concatenate([[0], np.cumsum(_split_sizes(node, constants, channels))[:-1]])]


def _split(node, layout, source, constants, channels, layouts, split_pieces, gathered_runs, constant, counts, helper,
           cut_halves: bool):
    """A Split of logical ranges on a tensor whose channels are in ``layout`` order: one Split of physical runs
    (+ a Concat for each output whose channels are not one run).

    With ``cut_halves`` each output's runs are also cut where its logical first half ends
    (the next shuffle sends the halves to different places), and a gathered output lists
    its first-half runs first, so that what is computed from it keeps its halves apart.
    """
    sizes = _split_sizes(node, constants, channels)
    starts = _split_starts(node, constants, channels)
    owner = np.empty(len(layout), np.int64)
    for k, (start, size) in enumerate(zip(starts, sizes)):
        inside = (layout >= start) & (layout < start + size)
        owner[inside] = 2 * k + (layout[inside] >= start + size // 2 if cut_halves else 0)
    cuts = [0] + [p for p in range(1, len(layout)) if owner[p] != owner[p - 1]] + [len(layout)]
    runs = list(zip(cuts[:-1], cuts[1:]))
    per_output: Dict[int, List[Tuple[int, int]]] = {}
    for run in runs:
        per_output.setdefault(int(owner[run[0]]) // 2, []).append(run)
    names, extra = [], []
    for run_index, (start, stop) in enumerate(runs):
        k = int(owner[start]) // 2
        name = node.output[k] if len(per_output[k]) == 1 else f"{node.output[k]}_run{run_index}"
        names.append(name)
        layouts[name] = layout[start:stop] - starts[k]
        if len(per_output[k]) == 1:
            split_pieces[name] = (start, stop)
    for k, output in enumerate(node.output):
        if len(per_output[k]) > 1:
            ordered = sorted(per_output[k], key=lambda run: (int(owner[run[0]]), int(layout[run[0]:run[1]].min())))
            parts = [names[runs.index(run)] for run in ordered]
            extra.append(helper.make_node("Concat", parts, [output], axis=1, name=f"{output}_gathered"))
            layouts[output] = np.concatenate([layouts[p] for p in parts])
            gathered_runs[output] = parts
    counts["split_outputs_added"] += len(runs) - len(node.output)
    sizes_name = constant(np.array([b - a for a, b in runs], np.int64), f"{node.name}_sizes")
    split = helper.make_node("Split", [source, sizes_name], names, axis=1, name=node.name)
    return [split] + extra
