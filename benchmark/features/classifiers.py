"""Classifiers trained on the dataset itself, for the Inception score and FID "with a classifier trained on the
dataset" (Rosca et al. 2017 §5 and H.5; Figure 5c):

- CIFAR-10 (``classifier_kind = "cifar_vgg"``): the VGG-style network of Table 5 (eleven 3×3 convolutions with
  batch norm, 64…512 maps, average pooling, a linear layer), trained as H.5 says: inputs in [−1, 1], random
  24×24 crops (centre crop at test time), momentum 0.9, learning rate 0.1 divided by 10 at 40k and 60k steps,
  L2 penalty 1e-4, batch 256, 80k steps (H.5 says "epochs"; its schedule is in timesteps). The budget's
  ``classifier_steps`` scales the schedule.
- stacked digits (ColorMNIST and the colour-digits analogue, ``"stacked_digits"``): a small CNN trained on the
  grey training digits (ours; the paper scores ColorMNIST with no classifier), applied to each channel; p(y|x)
  over the 1000 digit triples is the product of the three channels' posteriors.

A classifier depends on the dataset and the training settings, never on the run: it is trained from fixed
named streams ("metric/classifier/<kind>/init" for its initial weights, ".../batches" for minibatches and
crops) inside ``torch.random.fork_rng``, so that training one leaves torch's global generator as it was, and
kept in memory for the process and on disk as ``$BENCH_HOME/cache/classifiers/<key>.pt``, keyed by what
determines it (kind, dataset and parameters, steps, this code's version, torch's version, device kind), so
that each is trained once per home rather than once per data directory (the data directory is input only).
"""

from __future__ import annotations

import json
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.budget import read as read_budget
from benchmark.features.cache import cache_dir, key_digest, write_atomically
from benchmark.features.shared import FeatureNetwork
from benchmark.hparams import Int
from benchmark.streams import fixed_rng, stream_seed

CODE_VERSION = "1"  # bump when a change here changes a trained classifier
TABLE5 = ((64, 2), (64, 1), (128, 2), (128, 1), (128, 2), (256, 2), (256, 2), (256, 2), (512, 2), (512, 2),
          (512, 2))  # (feature maps, stride) per 3×3 convolution
KINDS = ("cifar_vgg", "stacked_digits")
_TRAINED: dict[str, nn.Module] = {}


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


def _crop(x: torch.Tensor, g: torch.Generator | None, size: int = 24) -> torch.Tensor:
    """Random 24×24 crops per image (g given) or the centre crop (H.5)."""
    h = x.shape[-1]
    if g is None:
        o = (h - size) // 2
        return x[..., o:o + size, o:o + size]
    offs = torch.randint(0, h - size + 1, (len(x), 2), generator=g)
    return torch.stack([img[:, i:i + size, j:j + size] for img, (i, j) in zip(x, offs.tolist(), strict=True)])


def _train_digits(dataset: Any, steps: int, device: torch.device) -> DigitCNN:
    x, y = dataset.classifier_data()
    g = fixed_rng(0, "metric/classifier/stacked_digits/batches")
    net = DigitCNN().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def _train_cifar_vgg(dataset: Any, steps: int, device: torch.device) -> Table5VGG:
    x, y = dataset.classifier_data()
    g = fixed_rng(0, "metric/classifier/cifar_vgg/batches")
    net = Table5VGG().to(device)
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
    return net.eval()


_BUILD = {"cifar_vgg": (Table5VGG, _train_cifar_vgg), "stacked_digits": (DigitCNN, _train_digits)}


def classifier_key(dataset: Any, steps: int, device: torch.device) -> dict[str, Any]:
    """Everything that determines a trained classifier."""
    return {"what": "dataset classifier", "kind": dataset.classifier_kind, "dataset": dataset.name,
            "dataset_version": type(dataset).version, "params": dataset.params, "steps": int(steps),
            "code": CODE_VERSION, "torch": torch.__version__, "device": device.type}


def _canonical(key: dict[str, Any]) -> str:
    """The key as canonical JSON: stored beside the weights and compared on load (plain text, which
    ``torch.load``'s weights-only reader accepts)."""
    return json.dumps(key, sort_keys=True, default=str)


def dataset_classifier(dataset: Any, steps: int, device: torch.device) -> nn.Module:
    """The dataset's classifier: from memory, from ``$BENCH_HOME/cache/classifiers``, or trained now."""
    kind = dataset.classifier_kind
    if kind not in _BUILD:
        raise ValueError(f"dataset {dataset.name}: unknown classifier_kind {kind!r} (one of {KINDS})")
    key = classifier_key(dataset, steps, device)
    name = key_digest(key)
    # the disk cache is shared by every device of a kind (the weights are stored on the host); in memory a
    # network lives on one device, so a run on cuda:1 must not be handed the one loaded for cuda:0
    held = f"{name}@{device}"
    if held not in _TRAINED:
        build, train = _BUILD[kind]
        path = cache_dir("classifiers") / f"{name}.pt"
        stored = torch.load(path, map_location=device) if path.is_file() else None
        if stored is not None and stored.get("key") == _canonical(key):
            net = build().to(device)
            net.load_state_dict(stored["state"])
            net.eval()
        else:
            # the initial weights come from the global generator: draw them from a named stream and put the
            # generator back afterwards, so that no later draw of the run depends on whether this ran
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(stream_seed(0, f"metric/classifier/{kind}/init"))
                net = train(dataset, steps, device)
            state = {"key": _canonical(key), "state": {k: v.cpu() for k, v in net.state_dict().items()}}
            write_atomically(path, lambda tmp: torch.save(state, tmp))
        _TRAINED[held] = net
    return _TRAINED[held]


@torch.no_grad()
def classify(net: nn.Module, kind: str, images: torch.Tensor, device: torch.device,
             batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities float64, penultimate features) for images in [-1, 1]."""
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


# What the metrics that read the dataset classifier take of the budget (with the feature metrics' own)
BUDGET = {"classifier_steps": Int(80_000, low=1, doc="training steps of the dataset classifier (H.5: 80k)")}


def classifier_network(ctx: Any) -> FeatureNetwork:
    """The run's dataset classifier as the feature metrics read it (trained for ``classifier_steps``, 80k)."""
    steps = int(read_budget(BUDGET, ctx.budget)["classifier_steps"])
    net = dataset_classifier(ctx.dataset, steps, ctx.device)
    kind = ctx.dataset.classifier_kind
    key = {**classifier_key(ctx.dataset, steps, ctx.device), "what": "dataset classifier outputs"}
    return FeatureNetwork("classifier", lambda images: classify(net, kind, images, ctx.device), key)
