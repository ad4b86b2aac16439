"""Paired intervals for "model vs control" differences, resampling the unit the claim is about.

A probe that says "the trained network beats its control" scores both on the same test images
(and, for few-label protocols, the same label draws). The difference's interval must resample
those units: a new test set and new label draws would move both scores together, so the paired
difference's spread is what says whether the lead is real.

:func:`paired_gain` takes a per-unit score of each side, shaped ``(draws, images)`` (or
``(images,)``: one draw), for example 1 where a test image is classified correctly. Each
bootstrap resample draws the images and the draws with replacement, independently, and re-scores
*the same* resampled images and draws for both sides; the gain is the mean of
``sign * (model - control)``. The row fields it returns are what every such difference carries:
``ci_method`` (what was resampled), ``gain_images`` (the gain counted in test images: the mean
difference times the number of test images), and ``distinguishable`` with a ``note`` that the
printed tables show: "not distinguishable from 0" when the interval contains 0.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["paired_gain", "resample_means", "verdict", "NOT_DISTINGUISHABLE"]

NOT_DISTINGUISHABLE = "not distinguishable from 0"


def _as_matrix(scores: Any) -> torch.Tensor:
    t = torch.as_tensor(scores, dtype=torch.float64)
    if t.dim() == 1:
        t = t.unsqueeze(0)
    if t.dim() != 2 or t.numel() == 0:
        raise ValueError(f"scores must be (images,) or (draws, images) and non-empty, got shape {tuple(t.shape)}")
    return t


def resample_means(matrix: torch.Tensor, n_boot: int, generator: torch.Generator,
                   chunk: int = 250) -> torch.Tensor:
    """Means of ``matrix`` ``(draws, images)`` over ``n_boot`` two-way bootstrap resamples.

    A resample draws ``draws`` row indices and ``images`` column indices with replacement; its
    mean is ``w_r @ M @ w_c / (draws * images)`` with ``w`` the multiplicity counts, computed in
    chunks of resamples (one matrix product each, no gathered copies). With one row only the
    images are resampled.
    """
    d, n = matrix.shape
    out = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        cols = torch.randint(0, n, (b, n), generator=generator)
        wc = torch.zeros(b, n, dtype=torch.float64).scatter_add_(1, cols, torch.ones(b, n, dtype=torch.float64))
        if d > 1:
            rows = torch.randint(0, d, (b, d), generator=generator)
            wr = torch.zeros(b, d, dtype=torch.float64).scatter_add_(1, rows, torch.ones(b, d, dtype=torch.float64))
        else:
            wr = torch.ones(b, 1, dtype=torch.float64)
        out.append(((wr @ matrix) * wc).sum(1) / (d * n))
    return torch.cat(out)


def verdict(low: float, high: float) -> tuple[bool, str]:
    """Whether an interval excludes 0, and the note a table prints for it."""
    if low > 0:
        return True, "above 0"
    if high < 0:
        return True, "below 0"
    return False, NOT_DISTINGUISHABLE


def paired_gain(model: Any, control: Any, *, sign: float = 1.0, n_boot: int = 2000, seed: int = 0,
                unit: str = "test images", draw_unit: str = "label draws") -> dict[str, Any]:
    """The paired difference ``sign * (model - control)`` averaged over draws and images, with a
    percentile bootstrap interval that resamples images (and draws, when there are several).

    ``model`` and ``control`` are per-unit scores of the same shape, ``(images,)`` or ``(draws,
    images)``, scored on the same images and draws (``sign=-1`` turns errors into a gain).
    Returns row fields: ``value``, ``ci95``, ``ci95_low``, ``ci95_high``, ``ci_method``,
    ``n_boot``, ``n_test``, ``n_draws``, ``gain_images``, ``distinguishable`` and ``note``.
    """
    a, b = _as_matrix(model), _as_matrix(control)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if n_boot < 100:
        raise ValueError(f"n_boot must be at least 100 for a 95% percentile interval, got {n_boot}")
    diff = sign * (a - b)
    d, n = diff.shape
    value = float(diff.mean())
    draws = resample_means(diff, n_boot, torch.Generator().manual_seed(seed))
    lo, hi = torch.quantile(draws, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    what = f"{n:,} {unit}" + (f" and {d:,} {draw_unit}" if d > 1 else "")
    ok, note = verdict(lo, hi)
    return {
        "value": value, "ci95": max(value - lo, hi - value), "ci95_low": lo, "ci95_high": hi,
        "ci_method": f"paired percentile bootstrap over {what} ({n_boot:,} resamples; both sides re-scored "
                     "on each resample)",
        "n_boot": n_boot, "n_test": n, "n_draws": d, "gain_images": value * n,
        "distinguishable": ok, "note": note,
    }
