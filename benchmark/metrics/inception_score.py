"""Inception score with the ImageNet Inception network (Salimans et al. 2016; Rosca et al. 2017 §5):
exp(E_x KL(p(y|x) ‖ p(y))) over the network's 1008 outputs, for model samples and, as the paper's
reference, for the test split (Figure 5b caption: 11.25 on CIFAR-10 test data).

The network is pytorch-fid's InceptionV3 — the 2015-12-05 TensorFlow Inception graph, ported — with its
weights read from ``<data_dir>/weights/pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's release
file), never downloaded. Without the file the metric raises ``DatasetMissing`` naming it, and the runner
checks for it before training (``requires``). Images in
[-1, 1] are resized bilinearly to 299×299, as pytorch-fid does. The score is the mean over ``is_splits``
equal splits (Salimans et al. use 10). Pool-3 features (2048) serve ``benchmark/metrics/fid.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.errors import DatasetMissing

WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
_SAMPLES = 8_101
_NETS: dict[tuple[str, str], torch.nn.Module] = {}


def inception_weights_path(data_dir: Path | str | None) -> Path:
    where = f"{data_dir if data_dir else '<data dir>'}/weights/{WEIGHTS}"
    path = Path(data_dir) / "weights" / WEIGHTS if data_dir else None
    if path is None or not path.is_file():
        raise DatasetMissing("inception weights", where)
    return path


def load_inception(data_dir: Path | str | None, device: torch.device) -> torch.nn.Module:
    """pytorch_fid.inception.fid_inception_v3, with the weights from the data directory."""
    from pytorch_fid import inception as fid_inception

    path = inception_weights_path(data_dir)
    key = (str(path), str(device))
    if key not in _NETS:
        net = fid_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = fid_inception.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = fid_inception.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = fid_inception.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = fid_inception.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = fid_inception.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = fid_inception.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = fid_inception.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = fid_inception.FIDInceptionE_1(1280)
        net.Mixed_7c = fid_inception.FIDInceptionE_2(2048)
        net.load_state_dict(torch.load(path, map_location="cpu"))
        _NETS[key] = net.eval().to(device)
    return _NETS[key]


@torch.no_grad()
def inception_outputs(net: torch.nn.Module, images: torch.Tensor, device: torch.device,
                      batch: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (n, 1008), pool-3 features (n, 2048)) for images in [-1, 1]."""
    pooled: list[torch.Tensor] = []
    hook = net.avgpool.register_forward_hook(lambda _m, _i, out: pooled.append(out.flatten(1).cpu()))
    logits = []
    try:
        for i in range(0, len(images), batch):
            x = F.interpolate(images[i:i + batch].float().to(device), size=(299, 299), mode="bilinear",
                              align_corners=False)
            logits.append(net(x).cpu())
    finally:
        hook.remove()
    return torch.cat(logits), torch.cat(pooled)


def score_from_probs(probs: torch.Tensor, splits: int = 1) -> float:
    """exp(E KL(p(y|x) ‖ p(y))), averaged over ``splits`` equal parts."""
    scores = []
    for part in torch.chunk(probs.double(), splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (torch.log(part.clamp_min(1e-30)) - torch.log(marginal.clamp_min(1e-30)))).sum(dim=1)
        scores.append(torch.exp(kl.mean()))
    return float(torch.stack(scores).mean())


def score_from_logits(logits: torch.Tensor, splits: int = 1) -> float:
    return score_from_probs(torch.softmax(logits.double(), dim=1), splits)


def data_dir_of(ctx: RunContext) -> Path | None:
    return getattr(ctx.dataset, "data_dir", None)


@register_metric(
    "inception_score",
    produces=["inception_score.imagenet", "inception_score.imagenet_test"],
    description="Inception score with pytorch-fid's ImageNet InceptionV3 (weights from the data directory)",
    requires=inception_weights_path,
)
def inception_score(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    net = load_inception(data_dir_of(ctx), ctx.device)
    n = int(ctx.budget.get("is_samples", 10_000))
    splits = int(ctx.budget.get("is_splits", 10))
    samples = result.model.sample(n, ctx.rng(_SAMPLES))
    test = ctx.dataset.split("test")[:n]
    return {"inception_score.imagenet": score_from_logits(inception_outputs(net, samples, ctx.device)[0], splits),
            "inception_score.imagenet_test": score_from_logits(inception_outputs(net, test, ctx.device)[0], splits)}
