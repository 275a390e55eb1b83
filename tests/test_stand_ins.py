"""The real loaders read the stand-ins (benchmark/data/_fakes.py) that the CUDA smoke script trains on: files in
MNIST's, CIFAR-10's, SVHN's and CelebA's real formats go through torchvision's readers and the datasets' own
splitting and scaling, and a randomly initialised Inception weights file loads into the FID network."""

from __future__ import annotations

import pytest
import torch

from benchmark import api
from benchmark.data._fakes import CELEBA_SPLITS, MNIST_TRAIN, accepting_stand_ins
from benchmark.errors import DatasetMissing

api.load_plugins()


def test_mnist_reads_the_idx_files(stand_ins):
    every = api.DATASETS["mnist"](data_dir=stand_ins, digits=list(range(10)), dissimilar=None)
    assert every.samples().shape == (MNIST_TRAIN, 28 * 28)
    ones = api.DATASETS["mnist"](data_dir=stand_ins, digits=[1], split="train", n_eval=50, dissimilar="svhn")
    x = ones.samples()
    assert 0 < len(x) < MNIST_TRAIN and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_image_datasets_split_and_scale_the_stand_ins(stand_ins):
    colour = api.DATASETS["color_mnist"](data_dir=stand_ins, n_valid=1000, n_eval=100)
    assert colour.split("valid").shape == (100, 3, 28, 28)  # n_eval triples of the validation digits
    cifar = api.DATASETS["cifar10"](data_dir=stand_ins, n_valid=500)
    assert cifar.split("valid").shape == (500, 3, 32, 32) and cifar.split("test").shape[1:] == (3, 32, 32)
    faces = api.DATASETS["celeba64"](data_dir=stand_ins, n_eval=1000)
    valid = faces.split("valid")
    assert valid.shape == (CELEBA_SPLITS[1], 3, 64, 64) and -1.0 <= float(valid.min()) < float(valid.max()) <= 1.0
    grey = api.DATASETS["svhn"](data_dir=stand_ins, size=28, n_eval=100)
    assert grey.samples().shape == (100, 28 * 28)
    for split in (colour, cifar):
        assert -1.0 <= float(split.split("test").min()) and float(split.split("test").max()) <= 1.0


def test_the_inception_stand_in_loads_and_a_missing_one_is_named(stand_ins, tmp_path):
    from benchmark.features.inception import inception_weights_path, load_inception

    net = load_inception(inception_weights_path(stand_ins), torch.device("cpu"))
    assert sum(p.numel() for p in net.parameters()) > 2e7
    with pytest.raises(DatasetMissing, match="pt_inception"):
        inception_weights_path(tmp_path)


def test_the_md5_checks_come_back_after_the_block():
    import torchvision.datasets.cifar as cifar

    before = cifar.check_integrity
    with accepting_stand_ins():
        assert cifar.check_integrity is not before and cifar.check_integrity("no such file", "md5")
    assert cifar.check_integrity is before
