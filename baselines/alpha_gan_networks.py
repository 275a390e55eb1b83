"""What the image methods of Rosca et al. (2017), "Variational Approaches for Auto-Encoding GANs", share: DCGAN,
WGAN-GP, AGE and α-GAN train through ``ImageTraining`` (the loop's program: networks, optimisers, data and noise
streams, the generator snapshots for the independent critic) and return a ``GenerativeModel`` the metrics read.
The networks of Appendix H.4 and the priors of H.3 live in ``benchmark/nets/rosca.py``, since a metric (the
independent Wasserstein critic) builds them too; they are re-exported here for the methods.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from benchmark.api import RunContext
from benchmark.budget import read as read_budget
from benchmark.budget import replacing
from benchmark.contracts import Images, Samples, as_offered
from benchmark.hparams import Float, HParam, Int
from benchmark.loop import Program
from benchmark.nets.rosca import (  # noqa: F401 (the family's networks and priors, re-exported for its methods)
    LEAK,
    DCGANDiscriminator,
    DCGANEncoder,
    DCGANGenerator,
    Table3Discriminator,
    Table4Encoder,
    Table4Generator,
    code_discriminator,
    discriminator,
    encoder,
    generator,
    project_sphere,
    sample_prior,
)

# What every method of the family reads of its dataset (its ``needs``): training minibatches of images and
# their (C, H, W) shape, which sizes the networks
NEEDS = ("samples", "images")


def adam(params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=float(lr), betas=betas)


def draw_images(dataset: Samples, n: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return dataset.sample(n, rng).to(device)


def snapshot_steps(steps: int, count: int) -> list[int]:
    """Steps at which the generator is saved for the independent critic: half way, then evenly to the end
    (§5: "we only start training it half way through the training of our model")."""
    if steps <= 0 or count <= 0:
        return []
    half = max(1, steps // 2)
    if count == 1:
        return [steps]
    return sorted({half + round(i * (steps - half) / (count - 1)) for i in range(count)})


@dataclass
class GenerativeModel:
    """What every method of this family hands to the metrics.

    ``snapshots``: (step, generator state) from half way to the end, for the independent critic;
    ``encoder``: codes for the latent statistics (α-GAN, AGE), None for DCGAN and WGAN-GP.
    """

    generator: nn.Module
    latent_dim: int
    prior: str
    device: torch.device
    image_shape: tuple[int, int, int]
    steps: int
    encoder: nn.Module | None = None
    snapshots: list[tuple[int, dict[str, torch.Tensor]]] = field(default_factory=list)

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator, state: dict[str, torch.Tensor] | None = None,
               batch: int = 500) -> torch.Tensor:
        """n images in [-1, 1] (on CPU) from the final generator, or from a saved ``state``."""
        net = self.generator
        if state is not None:
            net = copy.deepcopy(self.generator)
            net.load_state_dict(state)
        net.eval()
        out = []
        for start in range(0, n, batch):
            z = sample_prior(min(batch, n - start), self.latent_dim, self.prior, rng).to(self.device)
            out.append(net(z).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
        if self.encoder is None:
            raise ValueError("this model has no encoder")
        self.encoder.eval()
        codes = [self.encoder(x[i:i + batch].to(self.device)).cpu() for i in range(0, len(x), batch)]
        out = torch.cat(codes)
        return project_sphere(out) if self.prior == "sphere" else out


class SnapshotRecorder:
    """Saves generator states at ``snapshot_steps`` during training."""

    def __init__(self, steps: int, count: int) -> None:
        self.at = set(snapshot_steps(steps, count))
        self.saved: list[tuple[int, dict[str, torch.Tensor]]] = []

    def __call__(self, step: int, net: nn.Module) -> None:
        if step in self.at:
            self.saved.append((step, {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}))

    def state_dict(self) -> dict[str, Any]:
        return {"saved": list(self.saved)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.saved = list(state["saved"])


def image_shape(dataset: Any) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in as_offered(dataset, Images).image_shape)
    if len(shape) != 3:
        raise ValueError(f"{dataset.name}: expected a (channels, height, width) image_shape, got {shape}")
    return shape  # type: ignore[return-value]


# ------------------------------------------------------------------------------- shared training


@dataclass
class Setup:
    """The settings every method of the family reads from its hyper-parameters (H: Adam β = (0.5, 0.9),
    batch 64, fixed learning rates)."""

    shape: tuple[int, int, int]
    latent_dim: int
    width: float
    batch_size: int
    betas: tuple[float, float]
    device: torch.device
    snapshots: int

    @classmethod
    def from_ctx(cls, ctx: Any, hp: dict[str, Any]) -> Setup:
        budget = read_budget(BUDGET, ctx.budget)
        # a profile may scale the networks (budget.width, e.g. cpu: the engine puts it in hp); the paper's is 1.0
        return cls(shape=image_shape(ctx.dataset), latent_dim=int(hp["latent_dim"]), width=float(hp["width"]),
                   batch_size=int(hp["batch_size"]), betas=(float(hp["beta1"]), float(hp["beta2"])),
                   device=ctx.device, snapshots=int(budget["critic_snapshots"]))


# What the family reads of a profile's budget (every method of the family declares it as its ``budget``)
BUDGET: dict[str, HParam] = {
    "width": replacing("width", Float(None, low=0, doc="replaces the width hyper-parameter, the channel "
                                                      "multiplier of the networks (1.0: the paper's); null: the "
                                                      "hyper-parameter")),
    "critic_snapshots": Int(4, low=1, doc="generator states kept from the second half of training, which the "
                                          "independent critic is trained against"),
}

COMMON_HPARAMS: dict[str, HParam] = {
    "latent_dim": Int(10, low=1), "width": Float(1.0, low=0, doc="channel multiplier (a profile's budget may set it)"),
    "batch_size": Int(64, low=1), "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.9, low=0, high=1)}


def l1(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """‖x − x̂‖₁ as the mean absolute difference per pixel (the scale at which H.1's coefficients 1–50 and
    100–2000 are meaningful; a per-image sum would multiply them by C·H·W)."""
    return (x - x_rec).abs().mean()


def empirical_kl(codes: torch.Tensor) -> torch.Tensor:
    """Eq. 18 divided by the latent size n (Appendix D): with per-dimension minibatch mean m_i and
    standard deviation s_i, (1/n)·[−n/2 + Σ_i ((s_i² + m_i²)/2 − log s_i)]."""
    m = codes.mean(dim=0)
    s = codes.std(dim=0).clamp_min(1e-6)
    return ((s**2 + m**2) / 2.0 - torch.log(s)).mean() - 0.5


class ImageTraining(Program):
    """What every method of the family shares (Appendix H: Adam β = (0.5, 0.9), batch 64, fixed learning
    rates): its settings, the data and prior streams, and the generator snapshots the independent critic reads.
    Subclasses build their networks and optimisers, add them to ``parts``, and implement ``step``."""

    prior_kind = "normal"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.hp, self.data = ctx.hparams, as_offered(ctx.dataset, Samples)
        self.s = Setup.from_ctx(ctx, ctx.hparams)
        self.steps = ctx.steps
        self.snap = SnapshotRecorder(ctx.steps, self.s.snapshots)
        self.parts = {"snapshots": self.snap}
        self.streams = {"data": ctx.rng("data"), "prior": ctx.rng("prior")}

    def images(self) -> torch.Tensor:
        return draw_images(self.data, self.s.batch_size, self.streams["data"], self.s.device)

    def prior(self) -> torch.Tensor:
        return sample_prior(self.s.batch_size, self.s.latent_dim, self.prior_kind, self.streams["prior"]).to(
            self.s.device)

    def model(self, net: nn.Module, codes: nn.Module | None = None) -> GenerativeModel:
        """The trained generator ``net`` (and encoder ``codes``) with the snapshots, for the metrics."""
        s = self.s
        return GenerativeModel(net, s.latent_dim, self.prior_kind, s.device, s.shape, self.steps,
                               encoder=codes, snapshots=self.snap.saved)
