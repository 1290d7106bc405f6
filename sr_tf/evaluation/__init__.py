"""Evaluation: the papers' PSNR / SSIM protocols (metrics) and scoring a predictor on image sets."""
