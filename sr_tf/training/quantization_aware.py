"""Quantization-aware fine-tuning (`--quantization_aware`): the train step runs the network as its
int8 file computes, so the weights learn to tolerate int8's rounding.

Every Conv2D but the last reads its input rounded to 256 levels over a fixed range (the
calibration percentile of the int8 export, measured once at the start on training crops) and its
kernel rounded to int8 per output channel, as `sr_tf.inference.accelerated.convert_int8_onnx`
quantizes them. Gradients pass straight through the rounding. The simulated network shares every
variable with the float network, so checkpoints, validation and the export stay the float
network's: it is an ordinary network whose weights survive int8 better (docs/performance.md).
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from sr_tf import models
from sr_tf.core.files import write_text_atomically
from sr_tf.inference import accelerated

RANGES_FILE = "int8_ranges.json"  # in the run directory: a resume keeps the ranges of the start
NUM_BITS = 8


@keras.saving.register_keras_serializable(package="sr_tf")
class Int8Simulated(keras.layers.Wrapper):
    """A Conv2D computed as in int8: its input rounded to 256 levels over `input_range` (uint8
    with a zero point), its kernel to int8 per output channel (symmetric, -127..127)."""

    def __init__(self, layer, input_range, **kwargs):
        super().__init__(layer, **kwargs)
        self.input_range = tuple(float(v) for v in input_range)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs):
        conv = self.layer
        low, high = self.input_range
        x = tf.quantization.fake_quant_with_min_max_args(
            tf.cast(inputs, tf.float32), min=low, max=high, num_bits=NUM_BITS
        )
        kernel = tf.cast(conv.kernel, tf.float32)
        limit = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(kernel), axis=[0, 1, 2]), 1e-8))
        kernel = tf.quantization.fake_quant_with_min_max_vars_per_channel(
            kernel, -limit, limit, num_bits=NUM_BITS, narrow_range=True
        )
        dtype = conv.compute_dtype
        outputs = conv.convolution_op(tf.cast(x, dtype), tf.cast(kernel, dtype))
        if conv.use_bias:
            outputs = outputs + tf.cast(conv.bias, dtype)
        return conv.activation(outputs) if conv.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "input_range": list(self.input_range)}


def int8_convolutions(network):
    """The Conv2D layers an int8 file of `network` quantizes: all but the one nearest the output."""
    convs = [layer for layer in network.layers if type(layer) is keras.layers.Conv2D]
    return convs[:-1]


def input_ranges(network, calibration_lrs, percentile=accelerated.CALIBRATION_PERCENTILE):
    """{conv name: (low, high)}: the `percentile` range of each int8 convolution's input over the
    network-input arrays `calibration_lrs` (and 0 always inside it)."""
    convs = int8_convolutions(network)
    probe = keras.Model(network.inputs, [conv.input for conv in convs])
    values = [[] for _ in convs]
    for array in calibration_lrs:
        outputs = probe(array, training=False)
        for k, output in enumerate(outputs if len(convs) > 1 else [outputs]):
            values[k].append(np.asarray(output, np.float32).ravel())
    ranges = {}
    for conv, parts in zip(convs, values):
        flat = np.concatenate(parts)
        low, high = np.percentile(flat, [100 - percentile, percentile])
        ranges[conv.name] = (min(float(low), 0.0), max(float(high), 1e-3))
    return ranges


def simulated_network(network, ranges):
    """`network` with every convolution named in `ranges` computed as in int8 (Int8Simulated); it
    shares every variable with `network`."""

    def call_layer(layer, *args, **kwargs):
        if layer.name in ranges:
            return Int8Simulated(layer, ranges[layer.name], name=f"{layer.name}_int8")(*args, **kwargs)
        return layer(*args, **kwargs)

    simulated = keras.models.clone_model(
        network, clone_function=lambda layer: layer, call_function=call_layer
    )
    simulated.description = models.describe(network)  # what the train step reads (margin, scales)
    return simulated


def run_ranges(run_dir, network, scale, pairs):
    """The ranges of a quantization-aware run: read from `run_dir`/RANGES_FILE, or measured on
    `network` now over calibration crops of `pairs` and written there (so a resume trains against
    the same ranges)."""
    path = os.path.join(run_dir, RANGES_FILE)
    if os.path.isfile(path):
        with open(path) as f:
            return {name: tuple(pair) for name, pair in json.load(f).items()}
    crops = accelerated.network_inputs(network, scale, accelerated.calibration_crops(pairs))
    ranges = input_ranges(network, crops)
    write_text_atomically(path, json.dumps(ranges, indent=1) + "\n")
    return ranges
