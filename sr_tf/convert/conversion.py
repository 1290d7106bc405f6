"""Converting a checkpoint of the original code into a checked `.keras` file (and an export): the
work of the convert command, as a library call."""

import os


def convert_checkpoint(
    source, input_path, model, scales, output, export_dir=None, tflite=False, res_scale=None
):
    """Converts, checks and writes; returns the lines it printed."""
    import numpy as np

    from sr_tf import convert, export, models
    from sr_tf.core.files import check_writable, write_atomically

    if not output.endswith(".keras"):
        raise ValueError(f"--output={output} must end with .keras")
    for path in (output, export_dir):
        if path:
            check_writable(path)  # before the work; missing parent folders are made when writing
    options = {} if res_scale is None else {"res_scale": res_scale}
    targets = convert.converts_to(source)  # the specs say which models the source's checkpoints become
    if model is None and len(targets) != 1:
        raise ValueError(f"--model is needed for --from={source} ({', '.join(targets)})")
    if model is not None and model not in targets:
        raise ValueError(f"--from={source} converts to --model={' / '.join(targets)}, not {model}")
    model = model or targets[0]
    if source == "edsr_pytorch":
        scale = tuple(scales) if models.get_spec(model).multi_scale else scales[0]
        network = convert.from_edsr_pytorch(input_path, model, scale, **options)
    else:
        network = convert.from_btsrn_release(input_path, scales[0])
    description = models.describe(network)
    lines = [
        f"read {input_path}: {len(network.trainable_weights)} tensors",
        f"network: {description['model']} x{','.join(map(str, description['scales']))} "
        f"{description['options']}, {models.count_trainable(network):,} trainable parameters",
    ]

    image = export.test_image()
    reference = {
        s: models.build_inference_model(network, scale=s, quantize=False)(image[None]).numpy()
        for s in models.scales_of(network)
    }
    for s, sr in reference.items():
        if sr.shape[1:3] != (image.shape[0] * s, image.shape[1] * s) or not np.all(np.isfinite(sr)):
            raise convert.ConversionError(f"the converted network gives a wrong or non-finite x{s} output")

    def write(temp):  # the checked .keras file (and the export) before the final rename
        network.save(temp)
        reloaded = models.load_keras_network(temp)
        for s, sr in reference.items():
            again = models.build_inference_model(reloaded, scale=s, quantize=False)(image[None]).numpy()
            if not np.array_equal(again, sr):
                raise convert.ConversionError(f"{output} does not reproduce the converted network at x{s}")
        if export_dir:
            lines.extend(
                line
                for exported in export.export_scales(network, export_dir, tflite=tflite)
                for line in exported.lines
            )

    write_atomically(output, write, suffix=".keras")  # Keras wants the suffix
    lines.append(
        f"wrote {os.path.abspath(output)} (reloaded: identical outputs on a "
        f"{image.shape[1]}x{image.shape[0]} test image)"
    )
    return lines
