"""MNIST through torchvision (never downloaded at run time), for the "dissimilar datasets have low
likelihood" experiment of Balaji et al. (2019): train on the digits in ``digits`` (the paper's
MNIST-1: ``digits: [1]``; code: trainer.py ``classes_to_load = [1]`` for ``--dataset mnist1``) and
score three sets under the trained model:

- ``heldout``: MNIST test images of the training digits,
- ``other_digits``: MNIST test images of every other digit,
- ``dissimilar``: SVHN test images, grey and resized to 28×28 (``benchmark/data/svhn.py``).

Each set holds at most ``n_eval`` images (evaluator.py: ``nsamples_eval`` = 1000, a random subset).
Pixels in [0, 1] (the code's MNIST loader and its evaluator both divide by 255).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from benchmark.api import DATASETS, Dataset, register_dataset
from benchmark.errors import DatasetMissing
from benchmark.streams import fixed_rng

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def mnist_needed(data_dir: Path | None) -> str:
    root = f"{data_dir}" if data_dir else "<data dir>"
    return (f"{root}/MNIST/raw/{{{','.join(MNIST_FILES)}}} (the unpacked files of "
            "torchvision.datasets.MNIST; set --data-dir or BENCH_DATA)")


def load_mnist_split(data_dir: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (n, 28, 28), labels (n,)); DatasetMissing when the files are not there."""
    if data_dir is None:
        raise DatasetMissing("mnist", mnist_needed(data_dir))
    from torchvision.datasets import MNIST

    try:
        ds = MNIST(root=str(data_dir), train=train, download=False)
    except RuntimeError as err:  # torchvision: "Dataset not found. You can use download=True ..."
        raise DatasetMissing("mnist", mnist_needed(data_dir)) from err
    return ds.data, ds.targets


def _subset(images: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    order = torch.randperm(len(images), generator=generator)[:n]
    return images[order]


@register_dataset
class MNISTDigits(Dataset):
    name = "mnist"
    description = "MNIST (torchvision files in the data dir); train on `digits`, score held-out/other/SVHN"
    version = "2"  # the evaluation subsets come from the named stream "data/mnist/eval_subsets"
    offers = ("samples", "flat_samples", "train_set", "test_set", "images", "labelled_images",
              "evaluation_sets")
    dim = 28 * 28
    image_shape = (1, 28, 28)

    def __init__(self, data_dir: Path | None = None, digits: Sequence[int] = (1,), split: str = "train",
                 n_eval: int = 1000, eval_seed: int = 0, dissimilar: str | None = "svhn") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"mnist: split must be train or test, not {split!r}")
        super().__init__(data_dir, digits=list(digits), split=split, n_eval=n_eval, eval_seed=eval_seed,
                         dissimilar=dissimilar)
        self.digits = tuple(int(d) for d in digits)
        self.split = split
        self.n_eval = int(n_eval)
        self.eval_seed = int(eval_seed)
        self.dissimilar = dissimilar
        train_x, train_y = load_mnist_split(data_dir, train=True)
        test_x, test_y = load_mnist_split(data_dir, train=False)
        mask = torch.isin(train_y, torch.tensor(self.digits))
        self._train = train_x[mask]
        test_mask = torch.isin(test_y, torch.tensor(self.digits))
        self._test_same, self._test_other = test_x[test_mask], test_x[~test_mask]

    @staticmethod
    def _flat(images: torch.Tensor) -> torch.Tensor:
        return images.reshape(len(images), -1).to(torch.float32) / 255.0

    def train_samples(self) -> torch.Tensor:
        return self._flat(self._train)

    def test_samples(self) -> torch.Tensor:
        return self._flat(self._test_same)

    def samples(self) -> torch.Tensor:
        return self.train_samples() if self.split == "train" else self.test_samples()

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self._flat(self._train[torch.randint(0, len(self._train), (n,), generator=rng)])

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample(n, rng)

    def labelled(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(flat images float32 in [0, 1], labels) of every digit of MNIST's ``split`` ("train" or "test")."""
        images, labels = load_mnist_split(self.data_dir, train=split == "train")
        return self._flat(images), labels

    def evaluation_sets(self) -> dict[str, torch.Tensor]:
        g = fixed_rng(self.eval_seed, "data/mnist/eval_subsets")
        sets = {"heldout": self._flat(_subset(self._test_same, self.n_eval, g)),
                "other_digits": self._flat(_subset(self._test_other, self.n_eval, g))}
        if self.dissimilar:
            other = DATASETS[self.dissimilar](data_dir=self.data_dir, n_eval=self.n_eval, size=28,
                                              eval_seed=self.eval_seed)
            sets["dissimilar"] = other.samples()
        return sets
