"""Graph rewrites before quantisation that keep the FP32 maths but let ONNX Runtime fuse INT8 kernels.

The fused FP32 export (:mod:`crossglg.model.export_fused`) feeds each SA-GC residual into its head
GEMM as the GEMM's ``C`` operand: in FP32 that saves a pass. ONNX Runtime's Q/DQ fusion, however,
turns a Gemm into an integer ``QGemm`` only when ``C`` is a constant bias; with a data-dependent ``C``
the GEMM stays float with a DequantizeLinear of its weights on every call (measured: the head GEMMs
then cost more than in FP32). :func:`split_dynamic_gemm_c` rewrites
``Gemm(A, B, C_dyn)`` -> ``Add(Gemm(A, B, bias), rest)``, taking the constant part of ``C_dyn`` as
the bias when ``C_dyn = Add(rest, constant)``.
"""

from __future__ import annotations

import onnx
from onnx import helper


def _constants(model: onnx.ModelProto) -> set[str]:
    names = {t.name for t in model.graph.initializer}
    return names | {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}


def split_dynamic_gemm_c(model: onnx.ModelProto) -> int:
    """Rewrite every Gemm with a non-constant ``C`` in place (see module docstring); returns the count.

    Only plain Gemms (``alpha = beta = 1``) are rewritten; the graph stays topologically sorted
    (the new Add is inserted right after its Gemm).
    """
    consts = _constants(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    uses: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    rewritten, nodes = 0, []
    drop: set[int] = set()
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Gemm" or len(node.input) < 3 or not node.input[2] or node.input[2] in consts
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        c = node.input[2]
        bias, rest = "", c
        src = producers.get(c)
        if src is not None and src.op_type == "Add" and uses.get(c, 0) == 1:
            a, b = src.input
            if (a in consts) != (b in consts):  # Add(dynamic, constant): the constant becomes the bias
                bias, rest = (a, b) if a in consts else (b, a)
                drop.add(id(src))
        gemm_out = node.output[0] + "_gemm"
        new_gemm = helper.make_node("Gemm", [node.input[0], node.input[1]] + ([bias] if bias else []), [gemm_out],
                                    name=node.name, **attrs)
        add = helper.make_node("Add", [gemm_out, rest], [node.output[0]], name=(node.name or gemm_out) + "_residual")
        nodes += [new_gemm, add]
        rewritten += 1
    if rewritten:
        gone = {o for n in model.graph.node if id(n) in drop for o in n.output}
        del model.graph.node[:]
        model.graph.node.extend(n for n in nodes if id(n) not in drop)
        kept = [v for v in model.graph.value_info if v.name not in gone]
        del model.graph.value_info[:]
        model.graph.value_info.extend(kept)
    return rewritten
