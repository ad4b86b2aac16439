"""Evaluating a model gansuite did not train: loading it and its controls.

:func:`load_foreign` turns ``--images``, ``--generator`` / ``--discriminator`` and ``--model`` into
a :class:`ForeignModel`: the :class:`~gansuite.contract.model.GANModel` the probes see, what it can
be evaluated on (``available``: samples, generator, discriminator), the sources with their
sha256, and how its control is made. :class:`ForeignSession` is the eval session that hands each
probe that control as ``ctx.make_random_model``:

- a registered architecture (``--model``): the architecture freshly initialised, as for a run;
- otherwise the Gaussian fit every run's probes also get as ``ctx.make_data_fit_model``
  (:class:`~gansuite.evaluation.controls.GaussianFitModel`, fitted to the eval's training split;
  the same fitted generator serves both); a discriminator from a file gets, as its random control, the same
  network with each weight tensor's entries shuffled (a seeded permutation: the same weight
  statistics, no learned structure).

Every row records which control stood beside it (``random_control``) and the sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.contract.model import GANModel
from gansuite.contract.protocols import ImageData
from gansuite.contract.specs import EvalSpec, ModelSpec, ProbeSpec
from gansuite.evaluation.evaluate import EvalSession
from gansuite.evaluation.file_blocks import NO_BLOCKS, BlockChain, block_chain
from gansuite.evaluation.foreign_model import (
    FileModel,
    SampleBank,
    _FileDiscriminator,
    check_generator,
    load_network,
    load_program,
)
from gansuite.evaluation.sources import file_sha256, read_images, read_labels

__all__ = ["ForeignInputs", "ForeignModel", "ForeignSession", "load_foreign", "check_needs", "check_labels"]

_NEED_WORDS = {"samples": "generated images", "generator": "a generator (z -> image)",
               "discriminator": "a discriminator"}


@dataclass
class ForeignInputs:
    """What the user passed: ``images`` or ``generator`` (+ ``discriminator``), and how to read them."""

    images: Path | None = None
    generator: Path | None = None
    discriminator: Path | None = None
    model: ModelSpec | None = None
    model_options: Mapping[str, Any] = field(default_factory=dict)
    z_dim: int | None = None
    image_size: int | None = None
    z_prior: str | None = None

    def available(self) -> set[str]:
        if self.images is not None:
            return {"samples"}
        return {"samples", "generator"} | ({"discriminator"} if self.discriminator is not None else set())

    def check(self) -> None:
        if (self.images is None) == (self.generator is None):
            raise OptionError("Give either --images PATH (samples) or --generator FILE (a model), not both"
                              if self.images is not None else
                              "Name what to evaluate: a run folder, --images PATH or --generator FILE.")
        if self.images is not None and (self.discriminator or self.model or self.z_dim or self.z_prior):
            raise OptionError("--discriminator, --model, --z-dim and --z-prior describe a generator; with --images "
                              "only --image-size applies.")


def check_needs(inputs: ForeignInputs, evals: Sequence[EvalSpec], probes: Mapping[str, ProbeSpec]) -> None:
    """Refuse, before any work, an eval whose probe needs what the inputs lack."""
    have = inputs.available()
    for spec in evals:
        probe = probes[spec.probe]
        missing = [n for n in probe.needs if n not in have]
        if not missing:
            continue
        what = " and ".join(_NEED_WORDS[n] for n in missing)
        fix = ("pass --discriminator D.pt" if missing == ["discriminator"] and inputs.generator is not None
               else "pass --generator G.pt" + (" --discriminator D.pt" if "discriminator" in missing else ""))
        given = "a folder of samples" if inputs.images is not None else "a generator without a discriminator"
        raise OptionError(f"Eval '{spec.name}' runs probe '{probe.name}', which needs {what}, and {given} was "
                          f"given; {fix}, or drop --eval {spec.name}.")


def check_labels(fm: ForeignModel, evals: Sequence[EvalSpec], probes: Mapping[str, ProbeSpec],
                 probe_configs: Mapping[str, Any], datasets: Mapping[str, Any]) -> None:
    """Samples for an eval whose probe refuses an unconditional model (it scores samples against
    their class, as GAN-test does) must carry labels that fit the dataset's classes: checked
    before any work, in one line. Class names are matched when the dataset is loaded."""
    bank = fm.model
    if not isinstance(bank, SampleBank):
        return
    from gansuite.contract.protocols import ModelCheck
    from gansuite.engine.build import plugin_call

    for spec in evals:
        probe = plugin_call(probes[spec.probe], "to build", probes[spec.probe].load_factory(), probe_configs[spec.name])
        if not isinstance(probe, ModelCheck):
            continue
        k = datasets[spec.dataset].num_classes
        if not _refuses_only_unconditional(probe, bank, k or 1):
            continue  # it takes unconditional samples (or refuses them for another reason, saying so itself)
        if not k:
            raise OptionError(f"Eval '{spec.name}' scores samples against classes and dataset '{spec.dataset}' "
                              "declares none; choose an eval on a labelled dataset.")
        bank.use_labels(k, None, f"dataset '{spec.dataset}'")


def _refuses_only_unconditional(probe: Any, bank: SampleBank, k: int) -> bool:
    """Whether ``probe.check_model`` refuses the samples as unconditional and accepts them with ``k`` classes."""
    kept = bank.num_classes
    try:
        for classes, accepted in ((0, False), (k, True)):
            bank.num_classes = classes
            try:
                probe.check_model(bank)
            except OptionError:
                if accepted:
                    return False
                continue
            if not accepted:
                return False
        return True
    finally:
        bank.num_classes = kept


@dataclass
class ForeignModel:
    """A loaded foreign model: the model, its control kind, label and sources."""

    model: GANModel
    label: str
    sources: list[dict[str, Any]]
    spec: ModelSpec
    config: Any = None
    known_architecture: bool = False
    weights_source: str | None = None
    discriminator_bytes: bytes | None = None
    generator_bytes: bytes | None = None  # kept when G's blocks chain: its control is G shuffled


def _source(path: Path, role: str, kind: str) -> dict[str, Any]:
    return {"role": role, "path": str(path.resolve()), "kind": kind, "sha256": file_sha256(path)}


def _file_value(net: Any, name: str, given: int | None, path: Path, option: str) -> int | None:
    """``--option`` if given, else the module's attribute; both given must agree."""
    attr = getattr(net, name, None)
    attr = int(attr) if isinstance(attr, (int, torch.Tensor)) and not isinstance(attr, bool) else None
    if given is not None and attr is not None and given != attr:
        raise OptionError(f"{path} says {name}={attr} but {option} {given} was given; drop {option}.")
    return given if given is not None else attr


def _load_file_model(inputs: ForeignInputs, device: Any) -> ForeignModel:
    g_path, d_path = inputs.generator, inputs.discriminator
    if g_path is None:
        raise OptionError("Name the generator file with --generator FILE.")
    g_kind, g_net = load_network(g_path, "generator", device)
    d_kind, d_net = load_network(d_path, "discriminator", device) if d_path is not None else (None, None)
    sources = [_source(g_path, "generator", g_kind)] + ([_source(d_path, "discriminator", str(d_kind))]
                                                        if d_path is not None else [])
    if g_kind == "state_dict" or d_kind == "state_dict":
        if inputs.model is None:
            raise CheckpointError(f"{g_path if g_kind == 'state_dict' else d_path} holds a state dict (weights "
                                  "without code); name its architecture with --model NAME, e.g. --model "
                                  "dcgan-pytorch-examples for pytorch/examples' dcgan ('gansuite list models').")
        if g_kind != "state_dict" or (d_kind not in (None, "state_dict")):
            raise CheckpointError("--model reads state dicts; pass both networks as state dicts, or both as "
                                  "TorchScript without --model.")
        from gansuite.evaluation.importers import import_state_dicts

        imported = import_state_dicts(inputs.model, g_net, d_net, paths=(str(g_path), str(d_path) if d_path else None),
                                      options=inputs.model_options, image_size=inputs.image_size)
        model = imported.model.to(device)
        return ForeignModel(model, inputs.model.name, sources, inputs.model, imported.config,
                            known_architecture=True, weights_source=imported.source)
    if inputs.model is not None:
        raise OptionError(f"--model reads state dicts, and {g_path} is {g_kind}: drop --model (the file holds "
                          "its own code).")
    z_dim = _file_value(g_net, "z_dim", inputs.z_dim, g_path, "--z-dim")
    if z_dim is None:
        raise OptionError(f"{g_path} has no z_dim attribute; pass --z-dim N (the length of its latent).")
    size = _file_value(g_net, "image_size", inputs.image_size, g_path, "--image-size")
    generator, size, channels = check_generator(g_net, z_dim, size, g_path)
    prior = inputs.z_prior or str(getattr(g_net, "z_prior", "normal"))
    if prior not in ("normal", "uniform"):
        raise OptionError(f"{g_path} says z_prior={prior!r}; pass --z-prior normal or uniform.")
    disc = None
    if d_net is not None:
        disc = _FileDiscriminator(d_net)
        _check_discriminator(disc, generator, z_dim, d_path)
    chain = block_chain(g_net, generator.flat_z, z_dim, _device(generator))
    model = FileModel(chain if chain is not None else generator, disc, z_dim=z_dim, image_size=size,
                      channels=channels, z_prior=prior, blocks=chain.blocks() if chain is not None else None,
                      no_blocks=f"the blocks of the generator {g_path} cannot be named: {NO_BLOCKS}")
    spec = ModelSpec(name=f"file:{g_path.name}", summary="a generator read from a file")
    return ForeignModel(model, spec.name, sources, spec,
                        discriminator_bytes=d_path.read_bytes() if d_path is not None else None,
                        generator_bytes=g_path.read_bytes() if chain is not None else None)


@torch.no_grad()
def _check_discriminator(disc: Any, generator: Any, z_dim: int, path: Path | None) -> None:
    x = generator(torch.zeros(2, z_dim, device=_device(generator)))
    try:
        scores = disc(x)
    except Exception as exc:  # noqa: BLE001 - a file's network: report in one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"The discriminator {path} fails on the generator's images of shape "
                              f"{tuple(x.shape)} ({first}).") from None
    if scores.shape != (2,):
        raise CheckpointError(f"The discriminator {path} returns shape {tuple(scores.shape)} for 2 images, not one "
                              "score per image.")


def _device(net: Any) -> torch.device:
    for t in (*net.parameters(), *net.buffers()):
        return t.device
    return torch.device("cpu")


def load_foreign(inputs: ForeignInputs, device: Any, progress: bool = True) -> ForeignModel:
    """Read the inputs into a :class:`ForeignModel` on ``device`` (one-line errors for bad files)."""
    inputs.check()
    if inputs.images is not None:
        images, source = read_images(inputs.images, image_size=inputs.image_size, progress=progress)
        bank = SampleBank(images.to(device), str(inputs.images), labels=read_labels(inputs.images))
        spec = ModelSpec(name=f"samples:{Path(inputs.images).name}", summary="generated images from files")
        return ForeignModel(bank, spec.name, [source.record()], spec)
    return _load_file_model(inputs, device)


def _shuffle(net: Any, seed: int) -> Any:
    """Each floating-point parameter's entries of ``net`` permuted in place (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.is_floating_point() and p.numel() > 1:
                flat = p.detach().flatten()
                p.copy_(flat[torch.randperm(flat.numel(), generator=gen).to(flat.device)].view_as(p))
    return net


def _shuffled_copy(data: bytes, device: Any, seed: int) -> Any:
    """The file's network again, each floating-point parameter's entries permuted (seeded)."""
    return _shuffle(load_program(data, device)[1], seed)


def _shuffled_chain(data: bytes, like: BlockChain, z_dim: int, device: Any, seed: int) -> BlockChain | None:
    """The generator file's chain of blocks again, its weights shuffled as :func:`_shuffled_copy` does."""
    chain = block_chain(load_program(data, device)[1], like.flat_z, z_dim, device)
    return _shuffle(chain, seed) if chain is not None else None


class _Control(GANModel):
    """The control model beside a foreign one: a data-fitted G and, where D came from a file,
    D with shuffled weights."""

    def __init__(self, like: GANModel, generator: torch.nn.Module, discriminator: torch.nn.Module) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.blocks = generator.blocks() if isinstance(generator, BlockChain) else None
        self.z_dim, self.image_size, self.channels = like.z_dim, like.image_size, like.channels
        self._like = like

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        return self._like.sample_z(n, generator=generator, device=device)

    def generator_blocks(self) -> list[torch.nn.Module]:
        if self.blocks is None:
            return list(self._like.generator_blocks())  # refused there, saying why
        return self.blocks

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        feats: Any = getattr(self.discriminator, "features")  # noqa: B009 - a file D's method, checked by the probe
        return list(feats(x))


@dataclass
class ForeignSession(EvalSession):
    """An eval session on a :class:`ForeignModel`: its controls and its sources in every row."""

    foreign: ForeignModel | None = None
    _fitted: dict[tuple[str, int], tuple[GANModel, str]] = field(default_factory=dict)
    _control_text: str = ""

    def random_model_factory(self, spec: EvalSpec, real: Callable[[], ImageData]) -> Callable[[int], GANModel]:
        fm = self.foreign
        if fm is None or fm.known_architecture:
            self._control_text = (f"the registered architecture '{self.model_spec.name}' freshly initialised "
                                  "under the eval's seed, BatchNorm statistics recomputed on its inputs")
            return super().random_model_factory(spec, real)

        def make(seed: int) -> GANModel:
            key = (spec.name, seed)
            if key not in self._fitted:
                self._fitted[key] = self._fit_control(spec, seed)
            model, self._control_text = self._fitted[key]
            return model

        self._control_text = "none (the probe built no random control)"
        return make

    def probe_context(self, spec: EvalSpec, out_dir: Path, load_split: Callable[[str], ImageData] | None = None) -> Any:
        """As a run's; labelled samples whose subfolders are class names are matched to the
        dataset's names here, where its split is loaded."""
        bank = getattr(self.foreign, "model", None)
        if isinstance(bank, SampleBank) and bank.num_classes and bank.labels is None:
            train = (load_split or (lambda split: self.load_split(spec.dataset, split)))(spec.train_split)
            bank.use_labels(bank.num_classes, tuple(train.classes), f"dataset '{spec.dataset}'")
        return super().probe_context(spec, out_dir, load_split)

    def make_data_fit_model(self, seed: int, real: Any) -> Any:
        """The Gaussian fit of the run's controls, driven by the model's own latents. A folder of
        samples has no latent prior (z's first entry picks an image): the fit reads the standard
        normal entries after it."""
        from gansuite.evaluation.controls import GaussianFitModel

        bank = isinstance(getattr(self.foreign, "model", None), SampleBank)
        data = real()
        return GaussianFitModel(data.images, self.model.z_dim, seed=seed, device=_device(self.model.discriminator),
                                prior=None if bank else self.model.sample_z, offset=1 if bank else 0)

    def _fit_control(self, spec: EvalSpec, seed: int) -> tuple[GANModel, str]:
        if self.foreign is None:
            raise OptionError("No model trained elsewhere was loaded into this session.")
        model = self.foreign.model

        def real() -> ImageData:
            return self.load_split(spec.dataset, spec.train_split)

        # the same fitted generator the probes get as the gaussian-fit control: one fit per seed and dataset
        device = _device(model.discriminator)
        generator: torch.nn.Module | None = None
        if self.foreign.generator_bytes is not None and isinstance(model.generator, BlockChain):
            generator = _shuffled_chain(self.foreign.generator_bytes, model.generator, model.z_dim, device, seed)
            text = ("the generator file's network, run as its chain of blocks, with each weight tensor's entries "
                    "shuffled (seeded; BatchNorm statistics as the file has them)")
        if generator is None:
            fit = self.control(("gaussian-fit", seed, spec.dataset), lambda: self.make_data_fit_model(seed, real))
            generator = fit.eval_generator()
            text = (f"{fit.describe()}; split '{spec.train_split}' of {spec.dataset}; no architecture is known to "
                    "re-initialise")
        disc: torch.nn.Module = model.discriminator
        if self.foreign.discriminator_bytes is not None:
            disc = _FileDiscriminator(_shuffled_copy(self.foreign.discriminator_bytes, device, seed))
            text += "; D: the discriminator file's network with each weight tensor's entries shuffled (seeded)"
        return _Control(model, generator, disc), text

    def extra_provenance(self) -> dict[str, Any]:
        fm = self.foreign
        if fm is None:
            return {}
        out: dict[str, Any] = {"foreign": True, "sources": fm.sources, "random_control": self._control_text}
        if fm.weights_source:
            out["weights_source"] = fm.weights_source
        return out
