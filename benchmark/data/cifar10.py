"""CIFAR-10 through torchvision, read from the data directory (never downloaded at run time), for
Rosca et al. (2017) §6. 32×32 colour images in [-1, 1] (H.5: the classifier's data "is rescaled to be
in range [−1, 1]"; the generators end in tanh).

Splits: the generative models train on the first 45,000 training images; the independent critic trains
on the last 5,000 ("held out validation data", §5) and is reported on the 10,000 test images, which are
also the reference set of the Inception scores (Figure 5 caption: "samples from test data split").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.api import Dataset, register_dataset
from benchmark.data.color_mnist import ImageSplits
from benchmark.errors import DatasetMissing

CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta")


def cifar_needed(data_dir: Path | None) -> str:
    root = f"{data_dir}" if data_dir else "<data dir>"
    return (f"{root}/cifar-10-batches-py/{{{','.join(CIFAR_FILES)}}} (the unpacked cifar-10-python.tar.gz of "
            "torchvision.datasets.CIFAR10; set --data-dir or BENCH_DATA)")


def load_cifar_split(data_dir: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (n, 3, 32, 32), labels (n,)); DatasetMissing when the files are not there."""
    if data_dir is None:
        raise DatasetMissing("cifar10", cifar_needed(data_dir))
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(root=str(data_dir), train=train, download=False)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted. ..."
        raise DatasetMissing("cifar10", cifar_needed(data_dir)) from err
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return images, torch.tensor(ds.targets, dtype=torch.int64)


@register_dataset
class CIFAR10Images(ImageSplits, Dataset):
    name = "cifar10"
    description = "CIFAR-10 (torchvision files in the data dir), 32×32 RGB in [-1, 1]"
    image_shape = (3, 32, 32)
    classifier_kind = "cifar_vgg"
    offers = ("samples", "images", "image_splits", "classifier", "validation_split if n_valid!=0")

    def __init__(self, data_dir: Path | None = None, n_valid: int = 5000, **params: Any) -> None:
        super().__init__(data_dir, n_valid=n_valid, **params)
        train_x, train_y = load_cifar_split(data_dir, train=True)
        test_x, test_y = load_cifar_split(data_dir, train=False)
        cut = len(train_x) - int(n_valid)
        self._splits = {"train": train_x[:cut], "valid": train_x[cut:], "test": test_x}
        self._labels = {"train": train_y[:cut], "valid": train_y[cut:], "test": test_y}

    def classifier_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split("train"), self._labels["train"]
