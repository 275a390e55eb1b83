"""Which settings each family of batched training covers (``benchmark.batching`` trains them). The planner reads
this when it computes a run's identity (``Job.trainer``), so it is kept apart from the trainers: nothing here
imports torch or the code that runs a batch."""

from __future__ import annotations

from typing import Any

# family -> hyper-parameters (and budget keys) whose values the family's trainer implements; a run whose
# settings differ trains alone through its method's program
FAMILIES: dict[str, dict[str, Any]] = {
    # Dai et al. (2017) 2-D models: the fully connected pair of Appendix B.1, without the image options
    "cegan_2d": {"net": None, "smooth": 0.0, "l2": 0.0, "max_grad_norm": None, "energy_form": "identity",
                 # egan_knn.py's second Adam state for discriminator-only steps: trained alone, not batched
                 "separate_d_step_adam": False,
                 # q as a head on the discriminator's hidden layers (knn_nist/egan_knn.py's): trained alone
                 "vi_q": "separate",
                 # Lasagne's optimiser arithmetic (baselines/lasagne_updates.py): trained alone
                 "lasagne_updates": False},
}

# family -> settings every member of one batch shares (besides its steps and device, which the worker groups
# by), each with the value a run that leaves it out trains with (None: every run has it): the engine trains
# members that differ in them as separate batches, each with its own checkpoint, and the trainer checks it
SHARED: dict[str, dict[str, Any]] = {
    # one data batch shape for the stacked products; one BatchNorm epsilon, a scalar of the batched step, 1e-5
    # where a run leaves it out (baselines/ebgan_common.py BN_EPS_DEFAULT; a test checks they agree)
    "cegan_2d": {"batch_size": None, "bn_eps": 1e-5},
}

# family -> the devices on which runs of different methods train as separate batches although the trainer could
# mix them: a member computes the same numbers in any batch (VERSIONS below), so this is speed alone. On the CPU a
# mixed batch of the 2-D models carries every member through every method's extra work (the inference net's
# optimiser slots, each objective's costs) and larger tensors: Table 2's paper batches (18 members each, 2 threads,
# quiet) took 34.62 and 39.02 ms per step mixed against 31.77 and 30.85 by method, 70.7 against 63.2 minutes of
# training for the table (benchmarks/batched_apart.py; a second run 71.9 against 63.2). Not on a GPU, where a step
# is bound by its kernel launches (README, "On a GPU") and four batches would launch four times as many
METHODS_APART: dict[str, tuple[str, ...]] = {"cegan_2d": ("cpu",)}

# family -> version of its trainer's arithmetic, part of every batched run's identity (``Job.versions``): raised
# when the trainer computes other numbers for the same run
VERSIONS: dict[str, str] = {
    # 2: a member computes the same numbers in any batch as alone (batch-of-one products, scalar loop tails)
    "cegan_2d": "2",
}


def methods_apart(family: str, device: str) -> bool:
    """Whether the family's runs of different methods train as separate batches on ``device`` ("cpu", "cuda:0")."""
    return device.split(":")[0] in METHODS_APART.get(family, ())


def uncovered(family: str, hparams: dict[str, Any], budget: dict[str, Any]) -> list[str]:
    """The settings whose values the family's trainer does not implement (all of them for an unknown family)."""
    required = FAMILIES.get(family)
    if required is None:
        return sorted({**hparams, **budget})
    settings = {**hparams, **budget}
    return [key for key, value in required.items() if settings.get(key, value) != value]


def shared_values(family: str, hparams: dict[str, Any], budget: dict[str, Any]) -> tuple[Any, ...]:
    """The family's shared settings as a run trains with them (a hyper-parameter, else the budget key, else the
    declared default): runs with equal values may train as one batch."""
    return tuple(hparams.get(name, budget.get(name, default)) for name, default in SHARED.get(family, {}).items())


def covers(family: str, hparams: dict[str, Any], budget: dict[str, Any]) -> bool:
    return family in FAMILIES and not uncovered(family, hparams, budget)
