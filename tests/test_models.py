"""The model zoo: every registered model through the shared harness (conftest.run_model_test), exact
parameter counts, geometry, block variants, layers, inference heads."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_BTSRN, TINY_EDSR

from sr_tf import models
from sr_tf.models import layers

# The release's model_resnet_up and the official EDSR-PyTorch code, counted from their layer definitions.
PARAMETER_COUNTS = [
    ("btsrn", 2, 887_683),
    ("btsrn", 3, 969_603),
    ("btsrn", 4, 1_035_459),
    ("edsr_baseline", 2, 1_369_859),
    ("edsr_baseline", 3, 1_554_499),
    ("edsr_baseline", 4, 1_517_571),
    ("edsr", 2, 40_729_603),
    ("edsr", 3, 43_680_003),
    ("edsr", 4, 43_089_923),
    ("mdsr_baseline", (2, 3, 4), 3_227_203),
    ("mdsr", (2, 3, 4), 7_953_987),
]


@pytest.mark.parametrize("name,scale,expected", PARAMETER_COUNTS)
def test_parameter_count_is_exact(name, scale, expected):
    # What the zoo table prints; the harness builds each network at its defaults and counts them.
    assert models.get_spec(name).parameters[scale] == expected


# Each registered model's own test: its tiny network, what comes out of a 13x9 LR, the checks it
# adds (`variants`: other options that must round-trip too; `tflite`: its TFLite file as well).
# A model registered without an entry here fails until it has one.
HARNESS = {
    "btsrn": dict(
        scale=2,
        options=TINY_BTSRN,
        trainable=987,
        outputs=[(1, 20, 12, 3)],  # the valid centre
        variants=[{"block": "gated"}],
        tflite=True,
    ),
    "edsr_baseline": dict(scale=3, options=TINY_EDSR, trainable=7451, outputs=[(1, 39, 27, 3)], tflite=True),
    "edsr": dict(scale=3, options=TINY_EDSR, trainable=7451, outputs=[(1, 39, 27, 3)]),
    "mdsr_baseline": dict(
        scale=(4, 2), options=TINY_EDSR, trainable=22_067, outputs=[(1, 52, 36, 3), (1, 26, 18, 3)]
    ),
    "mdsr": dict(scale=(3,), options=TINY_EDSR, trainable=13_883, outputs=[(1, 39, 27, 3)]),
}


@pytest.mark.parametrize("name", models.model_names())
def test_every_registered_model_passes_the_harness(name, run_model_test):
    assert name in HARNESS, f"{name} is registered but has no HARNESS entry in tests/test_models.py"
    run_model_test(name, **HARNESS[name])


def test_edsr_mean_shift_is_frozen_and_weightless():
    model = models.build_model("edsr_baseline", 2, **TINY_EDSR)
    for name in ("sub_mean", "add_mean"):
        assert model.get_layer(name).weights == []
    x = np.full((1, 4, 4, 3), 100.0, np.float32)
    shifted = keras.Model(model.input, model.get_layer("sub_mean").output)(x).numpy()
    np.testing.assert_allclose(shifted[0, 0, 0], 100.0 - 255 * np.array([0.4488, 0.4371, 0.4040]), atol=1e-4)


@pytest.mark.parametrize("scale,lr_size,out_size", [(2, 54, 76), (3, 36, 64), (4, 27, 48)])
def test_btsrn_training_geometry(scale, lr_size, out_size):
    """A 108x108 HR patch: LR 108/s in, the valid 76/64/48 centre out (release section 3.1)."""
    model = models.build_model("btsrn", scale)
    assert model(np.zeros((1, lr_size, lr_size, 3), np.float32)).shape == (1, out_size, out_size, 3)
    assert models.valid_margin(model, scale) == (108 - out_size) // 2


def test_btsrn_release_layer_names_and_layout():
    model = models.build_model("btsrn", 4)
    convolutions = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
    conv_names = {layer.name for layer in model.layers if isinstance(layer, convolutions)}
    expected = {"in", "out", "up1", "up2", "up_conv_proj", "up_conv_filt"}
    expected |= {f"lr_conv{i}_{p}" for i in range(6) for p in ("proj", "filt")}
    expected |= {f"hr_conv{i}_{p}" for i in range(4) for p in ("proj", "filt")}
    assert conv_names == expected
    assert model.get_layer("up1").kernel.shape == (2, 2, 128, 128)
    slopes = [layer.negative_slope for layer in model.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(slopes) == 11 * 2 + 2 + 1  # two per block, one per deconvolution, one before `out`
    assert all(slope == pytest.approx(0.2) for slope in slopes)
    for layer in model.layers:
        if isinstance(layer, convolutions):
            assert layer.padding == "valid"
            assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform)
            assert not np.any(layer.bias.numpy())


# Per-block parameters at h=128: pconv 1x1 h->b + 3x3 b->h; pixelcnn adds 1x1 b->h after a 3x3
# b->b; the gated blocks have a 3x3 b->2b (halved by the gate) and a 1x1 b->h.
def block_params(block, h, b):
    return {
        "pconv": (h * b + b) + (9 * b * h + h),
        "pixelcnn": (h * b + b) + (9 * b * b + b) + (b * h + h),
        "gated": (h * b + b) + (9 * b * 2 * b + 2 * b) + (b * h + h),
        "gated_pp": (h * b + b) + (9 * b * 2 * b + 2 * b) + (b * h + h),
    }[block]


@pytest.mark.parametrize("block", ["pconv", "pixelcnn", "gated", "gated_pp"])
@pytest.mark.parametrize("bottleneck", [64, 32])
def test_block_variants_shapes_and_counts(block, bottleneck):
    model = models.build_model("btsrn", 2, block=block, bottleneck=bottleneck)
    outer = 512 + 65_664 + 387  # in, the x2 deconvolution, out
    assert models.count_trainable(model) == outer + 10 * block_params(block, 128, bottleneck)
    assert model(np.zeros((2, 54, 54, 3), np.float32)).shape == (2, 76, 76, 3)
    assert block_params("pconv", 128, 64) == 82_112  # the release's per-block count


def test_gate_layer_math():
    x = np.random.default_rng(0).normal(size=(1, 2, 2, 6)).astype(np.float32)
    u, v = x[..., :3], x[..., 3:]
    sigmoid = 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(layers.Gate("tanh")(x), np.tanh(u) * sigmoid, rtol=1e-5)
    np.testing.assert_allclose(layers.Gate("identity")(x), u * sigmoid, rtol=1e-5)


def test_unknown_names_options_and_scales_are_rejected():
    with pytest.raises(ValueError, match="unknown model name 'srcnn'"):
        models.build_model("srcnn", 2)
    with pytest.raises(ValueError, match="unknown option.*'blocks'"):
        models.build_model("btsrn", 2, blocks=3)
    with pytest.raises(ValueError, match="scale must be one of"):
        models.build_model("edsr_baseline", 5)
    with pytest.raises(ValueError, match="block must be one of"):
        models.build_model("btsrn", 2, block="dense")


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("size", [(37, 53), (1, 1), (5, 16)])
def test_inference_model_output_size_and_dtype(scale, size):
    lr = np.random.default_rng(3).integers(0, 256, (1, *size, 3), dtype=np.uint8)
    for name, options in (("btsrn", TINY_BTSRN), ("edsr_baseline", TINY_EDSR)):
        inference = models.build_inference_model(models.build_model(name, scale, **options), name, scale)
        assert inference.input.dtype == "uint8"
        assert tuple(inference.input.shape) == (None, None, None, 3)
        sr = inference(lr)
        assert sr.dtype == tf.uint8
        assert sr.shape == (1, size[0] * scale, size[1] * scale, 3)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_btsrn_inference_follows_the_release(scale):
    """15-px symmetric pad, network, centre crop, + bicubic, round half up: recomputed by hand."""
    network = models.build_model("btsrn", scale, **TINY_BTSRN)
    inference = models.build_inference_model(network, "btsrn", scale)
    lr_uint8 = np.random.default_rng(4).integers(0, 256, (1, 23, 31, 3), dtype=np.uint8)
    lr = lr_uint8.astype(np.float32) / 255
    residual = network(tf.pad(lr, [[0, 0], [15, 15], [15, 15], [0, 0]], mode="SYMMETRIC")).numpy()
    top = (residual.shape[1] - 23 * scale) // 2
    left = (residual.shape[2] - 31 * scale) // 2
    residual = residual[:, top : top + 23 * scale, left : left + 31 * scale]
    bicubic = tf.image.resize(lr, (23 * scale, 31 * scale), "bicubic").numpy()
    expected = np.clip(np.floor((bicubic + residual) * 255 + 0.5), 0, 255)
    difference = np.abs(inference(lr_uint8).numpy().astype(int) - expected)
    assert difference.max() <= 1 and np.mean(difference) < 1e-3  # float rounding ties only


def test_edsr_inference_rounds_and_clips():
    network = models.build_model("edsr_baseline", 2, **TINY_EDSR)
    inference = models.build_inference_model(network, "edsr_baseline", 2)
    lr = np.random.default_rng(5).integers(0, 256, (1, 11, 7, 3), dtype=np.uint8)
    expected = np.clip(np.floor(network(lr.astype(np.float32)).numpy() + 0.5), 0, 255)
    np.testing.assert_array_equal(inference(lr).numpy(), expected)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("size", [(1, 1), (2, 5), (17, 12), (40, 40)])
def test_bicubic_layer_matches_tf_image_resize(scale, size):
    x = np.random.default_rng(6).uniform(0, 1, (2, *size, 3)).astype(np.float32)
    expected = tf.image.resize(x, (size[0] * scale, size[1] * scale), "bicubic").numpy()
    np.testing.assert_allclose(layers.BicubicUpsample(scale)(x).numpy(), expected, atol=1e-5)


def test_bicubic_layer_uses_no_resize_op_and_compiles_with_xla():
    layer = layers.BicubicUpsample(3)
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec((1, None, None, 3))).graph
    assert not [op.type for op in graph.get_operations() if "Resize" in op.type]
    x = np.random.default_rng(7).uniform(0, 1, (1, 9, 10, 3)).astype(np.float32)
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_allclose(compiled(x), layer(x), atol=1e-6)


def test_btsrn_inference_model_compiles_with_xla():
    inference = models.build_inference_model(models.build_model("btsrn", 2, **TINY_BTSRN), "btsrn", 2)
    lr = np.random.default_rng(8).integers(0, 256, (1, 12, 10, 3), dtype=np.uint8)
    compiled = tf.function(inference, jit_compile=True)
    difference = np.abs(compiled(lr).numpy().astype(int) - inference(lr).numpy().astype(int))
    assert difference.max() <= 1


def test_depth_to_space_channel_order():
    """TF order: output channel c at sub-position (i, j) comes from input channel (i*r + j)*C + c."""
    r, channels = 3, 2
    x = np.arange(r * r * channels, dtype=np.float32).reshape(1, 1, 1, -1)
    out = layers.DepthToSpace(r)(x).numpy()
    assert out.shape == (1, r, r, channels)
    for i in range(r):
        for j in range(r):
            for c in range(channels):
                assert out[0, i, j, c] == (i * r + j) * channels + c


@pytest.mark.parametrize("size", [1, 4, 15, 20])
def test_symmetric_pad_mirrors_with_edge_repeated(size):
    x = np.random.default_rng(9).uniform(size=(1, size, size + 3, 2)).astype(np.float32)
    out = layers.SymmetricPad(15)(x).numpy()
    assert out.shape == (1, size + 30, size + 33, 2)
    if size >= 15:
        np.testing.assert_array_equal(out, tf.pad(x, [[0, 0], [15, 15], [15, 15], [0, 0]], "SYMMETRIC"))
    np.testing.assert_array_equal(out[:, 15:-15, 15:-15], x)
    np.testing.assert_array_equal(out[:, 14, 15:-15], x[:, 0])  # the edge pixel is repeated
    np.testing.assert_array_equal(out[:, 15:-15, 14], x[:, :, 0])


def test_quantize_rounds_half_up_and_saturates():
    x = np.array([[-0.2, 0.0, 0.49, 0.5, 1.5, 254.5, 300.0]], np.float32)
    np.testing.assert_array_equal(layers.QuantizeUint8(1.0)(x), [[0, 0, 0, 1, 2, 255, 255]])


def test_mdsr_outputs_in_scale_order_and_branches_share_layers():
    model = models.build_model("mdsr_baseline", (4, 2), **TINY_EDSR)
    assert models.scales_of(model) == (4, 2)
    x = np.random.default_rng(10).uniform(0, 255, (1, 6, 5, 3)).astype(np.float32)
    x4, x2 = model(x)
    assert x4.shape == (1, 24, 20, 3) and x2.shape == (1, 12, 10, 3)
    branch = models.mdsr_branch(model, 2)
    np.testing.assert_allclose(branch(x), x2, rtol=1e-6)
    parent_variables = {id(v) for v in model.trainable_weights}
    assert {id(v) for v in branch.trainable_weights} <= parent_variables
    assert not any("x4" in v.path for v in branch.trainable_weights)
    head = model.get_layer("head")
    head.kernel.assign(head.kernel + 1.0)  # a change in the parent shows in the branch
    np.testing.assert_allclose(branch(x), model(x)[1], rtol=1e-6)
    with pytest.raises(ValueError, match="no x3 branch"):
        models.mdsr_branch(model, 3)


def test_mdsr_per_scale_parameters():
    """Parameters active for one scale of the full MDSR (official EDSR-PyTorch layout: 6.51/6.69/6.65 M)."""
    model = models.build_model("mdsr", (2, 3, 4))
    active = [models.count_trainable(models.mdsr_branch(model, s)) for s in (2, 3, 4)]
    assert [round(a / 1e6, 2) for a in active] == [6.51, 6.69, 6.65]


def test_zoo_table_prints_every_model(capsys):
    from sr_tf.commands import models as zoo_cli

    assert zoo_cli.main(["sr_tf.models"]) == 0
    out = capsys.readouterr().out
    for _name, _scale, expected in PARAMETER_COUNTS:
        assert f"{expected:,}" in out
    assert [row[:2] for row in PARAMETER_COUNTS] == [
        row[:2] for row in models.zoo_table()
    ]  # every recorded count


def test_describe_refuses_a_plain_keras_model():
    plain = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 1)])
    with pytest.raises(ValueError, match="not an sr_tf network"):
        models.describe(plain, "plain.keras")


def test_a_model_registered_later_is_listed():
    from sr_tf.models import specs

    models.register(
        dataclasses.replace(models.get_spec("edsr_baseline"), name="edsr_later", parameters={2: 1})
    )
    try:
        assert models.model_names()[-1] == "edsr_later"
        assert ("edsr_later", 2, 1) in models.zoo_table()
    finally:
        del specs._SPECS["edsr_later"]
