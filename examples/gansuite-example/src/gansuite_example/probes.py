"""The torch side of the ``pixel-stats`` probe."""

from __future__ import annotations

import torch


class PixelStats:
    """Compares the mean and std of generated pixels with the real test split's."""

    def __init__(self, config) -> None:
        self.config = config

    def run(self, ctx):
        real = ctx.load_split(ctx.eval.test_split).images.float() / 127.5 - 1
        gen = torch.Generator().manual_seed(ctx.seed)
        model = ctx.model
        with torch.no_grad():  # generate() uses eval_generator() and takes labels when conditional
            z = model.sample_z(self.config.n_samples, generator=gen).to(ctx.device)
            y = model.sample_labels(self.config.n_samples, generator=gen)
            fake = model.generate(z, None if y is None else y.to(ctx.device)).float().cpu()
        return [
            {"metric": "mean_gap", "value": float(abs(fake.mean() - real.mean()))},
            {"metric": "std_gap", "value": float(abs(fake.std() - real.std()))},
        ]


def build(config) -> PixelStats:
    return PixelStats(config)
