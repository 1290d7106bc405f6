"""Inference: predictors (bicubic, networks, SavedModels), tiling, self-ensemble, upscaling files, figures."""
