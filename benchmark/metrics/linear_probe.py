"""The linear probe of Dai et al. (ICLR 2017), Appendix B.5, Table 3: "we take the last-layer activation
of the converged discriminator network as fixed pretrained feature, and build a linear classifier upon
it ... a randomly initialized linear classifier is trained ... Based on 10 runs (with different
initialization)"; reported: min, mean and std of the test error (%).

The released code has no script for Table 3, so the classifier's training is ours: multinomial
logistic regression on the standardised features (mean and std from the training split), weights
drawn N(0, 0.01²) from the run's seed, Adam (lr ``probe_lr``, 1e-3) on minibatches of
``probe_batch`` (100) for ``probe_epochs`` (20) passes in a freshly shuffled order, a small weight decay
(``probe_weight_decay``, 1e-4). Each of the ``probe_runs`` (10) classifiers differs in its initial
weights and batch order, as the paper's 10 runs differ in their initialisation.

Features: ``model.features(x)`` (the discriminator's input to its final linear map; capability ``features``).
Labelled images: the dataset's ``labelled(split)`` (capability ``labelled_images``), every digit class.
Classifier k takes its initial weights and batch order from the run's stream "metric/linear_probe/run/k".
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.budget import read as read_budget
from benchmark.hparams import Float, Int

BUDGET = {
    "probe_runs": Int(10, low=1, doc="linear classifiers trained, each from its own initialisation (B.5: 10)"),
    "probe_epochs": Int(20, low=1, doc="passes of each classifier over the training split"),
    "probe_batch": Int(100, low=1, doc="the classifiers' minibatch size"),
    "probe_lr": Float(1e-3, low=0, doc="the classifiers' Adam learning rate"),
    "probe_weight_decay": Float(1e-4, low=0, doc="the classifiers' weight decay"),
}


def probe_errors(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 generators: list[torch.Generator], epochs: int = 20, batch: int = 100, lr: float = 1e-3,
                 weight_decay: float = 1e-4, device: torch.device | None = None) -> list[float]:
    """Test error (%) of linear classifiers on fixed features, one per generator (its initial
    weights and batch order)."""
    device = device or torch.device("cpu")
    mu, sd = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True).clamp_min(1e-6)
    xtr, xte = ((train_x - mu) / sd).to(device), ((test_x - mu) / sd).to(device)
    ytr, yte = train_y.long().to(device), test_y.long().to(device)
    classes = int(max(int(ytr.max()), int(yte.max())) + 1)
    errors = []
    for g in generators:
        weight = (torch.randn(xtr.shape[1], classes, generator=g) * 0.01).to(device).requires_grad_(True)
        bias = torch.zeros(classes, device=device, requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
        for _ in range(epochs):
            for idx in torch.randperm(len(xtr), generator=g).split(batch):
                idx = idx.to(device)
                loss = F.cross_entropy(xtr[idx] @ weight + bias, ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            wrong = ((xte @ weight + bias).argmax(1) != yte).double().mean()
        errors.append(100.0 * float(wrong))
    return errors


def summarise(errors: list[float]) -> dict[str, float]:
    e = np.asarray(errors)
    return {"probe.err_min": float(e.min()), "probe.err_mean": float(e.mean()),
            "probe.err_std": float(e.std(ddof=1)) if len(e) > 1 else 0.0}


@register_metric("linear_probe", produces=["probe.err_min", "probe.err_mean", "probe.err_std"],
                 description="Table 3: test error (%) of linear classifiers on last-layer discriminator features",
                 version="2", needs_model=("features",), needs_dataset=("labelled_images",), budget=BUDGET)
def linear_probe(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(contracts.LabelledImages, ctx.dataset)
    model = cast(contracts.Features, result.model)
    budget = read_budget(BUDGET, ctx.budget)
    train_x, train_y = ds.labelled("train")
    test_x, test_y = ds.labelled("test")
    f_train, f_test = model.features(train_x).float(), model.features(test_x).float()
    generators = [ctx.rng(f"metric/linear_probe/run/{k}") for k in range(int(budget["probe_runs"]))]
    errors = probe_errors(f_train, train_y, f_test, test_y, generators, epochs=int(budget["probe_epochs"]),
                          batch=int(budget["probe_batch"]), lr=float(budget["probe_lr"]),
                          weight_decay=float(budget["probe_weight_decay"]), device=ctx.device)
    return summarise(errors)
