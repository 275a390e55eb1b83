"""Small stand-ins for the datasets and weights that cannot be downloaded here, written in the real files'
formats, so that the real loading code (torchvision's readers behind ``mnist``, ``color_mnist``, ``cifar10``,
``svhn`` and ``celeba64``; the Inception network's weights file) runs end to end without them: the CUDA smoke
script (``scripts/cuda_smoke.py``) and the loader tests use them. Nothing here is a result: the images are
scikit-learn's bundled 8×8 digits enlarged and shifted (MNIST, labelled) and smooth random colour fields
(CIFAR-10, SVHN, CelebA), and the Inception weights are a random initialisation.

Layout under ``root`` (what the loaders read; ``--data-dir root``):

- ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``: the idx files torchvision.datasets.MNIST reads;
- ``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``: the pickled batches of CIFAR10;
- ``SVHN/{train,test}_32x32.mat``: the MATLAB files of SVHN;
- ``celeba/img_align_celeba/*.jpg`` and the five list files of CelebA (partition, identity, bbox, landmarks,
  attributes), 178×218 JPEGs as the aligned originals;
- ``weights/pt_inception-2015-12-05-6726825d.pth``: a state dict of the FID Inception network.

torchvision checks the MD5 sums of the CIFAR-10, SVHN and CelebA files it knows; ``accepting_stand_ins()``
turns those checks off within a block (the readers are otherwise untouched).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# sizes: enough for every split the shipped suites ask of the real datasets at smoke size (ColorMNIST takes a
# 10,000-image validation split from MNIST's training set, CIFAR-10 a 5,000-image one)
MNIST_TRAIN, MNIST_TEST = 12_000, 2_000
CIFAR_PER_BATCH, CIFAR_TEST = 1_200, 1_000
SVHN_N = 1_000
CELEBA_SPLITS = {0: 240, 1: 60, 2: 60}  # list_eval_partition: train, valid, test
CELEBA_ATTRS = 40


def _digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n MNIST-like images (uint8, 28×28) and labels: bundled digits enlarged to 20×20 and placed with a random
    shift in the 28×28 frame, as MNIST centres its digits in a 20×20 box."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    pick = rng.integers(0, len(bunch.images), n)
    small = torch.from_numpy(bunch.images[pick] / 16.0).float()[:, None]
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)[:, 0].numpy()
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    dx, dy = rng.integers(2, 7, n), rng.integers(2, 7, n)
    for i in range(n):
        out[i, dy[i]:dy[i] + 20, dx[i]:dx[i] + 20] = np.clip(big[i] * 255, 0, 255).astype(np.uint8)
    return out, bunch.target[pick].astype(np.uint8)


def _fields(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """n smooth random colour images (uint8, n×H×W×3): low-resolution noise enlarged bilinearly."""
    import torch
    import torch.nn.functional as F

    coarse = torch.from_numpy(rng.random((n, 3, 4, 4))).float()
    fine = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return (fine.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)


def _idx(path: Path, array: np.ndarray) -> None:
    """An idx file (big-endian): magic 0x0803 for 3-D images, 0x0801 for 1-D labels, then the sizes."""
    magic = {3: 0x0803, 1: 0x0801}[array.ndim]
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, rng: np.random.Generator) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", MNIST_TRAIN), ("t10k", MNIST_TEST)):
        images, labels = _digits(n, rng)
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


def write_cifar10(root: Path, rng: np.random.Generator) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = CIFAR_TEST if name == "test_batch" else CIFAR_PER_BATCH
        images = _fields(n, 32, 32, rng).transpose(0, 3, 1, 2).reshape(n, -1)  # rows of R, G, B planes
        batch = {"data": images, "labels": rng.integers(0, 10, n).tolist(), "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


def write_svhn(root: Path, rng: np.random.Generator) -> None:
    from scipy.io import savemat

    folder = root / "SVHN"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        images = _fields(SVHN_N, 32, 32, rng).transpose(1, 2, 3, 0)  # (32, 32, 3, n), as the .mat stores it
        labels = rng.integers(1, 11, (SVHN_N, 1)).astype(np.uint8)  # 1..10, 10 meaning the digit 0
        savemat(folder / f"{split}_32x32.mat", {"X": images, "y": labels})


def write_celeba(root: Path, rng: np.random.Generator) -> None:
    from PIL import Image

    folder = root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    names, partition = [], []
    for split, n in CELEBA_SPLITS.items():
        for _ in range(n):
            names.append(f"{len(names) + 1:06d}.jpg")
            partition.append(split)
    for name, pixels in zip(names, _fields(len(names), 218, 178, rng), strict=True):
        Image.fromarray(pixels).save(images / name, quality=90)
    count = f"{len(names)}\n"
    lines = {
        "list_eval_partition.txt": [f"{f} {s}" for f, s in zip(names, partition, strict=True)],
        "identity_CelebA.txt": [f"{f} {rng.integers(1, 100)}" for f in names],
        "list_bbox_celeba.txt": [count + "image_id x_1 y_1 width height"]
        + [f"{f} 40 50 100 120" for f in names],
        "list_landmarks_align_celeba.txt": [count + "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
                                            "leftmouth_x leftmouth_y rightmouth_x rightmouth_y"]
        + [f"{f} 69 109 106 113 77 142 73 152 108 154" for f in names],
        "list_attr_celeba.txt": [count + " ".join(f"attr_{i}" for i in range(CELEBA_ATTRS))]
        + [f + " " + " ".join(str(v) for v in rng.choice([-1, 1], CELEBA_ATTRS)) for f in names],
    }
    for name, rows in lines.items():
        (folder / name).write_text("\n".join(rows) + "\n")


def write_inception(root: Path, seed: int = 0) -> None:
    """The FID Inception network's state dict at a random initialisation, where the real weights go."""
    import torch

    from benchmark.api import stream_seed
    from benchmark.features.inception import WEIGHTS, build_inception

    (root / "weights").mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "data/stand_ins/inception"))
        net = build_inception()
    torch.save(net.state_dict(), root / "weights" / WEIGHTS)


def write_stand_ins(root: Path | str, seed: int = 0) -> Path:
    """Every stand-in under ``root``; returns it."""
    from benchmark.streams import fixed_np_rng

    root = Path(root)
    write_mnist(root, fixed_np_rng(seed, "data/stand_ins/mnist"))
    write_cifar10(root, fixed_np_rng(seed, "data/stand_ins/cifar10"))
    write_svhn(root, fixed_np_rng(seed, "data/stand_ins/svhn"))
    write_celeba(root, fixed_np_rng(seed, "data/stand_ins/celeba"))
    write_inception(root, seed)
    return root


@contextmanager
def accepting_stand_ins() -> Iterator[None]:
    """Within the block, skip torchvision's MD5 checks of the CIFAR-10, SVHN and CelebA files (the stand-ins have
    the real formats but not the real contents); afterwards the checks are back, so that a missing or corrupt
    real file is still reported as missing."""
    import torchvision.datasets.celeba as celeba
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.svhn as svhn

    modules = (cifar, svhn, celeba)
    saved = [module.check_integrity for module in modules]
    for module in modules:
        module.check_integrity = lambda *args, **kwargs: True  # type: ignore[assignment]
    try:
        yield
    finally:
        for module, check in zip(modules, saved, strict=True):
            module.check_integrity = check  # type: ignore[assignment]
