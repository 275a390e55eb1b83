"""Inception score computed with a classifier trained on the dataset itself (Rosca et al. 2017 §5 and H.5;
Figure 5c), for model samples and for the test split (the paper's CIFAR-10 reference: 9.18), with the
classifier's test accuracy as a check that it learned. The classifiers and their training are
``benchmark/features/classifiers.py``'s; the samples' probabilities come from the run's one classifier pass,
which ``fid_classifier`` reads too, and the test split's numbers from the statistics cache.
"""

from __future__ import annotations

from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.features.classifiers import BUDGET as CLASSIFIER_BUDGET
from benchmark.features.classifiers import classifier_network
from benchmark.features.scores import score_from_probs
from benchmark.features.shared import BUDGET as SAMPLES_BUDGET
from benchmark.features.shared import budget_sizes, sample_outputs, test_statistics
from benchmark.threads import cpu_threads


@register_metric(
    "classifier_score",
    produces=["inception_score.classifier", "inception_score.classifier_test", "classifier.test_accuracy"],
    description="Inception score with a classifier trained on the dataset itself (H.5, Figure 5c)",
    version="2", needs_model=("sampler",), needs_dataset=("image_splits", "classifier"),
    budget={**SAMPLES_BUDGET, **CLASSIFIER_BUDGET},
)
def classifier_score(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    with cpu_threads(ctx):
        net = classifier_network(ctx)
        probs, _ = sample_outputs(result, ctx, net)
        test = test_statistics(ctx, net, labels=lambda: ctx.dataset.split_labels("test"))
    out = {"inception_score.classifier": score_from_probs(probs, budget_sizes(ctx)[1]),
           "inception_score.classifier_test": test.score}
    if test.accuracy is not None:
        out["classifier.test_accuracy"] = test.accuracy
    return out
