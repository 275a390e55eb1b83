"""Fréchet distance between model samples and the test split on the penultimate features of the dataset-trained
classifier of ``classifier_score`` (ours: Rosca et al. 2017 report no FID). The samples' features come from
the run's one classifier pass, the test split's mean and covariance from the statistics cache.
"""

from __future__ import annotations

from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.features.classifiers import BUDGET as CLASSIFIER_BUDGET
from benchmark.features.classifiers import classifier_network
from benchmark.features.scores import frechet, gaussian_fit
from benchmark.features.shared import BUDGET as SAMPLES_BUDGET
from benchmark.features.shared import sample_outputs, test_statistics
from benchmark.threads import cpu_threads


@register_metric("fid_classifier", produces=["fid.classifier"],
                 description="FID on the penultimate features of the dataset-trained classifier", version="2",
                 needs_model=("sampler",), needs_dataset=("image_splits", "classifier"),
                 budget={**SAMPLES_BUDGET, **CLASSIFIER_BUDGET})
def fid_classifier(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    with cpu_threads(ctx):
        net = classifier_network(ctx)
        _, features = sample_outputs(result, ctx, net)
        test = test_statistics(ctx, net, labels=lambda: ctx.dataset.split_labels("test"))
    return {"fid.classifier": frechet(gaussian_fit(features), (test.mean, test.cov))}
