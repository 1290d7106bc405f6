"""Validation during training: full-image PSNR of the network and of bicubic, and image panels,
scored as sr_tf.evaluate scores (a Predictor of the training network, scoring.score_images)."""

import numpy as np

from sr_tf.data.imresize import imresize
from sr_tf.evaluation import metrics, scoring
from sr_tf.inference.options import InferenceOptions
from sr_tf.inference.predictor import bicubic_predictor, network_predictor

PANEL_SIZE = 96  # HR pixels of the crop shown in TensorBoard
WHOLE_IMAGES = InferenceOptions(max_megapixels=0)  # one network call per image, never tiled


class Validator:
    """Evaluates the network on every scale's validation images with the evaluation protocol."""

    def __init__(self, network, model_name, pairs_by_scale, max_images=0):
        self.predictor = network_predictor(network, model_name, source="the training network")
        self.bicubic = bicubic_predictor()
        self.images = {}  # read once: every validation scores the same images
        self.protocols = {}
        for scale, pairs in pairs_by_scale.items():
            count = scoring.image_count(pairs, max_images)
            if count == 0:
                raise ValueError(f"{pairs.name}: no validation images")
            self.images[scale] = list(scoring.load_images(pairs, count))
            self.protocols[scale] = metrics.protocol_for(pairs, scale)
        self._bicubic = {}

    def network_psnr(self):
        """({scale: mean PSNR}, {scale: [1, h, 3w, 3] uint8 panel of the first image})."""
        psnr, panels = {}, {}
        for scale, images in self.images.items():
            psnr[scale], first = self._mean_psnr(self.predictor, scale)
            panels[scale] = panel(imresize(images[0].lr, scale), first, images[0].hr)[None]
        return psnr, panels

    def bicubic_psnr(self):
        """The same protocol on MATLAB-bicubic upscaling of the same LR images (computed once)."""
        for scale in self.images:
            if scale not in self._bicubic:
                self._bicubic[scale] = self._mean_psnr(self.bicubic, scale)[0]
        return dict(self._bicubic)

    def _mean_psnr(self, predictor, scale):
        """(mean PSNR of `predictor` on the scale's images, its SR of the first image)."""
        scores = scoring.score_images(
            predictor, self.images[scale], scale, self.protocols[scale], WHOLE_IMAGES, ssim=False
        )
        first, values = None, []
        for sr, psnr, _ in scores:
            first = sr if first is None else first
            values.append(psnr)
        return float(np.mean(values)), first


def panel(bicubic, output, truth, size=PANEL_SIZE):
    """bicubic | output | ground truth, side by side, cropped around the image centre."""
    h, w = truth.shape[:2]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    crops = [image[top : top + ch, left : left + cw] for image in (bicubic, output, truth)]
    return np.concatenate(crops, axis=1)
