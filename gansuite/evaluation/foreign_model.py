"""Models gansuite did not build, behind the :class:`~gansuite.contract.model.GANModel` contract.

- :class:`SampleBank`: a set of generated images. Its "generator" returns stored images: z's
  first entry is an image index (:meth:`SampleBank.sample_z` draws indices without replacement,
  seeded), the remaining entries are Gaussian noise for the data-fitted control that stands
  beside it. Only probes that need samples run on it. Samples that carry their class (a
  subfolder per class, an ``.npz`` ``labels`` array) make it class-conditional for an eval
  that needs labels (:meth:`SampleBank.use_labels`): :meth:`SampleBank.labels_of` gives the
  class of the images z picks, which class-conditional probes score against.
- :class:`FileModel`: a generator (and optionally a discriminator) loaded from a TorchScript or
  ``torch.export`` file. G maps z -- ``(N, z_dim)``, or ``(N, z_dim, 1, 1)`` as pytorch/examples'
  G takes it (found by trying) -- to images in [-1, 1]; D maps images to one score per image and
  may export ``features(x) -> List[Tensor]`` for the svm probe.

:func:`load_network` reads such a file; :func:`check_generator` runs G once and refuses outputs
that are not images in one line.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.contract.model import GANModel

__all__ = ["SampleBank", "FileModel", "NoDiscriminator", "load_network", "check_generator",
           "BANK_NOISE_DIM", "FileNetwork", "load_program"]

BANK_NOISE_DIM = 128  # z entries after the index: the data-fitted control's latent


class _BankNet(torch.nn.Module):
    images: torch.Tensor

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        idx = z[:, 0].round().long().to(self.images.device)
        return self.images[idx].float().div_(127.5).sub_(1.0)


class NoDiscriminator(torch.nn.Module):
    """Stands in for D when none was given: holds the device, refuses to be called."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, x: torch.Tensor, *args: Any) -> torch.Tensor:
        raise OptionError("This eval needs a discriminator and none was given; pass --discriminator D.pt.")


class SampleBank(GANModel):
    """Generated images as a model: every probe that needs only samples runs on it.

    ``labels``: the class of each image as :func:`~gansuite.evaluation.sources.read_labels` reads
    it (subfolder names or integers), or None."""

    def __init__(self, images: torch.Tensor, source: str, labels: list[str] | torch.Tensor | None = None) -> None:
        self.generator = _BankNet(images)
        self.discriminator = NoDiscriminator()
        self.n_images = int(images.shape[0])
        self.z_dim = 1 + BANK_NOISE_DIM
        self.image_size = int(images.shape[-1])
        self.channels = int(images.shape[1])
        self.source = source
        self.raw_labels = labels
        self.labels: torch.Tensor | None = None
        self.num_classes = 0

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        """``n`` distinct image indices (a seeded permutation) followed by Gaussian noise."""
        if n > self.n_images:
            raise OptionError(f"This eval draws {n:,} samples but {self.source} holds {self.n_images:,} images; "
                              f"pass -o n_samples={self.n_images} (-o PROBE.n_samples={self.n_images} when several "
                              "evals run), or give more images.")
        idx = torch.randperm(self.n_images, generator=generator)[:n].float().unsqueeze(1)
        z = torch.cat([idx, torch.randn(n, BANK_NOISE_DIM, generator=generator)], 1)
        return z if device is None else z.to(device)

    def labels_of(self, z: torch.Tensor) -> torch.Tensor | None:
        """The class of each image ``z`` picks (None before :meth:`use_labels`)."""
        if self.labels is None:
            return None
        return self.labels[z[:, 0].round().long().cpu()].to(z.device)

    def use_labels(self, num_classes: int, classes: Sequence[str] | None = None, dataset: str = "the dataset") -> None:
        """Read the samples' labels as classes of a dataset with ``num_classes`` classes named
        ``classes``: subfolder names must be class names or indices ``0..K-1``; refused in one line
        when the samples carry no labels or they do not fit. With ``classes`` None (not loaded yet),
        subfolder names that are not indices are only counted: :attr:`labels` stays None until a
        call with the names."""
        raw, k = self.raw_labels, int(num_classes)
        how = ("put each class's images in a subfolder named by its class (the dataset's class name or index "
               f"0..{k - 1}), or save an .npz with 'images' and 'labels' arrays")
        if raw is None:
            raise OptionError(f"{self.source} carries no class labels, which this eval scores samples against; {how}.")
        if isinstance(raw, torch.Tensor):
            if raw.numel() != self.n_images:
                raise OptionError(f"{self.source} holds {self.n_images:,} images but {raw.numel():,} labels; "
                                  "save one label per image.")
            labels = raw
        else:
            names = sorted(set(raw))
            if classes is None and not all(n.isdigit() for n in names):
                if len(names) > k:
                    raise OptionError(f"{self.source} has {len(names)} class subfolders and {dataset} has {k} "
                                      f"classes; {how}.")
                self.num_classes = k  # the names are matched once the dataset's class names are loaded
                return
            if classes and all(n in classes for n in names):
                index = {n: list(classes).index(n) for n in names}
            elif all(n.isdigit() for n in names):
                index = {n: int(n) for n in names}
            else:
                shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                raise OptionError(f"The subfolders of {self.source} ({shown}) are neither {dataset}'s class names"
                                  f"{' (' + ', '.join(list(classes)[:10]) + ')' if classes else ''} nor class "
                                  f"indices; {how}.")
            labels = torch.tensor([index[n] for n in raw], dtype=torch.long)
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= k:
            raise OptionError(f"The labels of {self.source} run from {lo} to {hi}, and {dataset} has {k} classes "
                              f"(0..{k - 1}); label the samples with the classes of the eval's dataset.")
        self.labels, self.num_classes = labels, k

    def describe(self) -> dict[str, Any]:
        return {"kind": "samples", "images": self.n_images, "image_size": self.image_size, "channels": self.channels}


class FileNetwork(torch.nn.Module):
    """A network read from a file; ``flat_z``: G takes ``(N, z_dim)`` (else ``(N, z_dim, 1, 1)``)."""

    def __init__(self, net: Any, flat_z: bool = True) -> None:
        super().__init__()
        self.net = net
        self.flat_z = flat_z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x if self.flat_z or x.dim() != 2 else x[:, :, None, None])
        return out.float()


class _FileDiscriminator(FileNetwork):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).float().reshape(x.shape[0], -1)[:, 0]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        fn = getattr(self.net, "features", None)
        if fn is None:
            raise OptionError("The discriminator file exports no features(x) method, which the svm probe reads; "
                              "script D with a @torch.jit.export def features(self, x) -> List[Tensor] returning "
                              "each conv layer's activation.")
        return [f.float() for f in fn(x)]


class FileModel(GANModel):
    """A generator (and a discriminator) from TorchScript / ``torch.export`` files. ``blocks``:
    G's blocks where its submodules chain (see :mod:`gansuite.evaluation.file_blocks`; G is then
    that chain), else None and ``no_blocks`` says why."""

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module | None, *, z_dim: int,
                 image_size: int, channels: int, z_prior: str, blocks: list[torch.nn.Module] | None = None,
                 no_blocks: str = "") -> None:
        self.blocks = blocks
        self.no_blocks = no_blocks
        self.generator = generator
        self.discriminator = discriminator if discriminator is not None else NoDiscriminator()
        self.z_dim = z_dim
        self.image_size = image_size
        self.channels = channels
        self.z_prior = z_prior

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        if self.z_prior == "uniform":
            return torch.rand(n, self.z_dim, generator=generator, device=device).mul_(2).sub_(1)
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        feats = getattr(self.discriminator, "features", None)
        if feats is None:
            raise OptionError("This eval reads D's features and no discriminator was given; pass --discriminator D.pt.")
        return list(feats(x))

    def generator_blocks(self) -> list[torch.nn.Module]:
        if self.blocks is None:
            raise OptionError(f"This eval hooks G's blocks, and {self.no_blocks}.")
        return self.blocks

    def describe(self) -> dict[str, Any]:
        return {"kind": "file", "z_dim": self.z_dim, "z_prior": self.z_prior, "image_size": self.image_size,
                "channels": self.channels}


def _zip_kind(data: bytes) -> str | None:
    """``"export"`` or ``"torchscript"`` from a zip archive's entries (a ``torch.save`` file is a zip
    too, with neither ``archive_format`` nor ``code/``); None for anything else."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if any(n == "archive_format" or n.endswith("/archive_format") for n in names):
        return "export"
    if any("/code/" in n or n.startswith("code/") for n in names):
        return "torchscript"
    return None


def load_network(path: Path, role: str, device: Any) -> tuple[str, Any]:
    """The file's contents: ``("torchscript", module)``, ``("export", module)`` or
    ``("state_dict", dict)``; anything else is a one-line :class:`CheckpointError`."""
    if not path.is_file():
        raise CheckpointError(f"--{role} {path} does not exist.")
    data = path.read_bytes()
    kind = _zip_kind(data)
    if kind is not None:
        try:
            return load_program(data, device, kind)
        except Exception as exc:  # noqa: BLE001 - a damaged or incompatible program file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise CheckpointError(f"--{role} {path} is a {kind} file that does not load ({first}).") from None
    try:
        state = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, or not a torch file at all
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"--{role} {path} is neither TorchScript, a torch.export program nor a state dict "
                              f"that loads with weights_only=True ({first}); save the network with "
                              "torch.jit.save(torch.jit.script(net)) or torch.save(net.state_dict()).") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a common wrapper: {"state_dict": ..., "epoch": ...}
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"--{role} {path} loads as a {type(state).__name__}, not a state dict of tensors; "
                              "save the network with torch.save(net.state_dict()) or as TorchScript.")
    return "state_dict", state


class _ExportedNet(torch.nn.Module):
    """A ``torch.export`` program as a module. A program traced without a dynamic batch dimension
    takes only its example's batch size: inputs are cut into such chunks (the last one padded).
    ``z_dim`` is read off the example input when it is a ``(B, z_dim)`` or ``(B, z_dim, 1, 1)`` latent."""

    def __init__(self, program: Any, device: Any) -> None:
        super().__init__()
        self.net = program.module().to(device)
        self.program = program  # its submodules come back through torch.export.unflatten
        args = (program.example_inputs or ((),))[0]
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.batch = int(first.shape[0]) if first is not None and first.dim() >= 1 else 0
        self.flat_example = first is not None and first.dim() == 2
        if first is not None and (first.dim() == 2 or (first.dim() == 4 and tuple(first.shape[2:]) == (1, 1))):
            self.z_dim = int(first.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return self.net(x)
        except Exception:  # noqa: BLE001 - a static batch size: run it in chunks of that size
            if not self.batch or x.shape[0] == self.batch:
                raise
        out = []
        for i in range(0, x.shape[0], self.batch):
            chunk = x[i : i + self.batch]
            n = chunk.shape[0]
            if n < self.batch:
                chunk = torch.cat([chunk, chunk[-1:].expand(self.batch - n, *chunk.shape[1:])])
            out.append(self.net(chunk)[:n])
        return torch.cat(out)


def load_program(data: bytes, device: Any, kind: str | None = None) -> tuple[str, Any]:
    """A TorchScript or ``torch.export`` file's bytes as a module on ``device``."""
    kind = kind or _zip_kind(data)
    if kind == "export":
        program = torch.export.load(io.BytesIO(data))
        return "export", _ExportedNet(program, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch marks TorchScript deprecated; files still exist
        return "torchscript", torch.jit.load(io.BytesIO(data), map_location=device)


@torch.no_grad()
def check_generator(net: Any, z_dim: int, image_size: int | None, path: Path) -> tuple[FileNetwork, int, int]:
    """Run G on two latents (flat, then ``(N, z_dim, 1, 1)``); its output must be images in [-1, 1].

    Returns the wrapped G, the image size and the channel count."""
    errors = []
    out = None
    wrapped = None
    for flat in (True, False):
        wrapped = FileNetwork(net, flat_z=flat)
        try:
            out = wrapped(torch.randn(2, z_dim, generator=torch.Generator().manual_seed(0)).to(_device_of(net)))
            break
        except Exception as exc:  # noqa: BLE001 - the other latent layout may work
            errors.append((str(exc).strip().splitlines() or [type(exc).__name__])[0][:160])
    if out is None or wrapped is None:
        raise CheckpointError(f"The generator {path} fails on z of shape (2, {z_dim}) and (2, {z_dim}, 1, 1) "
                              f"({errors[-1]}); pass its --z-dim.")
    if out.dim() != 4 or out.shape[0] != 2 or out.shape[1] not in (1, 3) or out.shape[2] != out.shape[3]:
        raise CheckpointError(f"The generator {path} returns shape {tuple(out.shape)} for 2 latents, not square "
                              "images (N, C, H, W) with C 1 or 3.")
    if image_size is not None and out.shape[-1] != image_size:
        raise CheckpointError(f"The generator {path} makes {out.shape[-1]}x{out.shape[-1]} images but "
                              f"--image-size / its image_size says {image_size}.")
    lo, hi = float(out.min()), float(out.max())
    if not (torch.isfinite(out).all() and lo >= -1.001 and hi <= 1.001):
        raise CheckpointError(f"The generator {path} returns values in [{lo:.3g}, {hi:.3g}], not images in [-1, 1]; "
                              "end it with tanh (or map [0, 1] outputs with 2x - 1) before exporting.")
    return wrapped, int(out.shape[-1]), int(out.shape[1])


def _device_of(net: Any) -> torch.device:
    for p in net.parameters():
        return p.device
    for b in net.buffers():
        return b.device
    return torch.device("cpu")
