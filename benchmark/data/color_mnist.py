"""ColorMNIST for Rosca et al. (2017) §6: three MNIST digits stacked as the R, G and B channels.

The α-GAN paper takes ColorMNIST from its reference [28], Metz et al. (2017), "Unrolled Generative
Adversarial Networks" (ICLR), whose colour MNIST stacks three independently drawn MNIST digits into
the three channels of one 28×28 image (1000 digit triples = 1000 modes; the "stacked MNIST" of Che et
al. 2017 and later mode-counting work). Table 4's generator ends in 3 maps at 28×28, which fits.

How [28] was identified: the text in ../shared/papers has no bibliography, but its numbered references
are in alphabetical order ([23] Krizhevsky: CIFAR-10, [24] Larsen: VAE-GAN, [25] Liu: CelebA, [26]
Makhzani, [27] Mescheder, [29] Mohamed & Lakshminarayanan), so [28]'s first author sorts between
Mescheder and Mohamed, where Metz does. That is strong evidence, not a check of the paper's reference list.

Splits, used by the independent Wasserstein critic (§5: trained on "held out validation data",
reported on the test set): the model trains on MNIST train images 0–49,999; the critic trains on
triples of train images 50,000–59,999; it is evaluated on triples of the MNIST test set. The
validation and test triples are fixed (``eval_seed``); training triples are drawn afresh per batch.

Pixels are in [-1, 1] (the generators end in tanh). ``ImageSplits`` is shared by every image dataset
of the α-GAN suite (colour digits, CelebA, CIFAR-10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from benchmark.api import Dataset, register_dataset
from benchmark.data.mnist import load_mnist_split
from benchmark.streams import fixed_rng

SPLITS = ("train", "valid", "test")


class ImageSplits:
    """Images in [-1, 1], shape (n, C, H, W), in three splits; what the α-GAN metrics read.

    Subclasses fill ``_splits`` with uint8 or float tensors (or override ``split``) and set
    ``image_shape``; ``classifier_kind`` names the dataset-trained classifier of the classifier score, and
    subclasses that offer it fill ``_labels`` for ``split_labels``.
    """

    image_shape: tuple[int, int, int]
    classifier_kind: str | None = None
    _splits: dict[str, torch.Tensor]
    _labels: dict[str, torch.Tensor]

    @staticmethod
    def to_unit(images: torch.Tensor) -> torch.Tensor:
        """uint8 0..255 or float 0..1 → float32 in [-1, 1]."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return x * 2.0 - 1.0

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r} (one of {SPLITS})")
        return self.to_unit(self._splits[name])

    def split_labels(self, name: str) -> torch.Tensor:
        """The class of each image of ``split(name)``."""
        return self._labels[name]

    def sample_split(self, name: str, n: int, rng: torch.Generator) -> torch.Tensor:
        pool = self._splits[name]
        return self.to_unit(pool[torch.randint(0, len(pool), (n,), generator=rng)])

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """A training minibatch, drawn with replacement."""
        return self.sample_split("train", n, rng)

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample(n, rng)


class StackedDigits(ImageSplits):
    """Three grey digits per image, one per channel, drawn independently; label = 100·r + 10·g + b."""

    classifier_kind = "stacked_digits"
    image_shape = (3, 28, 28)
    name: ClassVar[str]  # the registered dataset's, naming its streams
    _digits: dict[str, torch.Tensor]  # split -> (n, 28, 28) grey digits in [0, 1]
    _labels: dict[str, torch.Tensor]
    _fixed: dict[str, torch.Tensor]  # split -> (n_eval, 3) digit indices of the fixed triples

    def _build(self, digits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], n_eval: int,
               eval_seed: int) -> None:
        self._digits, self._labels = digits, labels
        g = fixed_rng(int(eval_seed), f"data/{self.name}/eval_triples")
        self._fixed = {name: torch.randint(0, len(digits[name]), (int(n_eval), 3), generator=g)
                       for name in ("valid", "test")}

    def _stack(self, name: str, index: torch.Tensor) -> torch.Tensor:
        grey = self._digits[name][index.reshape(-1)].float()
        grey = grey / 255.0 if self._digits[name].dtype == torch.uint8 else grey
        return grey.reshape(len(index), 3, 28, 28) * 2.0 - 1.0

    def split(self, name: str) -> torch.Tensor:
        if name == "train":
            raise ValueError("the training split of stacked digits is drawn afresh; use sample()")
        return self._stack(name, self._fixed[name])

    def split_labels(self, name: str) -> torch.Tensor:
        idx = self._fixed[name]
        lab = self._labels[name][idx]
        return lab[:, 0] * 100 + lab[:, 1] * 10 + lab[:, 2]

    def sample_split(self, name: str, n: int, rng: torch.Generator) -> torch.Tensor:
        if name == "train":
            index = torch.randint(0, len(self._digits["train"]), (n, 3), generator=rng)
        else:
            index = self._fixed[name][torch.randint(0, len(self._fixed[name]), (n,), generator=rng)]
        return self._stack(name, index)

    def classifier_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Grey training digits (n, 1, 28, 28) in [-1, 1] and their labels, for the digit classifier."""
        grey = self._digits["train"].float()
        grey = grey / 255.0 if self._digits["train"].dtype == torch.uint8 else grey
        return grey.unsqueeze(1) * 2.0 - 1.0, self._labels["train"]


@register_dataset
class ColorMNIST(StackedDigits, Dataset):
    name = "color_mnist"
    description = "ColorMNIST (Metz et al. 2017): three MNIST digits stacked as RGB, 28×28, in [-1, 1]"
    version = "2"  # the fixed triples come from the named stream "data/color_mnist/eval_triples"
    offers = ("samples", "images", "image_splits", "classifier", "validation_split if n_valid!=0")

    def __init__(self, data_dir: Path | None = None, n_valid: int = 10_000, n_eval: int = 10_000,
                 eval_seed: int = 0, **params: Any) -> None:
        super().__init__(data_dir, n_valid=n_valid, n_eval=n_eval, eval_seed=eval_seed, **params)
        train_x, train_y = load_mnist_split(data_dir, train=True)
        test_x, test_y = load_mnist_split(data_dir, train=False)
        cut = len(train_x) - int(n_valid)
        self._build({"train": train_x[:cut], "valid": train_x[cut:], "test": test_x},
                    {"train": train_y[:cut], "valid": train_y[cut:], "test": test_y}, n_eval, eval_seed)

