"""EGAN-Ent-NN of Dai et al. (ICLR 2017), Section 4.1: objective (1) with K = −H(p_gen), whose
generator gradient is estimated per sample from the k nearest neighbours in the batch,
eqs. (10)–(11): ∂ log p_gen(x_i)/∂x_i ≈ µ_i − x_i, µ_i the mean of x_i's k neighbours,
normalised to unit length and scaled by α. The surrogate α Σ_i ⟨sg(u_i), x_i⟩ (sg = no
gradient) has exactly that gradient; descending it moves each sample away from its
neighbours, which raises the entropy.

``knn_normalise``: ``unit`` is eq. (11) (and knn_nist/egan_knn.py); ``variance`` divides by the
per-dimension variance of the neighbourhood instead, as synthetic/egan_knn.py does (its unit
normalisation is commented out there). k = 20 neighbours and the sum over the batch come from
both scripts; α (``knn_scale``) per dataset from synthetic/egan_knn_state.py. On images (``net``
set) the neighbours are found between flattened images and u_i is normalised per image, as
knn_nist/egan_knn.py does (α = 2e-2 there, knn_nist/exp_state.py).
"""

from __future__ import annotations

import torch

from baselines.ebgan_common import (
    BUDGET,
    EGAN_HPARAMS,
    NEEDS,
    PER_DATASET_KEYS,
    AdversarialTraining,
    EnergyObjective,
    state_of,
)
from benchmark.api import Method, RunContext, register_method
from benchmark.hparams import REQUIRED, Choice, Float, Int


def knn_entropy_direction(x: torch.Tensor, k: int, normalise: str = "unit") -> torch.Tensor:
    """u_i ≈ ∂ log p_gen(x_i)/∂x_i from the batch itself (eq. 10), (n, 2), no gradient."""
    x = x.detach()
    dist = torch.cdist(x, x)
    # the k+1 closest include the point itself at distance 0
    idx = torch.topk(dist, k + 1, dim=1, largest=False).indices
    neighbours = x[idx[:, 1:]]  # (n, k, 2)
    diff = neighbours.mean(dim=1) - x
    if normalise == "unit":
        return diff / diff.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if normalise == "variance":
        var = x[idx].var(dim=1, unbiased=False)  # the neighbourhood including x_i, per dimension
        return diff / var.clamp_min(1e-12)
    raise ValueError(f"knn_normalise must be 'unit' or 'variance', not '{normalise}'")


class KNNEntropy:
    def __init__(self, k: int, scale: float, normalise: str) -> None:
        self.k, self.scale, self.normalise = k, scale, normalise

    def generator_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return (self.sample_grad(x, z) * x).sum()

    def update(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def sample_grad(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # images: neighbours by Euclidean distance between flattened images (knn_nist/egan_knn.py)
        flat = x.reshape(len(x), -1)
        k = min(self.k, len(x) - 1)  # a batch smaller than k + 1 (smoke budgets) uses all other samples
        return (self.scale * knn_entropy_direction(flat, k, self.normalise)).reshape(x.shape)


@register_method
class EGANEntNN(Method):
    name = "egan_ent_nn"
    description = "EGAN with the nearest-neighbour entropy gradient, eqs. (10)-(11)"
    hparams = {**EGAN_HPARAMS, "knn_k": Int(20, low=1), "knn_normalise": Choice("unit", ("unit", "variance")),
               "knn_scale": Float(REQUIRED, low=0, doc="α of eq. (11), per dataset in egan_knn_state.py")}
    budget = BUDGET
    dataset_defaults = state_of(PER_DATASET_KEYS)
    produces = ("train.frac_all_updates",)
    batch_family = "cegan_2d"  # the 2-D runs train together (baselines/ebgan_batched.py)
    provides = ("sampler", "noise_sampler", "energy", "gradient_fields if net=null", "features if net")
    needs = NEEDS

    def setup(self, ctx: RunContext) -> AdversarialTraining:
        hp = ctx.hparams
        term = KNNEntropy(int(hp["knn_k"]), float(hp["knn_scale"]), str(hp["knn_normalise"]))
        return AdversarialTraining(ctx, EnergyObjective(hp.get("margin")), energy_sign=1.0, entropy=term,
                                   label="EGAN-Ent-NN")
