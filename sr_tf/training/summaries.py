"""TensorBoard output of a run: scalars, image panels and the HParams dashboard."""

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api


class Writers:
    """logs/train (loss, learning rate, steps/s), logs/validation (PSNR per scale, panels), logs (HParams)."""

    def __init__(self, log_dir, enabled=True):
        self.enabled = enabled
        if enabled:
            self.root = tf.summary.create_file_writer(str(log_dir))
            self.train = tf.summary.create_file_writer(str(log_dir / "train"))
            self.valid = tf.summary.create_file_writer(str(log_dir / "validation"))

    def hparams(self, values, scales):
        if not self.enabled:
            return
        metrics = [
            hparams_api.Metric(f"psnr_x{s}", group="validation", display_name=f"PSNR x{s} (dB)")
            for s in scales
        ]
        metrics.append(hparams_api.Metric("loss", group="train", display_name="training loss"))
        with self.root.as_default():
            hparams_api.hparams_config(hparams=[hparams_api.HParam(name) for name in values], metrics=metrics)
            hparams_api.hparams(values)

    def validation_note(self, text):
        """What the validation images are (held out, or the training images themselves)."""
        if not self.enabled:
            return
        with self.valid.as_default(step=0):
            tf.summary.text("validation_images", text)

    def train_scalars(self, step, **scalars):
        if not self.enabled:
            return
        with self.train.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)

    def validation(self, step, psnr, bicubic_psnr, panels, train_seconds=None):
        """PSNR per scale (against steps, and against seconds of training as `..._by_seconds`),
        the bicubic baseline, and bicubic | output | ground truth panels."""
        if not self.enabled:
            return
        if train_seconds is not None:
            with self.valid.as_default(step=int(round(train_seconds))):
                for scale, value in psnr.items():
                    tf.summary.scalar(
                        f"psnr_x{scale}_by_seconds",
                        value,
                        description="validation PSNR; the x axis is seconds of training",
                    )
        with self.valid.as_default(step=step):
            for scale, value in psnr.items():
                tf.summary.scalar(f"psnr_x{scale}", value)
            for scale, value in bicubic_psnr.items():
                tf.summary.scalar(f"bicubic_psnr_x{scale}", value)
            for scale, images in panels.items():
                tf.summary.image(
                    f"bicubic_output_truth_x{scale}",
                    images,
                    max_outputs=len(images),
                    description="bicubic | network output | ground truth",
                )

    def flush(self):
        if self.enabled:
            for writer in (self.root, self.train, self.valid):
                writer.flush()
