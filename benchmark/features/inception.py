"""The ImageNet Inception network of the Inception score and FID: the 2015-12-05 TensorFlow graph as pytorch-fid
ports it (``FIDInceptionA/C/E_1/E_2`` in place of torchvision's blocks, 1008 classes), built on torchvision's
public ``inception_v3`` with pytorch-fid's release weights read from
``<data_dir>/weights/pt_inception-2015-12-05-6726825d.pth``, never downloaded. Without the file a metric
raises ``DatasetMissing`` naming it, and the runner checks for it before training (``requires``).

Images in [-1, 1] are resized bilinearly to 299×299, as pytorch-fid does; one forward pass gives both the
class probabilities (softmax of the 1008 logits, for the score) and the pool-3 features (2048, for FID).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.errors import DatasetMissing
from benchmark.features.shared import FeatureNetwork

WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
CODE_VERSION = "1"  # bump when a change here changes the outputs for the same weights
_NETS: dict[tuple[str, str], torch.nn.Module] = {}
_HASHES: dict[tuple[str, int, int], str] = {}


def inception_weights_path(data_dir: Path | str | None) -> Path:
    where = f"{data_dir if data_dir else '<data dir>'}/weights/{WEIGHTS}"
    path = Path(data_dir) / "weights" / WEIGHTS if data_dir else None
    if path is None or not path.is_file():
        raise DatasetMissing("inception weights", where)
    return path


def weights_digest(path: Path) -> str:
    """sha256 of the weights file, computed once per process for each (path, size, modification time)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[memo] = h.hexdigest()
    return _HASHES[memo]


def build_inception() -> torch.nn.Module:
    """pytorch-fid's FID Inception architecture, with random weights (``load_inception`` fills them)."""
    from pytorch_fid import inception as fid
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net


def load_inception(path: Path, device: torch.device) -> torch.nn.Module:
    """The network with the weights of ``path``, built once per process and device."""
    key = (str(path), str(device))
    if key not in _NETS:
        net = build_inception()
        net.load_state_dict(torch.load(path, map_location="cpu"))
        _NETS[key] = net.eval().to(device)
    return _NETS[key]


@torch.no_grad()
def inception_outputs(net: torch.nn.Module, images: torch.Tensor, device: torch.device,
                      batch: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities (n, 1008) float64, pool-3 features (n, 2048)) for images in [-1, 1]."""
    pooled: list[torch.Tensor] = []
    hook = net.avgpool.register_forward_hook(lambda _m, _i, out: pooled.append(out.flatten(1).cpu()))
    probs = []
    try:
        for i in range(0, len(images), batch):
            x = F.interpolate(images[i:i + batch].float().to(device), size=(299, 299), mode="bilinear",
                              align_corners=False)
            probs.append(torch.softmax(net(x).double(), dim=1).cpu())
    finally:
        hook.remove()
    return torch.cat(probs), torch.cat(pooled)


def inception_network(ctx: Any) -> FeatureNetwork:
    """The run's Inception network as the feature metrics read it, keyed by its weights and code."""
    import pytorch_fid

    path = inception_weights_path(ctx.dataset.data_dir)
    net = load_inception(path, ctx.device)
    key = {"network": "pytorch-fid FID Inception", "weights_sha256": weights_digest(path), "code": CODE_VERSION,
           "pytorch_fid": pytorch_fid.__version__, "torch": torch.__version__, "device": ctx.device.type}
    return FeatureNetwork("inception", lambda images: inception_outputs(net, images, ctx.device), key)
