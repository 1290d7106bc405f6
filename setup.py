"""sr_tf: BTSRN, EDSR and MDSR single-image super-resolution in TensorFlow 2 / Keras 3."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "sr_tf" / "__init__.py").read_text()).group(1)

setup(
    name="sr_tf",
    version=VERSION,
    description="Balanced two-stage residual networks (BTSRN), EDSR and MDSR for TensorFlow 2 / Keras 3",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sr_tf", "sr_tf.*"]),
    package_data={
        "sr_tf.models": ["weights/*.weights.h5", "weights/registry.json"]
    },  # the pretrained networks
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",  # brings Keras 3
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        "tensorboard>=2.16",  # TF no longer pulls it in; tf.summary needs it
        "importlib_resources",  # tensorflow-datasets imports it without declaring it
        "numpy>=1.23",
        "pillow>=9.0",
        "absl-py>=1.0",
        "scikit-image>=0.19",  # the embedded sample photographs
        "matplotlib>=3.5",  # figures and the block-comparison plot
        "tqdm",  # progress bars of sr_tf.upscale
    ],
    extras_require={
        "test": ["pytest>=7"],
        # Fast CPU inference (docs/performance.md): OpenVINO runs bf16 / fp32 / int8 from the networks'
        # ONNX form, LiteRT runs TFLite files.
        "fast": [
            "openvino>=2024.4",
            "ai-edge-litert>=1.2",
            "onnx>=1.16",
            "onnxruntime>=1.18",
            "tf2onnx>=1.16",
        ],
        # ONNX export (tf2onnx) and ONNX files as --model (ONNX Runtime).
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18", "tf2onnx>=1.16"],
        # tools/bench_runtimes.py's PyTorch rows (the CPU build; see docs/performance.md).
        "bench": ["torch>=2.4"],
    },
    entry_points={
        "console_scripts": [
            "sr-tf-train = sr_tf.commands:train_script",
            "sr-tf-evaluate = sr_tf.commands:evaluate_script",
            "sr-tf-upscale = sr_tf.commands:upscale_script",
            "sr-tf-export = sr_tf.commands:export_script",
            "sr-tf-figure = sr_tf.commands:figure_script",
            "sr-tf-models = sr_tf.commands:models_script",
            "sr-tf-convert = sr_tf.commands:convert_script",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Processing",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
