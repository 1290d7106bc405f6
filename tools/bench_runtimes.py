"""Every sr_tf inference path against PyTorch's best, in one process: seconds per image and PSNR.

    flock /tmp/sr_tf_bench.lock python tools/bench_runtimes.py --json=runtimes.json
    python tools/bench_runtimes.py --quick      # tiny random networks: checks the tool, not the machine

Speed: each model (pretrained:<name>) on a random --lr_size LR image, whole image, through each
path's float function (the inference head included); rounds interleave the paths, each round
times every path's second call in a row, and the table gives medians. glibc keeps freed memory
for the whole run (keep_freed_memory), so PyTorch runs at its best. sr_tf paths are timed
through `Predictor.upscale` (uint8 out, tiled as each runtime tiles by default: above 1 output
megapixel, LiteRT above 0.25). Paths:
  tf_fp32      TensorFlow, the Keras inference model (what --precision=fp32 runs)
  tf_bf16      TensorFlow, the same network built under mixed_bfloat16
  ov_fp32      OpenVINO, f32 inference precision               (extra fast)
  ov_bf16      OpenVINO, bf16 where the CPU has it             (extra fast; --precision=bf16 / auto)
  ov_int8      the int8 ONNX file (percentile calibration) through OpenVINO
                                                  (extras fast, onnx; --quantize=int8, --precision=int8)
  ort_fp32     the float ONNX file through ONNX Runtime        (extra onnx; --format=onnx)
  ort_int8     the int8 ONNX file through ONNX Runtime         (extra onnx)
  litert_fp32  the float TFLite file through LiteRT (XNNPACK)  (extra fast; --format=tflite)
  litert_int8  the int8 TFLite file (min-max calibration) through LiteRT (XNNPACK)
                                                  (extra fast; --format=tflite --quantize=int8)
  torch_fp32 / torch_bf16   EDSR-baseline in PyTorch's official layout (channels_last; bf16 autocast),
               random weights, the same input (extra bench; edsr_baseline models only)
PSNR: every sr_tf path on --sets with the papers' protocol (Y, scale pixels shaved, MATLAB LR files),
beside tf_fp32. Photo: `python -m sr_tf.upscale` of a --photo_size LR photo in a child process per
--precision (start-up included): wall seconds and peak resident memory.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

ALL_PATHS = (
    "tf_fp32",
    "tf_bf16",
    "ov_fp32",
    "ov_bf16",
    "ov_int8",
    "ort_fp32",
    "ort_int8",
    "litert_fp32",
    "litert_int8",
)
TORCH_PATHS = ("torch_fp32", "torch_bf16")


def define_flags():
    flags.DEFINE_list(
        "models", ["btsrn_x2", "btsrn_x4", "edsr_baseline_x2"], "Shipped networks (pretrained:<name>)."
    )
    flags.DEFINE_list("paths", list(ALL_PATHS + TORCH_PATHS), "Paths to time (see above).")
    flags.DEFINE_integer("lr_size", 256, "Side of the random LR image timed.")
    flags.DEFINE_integer("rounds", 5, "Timed rounds (each runs every path once, after one warm-up round).")
    flags.DEFINE_string("benchmark_dir", None, "Score every path on --sets of this folder (default: none).")
    flags.DEFINE_list("sets", ["Set5", "Set14"], "Benchmark sets for the PSNR columns.")
    flags.DEFINE_string("photo_size", "1920x1080", "LR photo WxH for the end-to-end upscale ('' skips it).")
    flags.DEFINE_list("photo_models", ["btsrn_x2"], "Shipped networks of the photo runs.")
    flags.DEFINE_list(
        "photo_runs",
        ["fp32", "auto", "int8_export", "tflite_export", "tflite_int8_export"],
        "Photo runs: a --precision value, int8_export (--model=<sr_tf.export --quantize=int8 folder>), "
        "tflite_export (--format=tflite) or tflite_int8_export (both).",
    )
    flags.DEFINE_string("json", None, "Also write everything to this JSON file.")
    flags.DEFINE_bool("quick", False, "Tiny random networks and images, one round, no photo: a smoke test.")


# ------------------------------------------------------------------------------------- paths


def tf_bf16_predictor(network):
    import keras

    from sr_tf import models
    from sr_tf.inference.predictor import network_predictor

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        twin = models.from_description(models.describe(network))
        twin.set_weights(network.get_weights())
        return network_predictor(twin)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def network_file_predictor(network, scale, kind, folder):
    from sr_tf.inference import accelerated

    if kind == "litert_int8":
        return accelerated.tflite_predictor(accelerated.int8_network_file(network, scale, folder, "tflite"))
    if kind in ("ov_int8", "ort_int8"):
        path = accelerated.int8_network_file(network, scale, folder, "onnx")
        return accelerated.onnx_predictor(path, runtime="openvino" if kind == "ov_int8" else "onnxruntime")
    path = os.path.join(folder, f"{kind}.{'onnx' if kind == 'ort_fp32' else 'tflite'}")
    content = (
        accelerated.convert_onnx(network, scale)
        if kind == "ort_fp32"
        else accelerated.convert_float_tflite(network, scale)
    )
    with open(path, "wb") as f:
        f.write(content)
    if kind == "litert_fp32":
        return accelerated.tflite_predictor(path)
    return accelerated.onnx_predictor(path, runtime="onnxruntime")


def make_predictor(kind, network, scale, folder):
    """The Predictor of one sr_tf path, or (None, reason) when its runtime is missing."""
    from sr_tf.inference import accelerated, runtimes
    from sr_tf.inference.predictor import network_predictor

    try:
        if kind == "tf_fp32":
            return network_predictor(network), None
        if kind == "tf_bf16":
            return tf_bf16_predictor(network), None
        if kind in ("ov_fp32", "ov_bf16"):
            return accelerated.openvino_predictor(network, "bench", kind[3:]), None
        return network_file_predictor(network, scale, kind, folder), None
    except runtimes.MissingRuntime as error:
        return None, str(error)


def torch_edsr(scale, num_blocks=16, num_features=64):
    """EDSR-baseline as EDSR-PyTorch lays it out (mean shift, head, res blocks, body conv, upsampler
    with PixelShuffle, tail), random weights; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    nn = torch.nn

    class ResBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(num_features, num_features, 3, padding=1),
                nn.ReLU(True),
                nn.Conv2d(num_features, num_features, 3, padding=1),
            )

        def forward(self, x):
            return x + self.body(x)

    class EDSR(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1) * 255)
            self.head = nn.Conv2d(3, num_features, 3, padding=1)
            self.body = nn.Sequential(
                *[ResBlock() for _ in range(num_blocks)], nn.Conv2d(num_features, num_features, 3, padding=1)
            )
            steps = [2, 2] if scale == 4 else [scale]
            up = []
            for r in steps:
                up += [nn.Conv2d(num_features, num_features * r * r, 3, padding=1), nn.PixelShuffle(r)]
            self.tail = nn.Sequential(*up, nn.Conv2d(num_features, 3, 3, padding=1))

        def forward(self, x):
            x = self.head(x - self.mean)
            return self.tail(x + self.body(x)) + self.mean

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    return EDSR().eval().to(memory_format=torch.channels_last)


def torch_function(model, bf16):
    import torch

    def run(lr):
        x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)[None], np.float32))
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x).float().numpy()

    return run


# ------------------------------------------------------------------------------------ measure


def time_interleaved(functions, image, rounds):
    """{name: [seconds]} over `rounds` rounds, each running every function twice in a row and
    timing the second call (after one warm-up round). Timing a call that directly follows another
    runtime's would charge it for what that runtime leaves behind: threads still spinning on the
    two cores (PyTorch's OpenMP, OpenVINO's TBB) and caches full of its own data (OpenVINO int8:
    0.074 s after PyTorch, 0.0685 s after itself). A user upscaling a folder runs one runtime at
    a time."""
    for fn in functions.values():
        fn(image)
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            fn(image)
            start = time.perf_counter()
            fn(image)
            times[name].append(time.perf_counter() - start)
    return times


def keep_freed_memory(limit=1 << 29):
    """Makes glibc keep freed blocks below `limit` bytes for reuse instead of handing them back
    to the system. PyTorch takes every activation from malloc; by default glibc maps each large
    one afresh (and the kernel zeroes its pages) until some earlier free raised its dynamic
    threshold, so PyTorch's speed depended on what ran before it in the process (EDSR-baseline x2
    bf16: 0.21 s per image in a fresh process, 0.14 s after an int8 conversion). Fixed thresholds
    give every path its best, whatever the order. No-op where glibc is absent."""
    import ctypes
    import ctypes.util

    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(m_mmap_threshold, limit)
        libc.mallopt(m_trim_threshold, 2 * limit)
    except (OSError, AttributeError):
        pass


def psnr_columns(predictor, benchmark_dir, sets, scale):
    from sr_tf.data import sources
    from sr_tf.evaluation import metrics, scoring

    scores = {}
    for name in sets:
        pairs = sources.open_pairs(f"benchmark:{benchmark_dir}:{name}", scale)
        scores[name] = scoring.evaluate(predictor, pairs, scale, metrics.protocol_for(pairs, scale))["psnr"]
    return scores


# Runs a command and prints its peak resident memory last. A child forked from this (large)
# process would report this process's high-water mark as its own, so the measured command is
# started from this small launcher instead.
PEAK_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(f'peak_kb={usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def export_for_photo(name, run, folder):
    """The export folder a photo run reads (`<format>[_int8]_export`), written once."""
    from sr_tf import export, models

    model = os.path.join(folder, f"{name}_{run}")
    if not os.path.isdir(model):
        network = models.open_network(f"pretrained:{name}")
        export.export_network_file(
            network,
            None,
            models.scales_of(network)[0],
            model,
            "tflite" if run.startswith("tflite") else "onnx",
            quantization="int8" if "int8" in run else "none",
            max_psnr_loss=1.0,
        )
    return model


def photo_run(name, run, photo, folder):
    """`python -m sr_tf.upscale` of `photo` in a child: wall seconds (start-up included), peak
    resident memory and its output line. `run`: a --precision value or an export folder kind."""
    model, precision = f"pretrained:{name}", run
    if run.endswith("_export"):
        model, precision = export_for_photo(name, run, folder), "auto"
    output = os.path.join(folder, f"out_{name}_{run}.png")
    command = [
        sys.executable,
        "-m",
        "sr_tf.upscale",
        f"--model={model}",
        f"--input={photo}",
        f"--output={output}",
        f"--precision={precision}",
    ]
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", PEAK_LAUNCHER, *command], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        return {"run": run, "error": (child.stderr or child.stdout).strip().splitlines()[-2:]}
    peak_kb = int(child.stderr.strip().splitlines()[-1].removeprefix("peak_kb="))
    return {
        "run": run,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_kb / 1024),
        "line": child.stdout.strip().splitlines()[-1],
    }


def make_photo(size, folder):
    """A WxH photo-like PNG: a training-style image from scikit-image, resized."""
    from PIL import Image
    from skimage import data

    width, height = (int(v) for v in size.lower().split("x"))
    path = os.path.join(folder, f"photo_{width}x{height}.png")
    Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC).save(path)
    return path


def benchmark_model(name, settings, folder):
    import keras

    from sr_tf import models

    if settings["quick"]:
        keras.utils.set_random_seed(0)
        family, scale = name.rsplit("_x", 1)
        tiny = {
            "btsrn": dict(low_blocks=1, high_blocks=1, width=8, bottleneck=4),
            "edsr_baseline": dict(num_blocks=1, num_features=8),
        }[family]
        network = models.build_model(family, int(scale), **tiny)
    else:
        network = models.open_network(f"pretrained:{name}")
    family, scale = models.describe(network)["model"], models.scales_of(network)[0]
    predictors, skipped = {}, {}
    for kind in [p for p in settings["paths"] if p in ALL_PATHS]:
        predictor, reason = make_predictor(kind, network, scale, folder)
        if predictor is None:
            skipped[kind] = reason
        else:
            predictors[kind] = predictor
    # The user's path: Predictor.upscale, tiled as each runtime tiles by default (LiteRT: small tiles).
    functions = {kind: (lambda lr, p=p: p.upscale(lr, scale)) for kind, p in predictors.items()}
    if family == "edsr_baseline" and any(p in TORCH_PATHS for p in settings["paths"]):
        edsr = torch_edsr(scale, **({} if not settings["quick"] else {"num_blocks": 1, "num_features": 8}))
        for kind in TORCH_PATHS:
            if kind not in settings["paths"]:
                continue
            if edsr is None:
                skipped[kind] = "torch is not installed: pip install 'sr_tf[bench]'"
            else:
                torch_run = torch_function(edsr, kind == "torch_bf16")
                functions[kind] = lambda lr, run=torch_run: run(np.asarray(lr, np.float32))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (settings["lr_size"], settings["lr_size"], 3), dtype=np.uint8)
    times = time_interleaved(functions, image, settings["rounds"])
    rows = {kind: {"seconds": round(statistics.median(t), 4)} for kind, t in times.items()}
    if settings["benchmark_dir"]:
        for kind, predictor in predictors.items():
            rows[kind]["psnr"] = psnr_columns(predictor, settings["benchmark_dir"], settings["sets"], scale)
    return {"model": name, "scale": scale, "rows": rows, "skipped": skipped}


def table(results, sets):
    lines = []
    for result in results:
        rows = result["rows"]
        base = rows.get("tf_fp32", {})
        torch_best = min((rows[k]["seconds"] for k in TORCH_PATHS if k in rows), default=None)
        header = [
            "path",
            "s/img",
            "x tf_fp32",
            "x torch best",
            *(f"{s} dB" for s in sets),
            *(f"{s} change" for s in sets),
        ]
        lines += [
            f"\n{result['model']} (x{result['scale']}), LR {result['lr_size']}x{result['lr_size']}",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for kind, row in rows.items():
            psnr = row.get("psnr", {})
            cells = [
                kind,
                f"{row['seconds']:.3f}",
                f"{base['seconds'] / row['seconds']:.2f}" if base else "-",
                f"{torch_best / row['seconds']:.2f}" if torch_best else "-",
                *(f"{psnr[s]:.3f}" if s in psnr else "-" for s in sets),
                *(f"{psnr[s] - base['psnr'][s]:+.4f}" if s in psnr and "psnr" in base else "-" for s in sets),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        for kind, reason in result["skipped"].items():
            lines.append(f"skipped {kind}: {reason}")
    return "\n".join(lines)


def main(argv):
    settings = {
        name: flags.FLAGS[name].value
        for name in (
            "models",
            "paths",
            "lr_size",
            "rounds",
            "benchmark_dir",
            "sets",
            "photo_size",
            "photo_models",
            "photo_runs",
            "quick",
        )
    }
    unknown = sorted(set(settings["paths"]) - set(ALL_PATHS + TORCH_PATHS))
    if unknown:
        raise app.UsageError(f"--paths: unknown {unknown}; choose from {', '.join(ALL_PATHS + TORCH_PATHS)}")
    if settings["quick"]:
        settings.update(lr_size=32, rounds=1, photo_size="")
    keep_freed_memory()
    folder = tempfile.mkdtemp(prefix="sr_tf_bench_")
    results = []
    for name in settings["models"]:
        result = benchmark_model(name, settings, folder)
        result["lr_size"] = settings["lr_size"]
        results.append(result)
        print(table([result], settings["sets"] if settings["benchmark_dir"] else []), flush=True)
    photos = []
    if settings["photo_size"] and not settings["quick"]:
        photo = make_photo(settings["photo_size"], folder)
        for name in settings["photo_models"]:
            for run in settings["photo_runs"]:
                if run == "int8":
                    photo_run(name, run, photo, folder)  # fills the int8 cache, untimed
                photos.append({"model": name, **photo_run(name, run, photo, folder)})
                print(f"photo {settings['photo_size']} {name} {run}: {photos[-1]}", flush=True)
    if flags.FLAGS.json:
        with open(flags.FLAGS.json, "w") as f:
            json.dump(
                {
                    "settings": settings,
                    "results": results,
                    "photos": photos,
                    "peak_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    define_flags()
    app.run(main)
