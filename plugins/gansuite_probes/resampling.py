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

:func:`bootstrap_gain` does the same for a statistic that is not a plain mean (a median ratio, a
path length normalised by real pairs, a kernel distance): each side is a vectorised score
function of resampled unit indices (higher is better), the units of both sides are resampled with
the same indices when they are paired (both generators drew from the same z) and independently
when they are not (say, generated samples against held-out real images), and units both sides
share (the real images a statistic is normalised by, a reference set) are resampled once per
resample for both. Its rows say in ``ci_method`` which of the two designs was used.
:func:`gain_labels` names such a row: metric ``<metric>_gain`` (``kid_gain``, ``lift_gain``...),
variant ``trained-<control>`` and ``control``, as the prdc probe's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["paired_gain", "resample_means", "verdict", "bootstrap_gain", "interval_fields", "gain_labels",
           "NOT_DISTINGUISHABLE"]

Score = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]

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
    what = f"{n:,} {unit}" + (f" and {d:,} {draw_unit}" if d > 1 else "")
    method = f"paired percentile bootstrap over {what} ({n_boot:,} resamples; both sides re-scored on each resample)"
    return {**interval_fields(value, draws, method), "n_test": n, "n_draws": d, "gain_images": value * n}


def interval_fields(value: float, draws: torch.Tensor, method: str) -> dict[str, Any]:
    """The row fields of a difference ``value`` with resampled ``draws``: the 95% percentile
    interval (``ci95`` is its larger half-width), ``ci_method``, ``n_boot``, ``distinguishable``, ``note``."""
    lo, hi = torch.quantile(draws.double(), torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    ok, note = verdict(lo, hi)
    return {"value": value, "ci95": max(value - lo, hi - value), "ci95_low": lo, "ci95_high": hi,
            "ci_method": method, "n_boot": int(draws.numel()), "distinguishable": ok, "note": note}


def gain_labels(control: str, metric: str) -> dict[str, str]:
    """``metric`` (``<metric>_gain``), ``variant`` (``trained-<control>``) and ``control`` of the
    trained model's difference over ``control`` on ``metric``."""
    return {"metric": f"{metric}_gain", "variant": f"trained-{control}", "control": control}


def bootstrap_gain(model: Score, control: Score, n_model: int, n_control: int, *, n_shared: int = 0,
                   paired: bool = True, n_boot: int = 1000, seed: int = 0, unit: str = "generated samples",
                   control_unit: str | None = None, shared_unit: str = "real images",
                   chunk: int = 100) -> dict[str, Any]:
    """``model(idx, shared) - control(idx, shared)`` with a percentile bootstrap interval.

    ``model`` and ``control`` score resamples: given ``idx`` ``(b, n)`` (indices into the side's
    own ``n`` units, with replacement) and ``shared`` ``(b, n_shared)`` (indices into the units
    both sides share; None when ``n_shared`` is 0) they return ``(b,)`` scores, higher is better.
    The point value is the score on the sets as they are (identity indices). ``paired`` (which
    needs ``n_model == n_control``): one ``idx`` for both sides; else each side's units are
    resampled independently (a two-sample bootstrap). ``shared`` is the same for both sides.
    ``unit``, ``control_unit`` (when the control's units are other things, say held-out real
    images) and ``shared_unit`` name the units in ``ci_method``.
    """
    if n_boot < 100:
        raise ValueError(f"n_boot must be at least 100 for a 95% percentile interval, got {n_boot}")
    if paired and n_model != n_control:
        raise ValueError(f"paired units need one count, got {n_model} and {n_control}")
    if min(n_model, n_control) < 2:
        raise ValueError(f"each side needs at least 2 {unit}, got {n_model} and {n_control}")

    def ident(n: int) -> torch.Tensor:
        return torch.arange(n).unsqueeze(0)

    same = ident(n_shared) if n_shared else None
    value = float((model(ident(n_model), same) - control(ident(n_control), same))[0])
    gen = torch.Generator().manual_seed(seed)
    draws = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        i = torch.randint(0, n_model, (b, n_model), generator=gen)
        j = i if paired else torch.randint(0, n_control, (b, n_control), generator=gen)
        s = torch.randint(0, n_shared, (b, n_shared), generator=gen) if n_shared else None
        draws.append((model(i, s) - control(j, s)).double())
    shared = f"; the {n_shared:,} {shared_unit} resampled once per resample for both sides" if n_shared else ""
    if paired:
        method = (f"paired percentile bootstrap over {n_model:,} {unit} (the same resampled {unit} for both "
                  f"sides){shared}; {n_boot:,} resamples")
    else:
        method = (f"unpaired two-sample percentile bootstrap: the {n_model:,} {unit} and the {n_control:,} "
                  f"{control_unit or unit} resampled independently{shared}; {n_boot:,} resamples")
    return {**interval_fields(value, torch.cat(draws), method), "n_units": n_model, "n_control_units": n_control,
            **({"n_shared_units": n_shared} if n_shared else {}), "paired": paired}
