"""Fréchet distance between model samples and the test split (Heusel et al. 2017), through pytorch-fid's
``calculate_frechet_distance``, on the features of the two Inception-score networks:

- ``fid``: pool-3 features of the ImageNet Inception of ``inception_score.py`` (needs its weights);
- ``fid_classifier``: penultimate features of the dataset-trained classifier of ``classifier_score.py``.

Rosca et al. (2017) report no FID; it is an extra read-out on the same samples and features.
"""

from __future__ import annotations

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from baselines.alpha_gan_networks import cpu_threads
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.metrics.classifier_score import classifier_and_kind, classify
from benchmark.metrics.inception_score import data_dir_of, inception_outputs, inception_weights_path, load_inception

_SAMPLES = 8_301


def frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    fa, fb = a.double().numpy(), b.double().numpy()
    return float(calculate_frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                                            np.cov(fb, rowvar=False)))


@register_metric("fid", produces=["fid.inception"],
                 description="FID on ImageNet Inception pool-3 features (weights from the data directory)",
                 requires=inception_weights_path)
def fid(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    net = load_inception(data_dir_of(ctx), ctx.device)
    n = int(ctx.budget.get("is_samples", 10_000))
    samples = result.model.sample(n, ctx.rng(_SAMPLES))
    test = ctx.dataset.split("test")[:n]
    return {"fid.inception": frechet(inception_outputs(net, samples, ctx.device)[1],
                                     inception_outputs(net, test, ctx.device)[1])}


@register_metric("fid_classifier", produces=["fid.classifier"],
                 description="FID on the penultimate features of the dataset-trained classifier")
def fid_classifier(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    n = int(ctx.budget.get("is_samples", 10_000))
    with cpu_threads(ctx):
        net, kind = classifier_and_kind(ctx)
        samples = result.model.sample(n, ctx.rng(_SAMPLES))
        f_samples = classify(net, kind, samples, ctx.device)[1]
        f_test = classify(net, kind, ctx.dataset.split("test")[:n], ctx.device)[1]
    return {"fid.classifier": frechet(f_samples, f_test)}
