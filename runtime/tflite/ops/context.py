"""What a kernel builder may know about its node, and the helpers they share."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from ...errors import ModelFormatError, UnsupportedOpError
from ...records import Record
from ...sparse import PlanInfo, plan_matmul
from ..model import Operator, Tensor
from .. import quant


# Outputs whose size comes from tensor values (TILE multiples, FILL dims, PAD widths, resize sizes)
# may be this large without question; beyond it they must match the shape the file declares.
MAX_DYNAMIC_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class LayerPlan(Record):
    """The matmul plan (runtime/sparse) chosen at load for one op's constant weights."""

    op: str
    node: str
    info: PlanInfo


class OpContext:
    def __init__(self, op: Operator, tensors: Sequence[Tensor], constants: dict, source: str,
                 plans: Optional[List[LayerPlan]] = None, memo: Optional[dict] = None):
        """plans: where matmul_plan records its choices; None disables sparse plans.
        memo: a dictionary the interpreter empties at the start of every run, where kernels share
        what several ops derive from one tensor within a run (hybrid.RowQuantizer); None: no sharing."""
        self.op = op
        self.memo = memo
        self._plans = plans
        self.source = source
        self.options = op.options
        self.inputs: List[Optional[Tensor]] = [tensors[i] if i >= 0 else None for i in op.inputs]
        self.outputs: List[Tensor] = [tensors[i] for i in op.outputs]
        self._constants = constants
        self._tensors = tensors

    @property
    def node(self) -> str:
        out = self.outputs[0].name if self.outputs else "?"
        return f"#{self.op.index} {out}"

    def unsupported(self, detail: str) -> UnsupportedOpError:
        return UnsupportedOpError(self.source, self.op.display_name, self.node, detail)

    def const(self, i: int) -> Optional[np.ndarray]:
        """Input i's constant value (dense), or None when it is computed at run time or omitted."""
        if i >= len(self.op.inputs) or self.op.inputs[i] < 0:
            return None
        return self._constants.get(self.op.inputs[i])

    def const_bias(self, i: int = 2) -> Optional[np.ndarray]:
        """The optional bias input: its constant value, None when omitted; a bias computed at run time
        is refused (the kernels fold it into their output stage at load)."""
        bias = self.const(i)
        if self.has_input(i) and bias is None:
            raise self.unsupported("bias computed at run time")
        return bias

    def matmul_plan(self, w_out_in: np.ndarray, *, exact_int: bool, x_abs_max: int = 255, rows: int = 1):
        """A sparse plan (runtime/sparse.plan_matmul) for x @ W.T with constant W (out, in), if sparse
        plans are enabled, W has zeros and a sparse layout measured faster than dense at `rows` rows
        (the static batch); else None and the kernel keeps its dense GEMM. Every plan made is
        recorded, dense or not, for the interpreter's `plans` report."""
        if self._plans is None or np.count_nonzero(w_out_in) == w_out_in.size:
            return None
        w_name = self.inputs[1].name if len(self.inputs) > 1 and self.inputs[1] is not None else "?"
        plan = plan_matmul(w_out_in, exact_int=exact_int, x_abs_max=x_abs_max, batch_hint=max(1, int(rows)),
                           name=f"{self.source}: {self.op.display_name} {self.node!r} weights {w_name!r}")
        self._plans.append(LayerPlan(self.op.display_name, self.node, plan.describe()))
        return None if plan.kind == "dense" else plan

    def has_input(self, i: int) -> bool:
        return i < len(self.op.inputs) and self.op.inputs[i] >= 0

    def dtype(self, i: int = 0) -> str:
        return self.inputs[i].dtype

    def out_dtype(self, i: int = 0) -> str:
        return self.outputs[i].dtype

    def require_dtypes(self, allowed: Sequence[str], *, same_output: bool = True) -> str:
        """The op's input-0 dtype, if the kernel handles it (and the output shares it)."""
        dt = self.dtype(0)
        if dt not in allowed:
            raise self.unsupported(f"input dtype {dt} (supported: {', '.join(allowed)})")
        if same_output and self.out_dtype(0) != dt:
            raise self.unsupported(f"input dtype {dt} with output dtype {self.out_dtype(0)}")
        return dt

    def qparams(self, tensor: Optional[Tensor]):
        """(scale, zero_point) of a per-tensor quantized tensor."""
        q = tensor.quantization if tensor is not None else None
        if q is None or not q.scale:
            raise self.unsupported(f"tensor {tensor.name!r} is {tensor.dtype} without quantization parameters")
        if len(q.scale) != 1:
            raise self.unsupported(f"tensor {tensor.name!r} is quantized per channel where per-tensor is required")
        return float(q.scale[0]), int(q.zero_point[0])

    def activation(self) -> str:
        act = self.options.get("fused_activation_function", "NONE")
        if act not in quant.ACTIVATIONS:
            raise self.unsupported(f"fused activation {act}")
        return act

    def check_output_size(self, shape, i: int = 0) -> None:
        """Refuse an output size computed from tensor values that neither stays modest nor matches the
        file's declared shape (batch aside): a damaged constant must not make us allocate gigabytes."""
        shape = [int(d) for d in shape]
        if any(d < 0 for d in shape):
            raise ModelFormatError(self.source, f"operator {self.op.index} ({self.op.display_name}) computed the "
                                                f"negative output shape {shape}")
        n = math.prod(shape)
        if n <= MAX_DYNAMIC_ELEMENTS:
            return
        declared = list(self.outputs[i].shape)
        if len(declared) == len(shape) and declared[1:] == shape[1:]:
            return
        raise ModelFormatError(
            self.source, f"operator {self.op.index} ({self.op.display_name}) would produce {shape} ({n} elements), "
                         f"not the declared {declared}"
        )
