"""Dedup quality on CIFAR-10 train with injected near-duplicates, and cost at three sizes.

Injects copies of randomly chosen training images, each altered by one of: an exact copy, a
JPEG re-encode (quality 75), a 1-2 pixel shift (edge pixels repeated), small Gaussian noise
(std 2/255), a brightness change (x1.06). Then, per strategy:

- recall: share of injected copies that land in the same group as their source image;
- precision: share of predicted duplicate pairs that are true pairs (source/copy, or two copies
  of one source); collision FP = 1 - precision (the paper's bar: below 1 in 100);
- FP rate (images): share of the clean originals (no copy injected) that end up in any group;
- images/s: images hashed and bucketed per second (ae-hash: after training, which is timed apart).

Cost: hash + bucket time at three sizes (repeats of the data with fresh noise) must grow
linearly. A PNG shows example ae-hash collision groups (green frame: a true pair, red: not).

Run: python benchmarks/dedup_quality.py --data-root /work/shared/data/cifar10
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

KINDS = ("exact", "jpeg", "shift", "noise", "brightness")


def _jpeg(img: torch.Tensor, quality: int = 85) -> torch.Tensor:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="JPEG", quality=quality)
    return torch.from_numpy(np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))).permute(2, 0, 1)


def _shift(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(img.float().unsqueeze(0), (2, 2, 2, 2), mode="replicate")[0]
    h, w = img.shape[1:]
    return padded[:, 2 - dy : 2 - dy + h, 2 - dx : 2 - dx + w].to(torch.uint8)


def alter(img: torch.Tensor, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """One near-duplicate of ``img`` (uint8 CHW)."""
    if kind == "exact":
        return img.clone()
    if kind == "jpeg":
        return _jpeg(img)
    if kind == "shift":
        dy, dx = (int(v) * int(rng.choice([-1, 1])) for v in rng.integers(1, 3, size=2))
        return _shift(img, dy, dx)
    if kind == "noise":
        noise = torch.from_numpy(rng.normal(0, 2.0, size=img.shape).astype(np.float32))
        return (img.float() + noise).round().clamp(0, 255).to(torch.uint8)
    if kind == "brightness":
        return (img.float() * 1.06).round().clamp(0, 255).to(torch.uint8)
    raise ValueError(kind)


def inject(base: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """``base`` plus ``k`` altered copies appended; ``source[i]`` is the original of row i (or i)."""
    rng = np.random.default_rng(seed)
    n = len(base)
    sources = rng.choice(n, size=k, replace=False)
    kinds = [KINDS[i % len(KINDS)] for i in range(k)]
    copies = torch.stack([alter(base[s], kind, rng) for s, kind in zip(sources, kinds, strict=True)])
    source = np.concatenate([np.arange(n), sources])
    return torch.cat([base, copies]), source, kinds


def score(groups: list[list[int]], source: np.ndarray, n_base: int, kinds: list[str]) -> dict[str, Any]:
    """Precision, recall (overall and per kind) and the image false-positive rate."""
    group_of = np.full(len(source), -1)
    true_pairs = pred_pairs = 0
    for g_id, g in enumerate(groups):
        group_of[g] = g_id
        roots = np.bincount(source[g])
        roots = roots[roots > 0]
        pred_pairs += len(g) * (len(g) - 1) // 2
        true_pairs += int((roots * (roots - 1) // 2).sum())
    found = group_of[n_base:] >= 0
    found &= group_of[n_base:] == group_of[source[n_base:]]
    per_kind = {kind: float(np.mean([f for f, k in zip(found, kinds, strict=True) if k == kind])) for kind in KINDS}
    clean = np.setdiff1d(np.arange(n_base), source[n_base:])
    fp_images = float(np.mean(group_of[clean] >= 0))
    precision = true_pairs / pred_pairs if pred_pairs else 1.0
    return {"groups": len(groups), "pred_pairs": pred_pairs, "precision": precision,
            "collision_fp": 1 - precision, "recall": float(found.mean()), "recall_by_kind": per_kind,
            "fp_rate_images": fp_images}


def make_strategy(name: str, epochs: int) -> Any:
    from gansuite_dedup.aehash import ae_hash
    from gansuite_dedup.config import AEHashConfig
    from gansuite_dedup.simple import exact, phash

    if name == "ae-hash":
        return ae_hash(AEHashConfig(epochs=epochs))
    return {"exact": exact, "phash": phash}[name]()


def run_quality(images: torch.Tensor, source: np.ndarray, kinds: list[str], n_base: int,
                strategies: list[str], epochs: int, cache_dir: Path | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in strategies:
        strat = make_strategy(name, epochs)
        train_s = 0.0
        if name == "ae-hash":
            from gansuite_dedup.aehash import center_crops

            t0 = time.perf_counter()
            strat.fit(center_crops(images), cache_dir)
            train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        groups = strat.find_groups(images)
        seconds = time.perf_counter() - t0
        results[name] = {**score(groups, source, n_base, kinds), "seconds": seconds,
                         "train_seconds": train_s, "images_per_s": len(images) / seconds, "groups_list": groups,
                         "strategy": strat}
    return results


def cost(base: torch.Tensor, sizes: list[int], strategies: dict[str, Any]) -> dict[str, list[float]]:
    """Hash + bucket seconds at each size (repeats of ``base`` with fresh +-1 noise); the
    strategies come trained from the quality pass."""
    gen = torch.Generator().manual_seed(1)
    largest = max(sizes)
    pool = torch.empty((largest, *base.shape[1:]), dtype=torch.uint8)
    for start in range(0, largest, len(base)):
        part = base[: min(len(base), largest - start)]
        if start:
            part = (part.short() + torch.randint(-1, 2, part.shape, generator=gen)).clamp(0, 255).byte()
        pool[start : start + len(part)] = part
    out: dict[str, list[float]] = {}
    for name, strat in strategies.items():
        out[name] = []
        strat.find_groups(pool[:1000])  # warm-up: thread pools, first allocations
        for size in sizes:
            t0 = time.perf_counter()
            strat.find_groups(pool[:size])
            out[name].append(time.perf_counter() - t0)
    return out


def save_groups_png(images: torch.Tensor, groups: list[list[int]], source: np.ndarray, path: Path,
                    n_groups: int = 32, per_row: int = 4, width: int = 3, seed: int = 0) -> None:
    """Example collision groups, false positives first, then a random sample of the rest."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def mixed(g: list[int]) -> bool:
        return len(set(source[g].tolist())) > 1

    rng = np.random.default_rng(seed)
    bad = [g for g in groups if mixed(g)]
    good = [g for g in groups if not mixed(g)]
    picked = bad[:n_groups] + [good[i] for i in rng.permutation(len(good))[: max(0, n_groups - len(bad))]]
    rows = max(1, -(-len(picked) // per_row))
    cols = per_row * (width + 1) - 1
    fig = Figure(figsize=(cols * 0.9, rows * 0.95))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, group in enumerate(picked):
        r, c0 = divmod(k, per_row)
        for j, idx in enumerate(group[:width]):
            ax = axes[r][c0 * (width + 1) + j]
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(images[idx].permute(1, 2, 0).numpy())
            ok = int(np.sum(source[group] == source[idx])) > 1
            for spine in ax.spines.values():
                spine.set_edgecolor("green" if ok else "red")
                spine.set_linewidth(2)
            ax.set_title(f"{idx}" + (f" +{len(group) - width}" if j == width - 1 and len(group) > width else ""),
                         fontsize=6)
    fig.suptitle(f"ae-hash collision groups: {len(bad)} of {len(groups)} mix different sources (red frame: "
                 "an image with no true duplicate in its group)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=Path("/work/shared/data/cifar10"))
    parser.add_argument("--n", type=int, default=10000, help="CIFAR-10 train images used as originals")
    parser.add_argument("--k", type=int, default=1000, help="near-duplicates injected")
    parser.add_argument("--epochs", type=int, default=10, help="ae-hash training epochs")
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--strategies", default="exact,phash,ae-hash")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse trained ae-hash weights")
    args = parser.parse_args(argv)

    from gansuite_datasets.cifar import cifar10
    from gansuite_datasets.config import Cifar10Config

    strategies = args.strategies.split(",")
    base = cifar10(Cifar10Config(download=False), root=args.data_root).load("train").images[: args.n]
    images, source, kinds = inject(base, args.k, args.seed)
    print(f"{len(base):,} CIFAR-10 train images + {args.k:,} injected near-duplicates "
          f"({', '.join(KINDS)}); torch threads: {torch.get_num_threads()}", file=sys.stderr)
    results = run_quality(images, source, kinds, len(base), strategies, args.epochs, args.cache_dir)
    print(f"\n{'strategy':9} {'precision':>9} {'recall':>7} {'coll.FP':>8} {'FP/img':>8} {'img/s':>9} "
          f"{'train s':>8}  recall by kind ({', '.join(KINDS)})")
    for name, r in results.items():
        by_kind = " ".join(f"{r['recall_by_kind'][k]:.2f}" for k in KINDS)
        print(f"{name:9} {r['precision']:9.4f} {r['recall']:7.3f} {r['collision_fp']:8.4f} "
              f"{r['fp_rate_images']:8.5f} {r['images_per_s']:9,.0f} {r['train_seconds']:8.1f}  {by_kind}")
    sizes = [int(s) for s in args.sizes.split(",")]
    costs = cost(base, sizes, {name: r.pop("strategy") for name, r in results.items()})
    print(f"\nhash + bucket seconds at {', '.join(f'{s:,}' for s in sizes)} images (ratio per image vs the smallest)")
    for name, secs in costs.items():
        ratios = [(t / s) / (secs[0] / sizes[0]) for t, s in zip(secs, sizes, strict=True)]
        print(f"{name:9} " + "  ".join(f"{t:7.2f}s ({q:.2f})" for t, q in zip(secs, ratios, strict=True)))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if "ae-hash" in results:
        save_groups_png(images, results["ae-hash"]["groups_list"], source, args.out_dir / "ae_hash_groups.png")
        print(f"\nSaved {args.out_dir / 'ae_hash_groups.png'}")
    for r in results.values():
        r.pop("groups_list")
    (args.out_dir / "dedup_quality.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                                  "quality": results, "cost": costs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
