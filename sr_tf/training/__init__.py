"""Training: recipes (optimisers, schedules, losses), the distributed training loop, run directories."""
