"""The offline analogue of ColorMNIST: scikit-learn's bundled 8×8 digits (1,797 images), upsampled
bilinearly to 28×28 and stacked three at a time as the R, G, B channels, exactly as ColorMNIST stacks
MNIST digits (``benchmark/data/color_mnist.py``). It is an analogue, not the paper's data: every
target computed on it says so.

Splits (stratified by digit, named streams of ``split_seed``): 60% of the digits for training, 20% for the independent
critic's validation data, 20% for testing. Validation and test triples are fixed (``n_eval`` of each,
``eval_seed``); training triples are drawn afresh per batch, so the model sees ~1080³ combinations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.api import Dataset, register_dataset
from benchmark.data.color_mnist import StackedDigits
from benchmark.data.digits import resize_images, stratified_split
from benchmark.streams import fixed_np_rng


@register_dataset
class ColorDigits(StackedDigits, Dataset):
    name = "color_digits"
    description = "analogue of ColorMNIST: sklearn 8×8 digits upsampled to 28×28, three stacked as RGB"
    version = "2"  # splits and fixed triples from named streams of split_seed and eval_seed
    offers = ("samples", "images", "image_splits", "classifier", "validation_split if valid_fraction!=0")

    def __init__(self, data_dir: Path | None = None, valid_fraction: float = 0.2, test_fraction: float = 0.2,
                 split_seed: int = 0, n_eval: int = 1000, eval_seed: int = 0) -> None:
        from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

        super().__init__(data_dir, valid_fraction=valid_fraction, test_fraction=test_fraction,
                         split_seed=split_seed, n_eval=n_eval, eval_seed=eval_seed)
        bunch = load_digits()
        images = resize_images(torch.from_numpy(bunch.images / 16.0), 28).float()
        labels = torch.from_numpy(bunch.target.astype(np.int64))
        held_fraction = valid_fraction + test_fraction
        train, held = stratified_split(bunch.target, held_fraction, fixed_np_rng(split_seed, "data/color_digits/held"))
        valid_rel, test_rel = stratified_split(bunch.target[held], test_fraction / held_fraction,
                                               fixed_np_rng(split_seed, "data/color_digits/valid_test"))
        parts = {"train": train, "valid": held[valid_rel], "test": held[test_rel]}
        self._build({k: images[v] for k, v in parts.items()}, {k: labels[v] for k, v in parts.items()},
                    n_eval, eval_seed)
