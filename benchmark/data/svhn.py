"""SVHN test images through torchvision (never downloaded at run time), grey and resized, the
dissimilar set of the MNIST-1 experiment of Balaji et al. (2019). evaluator.py reads every image
with cv2.imread(path, 0) (ITU-R 601 luma), resizes it to 28×28 with cv2.resize (bilinear) and
divides by 255; this loader does the same from torchvision's ``test_32x32.mat``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.api import Dataset, register_dataset
from benchmark.data.digits import resize_images
from benchmark.errors import DatasetMissing
from benchmark.streams import fixed_rng

_LUMA = np.array([0.299, 0.587, 0.114])
SVHN_FILES = {"test": "test_32x32.mat", "train": "train_32x32.mat"}


def svhn_needed(data_dir: Path | None, split: str) -> str:
    root = f"{data_dir}" if data_dir else "<data dir>"
    return (f"{root}/SVHN/{SVHN_FILES[split]} (torchvision.datasets.SVHN's file from "
            "http://ufldl.stanford.edu/housenumbers/, md5-checked; set --data-dir or BENCH_DATA)")


@register_dataset
class SVHNGrey(Dataset):
    name = "svhn"
    description = "SVHN (torchvision .mat in <data dir>/SVHN), grey, resized to size×size, in [0, 1]"
    version = "2"  # the subset comes from the named stream "data/svhn/eval_subset"
    offers = ("samples", "flat_samples", "images")

    def __init__(self, data_dir: Path | None = None, split: str = "test", size: int = 28, n_eval: int = 1000,
                 eval_seed: int = 0) -> None:
        if split not in SVHN_FILES:
            raise ValueError(f"svhn: split must be one of {tuple(SVHN_FILES)}, not {split!r}")
        super().__init__(data_dir, split=split, size=size, n_eval=n_eval, eval_seed=eval_seed)
        if data_dir is None:
            raise DatasetMissing("svhn", svhn_needed(data_dir, split))
        from torchvision.datasets import SVHN

        try:
            ds = SVHN(root=str(Path(data_dir) / "SVHN"), split=split, download=False)
        except RuntimeError as err:  # torchvision: "Dataset not found or corrupted ..."
            raise DatasetMissing("svhn", svhn_needed(data_dir, split)) from err
        g = fixed_rng(int(eval_seed), "data/svhn/eval_subset")
        keep = torch.randperm(len(ds.data), generator=g)[: int(n_eval)].numpy()
        rgb = ds.data[keep].astype(np.float64)  # (n, 3, 32, 32), 0..255
        grey = torch.from_numpy(np.tensordot(_LUMA, rgb, axes=([0], [1])) / 255.0)
        self.images = resize_images(grey, int(size))
        self.size = int(size)
        self.dim = self.size * self.size
        self.image_shape = (1, self.size, self.size)

    def samples(self) -> torch.Tensor:
        return self.images.reshape(len(self.images), -1).to(torch.float32)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        pool = self.samples()
        return pool[torch.randint(0, len(pool), (n,), generator=rng)]
