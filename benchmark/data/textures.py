"""Greyscale patches of natural images, the embedded stand-in for SVHN in the "dissimilar datasets
have low likelihood" experiment (Balaji et al. 2019, poster; code evaluator.py reads SVHN as grey
images resized to 28×28).

The source is scikit-learn's two bundled photographs (``load_sample_images``: china.jpg and
flower.jpg, 427×640 RGB, offline). A patch of ``size·pool`` pixels is cut at a random place,
converted to grey with the ITU-R 601 luma weights (what cv2.imread(path, 0) in evaluator.py uses)
and average-pooled by ``pool`` to ``size``×``size``, so that it carries natural-image structure at
the digits' resolution instead of the near-constant look of an 8-pixel crop. Values in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.api import Dataset, register_dataset
from benchmark.streams import fixed_np_rng

_LUMA = np.array([0.299, 0.587, 0.114])


@register_dataset
class SklearnTextures(Dataset):
    name = "sklearn_textures"
    description = "grey natural-image patches (size×size, pooled) from scikit-learn's bundled sample photos"
    version = "2"  # patch places come from the named stream "data/sklearn_textures/patches"
    offers = ("samples", "flat_samples", "images")

    def __init__(self, data_dir: Path | None = None, n_patches: int = 500, size: int = 8, pool: int = 4,
                 patch_seed: int = 0) -> None:
        from sklearn.datasets import load_sample_images  # bundled with scikit-learn, no download

        if n_patches < 1 or size < 1 or pool < 1:
            raise ValueError("sklearn_textures: n_patches, size and pool must be ≥ 1")
        super().__init__(data_dir, n_patches=n_patches, size=size, pool=pool, patch_seed=patch_seed)
        greys = [torch.from_numpy(img @ _LUMA / 255.0) for img in load_sample_images().images]
        rng = fixed_np_rng(int(patch_seed), "data/sklearn_textures/patches")
        side = int(size) * int(pool)
        patches = []
        for k in range(int(n_patches)):
            img = greys[k % len(greys)]  # alternate the two photos
            top = int(rng.integers(0, img.shape[0] - side + 1))
            left = int(rng.integers(0, img.shape[1] - side + 1))
            patches.append(img[top:top + side, left:left + side])
        stack = torch.stack(patches).unsqueeze(1)
        self.images = F.avg_pool2d(stack, int(pool)).squeeze(1) if pool > 1 else stack.squeeze(1)
        self.size = int(size)
        self.dim = self.size * self.size
        self.image_shape = (1, self.size, self.size)

    def samples(self) -> torch.Tensor:
        return self.images.reshape(len(self.images), -1).clone()

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        pool = self.samples()
        return pool[torch.randint(0, len(pool), (n,), generator=rng)]
