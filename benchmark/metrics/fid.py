"""Fréchet distance between model samples and the test split (Heusel et al. 2017) on the pool-3 features of the
ImageNet Inception network of ``inception_score`` (needs its weights). Rosca et al. (2017) report no FID; it is
an extra read-out on the same samples and features: the samples' features come from the run's one Inception
pass, the test split's mean and covariance from the statistics cache (``benchmark/features/shared.py``).
"""

from __future__ import annotations

from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.features.inception import inception_network, inception_weights_path
from benchmark.features.scores import frechet, gaussian_fit
from benchmark.features.shared import BUDGET as SAMPLES_BUDGET
from benchmark.features.shared import sample_outputs, test_statistics


@register_metric("fid", produces=["fid.inception"],
                 description="FID on ImageNet Inception pool-3 features (weights from the data directory)",
                 requires=inception_weights_path, version="2", needs_model=("sampler",),
                 needs_dataset=("image_splits",), budget=SAMPLES_BUDGET)
def fid(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    net = inception_network(ctx)
    _, features = sample_outputs(result, ctx, net)
    test = test_statistics(ctx, net)
    return {"fid.inception": frechet(gaussian_fit(features), (test.mean, test.cov))}
