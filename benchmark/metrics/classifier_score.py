"""Inception score computed with a classifier trained on the dataset itself (Rosca et al. 2017 §5 and
H.5; Figure 5c), for model samples and for the test split (the paper's CIFAR-10 reference: 9.18).

- CIFAR-10 (``classifier_kind = "cifar_vgg"``): the VGG-style network of Table 5 (eleven 3×3
  convolutions with batch norm, 64…512 maps, average pooling, a linear layer), trained as H.5 says:
  inputs in [−1, 1], random 24×24 crops (centre crop at test time), momentum 0.9, learning rate 0.1
  divided by 10 at 40k and 60k steps, L2 penalty 1e-4, batch 256, 80k steps (H.5 says "epochs"; its
  schedule is in timesteps). ``classifier_steps`` scales the schedule. The trained weights are cached as
  ``<data_dir>/weights/cifar10_vgg_table5_<steps>.pt`` so that it is trained once per data directory.
- stacked digits (ColorMNIST and the colour-digits analogue, ``"stacked_digits"``): a small CNN trained on
  the grey training digits (ours; the paper scores ColorMNIST with no classifier), applied to each channel;
  p(y|x) over the 1000 digit triples is the product of the three channels' posteriors.

The classifier is trained with a fixed seed, independent of the run's, and kept for the process.
Penultimate-layer features serve ``fid_classifier`` in ``benchmark/metrics/fid.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.alpha_gan_networks import cpu_threads
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.metrics.inception_score import score_from_probs

_SAMPLES = 8_201
TABLE5 = ((64, 2), (64, 1), (128, 2), (128, 1), (128, 2), (256, 2), (256, 2), (256, 2), (512, 2), (512, 2),
          (512, 2))  # (feature maps, stride) per 3×3 convolution
_CACHE: dict[tuple, Any] = {}


class Table5VGG(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for maps, stride in TABLE5:
            layers += [nn.Conv2d(c_in, maps, 3, stride, 1), nn.BatchNorm2d(maps), nn.ReLU()]
            c_in = maps
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DigitCNN(nn.Module):
    """Ours: two 5×5 stride-2 convolutions (16, 32 maps), a 64-unit layer, 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 5, 2, 2), nn.ReLU(), nn.Conv2d(16, 32, 5, 2, 2), nn.ReLU(),
                                  nn.Flatten(), nn.Linear(32 * 49, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ------------------------------------------------------------------------------------ training


def _train_digits(dataset, steps: int, device: torch.device) -> DigitCNN:
    x, y = dataset.classifier_data()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = DigitCNN().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def _crop(x: torch.Tensor, g: torch.Generator | None, size: int = 24) -> torch.Tensor:
    """Random 24×24 crops per image (g given) or the centre crop (H.5)."""
    h = x.shape[-1]
    if g is None:
        o = (h - size) // 2
        return x[..., o:o + size, o:o + size]
    offs = torch.randint(0, h - size + 1, (len(x), 2), generator=g)
    return torch.stack([img[:, i:i + size, j:j + size] for img, (i, j) in zip(x, offs.tolist(), strict=True)])


def _train_cifar_vgg(dataset, steps: int, device: torch.device) -> Table5VGG:
    data_dir = getattr(dataset, "data_dir", None)
    cache = Path(data_dir) / "weights" / f"cifar10_vgg_table5_{steps}.pt" if data_dir else None
    net = Table5VGG().to(device)
    if cache is not None and cache.is_file():
        net.load_state_dict(torch.load(cache, map_location=device))
        return net.eval()
    x, y = dataset.classifier_data()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    # H.5: 0.1, divided by 10 at 40k and 60k of 80k steps
    milestones = [round(steps * 0.5), round(steps * 0.75)]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (256,), generator=g)
        loss = F.cross_entropy(net(_crop(x[idx], g).to(device)), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(net.state_dict(), cache)
        except OSError:  # a read-only data directory: keep it for this process only
            pass
    return net.eval()


def dataset_classifier(dataset, steps: int, device: torch.device) -> nn.Module:
    kind = getattr(dataset, "classifier_kind", None)
    key = (kind, dataset.name, repr(sorted(dataset.params.items())), steps, str(device))
    if key not in _CACHE:
        if kind == "stacked_digits":
            _CACHE[key] = _train_digits(dataset, steps, device)
        elif kind == "cifar_vgg":
            _CACHE[key] = _train_cifar_vgg(dataset, steps, device)
        else:
            raise ValueError(f"classifier_score: dataset {dataset.name} has no classifier (classifier_kind)")
    return _CACHE[key]


# ------------------------------------------------------------------------------------ scoring


@torch.no_grad()
def classify(net: nn.Module, kind: str, images: torch.Tensor, device: torch.device,
             batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities, penultimate features) for images in [-1, 1]."""
    probs, feats = [], []
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float().to(device)
        if kind == "stacked_digits":
            n = len(x)
            grey = x.reshape(n * 3, 1, *x.shape[-2:])
            f = net.features(grey)
            p = torch.softmax(net.head(f).double(), dim=1).reshape(n, 3, 10)
            joint = p[:, 0, :, None, None] * p[:, 1, None, :, None] * p[:, 2, None, None, :]
            probs.append(joint.reshape(n, 1000).cpu())
            feats.append(f.reshape(n, -1).cpu())
        else:
            x = _crop(x, None)
            f = net.features(x)
            probs.append(torch.softmax(net.head(f).double(), dim=1).cpu())
            feats.append(f.cpu())
    return torch.cat(probs), torch.cat(feats)


def accuracy_on_test(probs: torch.Tensor, dataset) -> float | None:
    if hasattr(dataset, "split_labels"):
        labels = dataset.split_labels("test")
    else:
        labels = getattr(dataset, "_labels", {}).get("test")
    if labels is None:
        return None
    return float((probs.argmax(dim=1) == labels[: len(probs)]).double().mean())


def classifier_and_kind(ctx: RunContext) -> tuple[nn.Module, str]:
    steps = int(ctx.budget.get("classifier_steps", 80_000))
    return dataset_classifier(ctx.dataset, steps, ctx.device), str(ctx.dataset.classifier_kind)


@register_metric(
    "classifier_score",
    produces=["inception_score.classifier", "inception_score.classifier_test", "classifier.test_accuracy"],
    description="Inception score with a classifier trained on the dataset itself (H.5, Figure 5c)",
)
def classifier_score(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    n = int(ctx.budget.get("is_samples", 10_000))
    splits = int(ctx.budget.get("is_splits", 10))
    with cpu_threads(ctx):
        net, kind = classifier_and_kind(ctx)
        samples = result.model.sample(n, ctx.rng(_SAMPLES))
        p_samples, _ = classify(net, kind, samples, ctx.device)
        p_test, _ = classify(net, kind, ctx.dataset.split("test")[:n], ctx.device)
    out = {"inception_score.classifier": score_from_probs(p_samples, splits),
           "inception_score.classifier_test": score_from_probs(p_test, splits)}
    accuracy = accuracy_on_test(p_test, ctx.dataset)
    if accuracy is not None:
        out["classifier.test_accuracy"] = accuracy
    return out
