"""CelebA at 64×64 through torchvision, read from the data directory (never downloaded at run time),
for Rosca et al. (2017) §6. Aligned faces are centre-cropped to 108×108 and resized to 64×64 (the crop
of DCGAN-tensorflow, which the paper follows for DCGAN's update schedule, and of Gulrajani et al.'s
64×64 experiments), in [-1, 1].

Splits: CelebA's official partition (list_eval_partition.txt): the models train on "train", the
independent critic on "valid" (§5: "held out validation data"), reported on "test". Images are
decoded lazily per minibatch; the evaluation splits hold at most ``n_eval`` images (fixed subset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from benchmark.api import Dataset, register_dataset
from benchmark.data.color_mnist import ImageSplits
from benchmark.errors import DatasetMissing
from benchmark.streams import fixed_rng

CELEBA_FILES = ("img_align_celeba/", "list_eval_partition.txt", "identity_CelebA.txt", "list_attr_celeba.txt",
                "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt")
TV_SPLIT = {"train": "train", "valid": "valid", "test": "test"}


def celeba_needed(data_dir: Path | None) -> str:
    root = f"{data_dir}" if data_dir else "<data dir>"
    return (f"{root}/celeba/{{{','.join(CELEBA_FILES)}}} (the files of torchvision.datasets.CelebA; "
            "set --data-dir or BENCH_DATA)")


@register_dataset
class CelebA64(ImageSplits, Dataset):
    name = "celeba64"
    description = "CelebA aligned faces, centre crop 108, resized to 64×64, in [-1, 1]"
    image_shape = (3, 64, 64)
    version = "2"  # the fixed evaluation subsets come from the named stream "data/celeba64/eval_subset"
    offers = ("samples", "images", "image_splits", "validation_split")

    def __init__(self, data_dir: Path | None = None, n_eval: int = 10_000, eval_seed: int = 0,
                 **params: Any) -> None:
        super().__init__(data_dir, n_eval=n_eval, eval_seed=eval_seed, **params)
        if data_dir is None:
            raise DatasetMissing("celeba", celeba_needed(data_dir))
        from torchvision import transforms
        from torchvision.datasets import CelebA

        tf = transforms.Compose([transforms.CenterCrop(108), transforms.Resize(64), transforms.PILToTensor()])
        try:
            self._sets = {name: CelebA(root=str(data_dir), split=tv, transform=tf, download=False)
                          for name, tv in TV_SPLIT.items()}
        except RuntimeError as err:  # torchvision: "Dataset not found or corrupted."
            raise DatasetMissing("celeba", celeba_needed(data_dir)) from err
        g = fixed_rng(int(eval_seed), "data/celeba64/eval_subset")
        self._eval_index = {name: torch.randperm(len(self._sets[name]), generator=g)[: int(n_eval)]
                            for name in ("valid", "test")}
        self._cache: dict[str, torch.Tensor] = {}

    def _load(self, name: str, index: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._sets[name][int(i)][0] for i in index])

    def split(self, name: str) -> torch.Tensor:
        if name == "train":
            raise ValueError("celeba64: the training split is read per minibatch; use sample()")
        if name not in self._cache:
            self._cache[name] = self._load(name, self._eval_index[name])
        return self.to_unit(self._cache[name])

    def sample_split(self, name: str, n: int, rng: torch.Generator) -> torch.Tensor:
        if name == "train":
            return self.to_unit(self._load("train", torch.randint(0, len(self._sets["train"]), (n,), generator=rng)))
        pool = self.split(name)
        return pool[torch.randint(0, len(pool), (n,), generator=rng)]
