"""``ae-hash``: the DCGAN paper's semantic hash (section 4.1.1).

A 3072-128-3072 ReLU autoencoder, trained on the dataset itself as a denoising autoencoder
(Gaussian input noise) with dropout on the code, sees 32x32 center crops. Each image's 128
code units, thresholded (ReLU output > ``threshold``), form a 128-bit hash; equal hashes are
duplicates, found by one sort (linear in practice). The trained weights are cached under
``cache_dir/ae-hash/`` keyed by a fingerprint of the pixels and the training knobs.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gansuite import atomic_write_bytes
from gansuite_dedup.buckets import group_equal_codes, pack_bits
from gansuite_dedup.config import AEHashConfig

__all__ = ["AutoEncoder", "AEHashDedup", "ae_hash", "center_crops", "fingerprint"]

SIDE = 32
CODE = 128
_CHUNK = 8192
_HASH_CHUNK = 2048


def center_crops(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``NCHW`` -> uint8 ``(N, 3, 32, 32)``: square center crop, resize, gray repeated."""
    n, c, h, w = images.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    images = images[:, :, top : top + side, left : left + side]
    if c == 1:
        images = images.expand(n, 3, side, side)
    elif c != 3:
        images = images[:, :3]
    if side == SIDE:
        return images.contiguous()
    out = torch.empty((n, 3, SIDE, SIDE), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        chunk = torch.nn.functional.interpolate(
            images[start : start + _CHUNK].float(), size=(SIDE, SIDE), mode="bilinear",
            align_corners=False, antialias=side > SIDE,
        )
        out[start : start + _CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def fingerprint(crops: torch.Tensor, config: AEHashConfig) -> str:
    """A key for the cache: the crops' bytes and every knob that changes training."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(tuple(crops.shape)).encode())
    digest.update(np.ascontiguousarray(crops.numpy()).data)
    knobs = {k: v for k, v in asdict(config).items() if k not in {"threshold", "progress"}}
    digest.update(json.dumps(knobs, sort_keys=True).encode())
    return digest.hexdigest()


class AutoEncoder(nn.Module):
    """3072-128-3072 with a ReLU code; inputs are pixels in [0, 1] minus the dataset mean."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.encoder = nn.Linear(3 * SIDE * SIDE, CODE)
        self.decoder = nn.Linear(CODE, 3 * SIDE * SIDE)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mean", torch.zeros(3 * SIDE * SIDE))

    def prepare(self, crops: torch.Tensor) -> torch.Tensor:
        """uint8 crops -> centred float rows."""
        return crops.reshape(len(crops), -1).float().div_(255.0).sub_(self.mean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.dropout(torch.relu(self.encoder(x))))

    @torch.no_grad()
    def bits(self, crops: torch.Tensor, threshold: float = 0.0) -> np.ndarray:
        """The binarised code of each crop: bool ``(N, 128)``.

        The scaling and centring are folded into the weights (``(x/255 - m) W = x (W/255) - m W``),
        so hashing is one uint8-to-float conversion and one matrix product per chunk.
        """
        w = self.encoder.weight.t()
        w_folded = (w / 255.0).contiguous()
        b_folded = self.encoder.bias - self.mean @ w
        out = np.empty((len(crops), CODE), dtype=bool)
        flat = crops.reshape(len(crops), -1)
        for start in range(0, len(crops), _HASH_CHUNK):
            z = torch.addmm(b_folded, flat[start : start + _HASH_CHUNK].float(), w_folded)
            out[start : start + len(z)] = (z > threshold).numpy()
        return out


def _progress(enabled: bool, total: int, desc: str):  # noqa: ANN202 - tqdm or a no-op
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", unit_scale=True, file=sys.stderr,
                disable=not enabled or not sys.stderr.isatty(), leave=False)


def train_autoencoder(crops: torch.Tensor, config: AEHashConfig) -> AutoEncoder:
    """Fit the denoising autoencoder on (at most ``max_train`` of) ``crops``."""
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    if len(crops) > config.max_train:
        crops = crops[torch.randperm(len(crops), generator=gen)[: config.max_train]]
    model = AutoEncoder(config.dropout)
    model.mean.copy_(crops.reshape(len(crops), -1).float().mean(0).div_(255.0))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    n = len(crops)
    with _progress(config.progress, n * config.epochs, "ae-hash training") as bar:
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, config.batch_size):
                clean = model.prepare(crops[order[start : start + config.batch_size]])
                noisy = clean + config.noise * torch.randn(clean.shape, generator=gen)
                loss = torch.nn.functional.mse_loss(model(noisy), clean)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(len(clean))
            bar.set_postfix(loss=f"{loss.item():.4f}")
    return model.eval()


class AEHashDedup:
    """Find near-duplicates by equal 128-bit autoencoder codes."""

    def __init__(self, config: AEHashConfig) -> None:
        self.config = config
        self.model: AutoEncoder | None = None
        self.cache_hit: bool | None = None

    def fit(self, crops: torch.Tensor, cache_dir: Path | None = None) -> AutoEncoder:
        """Train on ``crops`` or load the cached weights for exactly these pixels and knobs."""
        path = None
        if cache_dir is not None:
            path = Path(cache_dir) / "ae-hash" / f"{fingerprint(crops, self.config)}.pt"
            if path.is_file():
                model = AutoEncoder(self.config.dropout)
                try:
                    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                except Exception:  # a damaged cache entry is retrained, not fatal
                    path.unlink(missing_ok=True)
                else:
                    self.model, self.cache_hit = model.eval(), True
                    return self.model
        self.model, self.cache_hit = train_autoencoder(crops, self.config), False
        if path is not None:
            buffer = io.BytesIO()
            torch.save(self.model.state_dict(), buffer)
            atomic_write_bytes(path, buffer.getvalue())
        return self.model

    def codes(self, images: torch.Tensor, cache_dir: Path | None = None) -> np.ndarray:
        """uint64 ``(N, 2)`` codes (training the autoencoder first when needed)."""
        crops = center_crops(images)
        model = self.model if self.model is not None else self.fit(crops, cache_dir)
        return pack_bits(model.bits(crops, self.config.threshold))

    def find_groups(self, images: torch.Tensor, *, cache_dir: Path | None = None) -> list[list[int]]:
        return group_equal_codes(self.codes(images, cache_dir))


def ae_hash(config: AEHashConfig | None = None) -> AEHashDedup:
    """Factory of the ``ae-hash`` strategy."""
    return AEHashDedup(config or AEHashConfig())
