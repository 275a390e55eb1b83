"""EGAN-Const of Dai et al. (ICLR 2017): objective (1) with K(p_gen) constant, i.e. eq. (8),
max_c min_G E_gen c(x) − E_data c(x). No entropy term, so by eq. (7) the optimal energy is flat
on the data support. Same networks, loop and per-dataset settings as the EGAN-Ent models
(``synthetic/egan_knn.py`` / ``egan_knn_state.py`` with the entropy term removed; the
original has no separate script for it).
"""

from __future__ import annotations

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


@register_method
class EGANConst(Method):
    name = "egan_const"
    description = "energy-based GAN, objective (1) with constant K (no entropy term)"
    hparams = EGAN_HPARAMS
    budget = BUDGET
    dataset_defaults = state_of(tuple(k for k in PER_DATASET_KEYS if k in EGAN_HPARAMS))
    produces = ("train.frac_all_updates",)
    batch_family = "cegan_2d"  # the 2-D runs train together (baselines/ebgan_batched.py)
    provides = ("sampler", "noise_sampler", "energy", "gradient_fields if net=null", "features if net")
    needs = NEEDS

    def setup(self, ctx: RunContext) -> AdversarialTraining:
        return AdversarialTraining(ctx, EnergyObjective(ctx.hparams.get("margin")), energy_sign=1.0, label="EGAN-Const")
