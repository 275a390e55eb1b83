"""Inception score with the ImageNet Inception network (Salimans et al. 2016; Rosca et al. 2017 §5):
exp(E_x KL(p(y|x) ‖ p(y))) over the network's 1008 outputs, for model samples and, as the paper's reference,
for the test split (Figure 5b caption: 11.25 on CIFAR-10 test data). The score is the mean over ``is_splits``
equal splits (Salimans et al. use 10) of ``is_samples`` images.

The network and its weights file are ``benchmark/features/inception.py``'s. The samples' class probabilities
come from the run's one Inception pass, which ``fid`` reads too; the test split's score from the statistics
cache (``benchmark/features/shared.py``).
"""

from __future__ import annotations

from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.features.inception import inception_network, inception_weights_path
from benchmark.features.scores import score_from_probs
from benchmark.features.shared import BUDGET as SAMPLES_BUDGET
from benchmark.features.shared import budget_sizes, sample_outputs, test_statistics


@register_metric(
    "inception_score",
    produces=["inception_score.imagenet", "inception_score.imagenet_test"],
    description="Inception score with pytorch-fid's ImageNet InceptionV3 (weights from the data directory)",
    requires=inception_weights_path, version="2", needs_model=("sampler",), needs_dataset=("image_splits",),
    budget=SAMPLES_BUDGET,
)
def inception_score(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    net = inception_network(ctx)
    probs, _ = sample_outputs(result, ctx, net)
    return {"inception_score.imagenet": score_from_probs(probs, budget_sizes(ctx)[1]),
            "inception_score.imagenet_test": test_statistics(ctx, net).score}
