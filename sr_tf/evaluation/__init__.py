"""Evaluation: PSNR/SSIM protocols, self-ensemble, tiled inference and model loading."""
