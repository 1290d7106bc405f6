"""Validation during training: full-image PSNR of the network and of bicubic, and image panels."""
import numpy as np
import tensorflow as tf

from sr_tf import models
from sr_tf.data.imresize import imresize
from sr_tf.evaluation import metrics
from sr_tf.evaluation.scoring import hr_is_grayscale

PANEL_SIZE = 96  # HR pixels of the crop shown in TensorBoard


class Validator:
    """Evaluates the network on every scale's validation images with the evaluation protocol."""

    def __init__(self, network, model_name, pairs_by_scale, max_images=0):
        self.images = {}
        self.gray = {}  # single-channel HR files are compared on their gray values (see metrics)
        self.upscalers = {}
        self.protocols = {}
        for scale, pairs in pairs_by_scale.items():
            count = len(pairs) if not max_images else min(max_images, len(pairs))
            if count == 0:
                raise ValueError(f"{pairs.name}: no validation images")
            self.images[scale] = [pairs.load(i) for i in range(count)]
            self.gray[scale] = [hr_is_grayscale(pairs, i) for i in range(count)]
            self.protocols[scale] = metrics.protocol_for(pairs, scale)
            inference = models.build_inference_model(network, model_name, scale, quantize=True)
            self.upscalers[scale] = tf.function(
                inference, input_signature=[tf.TensorSpec((1, None, None, 3), tf.uint8)], reduce_retracing=True
            )
        self._bicubic = {}

    def network_psnr(self):
        """({scale: mean PSNR}, {scale: [1, h, 3w, 3] uint8 panel of the first image})."""
        psnr, panels = {}, {}
        for scale, images in self.images.items():
            outputs = [self.upscalers[scale](lr[None])[0].numpy() for lr, _ in images]
            psnr[scale] = self._mean_psnr(scale, outputs)
            lr, hr = images[0]
            panels[scale] = panel(imresize(lr, scale), outputs[0], hr)[None]
        return psnr, panels

    def bicubic_psnr(self):
        """The same protocol on MATLAB-bicubic upscaling of the same LR images (computed once)."""
        for scale, images in self.images.items():
            if scale not in self._bicubic:
                self._bicubic[scale] = self._mean_psnr(scale, [imresize(lr, scale) for lr, _ in images])
        return dict(self._bicubic)

    def _mean_psnr(self, scale, outputs):
        protocol = self.protocols[scale]
        values = [
            metrics.psnr(sr, hr, protocol, gray)
            for sr, (_, hr), gray in zip(outputs, self.images[scale], self.gray[scale])
        ]
        return float(np.mean(values))


def panel(bicubic, output, truth, size=PANEL_SIZE):
    """bicubic | output | ground truth, side by side, cropped around the image centre."""
    h, w = truth.shape[:2]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    crops = [image[top : top + ch, left : left + cw] for image in (bicubic, output, truth)]
    return np.concatenate(crops, axis=1)
