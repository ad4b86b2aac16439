"""The arithmetic of the sample-quality probes, on feature matrices (any device, no I/O).

- :func:`moments` and :func:`frechet_distance`: FID from float64 means and covariances;
  ``tr sqrt(C1 C2)`` is the sum of square roots of the eigenvalues of ``sqrt(C1) C2 sqrt(C1)``
  (symmetric, so one ``eigvalsh``; ``sqrt(C1)`` of the reference is computed once).
- :func:`fid_infinity`: Chong & Forsyth 2020 -- FID of random subsets of N samples is fitted
  against 1/N and extrapolated to 1/N = 0.
- :func:`kid_subsets`: the unbiased cubic-kernel MMD of Binkowski et al. 2018 over random subsets.
- :func:`prdc`: precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et
  al. 2020), from k-nearest-neighbour balls, as the authors' ``prdc`` package computes them.
- :func:`inception_score`: exp(E KL(p(y|x) || p(y))) over splits (Salimans et al. 2016).
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["moments", "psd_sqrt", "frechet_distance", "fid_infinity", "linear_fit", "kid_subsets", "kid_subset_size", "poly_mmd2", "prdc",
           "inception_score", "binomial_se"]


def moments(features: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 mean and unbiased covariance of ``(N, D)`` features (two passes, chunked)."""
    n = int(features.shape[0])
    if n < 2:
        raise ValueError(f"need at least 2 feature vectors, got {n}")
    mean = torch.zeros(features.shape[1], dtype=torch.float64, device=features.device)
    for i in range(0, n, chunk):
        mean += features[i : i + chunk].double().sum(0)
    mean /= n
    cov = torch.zeros(features.shape[1], features.shape[1], dtype=torch.float64, device=features.device)
    for i in range(0, n, chunk):
        x = features[i : i + chunk].double() - mean
        cov += x.T @ x
    return mean, cov / (n - 1)


def psd_sqrt(cov: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a positive semi-definite matrix (negative eigenvalues clipped)."""
    w, v = torch.linalg.eigh((cov + cov.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor,
                     cov1_sqrt: torch.Tensor | None = None) -> float:
    """``|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr sqrt(C1 C2)`` in float64."""
    root = psd_sqrt(cov1) if cov1_sqrt is None else cov1_sqrt
    m = root @ cov2.to(root) @ root
    eig = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    diff = mean1.double() - mean2.to(mean1).double()
    return float(diff @ diff + cov1.trace() + cov2.trace() - 2 * eig.sqrt().sum())


def linear_fit(x: list[float], y: list[float]) -> dict[str, float]:
    """Least squares ``y = intercept + slope * x`` with the intercept's standard error."""
    k = len(x)
    xm, ym = sum(x) / k, sum(y) / k
    sxx = sum((a - xm) ** 2 for a in x)
    slope = sum((a - xm) * (b - ym) for a, b in zip(x, y, strict=True)) / sxx
    intercept = ym - slope * xm
    resid = sum((b - intercept - slope * a) ** 2 for a, b in zip(x, y, strict=True))
    s2 = resid / (k - 2) if k > 2 else 0.0
    return {"intercept": intercept, "slope": slope, "intercept_se": math.sqrt(s2 * (1 / k + xm**2 / sxx))}


def fid_infinity(features: torch.Tensor, ref_mean: torch.Tensor, ref_cov: torch.Tensor,
                 ref_cov_sqrt: torch.Tensor, sizes: list[int], generator: torch.Generator) -> dict[str, Any]:
    """FID of one random subset per size in ``sizes``, fitted linearly in 1/N.

    Returns the extrapolated ``fid_infinity`` (intercept), its standard error, the slope (the
    1/N bias: FID at N is about intercept + slope / N) and the measured points.
    """
    if len(sizes) < 2 or len(set(sizes)) < 2:
        raise ValueError(f"need at least two distinct subset sizes, got {sizes}")
    points = []
    for n in sizes:
        idx = torch.randperm(features.shape[0], generator=generator)[:n].to(features.device)
        mean, cov = moments(features[idx])
        points.append((n, frechet_distance(ref_mean, ref_cov, mean, cov, ref_cov_sqrt)))
    fit = linear_fit([1 / n for n, _ in points], [f for _, f in points])
    return {"fid_infinity": fit["intercept"], "se": fit["intercept_se"], "slope": fit["slope"],
            "points": [[n, round(f, 4)] for n, f in points]}


def kid_subset_size(subset_size: int, n_x: int, n_y: int) -> int:
    """The subset size KID uses for sets of ``n_x`` and ``n_y`` images: ``subset_size`` when both
    sets are larger, else half the smaller set, so that subsets drawn without replacement differ
    from draw to draw (a subset as large as its set is the whole set every time, and the spread
    over subsets would be 0)."""
    smallest = min(n_x, n_y)
    return subset_size if subset_size < smallest else max(2, smallest // 2)


def kid_subsets(x: torch.Tensor, y: torch.Tensor, subsets: int, subset_size: int,
                generator: torch.Generator) -> torch.Tensor:
    """Unbiased MMD^2 with the kernel ``(a.b / D + 1)^3`` on ``subsets`` random subsets (float64),
    each of :func:`kid_subset_size` images drawn without replacement from each set."""
    m = kid_subset_size(subset_size, int(x.shape[0]), int(y.shape[0]))
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(x.shape[0], generator=generator)[:m].to(x.device)]
        b = y[torch.randperm(y.shape[0], generator=generator)[:m].to(y.device)]
        values.append(poly_mmd2(a, b))
    return torch.stack(values).cpu()


def poly_mmd2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 between two sets of ``m`` rows with the kernel ``(a.b / D + 1)^3`` (float64)."""
    a, b = a.double(), b.double()
    d, m = a.shape[1], a.shape[0]
    kxx = (a @ a.T / d + 1) ** 3
    kyy = (b @ b.T / d + 1) ** 3
    kxy = (a @ b.T / d + 1) ** 3
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * kxy.mean()


def _pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a.double(), b.double())


def _kth_neighbour(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (the row itself counts as the 0th)."""
    out = []
    for i in range(0, x.shape[0], chunk):
        d = _pairwise(x[i : i + chunk], x)
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def binomial_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, chunk: int = 1024,
         units: dict[str, torch.Tensor] | None = None) -> dict[str, dict[str, float]]:
    """Precision, recall, density, coverage of ``fake`` against ``real``, each with a standard error.

    Precision, recall and coverage are fractions (binomial standard error); density's error is
    the standard deviation of its per-sample counts over sqrt(N). Both hold the other set fixed.
    ``units``, when given, receives each metric's per-unit scores (float64, CPU): precision and
    density per generated sample, recall and coverage per real image; each metric is their mean.
    """
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"need more than k={k} real and generated samples")
    r_radius = _kth_neighbour(real, k, chunk)
    f_radius = _kth_neighbour(fake, k, chunk)
    inside = torch.zeros(fake.shape[0], dtype=torch.float64, device=real.device)  # real balls holding each fake
    recalled = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    nearest = torch.full((real.shape[0],), math.inf, dtype=torch.float64, device=real.device)
    for i in range(0, fake.shape[0], chunk):
        d = _pairwise(real, fake[i : i + chunk])  # (R, chunk)
        inside[i : i + chunk] = (d < r_radius[:, None]).sum(0).double()
        recalled |= (d < f_radius[i : i + chunk][None, :].to(d)).any(1)
        nearest = torch.minimum(nearest, d.min(1).values)
    precision = float((inside > 0).double().mean())
    recall = float(recalled.double().mean())
    density_each = inside / k
    coverage = float((nearest < r_radius).double().mean())
    n_f, n_r = fake.shape[0], real.shape[0]
    if units is not None:
        units.update(precision=(inside > 0).double().cpu(), density=density_each.cpu(),
                     recall=recalled.double().cpu(), coverage=(nearest < r_radius).double().cpu())
    return {
        "precision": {"value": precision, "se": binomial_se(precision, n_f)},
        "recall": {"value": recall, "se": binomial_se(recall, n_r)},
        "density": {"value": float(density_each.mean()), "se": float(density_each.std() / math.sqrt(n_f))},
        "coverage": {"value": coverage, "se": binomial_se(coverage, n_r)},
    }


def inception_score(logits: torch.Tensor, splits: int) -> tuple[float, float, list[float]]:
    """Mean and standard deviation over ``splits`` equal parts of exp(E_x KL(p(y|x) || p(y)))."""
    if splits < 1 or logits.shape[0] < splits:
        raise ValueError(f"need at least {splits} samples for {splits} splits")
    logp = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for part in torch.tensor_split(logp, splits):
        log_py = torch.logsumexp(part, dim=0) - math.log(part.shape[0])
        kl = (part.exp() * (part - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    t = torch.tensor(scores, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False)) if splits > 1 else 0.0, scores
