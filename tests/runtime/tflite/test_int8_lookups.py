"""The int8 kernels that run as load-time tables or folded arithmetic give exactly what their
step-by-step LiteRT arithmetic gives (which the conformance suite checks against LiteRT itself), on
the inputs where an indexing or rounding slip would show: every int8 pair, extreme scales, exact
ties, saturation, broadcast shapes that mix LiteRT's vector and scalar loops, constant operands."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite import Interpreter, quant
from edgewise.runtime.tflite.ops import binary, reduce
from edgewise.runtime.tflite.ops import vector_paths as vp

from .graphs import Builder

F32 = np.float32

# (shape1, shape2): equal shapes (a vector tail at 20), the five-fold broadcasts with both loop
# kinds and tails, a generic broadcast, rank-0 and rank-changing operands
SHAPES = [((1, 16, 32), (1, 16, 32)), ((20,), (20,)), ((1, 16, 32), (16, 32)), ((1, 16, 1), (1, 1, 32)),
          ((1, 16, 1), (1, 16, 33)), ((3, 1, 20), (3, 5, 20)), ((2, 3, 4, 5), (2, 1, 4, 1)), ((), (7, 3)),
          ((4, 9), ()), ((9,), (2, 1, 9)), ((1, 1, 1), (5,))]

SCALES = [(0.05, 0.04, 0.1), (1e-3, 0.5, 2e-4), (0.9, 1e-4, 3.0), (2.0 ** -7, 2.0 ** -7, 2.0 ** -6)]


def _pairs(rng, shape1, shape2):
    x1 = np.array(rng.integers(-128, 128, shape1), np.int8)
    x2 = np.array(rng.integers(-128, 128, shape2), np.int8)
    x1.reshape(-1)[:1] = -128  # the extremes, for saturation
    x2.reshape(-1)[-1:] = 127
    return x1, x2


def _add_params(s1, s2, so, z1, z2, zo):
    twice_max = 2.0 * float(max(F32(s1), F32(s2)))
    m1 = quant.quantize_multiplier(float(F32(s1)) / twice_max)
    m2 = quant.quantize_multiplier(float(F32(s2)) / twice_max)
    mo = quant.quantize_multiplier(twice_max / float(F32((1 << binary.LEFT_SHIFT) * F32(so))))
    return (m1, m2, mo, z1, z2, zo, -128, 127)


def _kernels(scales, zps):
    """(name, stepwise(x1, x2), pair_table arguments) for ADD, SUB and MUL with these parameters."""
    s1, s2, so = scales
    z1, z2, zo = zps
    p_add = _add_params(s1, s2, so, z1, z2, zo)
    mult, shift = quant.quantize_multiplier(float(F32(F32(s1) * F32(s2)) / F32(so)))
    p_mul = (z1, z2, mult, shift, zo, -100, 120)  # a fused-activation clamp inside the int8 range
    return [
        ("ADD", lambda a, b: binary.add_sub_int8(a, b, p_add, 1),
         (lambda a, b, lanes: binary.add_sub_int8(a, b, p_add, 1, lanes), ("elementwise", "scalar"), (16, 8))),
        ("SUB", lambda a, b: binary.add_sub_int8(a, b, p_add, -1),
         (lambda a, b, lanes: binary.add_sub_int8(a, b, p_add, -1, lanes), (), (16, 8))),
        ("MUL", lambda a, b: binary.mul_int8(a, b, p_mul),
         (lambda a, b, lanes: binary.mul_int8(a, b, p_mul, lanes), ("elementwise", "scalar"), (16, 16))),
    ]


@pytest.mark.parametrize("scales", SCALES)
def test_pair_tables_equal_stepwise_arithmetic(scales):
    rng = np.random.default_rng(0)
    zps = tuple(int(z) for z in rng.integers(-128, 128, 3))
    for name, stepwise, args in _kernels(scales, zps):
        run = binary.pair_table(*args)
        for shape1, shape2 in SHAPES:
            x1, x2 = _pairs(rng, shape1, shape2)
            for _ in range(2):  # the second call reads the per-shape cache
                got = np.asarray(run([x1, x2])[0])
                want = stepwise(x1, x2)
                assert got.shape == want.shape, (name, shape1, shape2)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {shape1} x {shape2}")


def test_pair_tables_cover_every_pair():
    """All 65536 pairs, through the vector loop (equal shapes) and the scalar tail (a 1-element run)."""
    values = np.arange(-128, 128, dtype=np.int8)
    g1, g2 = np.meshgrid(values, values, indexing="ij")
    for name, stepwise, args in _kernels((0.02, 0.07, 0.05), (-3, 100, -128)):
        run = binary.pair_table(*args)
        np.testing.assert_array_equal(run([g1, g2])[0], stepwise(g1, g2), err_msg=name)
        a, b = g1.reshape(-1, 1, 1), g2.reshape(-1, 1, 1)
        np.testing.assert_array_equal(run([a, b])[0], stepwise(a, b), err_msg=name)


@pytest.mark.parametrize("side", [0, 1])
def test_pair_tables_with_a_constant_scalar_operand(side):
    rng = np.random.default_rng(side)
    for scales in SCALES:
        for name, stepwise, args in _kernels(scales, (5, -7, -128)):
            for c_shape in [(), (1,), (1, 1, 1)]:
                for c in (-128, 0, 127, int(rng.integers(-128, 128))):
                    const = np.full(c_shape, c, np.int8)
                    run = binary.pair_table(*args, consts=(const, None) if side == 0 else (None, const))
                    for shape in [(1, 2, 16, 16), (20,), (3, 17), (2, 1, 9)]:
                        x = rng.integers(-128, 128, shape).astype(np.int8)
                        pair = [const, x] if side == 0 else [x, const]
                        got = run([x, x] if side == 0 else [x, x])[0]  # the constant input is not read
                        want = stepwise(*pair)
                        assert got.shape == want.shape, (name, c_shape, shape)
                        np.testing.assert_array_equal(got, want, err_msg=f"{name} c={c} {c_shape} {shape}")


def test_mixed_lanes_are_exercised():
    """The broadcast shapes above include ones where a shape mixes vector and scalar loops."""
    mixed = [s for s in SHAPES if 0 < vp.broadcast_lanes(*s, 16, 8)[1].sum() < np.prod(np.broadcast_shapes(*s))]
    assert len(mixed) >= 3


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 32, 100, 255, 256, 1000])
def test_mean_sum_table_equals_quantized_mean(n):
    """reduce.mean_sum_table against QuantizedMeanOrSum's arithmetic on every possible sum."""
    rng = np.random.default_rng(n)
    sums = np.arange(-128 * n, 127 * n + 1)
    for s_in, s_out in [(0.05, 0.05), (0.02, 0.3), (1e-4, 0.5), (0.9, 1e-3), (2.0 ** -8, 2.0 ** -10)]:
        for z_in, z_out in [(0, 0), (-128, 127), tuple(int(v) for v in rng.integers(-128, 128, 2))]:
            mult, shift = quant.quantize_multiplier(float(F32(s_in)) / float(F32(s_out)))
            table = reduce.mean_sum_table(n, z_in, mult, shift, z_out)
            np.testing.assert_array_equal(table[sums], reduce.mean_int8_of_sum(sums, n, z_in, mult, shift, z_out))


def test_mean_kernel_uses_the_table_and_matches():
    """The MEAN kernel's table paths against mean_int8_general / mean_int8_hw, including all -128 and
    all 127 inputs."""
    rng = np.random.default_rng(0)
    for shape, axes, keep in [((1, 16, 32), (-1,), True), ((1, 16, 32), (1,), False), ((4, 5, 6), (0, 2), True),
                              ((3, 7), (0, 1), False), ((1, 6, 6, 20), (1, 2), True), ((2, 3, 5, 16), (2, 1), True)]:
        b = Builder()
        x = b.tensor("x", shape, "int8", scale=0.03, zero_point=-5)
        a = b.tensor("axes", (len(axes),), "int32", value=np.array(axes, np.int32))
        out_shape = tuple(1 if (i in [ax % len(shape) for ax in axes]) else d for i, d in enumerate(shape))
        if not keep:
            out_shape = tuple(d for i, d in enumerate(shape) if i not in [ax % len(shape) for ax in axes])
        y = b.tensor("y", out_shape, "int8", scale=0.01, zero_point=3)
        b.op("MEAN", [x, a], [y], keep_dims=keep)
        it = Interpreter(b.model([x], [y]), "mean.tflite")
        xs = rng.integers(-128, 128, (3,) + shape).astype(np.int8)
        xs[1], xs[2] = -128, 127
        mult, shift = quant.quantize_multiplier(float(F32(0.03)) / float(F32(0.01)))
        for v in xs:
            ax = tuple(sorted(a % len(shape) for a in axes))
            if keep and len(shape) == 4 and ax == (1, 2):  # optimized_integer_ops::Mean
                want = reduce.mean_int8_hw(v, -5, 0.03, 0.01, 3)
            else:
                want = reduce.mean_int8_general(v, ax, keep, -5, mult, shift, 3)
            for _ in range(2):
                got = it.invoke([v])[0]
                assert got.shape == want.shape and got.dtype == np.int8
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(4))
def test_batch_matmul_fold_equals_reference_requantization(seed):
    """batch_matmul.requantize_fold against MultiplyByQuantizedMultiplier (gemmlowp rounding, halves
    away from zero), on exact ties of both signs and on saturation."""
    from edgewise.runtime.tflite.ops import batch_matmul

    rng = np.random.default_rng(seed)
    reals = [2.0 ** -1, 2.0 ** -5, 2.0 ** -12, 0.75, 1e-4] + list(rng.uniform(1e-5, 0.99, 6))  # 2^-k: M = 2^30
    for real in reals:
        mult, shift = quant.quantize_multiplier(real)
        for zp in (-128, 0, 127, int(rng.integers(-128, 128))):
            acc_max = 16 * 255 * 255
            run = batch_matmul.requantize_fold(mult, shift, zp, acc_max)
            assert run is not None
            acc = rng.integers(-acc_max, acc_max + 1, 4000)
            r = -shift
            ties = (np.arange(-40, 40) << max(r, 0)) + ((1 << r) >> 1)  # t exactly halfway, both signs
            near = np.concatenate([ties, ties - 1, ties + 1]) * (1 << 31) // mult
            acc = np.concatenate([acc, near, near + 1, near - 1, np.arange(-300, 300), [acc_max, -acc_max]])
            acc = acc[np.abs(acc) <= acc_max]
            want = np.clip(quant.multiply_by_quantized_multiplier(acc, mult, shift) + zp, -128, 127).astype(np.int8)
            for a in (acc.astype(np.float64), acc.astype(np.float32)):
                np.testing.assert_array_equal(run(a), want, err_msg=f"real={real} zp={zp}")
    assert batch_matmul.requantize_fold(*quant.quantize_multiplier(3.0), 0, 1000) is None  # a left shift
    assert batch_matmul.requantize_fold(*quant.quantize_multiplier(0.5), 0, 1 << 40) is None  # too large


def _softmax_rows(x, table, out_scale, zp):
    """optimized_ops::Softmax (the lookup-table path) element by element, as the C++ loops run."""
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty(rows.shape, np.int8)
    for i, row in enumerate(rows):
        m = int(row.max())
        total = F32(0)
        for v in row:
            total = F32(total + table[m - int(v)])
        inv = F32(F32(1.0) / F32(total * F32(out_scale)))
        for j, v in enumerate(row):
            p = float(F32(table[m - int(v)] * inv))  # std::round of a float: exact, halves away from zero
            q = int(np.floor(p + 0.5)) + zp
            out[i, j] = min(127, max(-128, q))
    return out.reshape(x.shape)


def test_softmax_int8_rounds_the_float32_product_exactly():
    from edgewise.runtime.tflite.ops import softmax

    rng = np.random.default_rng(0)
    for in_scale in (0.1, 2.0 ** -4, 0.003, 1.7):
        table = np.exp((F32(-in_scale) * np.arange(256, dtype=np.float32)).astype(np.float64)).astype(np.float32)
        for out_scale, zp in [(1 / 256, -128), (0.01, -5), (1e-5, 127), (0.5, 0), (1 / 255, -128)]:
            x = rng.integers(-128, 128, (3, 7, 13)).astype(np.int8)
            x[0, 0] = 5  # a constant row
            x[0, 1, :2] = [-128, 127]  # the widest difference
            np.testing.assert_array_equal(softmax.softmax_int8(x, table, out_scale, zp),
                                          _softmax_rows(x, table, out_scale, zp))
            for row in (x[:1, :1], x[0, 1:2], x[2, 3]):  # one row: the scalar sum and reciprocal
                np.testing.assert_array_equal(softmax.softmax_int8(row, table, out_scale, zp),
                                              _softmax_rows(row, table, out_scale, zp))
    # a product just below one half, 0.49999997, which a float32 v + 0.5 would round up to 1.0: a row
    # of two equal values with table[0] = t0 and output scale 1 gives v = t0 * (1 / (2 t0)) in float32
    half_below = np.nextafter(F32(0.5), F32(0))
    t0 = (1.0 + np.arange(1 << 14) * 2.0 ** -23).astype(np.float32)
    t0 = t0[(t0 * (F32(1.0) / (F32(2.0) * t0)).astype(np.float32)).astype(np.float32) == half_below][0]
    table = np.full(256, t0, np.float32)
    x = np.zeros((1, 2), np.int8)
    np.testing.assert_array_equal(softmax.softmax_int8(x, table, 1.0, 0), [[0, 0]])
    np.testing.assert_array_equal(_softmax_rows(x, table, 1.0, 0), [[0, 0]])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_gather_rejects_out_of_range_indices(dtype):
    """GATHER's int32 fast path leaves the bounds check to NumPy on the indices read as unsigned."""
    from edgewise.runtime.tflite.ops.registry import KERNELS

    class Ctx:
        options = {"axis": 1}

    run = KERNELS["GATHER"](Ctx())
    x = np.arange(12).reshape(4, 3)
    np.testing.assert_array_equal(run([x, np.array([2, 0], dtype)])[0], x[:, [2, 0]])
    for bad in (-1, 3, -(1 << 31)):
        with pytest.raises(IndexError, match="GATHER index out of range"):
            run([x, np.array([0, bad], dtype)])


@pytest.mark.parametrize("shape", [(1, 6, 6, 16), (2, 3, 3, 40), (1, 1, 1, 7), (1, 24, 24, 20)])
def test_mean_hw_table_equals_optimized_mean(shape):
    """reduce.mean_hw_table (keep_dims, axes {1, 2}) against optimized_integer_ops::Mean's arithmetic,
    channels in the vector loop and in the scalar tail, on every possible sum and at the extremes."""
    rng = np.random.default_rng(sum(shape))
    n = shape[1] * shape[2]
    for s_in, z_in, s_out, z_out in [(0.05, -3, 0.02, 5), (0.9, -128, 1e-3, 127), (1e-3, 127, 0.5, -128),
                                     (2.0 ** -7, 0, 2.0 ** -7, 0)]:
        table, offsets = reduce.mean_hw_table(shape, z_in, s_in, s_out, z_out)
        params = reduce.mean_int8_hw_params(shape, z_in, s_in, s_out, z_out)
        sums = np.arange(-128 * n, 127 * n + 1).reshape(-1, 1, 1, 1) + np.zeros(shape[3], np.int64)
        want = reduce._hw_requantize(sums, *params)
        np.testing.assert_array_equal(table[sums + offsets], want)
        x = rng.integers(-128, 128, (4,) + shape[1:]).astype(np.int8)
        x[1], x[2] = -128, 127
        got = table[np.add.reduce(x, axis=(1, 2), dtype=np.intp, keepdims=True) + offsets]
        np.testing.assert_array_equal(got, reduce.mean_int8_hw(x, z_in, s_in, s_out, z_out, params))


def test_softmax_int8_clamp_table_and_negative_beta():
    """The clamp folded into the output table (small output scales use the clamping path) and a
    table with entries above 1 (beta < 0), against the element-by-element loops."""
    from edgewise.runtime.tflite.ops import softmax

    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (4, 9)).astype(np.int8)
    x[0] = 7
    for in_scale, beta in [(0.05, 1.0), (0.05, -0.5), (0.3, 2.0)]:
        table = np.exp((F32(-in_scale * beta) * np.arange(256, dtype=np.float32)).astype(np.float64)).astype(F32)
        for out_scale, zp in [(1 / 256, -128), (3e-5, -128), (0.002, 100), (0.9, 0)]:
            np.testing.assert_array_equal(softmax.softmax_int8(x, table, out_scale, zp),
                                          _softmax_rows(x, table, out_scale, zp), err_msg=f"{beta} {out_scale}")
