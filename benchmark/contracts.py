"""Capabilities: what a metric may ask of a trained model and of a dataset, and what a method may ask of a
dataset, declared instead of probed.

A metric declares what it needs (``register_metric(..., needs_model=(...), needs_dataset=(...))``), a method
what its trained model (``TrainResult.model``) provides (``Method.provides``) and what it reads of its dataset
(``Method.needs``, ``Method.uses_if_offered``), a dataset what it offers (``Dataset.offers``). Each capability
below is a name and a ``typing.Protocol`` that says exactly which attributes a metric or a method may use;
``bench validate`` rejects a suite whose experiment pairs a metric with a method or a dataset, or a method with
a dataset, that lacks one of its needs, so an impossible pairing never reaches a run (``validate.py``).

Declarations are plain strings, so that the engine can read them without importing torch (this module
imports neither torch nor any plug-in). Where what a plug-in provides depends on its parameters, the string
says so with a condition on them, evaluated on the method's resolved hyper-parameters or on the dataset's
parameters (its constructor defaults under the suite's values)::

    "features if net"                              # hyper-parameter net is set (not null, false, 0 or "")
    "linear_gaussian if generator=linear and loss=squared"
    "validation_split if n_valid!=0"

A plug-in file may add a capability of its own beside its dataset or method, with ``register_capability``
on its protocol, so that nothing here changes for it (``docs/adding-a-paper.md``); the built-in ones below are
registered the same way.

Values are read like YAML scalars (``null``, ``true``, numbers, else strings). Nothing else is allowed: a
condition that needs more logic than that is a sign the capability should be split.

A method's ``needs`` take conditions on its hyper-parameters the same way, and may name alternatives, any one
of which will do (the method then reads whichever ``offered(dataset)`` says is there)::

    "train_set if net=null"
    "train_set or image_splits if net"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from benchmark.registry import Registry, origin

if TYPE_CHECKING:  # the protocols are documentation and runtime checks; nothing here needs torch at import
    import numpy as np
    import torch
    from torch import nn

KINDS = ("model", "dataset")
# name -> its protocol, per kind; None where only the declaration is known: a process that read the plug-ins'
# declarations from the catalog's cache knows a plug-in's capability by name and phrase without importing it
MODEL_CAPABILITIES: Registry[type | None] = Registry("model capability")
DATASET_CAPABILITIES: Registry[type | None] = Registry("dataset capability")
# one phrase per capability, for error messages and listings
DESCRIPTIONS: dict[str, str] = {}


def _table(kind: str) -> Registry[type | None]:
    if kind not in KINDS:
        raise ValueError(f"a capability is of kind 'model' or 'dataset', not {kind!r}")
    return MODEL_CAPABILITIES if kind == "model" else DATASET_CAPABILITIES


def declare_capability(kind: str, name: str, protocol: type | None, description: str, where: str) -> None:
    """Add capability ``name`` of ``kind``; a name is one capability, of one kind, defined in one place."""
    table = _table(kind)
    other = DATASET_CAPABILITIES if table is MODEL_CAPABILITIES else MODEL_CAPABILITIES
    if name in other:
        raise ValueError(f"capability '{name}' is already a {other.kind} ({where} declares it a {kind} one)")
    if not description:
        raise ValueError(f"capability '{name}' ({where}) needs a description")
    if protocol is None and name in table:  # the protocol itself was imported already: keep it
        return
    table.add(name, protocol, where)
    DESCRIPTIONS[name] = description


def register_capability(kind: str, name: str, description: str) -> Callable[[type], type]:
    """Decorator for a ``typing.Protocol`` (``@runtime_checkable``) that becomes capability ``name``: a method's
    model (kind "model") or a dataset (kind "dataset") may then declare it in ``provides`` or ``offers``, and a
    metric or a method may need it. ``description`` is the phrase error messages show. A plug-in file may
    register its own: the name is refused when any other definition holds it."""

    def wrap(protocol: type) -> type:
        declare_capability(kind, name, protocol, description, origin(protocol))
        return protocol

    return wrap


def capability_origins() -> dict[str, tuple[str, str, str]]:
    """name -> (kind, description, where it is defined), for the catalog's cache."""
    return {name: (table.kind.split()[0], DESCRIPTIONS[name], table.origin_of(name))
            for table in (MODEL_CAPABILITIES, DATASET_CAPABILITIES) for name in table}


# ------------------------------------------------------------------------------------ model capabilities


@register_capability("model", "sampler", "draws samples: sample(n, rng)")
@runtime_checkable
class Sampler(Protocol):
    """``sampler``: ``sample(n, rng)`` returns n draws from the model on the CPU, shaped like the dataset's data
    (images (n, C, H, W) in the dataset's value range, points (n, d)). All randomness comes from ``rng``."""

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("model", "noise_sampler", "draws samples with a chosen latent law: sample(n, rng, noise=...)")
@runtime_checkable
class NoiseSampler(Protocol):
    """``noise_sampler``: a sampler whose latent law can be chosen per call, ``sample(n, rng, noise=kind)`` with
    kind ``"normal"`` or ``"uniform"`` (on [-1, 1]); Dai et al.'s ranking script draws U(-1, 1) although the
    model trained on N(0, I)."""

    def sample(self, n: int, rng: torch.Generator, noise: str | None = None) -> torch.Tensor: ...


@register_capability("model", "energy", "a learned energy: energy(x)")
@runtime_checkable
class Energy(Protocol):
    """``energy``: ``energy(x)`` is the learned energy c(x) of each row of x (float, (n,), low on data; inputs
    flat or shaped like the data), and ``label`` the method's name as the paper prints it, for figure titles."""

    label: str

    def energy(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "gradient_fields",
                     "per-sample generator gradients on 2-D samples: sample_gradients(n, rng)")
@runtime_checkable
class GradientFields(Protocol):
    """``gradient_fields``: ``sample_gradients(n, rng)`` returns, for one training-mode batch of n generated 2-D
    points, ``{"x", "disc", "ent", "total"}`` each (n, 2): the points and the per-sample gradients w.r.t. them
    of the generator's discriminator term, its entropy term (zeros without one) and their sum;
    ``batch_size`` is the training batch size."""

    batch_size: int

    def sample_gradients(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]: ...


@register_capability("model", "features", "fixed features of inputs: features(x)")
@runtime_checkable
class Features(Protocol):
    """``features``: ``features(x)`` maps inputs (rows of flat images in the dataset's range) to fixed feature
    vectors (n, k): the trained discriminator's last-layer activation (Dai et al. Appendix B.5)."""

    def features(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "encoder", "an encoder: encode(x)")
@runtime_checkable
class Encoder(Protocol):
    """``encoder``: ``encode(x)`` maps images (n, C, H, W) to latent codes (n, latent_dim) on the CPU."""

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "generator_snapshots",
                     "the generator and its states saved from half way through training")
@runtime_checkable
class GeneratorSnapshots(Protocol):
    """``generator_snapshots``: the generator as a module and its states saved from half way through training,
    for a critic that replays the second half (Rosca et al. 2017 §5). ``snapshots`` lists (step, state_dict)
    in step order (empty: only the final generator); ``generator(z)`` maps prior draws (``prior`` "normal"
    or "sphere", ``latent_dim`` wide, on ``device``) to images of ``image_shape`` (C, H, W); ``steps`` is the
    number of training steps run."""

    generator: nn.Module
    snapshots: list[tuple[int, dict[str, torch.Tensor]]]
    latent_dim: int
    prior: str
    device: torch.device
    image_shape: tuple[int, int, int]
    steps: int


@register_capability("model", "discriminator", "a GAN discriminator's logits: logits(x)")
@runtime_checkable
class Discriminator(Protocol):
    """``discriminator``: ``logits(x)`` is the trained discriminator's logit of D(x) = P(x is data), (n,) on the
    CPU, for inputs shaped like the dataset's samples."""

    def logits(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "critic", "a Wasserstein critic: values(x), grad_norms(x)")
@runtime_checkable
class Critic(Protocol):
    """``critic``: a Wasserstein critic f: ``values(x)`` is f(x), (n,); ``grad_norms(x)`` is ‖∇f(x)‖, (n,)."""

    def values(self, x: torch.Tensor) -> torch.Tensor: ...

    def grad_norms(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "gan_networks", "the differentiable generator and discriminator networks")
@runtime_checkable
class GANNetworks(Protocol):
    """``gan_networks``: the trained networks themselves, differentiable: ``generator`` maps (n, latent_dim)
    normal draws to samples, ``discriminator`` maps samples to logits (n, 1), both on the same device."""

    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int


@register_capability("model", "info_codes", "an InfoGAN categorical code with its Q head")
@runtime_checkable
class InfoCodes(Protocol):
    """``info_codes``: an InfoGAN's categorical code: ``code_probs`` (the prior), ``draw_codes(n, rng)``,
    ``generate(z, codes)`` with z (n, latent_dim) normal on ``device``, ``q_logits(x)`` the logits of Q(c | x)."""

    code_probs: torch.Tensor
    latent_dim: int
    device: torch.device

    def draw_codes(self, n: int, rng: torch.Generator) -> torch.Tensor: ...

    def generate(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor: ...

    def q_logits(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("model", "entropic_coupling", "an entropic GAN's generator and dual critics")
@runtime_checkable
class EntropicCoupling(Protocol):
    """``entropic_coupling``: an entropic GAN's generator and dual critics (Balaji et al. 2019):
    ``generate(x)`` for latents (..., latent_dim), ``d1(y)``, ``d2(y_hat)`` and the loss ``cost(y, y_hat)`` over
    the last axis (``dim`` wide), ``log_c()`` the normaliser of exp(−ℓ/λ), ``lam`` = λ."""

    lam: float
    latent_dim: int
    dim: int

    def generate(self, x: torch.Tensor) -> torch.Tensor: ...

    def d1(self, y: torch.Tensor) -> torch.Tensor: ...

    def d2(self, y_hat: torch.Tensor) -> torch.Tensor: ...

    def cost(self, y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor: ...

    def log_c(self) -> float: ...


@register_capability("model", "linear_gaussian", "a linear generator with the squared loss (closed-form likelihood)")
@runtime_checkable
class LinearGaussian(Protocol):
    """``linear_gaussian``: an entropic GAN whose marginal f_Y has a closed form: ``linear_parameters()`` returns
    (A, b) of the linear generator G(x) = Ax + b (float64, CPU) and the loss is squared (``loss`` "squared");
    ``critics`` holds the dual critics (quadratic ones match ``QuadraticCritics``)."""

    loss: str
    critics: Any

    def linear_parameters(self) -> tuple[torch.Tensor, torch.Tensor] | None: ...


@runtime_checkable
class QuadraticCritics(Protocol):
    """Not a declared capability but an optional part of ``linear_gaussian``: critics D2(y) = yᵀM2y + w2ᵀy + c2,
    whose parameters ``m2`` and ``w2`` give the entropic bound in closed form."""

    m2: torch.Tensor
    w2: torch.Tensor


# ---------------------------------------------------------------------------------- dataset capabilities


@register_capability("dataset", "samples", "draws from p_data: sample(n, rng)")
@runtime_checkable
class Samples(Protocol):
    """``samples``: ``sample(n, rng)`` draws n samples of p_data (the training distribution) on the CPU."""

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("dataset", "flat_samples", "samples are flat vectors: dim, sample(n, rng) of shape (n, dim)")
@runtime_checkable
class FlatSamples(Protocol):
    """``flat_samples``: every sample is a flat vector of ``dim`` coordinates: ``sample(n, rng)`` is (n, dim)
    (images flattened), what a fully connected network reads."""

    dim: int

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("dataset", "latent_dim", "the latent width the data was made with: latent_dim")
@runtime_checkable
class LatentDim(Protocol):
    """``latent_dim``: the data was made from ``latent_dim`` latent coordinates, a natural latent width for a
    model of it."""

    latent_dim: int


@register_capability("dataset", "density", "the exact log-density: log_density(x)")
@runtime_checkable
class Density(Protocol):
    """``density``: ``log_density(x)`` is the exact log p_data of each row of x, float64 (n,)."""

    def log_density(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("dataset", "model_distribution",
                     "a fixed model distribution beside p_data: sample_data, sample_model")
@runtime_checkable
class ModelDistribution(Protocol):
    """``model_distribution``: a fixed model distribution p_g next to p_data: ``sample_data(n, rng)`` and
    ``sample_model(n, rng)``, each (n, d)."""

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor: ...

    def sample_model(self, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("dataset", "exact_divergences", "the exact JSD and W1 between p_data and the model distribution")
@runtime_checkable
class ExactDivergences(Protocol):
    """``exact_divergences``: ``jsd_exact()`` = JSD(p_data, p_g) and ``wasserstein_exact()`` = W1(p_data, p_g)."""

    def jsd_exact(self) -> float: ...

    def wasserstein_exact(self) -> float: ...


@register_capability("dataset", "density_pair_1d", "exact 1-D densities of p_data and p_g")
@runtime_checkable
class DensityPair1D(Protocol):
    """``density_pair_1d``: 1-D p_data and p_g with exact densities: ``log_density_data(x)``,
    ``log_density_model(x)``, ``optimal_discriminator(x)`` = p_data/(p_data + p_g) (any shape, float64),
    ``support()`` an integration interval, ``breakpoints()`` where the densities peak, ``grid(n)`` (n, 1)."""

    def log_density_data(self, x: torch.Tensor) -> torch.Tensor: ...

    def log_density_model(self, x: torch.Tensor) -> torch.Tensor: ...

    def optimal_discriminator(self, x: torch.Tensor) -> torch.Tensor: ...

    def support(self) -> tuple[float, float]: ...

    def breakpoints(self) -> tuple[float, ...]: ...

    def grid(self, n: int = 2001) -> torch.Tensor: ...


@register_capability("dataset", "canvas", "the 2-D grid of Table 2: canvas, grid_pdata(), grid_pemp()")
@runtime_checkable
class Canvas(Protocol):
    """``canvas``: the 2-D grid of Table 2 (Dai et al. 2017, Appendix B.2): ``canvas`` with ``points()`` (the
    width² cell centres), ``histogram(x)``, ``lo``, ``hi``, ``width``, ``xs``, ``ys``; ``grid_pdata()`` and
    ``grid_pemp()`` are p_data and the training set's histogram on it (read-only arrays)."""

    canvas: Any

    def grid_pdata(self) -> np.ndarray: ...

    def grid_pemp(self) -> np.ndarray: ...


@register_capability("dataset", "mixture",
                     "Gaussian-mixture components: means, weights, variances, nearest_component(x)")
@runtime_checkable
class Mixture(Protocol):
    """``mixture``: p_data is a Gaussian mixture with diagonal covariances: ``means`` (K, d), ``weights`` (K,),
    ``variances`` (K, d) (component k's variance along each axis), all float64, and ``nearest_component(x)``
    the index of the closest mean for each row."""

    means: torch.Tensor
    weights: torch.Tensor
    variances: torch.Tensor

    def nearest_component(self, x: torch.Tensor) -> torch.Tensor: ...


@register_capability("dataset", "train_set", "a fixed training set: train_samples()")
@runtime_checkable
class TrainSet(Protocol):
    """``train_set``: ``train_samples()`` is the fixed training set, (n, d) (images flat, in [0, 1] or the
    dataset's range)."""

    def train_samples(self) -> torch.Tensor: ...


@register_capability("dataset", "test_set", "a fixed test set: test_samples()")
@runtime_checkable
class TestSet(Protocol):
    """``test_set``: ``test_samples()`` is the fixed test set, laid out as ``train_samples()``."""

    def test_samples(self) -> torch.Tensor: ...


@register_capability("dataset", "images", "images of a known (C, H, W) shape")
@runtime_checkable
class Images(Protocol):
    """``images``: samples are images of ``image_shape`` = (C, H, W) (flat samples reshape to it)."""

    image_shape: tuple[int, int, int]


@register_capability("dataset", "labelled_images", "labelled images of every class: labelled(split)")
@runtime_checkable
class LabelledImages(Protocol):
    """``labelled_images``: ``labelled(split)`` for split "train" or "test" returns (flat images float32 in
    [0, 1], int64 labels) of every class of the dataset, whichever classes it trains on."""

    def labelled(self, split: str) -> tuple[torch.Tensor, torch.Tensor]: ...


@register_capability("dataset", "image_splits", "image splits in [-1, 1]: split(name), sample_split(name, n, rng)")
@runtime_checkable
class ImageSplits(Protocol):
    """``image_splits``: ``split("test")`` is the fixed test split, (n, C, H, W) float32 in [-1, 1];
    ``sample_split(name, n, rng)`` draws from a split with replacement; ``image_shape`` is (C, H, W)."""

    image_shape: tuple[int, int, int]

    def split(self, name: str) -> torch.Tensor: ...

    def sample_split(self, name: str, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("dataset", "validation_split", "a non-empty held-out 'valid' split")
@runtime_checkable
class ValidationSplit(Protocol):
    """``validation_split``: a non-empty held-out ``split("valid")`` (and ``sample_split("valid", ...)``), for a
    critic trained apart from the model (Rosca et al. 2017 §5)."""

    def split(self, name: str) -> torch.Tensor: ...

    def sample_split(self, name: str, n: int, rng: torch.Generator) -> torch.Tensor: ...


@register_capability("dataset", "classifier",
                     "what a dataset-trained classifier needs: classifier_kind, classifier_data(), split_labels(name)")
@runtime_checkable
class Classifier(Protocol):
    """``classifier``: what a dataset-trained classifier needs: ``classifier_kind`` ("cifar_vgg" or
    "stacked_digits"), ``classifier_data()`` its training images and labels, ``split_labels(name)`` the labels
    of ``split(name)``."""

    classifier_kind: str

    def classifier_data(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def split_labels(self, name: str) -> torch.Tensor: ...


@register_capability("dataset", "evaluation_sets", "named sets to score: evaluation_sets()")
@runtime_checkable
class EvaluationSets(Protocol):
    """``evaluation_sets``: ``evaluation_sets()`` names fixed sets of flat samples to score; the main one is
    "heldout" when present, else the first."""

    def evaluation_sets(self) -> dict[str, torch.Tensor]: ...


# ------------------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Declared:
    """One entry of ``offers``/``provides``: a capability and the conditions under which it holds."""

    name: str
    conditions: tuple[tuple[str, str, Any], ...] = ()  # (key, "=" | "!=" | "set", value)

    def holds(self, params: Mapping[str, Any]) -> bool:
        for key, op, value in self.conditions:
            given = params.get(key)
            if op == "set" and given in (None, False, 0, ""):
                return False
            if op == "=" and given != value:
                return False
            if op == "!=" and given == value:
                return False
        return True

    def describe_conditions(self) -> str:
        parts = [f"{key} is set" if op == "set" else f"{key}{op}{_show(value)}" for key, op, value in self.conditions]
        return " and ".join(parts)


def _scalar(text: str) -> Any:
    low = text.strip().lower()
    if low in ("null", "none", "~"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _show(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def parse(entry: str) -> Declared:
    """``"name"`` or ``"name if key [and key=value] [and key!=value]"``."""
    name, _, rest = entry.partition(" if ")
    conditions = []
    for cond in filter(None, (c.strip() for c in rest.split(" and "))) if rest else ():
        if "!=" in cond:
            key, value = cond.split("!=", 1)
            conditions.append((key.strip(), "!=", _scalar(value)))
        elif "=" in cond:
            key, value = cond.split("=", 1)
            conditions.append((key.strip(), "=", _scalar(value)))
        else:
            conditions.append((cond, "set", None))
    if rest and not conditions:
        raise ValueError(f"capability declaration {entry!r}: 'if' without a condition")
    return Declared(name.strip(), tuple(conditions))


def declared(entries: Iterable[str], kind: str) -> list[Declared]:
    """Parse declarations and check their names against the capabilities of ``kind`` ("model" or "dataset")."""
    table = MODEL_CAPABILITIES if kind == "model" else DATASET_CAPABILITIES
    out = [parse(e) for e in entries]
    unknown = [d.name for d in out if d.name not in table]
    if unknown:
        raise ValueError(f"unknown {kind} capabilities {unknown} (known: {', '.join(sorted(table))})")
    return out


def resolve(entries: Iterable[str], params: Mapping[str, Any], kind: str) -> frozenset[str]:
    """The capabilities that hold for these parameters."""
    return frozenset(d.name for d in declared(entries, kind) if d.holds(params))


def constructor_defaults(cls: type) -> dict[str, Any]:
    """A dataset class's parameter defaults, read from its constructor's signature (every class's params are its
    keyword arguments), so that a condition sees the value a dataset built without that parameter has."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.default is not inspect.Parameter.empty and p.name != "data_dir":
                out[p.name] = p.default
    return out


def dataset_offers(cls: Any, params: Mapping[str, Any] | None = None) -> frozenset[str]:
    """What a dataset class offers with these parameters (the suite's ``params`` of the dataset)."""
    return resolve(cls.offers, {**constructor_defaults(cls), **(params or {})}, "dataset")


def offered(dataset: Any) -> frozenset[str]:
    """What a built dataset offers: its class's declaration under its own parameters. A metric reads an optional
    part of a dataset (e.g. an exact value to print beside its estimate) only when this says it is there."""
    return dataset_offers(type(dataset), dataset.params)


def method_provides(cls: Any, hparams: Mapping[str, Any]) -> frozenset[str]:
    """What a method's trained model provides under these resolved hyper-parameters."""
    return resolve(cls.provides, hparams, "model")


def missing_reason(entries: Iterable[str], name: str, kind: str, have: Iterable[str]) -> str:
    """Why ``name`` is not among what ``entries`` give: not declared at all (then what is), or declared under
    conditions that do not hold."""
    matches = [d for d in declared(entries, kind) if d.name == name]
    if not matches:
        return "it has: " + (", ".join(sorted(have)) or "nothing declared")
    return "only " + " or ".join(f"when {d.describe_conditions()}" for d in matches)


# ------------------------------------------------------------------------------------ what methods need


def need_options(entry: Declared) -> tuple[str, ...]:
    """The alternatives of one ``needs`` entry: ``"train_set or image_splits"`` is satisfied by either."""
    return tuple(option.strip() for option in entry.name.split(" or "))


def declared_needs(entries: Iterable[str]) -> list[Declared]:
    """Parse a method's ``needs`` (or ``uses_if_offered``) and check every alternative is a dataset capability."""
    out = [parse(e) for e in entries]
    unknown = [o for d in out for o in need_options(d) if o not in DATASET_CAPABILITIES]
    if unknown:
        raise ValueError(f"unknown dataset capabilities {unknown} (known: {', '.join(sorted(DATASET_CAPABILITIES))})")
    return out


def method_needs(cls: Any, hparams: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """What a method needs of its dataset under these resolved hyper-parameters: for each need that holds, the
    alternatives of which the dataset must offer one."""
    return [need_options(d) for d in declared_needs(cls.needs) if d.holds(hparams)]


def unmet_needs(cls: Any, hparams: Mapping[str, Any], offers: Iterable[str]) -> list[tuple[str, ...]]:
    """The needs of a method (see ``method_needs``) of which a dataset offering ``offers`` has no alternative."""
    have = set(offers)
    return [options for options in method_needs(cls, hparams) if not have.intersection(options)]


Capability = TypeVar("Capability")


def as_offered(dataset: Any, capability: type[Capability]) -> Capability:
    """The dataset seen through a capability its method ``needs``, the typed view a method reads it through
    instead of probing it (bench validate has checked the pairing). Called once when a run sets up, so that a
    pairing made by hand (a test's context) fails there, naming what is missing, rather than deep in a step."""
    if not isinstance(dataset, capability):
        name = next((n for n, c in DATASET_CAPABILITIES.items() if c is capability), capability.__name__)
        raise TypeError(f"dataset {type(dataset).__name__} does not offer '{name}'")
    return dataset
