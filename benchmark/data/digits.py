"""scikit-learn's bundled 8×8 handwritten digits (1,797 images, offline): the embedded analogue of
MNIST for the "dissimilar datasets have low likelihood" experiment of Balaji et al. (2019).

The paper trains an Entropic GAN on MNIST digit 1 and compares the surrogate likelihoods of
held-out MNIST-1, of the other MNIST digits and of SVHN (grey, resized) under that model (poster,
"Dissimilar datasets have low likelihood"; code: evaluator.py with ``--dataset mnist1``). Here the
same protocol runs on the 8×8 digits: one training on ``digits`` gives three evaluation sets,

- ``heldout``: the test split of the training digits,
- ``other_digits``: the test split of every other digit,
- ``dissimilar``: patches of natural images from a second registered dataset (default
  ``sklearn_textures``), as many as the held-out set has.

Pixels are scaled to [0, 1] (the source stores 0..16), as evaluator.py scales MNIST/SVHN to
[0, 1]. ``upsample`` is the side length to enlarge the images to, bilinearly (e.g. 28 for
MNIST-sized inputs); None keeps 8×8.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.api import DATASETS, Dataset, register_dataset
from benchmark.streams import fixed_np_rng

SPLITS = ("train", "test")


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, h, w) in [0, 1] -> (n, size, size), bilinear like cv2.resize's default (evaluator's reader)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.unsqueeze(1).float(), size=(size, size), mode="bilinear", align_corners=False)
    return out.squeeze(1).clamp(0.0, 1.0).to(images.dtype)


def stratified_split(labels: np.ndarray, test_fraction: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test), the same fraction of every class in the test split."""
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class ImageEvaluationMixin:
    """Shared by the labelled image sets: a source class set to train on, three sets to score."""

    images: torch.Tensor  # (n, h, w) float64 in [0, 1]
    labels: torch.Tensor  # (n,)
    train_index: np.ndarray
    test_index: np.ndarray
    digits: tuple[int, ...]
    split: str
    dim: int

    def _select(self, index: np.ndarray, classes: Sequence[int]) -> torch.Tensor:
        keep = index[np.isin(self.labels.numpy()[index], list(classes))]
        return self.images[keep].reshape(len(keep), -1)

    def train_samples(self) -> torch.Tensor:
        return self._select(self.train_index, self.digits)

    def test_samples(self) -> torch.Tensor:
        return self._select(self.test_index, self.digits)

    def samples(self) -> torch.Tensor:
        """The split named by the ``split`` parameter."""
        return self.train_samples() if self.split == "train" else self.test_samples()

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Minibatch drawn with replacement from the training split of the source digits."""
        pool = self.train_samples()
        return pool[torch.randint(0, len(pool), (n,), generator=rng)]

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample(n, rng)

    def other_digit_samples(self) -> torch.Tensor:
        others = [c for c in range(10) if c not in self.digits]
        return self._select(self.test_index, others)

    def labelled(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(flat images float32 in [0, 1], labels) of every class of ``split`` ("train" or "test")."""
        index = self.train_index if split == "train" else self.test_index
        return self.images[index].reshape(len(index), -1).float(), self.labels[index]


@register_dataset
class SklearnDigits(ImageEvaluationMixin, Dataset):
    name = "sklearn_digits"
    description = "scikit-learn's bundled 8×8 digits in [0, 1]; train on `digits`, score held-out/other/dissimilar"
    version = "2"  # the train/test split is drawn from the named stream "data/sklearn_digits/split"
    offers = ("samples", "flat_samples", "train_set", "test_set", "images", "labelled_images",
              "evaluation_sets")

    def __init__(self, data_dir: Path | None = None, digits: Sequence[int] = tuple(range(10)),
                 split: str = "train", test_fraction: float = 0.3, split_seed: int = 0, upsample: int | None = None,
                 dissimilar: str | None = "sklearn_textures", dissimilar_params: dict | None = None) -> None:
        from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

        if split not in SPLITS:
            raise ValueError(f"sklearn_digits: split must be one of {SPLITS}, not {split!r}")
        if not 0 < test_fraction < 1:
            raise ValueError("sklearn_digits: test_fraction must be in (0, 1)")
        super().__init__(data_dir, digits=list(digits), split=split, test_fraction=test_fraction,
                         split_seed=split_seed, upsample=upsample, dissimilar=dissimilar,
                         dissimilar_params=dissimilar_params)
        bunch = load_digits()
        images = torch.from_numpy(bunch.images / 16.0)
        self.size = int(upsample) if upsample and upsample > 8 else 8
        self.images = resize_images(images, self.size)
        self.labels = torch.from_numpy(bunch.target.astype(np.int64))
        self.digits = tuple(int(d) for d in digits)
        self.split = split
        self.dim = self.size * self.size
        self.image_shape = (1, self.size, self.size)
        self.train_index, self.test_index = stratified_split(
            bunch.target, float(test_fraction), fixed_np_rng(int(split_seed), "data/sklearn_digits/split"))
        self.dissimilar = dissimilar
        self.dissimilar_params = dict(dissimilar_params or {})

    def evaluation_sets(self) -> dict[str, torch.Tensor]:
        heldout = self.test_samples()
        sets = {"heldout": heldout, "other_digits": self.other_digit_samples()}
        if self.dissimilar:
            params = {"n_patches": len(heldout), "size": self.size, **self.dissimilar_params}
            other = DATASETS[self.dissimilar](data_dir=self.data_dir, **params)
            sets["dissimilar"] = other.samples()
        return sets
