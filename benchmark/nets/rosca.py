"""Networks (Appendix H.4) and priors (H.3) of Rosca et al. (2017), "Variational Approaches for Auto-Encoding
GANs": engine-level because both the methods of ``baselines/`` (DCGAN, WGAN-GP, AGE, α-GAN) and a metric, the
independent Wasserstein critic (``benchmark/metrics/independent_critic.py``), build them, and no metric may
import a method module.

- 28×28 (ColorMNIST and its colour-digits analogue): the discriminator of Table 3 (5×5 convolutions
  with strides 2,1,2,1,2 and 8,16,32,64,64 maps, then a linear layer) and the generator of Table 4
  (linear to 3136 = 7·7·64, then 5×5 transposed convolutions with strides 2,1,2 and 64,32,3 maps).
- 32×32 and 64×64 (CIFAR-10, CelebA): the DCGAN networks of Arjovsky et al.'s WGAN code
  (models/dcgan.py, which H.4.2 cites): 4×4 stride-2 convolutions doubling the maps from 64 up to a
  4×4 map, and the mirror-image generator.
- α-GAN encoder: "formed by transposing the generator", no activation after its last layer (H.4).
- AGE encoder: the discriminator body with a latent-size output (H.4: "very similar to the DCGAN
  discriminator"), projected onto the unit sphere by the method (H.3).
- code discriminator: "a 3 layer MLP, each layer containing 750 hidden units" (H.4).

Discriminators and the AGE encoder use leaky ReLUs of slope 0.2, generators ReLUs (H.4); batch norm
everywhere (H) except in Wasserstein critics, where a per-batch normalisation would break the
per-sample gradient penalty (Gulrajani et al. 2017, §4: "no critic batch normalization").
``width`` scales every feature-map count: 1.0 is the paper's; the cpu profile uses less, and says so.
"""

from __future__ import annotations

import torch
from torch import nn

LEAK = 0.2  # H.4: "leaky units with a slope of 0.2"
TABLE3_MAPS = (8, 16, 32, 64, 64)
TABLE3_STRIDES = (2, 1, 2, 1, 2)
TABLE4_MAPS = (64, 32)  # then the image channels
TABLE4_STRIDES = (2, 1, 2)


def _maps(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


# ------------------------------------------------------------------------------ 28×28 (Tables 3–4)


class Table3Discriminator(nn.Module):
    """Table 3. ``out`` = 1 for a discriminator/critic, the latent size for the AGE encoder.
    ``dropout``: DCGAN only, after the last convolution (Table 3 caption)."""

    def __init__(self, channels: int = 3, out: int = 1, width: float = 1.0, batch_norm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = channels, 28
        for i, (maps, stride) in enumerate(zip(TABLE3_MAPS, TABLE3_STRIDES, strict=True)):
            c_out = _maps(maps, width)
            layers.append(nn.Conv2d(c_in, c_out, 5, stride, 2))
            # no norm on the first layer, as in DCGAN (Radford et al. 2016, §3)
            layers += [_norm(c_out, batch_norm and i > 0), nn.LeakyReLU(LEAK)]
            c_in, size = c_out, (size + stride - 1) // stride
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * size * size, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class Table4Generator(nn.Module):
    """Table 4: linear → 7×7×64, 5×5 transposed convolutions (stride 2, 1, 2) to 64, 32, 3 maps; tanh."""

    def __init__(self, latent_dim: int, channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        self.c0 = _maps(64, width)
        self.fc = nn.Sequential(nn.Linear(latent_dim, self.c0 * 49), nn.BatchNorm1d(self.c0 * 49), nn.ReLU())
        maps = [_maps(m, width) for m in TABLE4_MAPS] + [channels]
        layers: list[nn.Module] = []
        c_in = self.c0
        for i, (c_out, stride) in enumerate(zip(maps, TABLE4_STRIDES, strict=True)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 5, stride, 2, output_padding=stride - 1))
            layers += [nn.BatchNorm2d(c_out), nn.ReLU()] if i < len(maps) - 1 else [nn.Tanh()]
            c_in = c_out
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(len(z), self.c0, 7, 7))


class Table4Encoder(nn.Module):
    """Table 4 transposed (H.4): 5×5 convolutions (stride 2, 1, 2) to 32, 64, 64 maps, linear to the
    latent size, no output activation. ReLUs, since it mirrors a generator."""

    def __init__(self, latent_dim: int, channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        maps = [_maps(m, width) for m in (32, 64, 64)]
        layers: list[nn.Module] = []
        c_in = channels
        for c_out, stride in zip(maps, reversed(TABLE4_STRIDES), strict=True):
            layers += [nn.Conv2d(c_in, c_out, 5, stride, 2), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * 49, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ------------------------------------------------------------------ 32×32 / 64×64 (WGAN code, H.4.2)


def _pyramid_depth(size: int) -> int:
    if size not in (32, 64):
        raise ValueError(f"the DCGAN networks take 32×32 or 64×64 images, not {size}×{size}")
    return {32: 2, 64: 3}[size]  # stride-2 layers after the first, down to 4×4


class DCGANDiscriminator(nn.Module):
    """models/dcgan.py DCGAN_D: conv4×4/2 to ndf maps, then conv4×4/2 doubling the maps to 4×4,
    then a 4×4 convolution to ``out`` values."""

    def __init__(self, size: int, channels: int = 3, out: int = 1, width: float = 1.0, batch_norm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        c = _maps(64, width)
        layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1), nn.LeakyReLU(LEAK)]
        for _ in range(_pyramid_depth(size)):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), _norm(2 * c, batch_norm), nn.LeakyReLU(LEAK)]
            c *= 2
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(c, out, 4, 1, 0), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DCGANGenerator(nn.Module):
    """models/dcgan.py DCGAN_G: 4×4 transposed convolution from the code to a 4×4 map, then
    transposed conv4×4/2 halving the maps, the last one to the image channels; tanh."""

    def __init__(self, size: int, latent_dim: int, channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        depth = _pyramid_depth(size)
        c = _maps(64, width) * 2 ** depth
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, c, 4, 1, 0), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(depth):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z.view(len(z), -1, 1, 1))


class DCGANEncoder(nn.Module):
    """DCGAN_G transposed: conv4×4/2 doubling the maps down to 4×4, then a 4×4 convolution to the code."""

    def __init__(self, size: int, latent_dim: int, channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        c = _maps(64, width)
        layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(_pyramid_depth(size)):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.ReLU()]
            c *= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(c, latent_dim, 4, 1, 0), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


# ------------------------------------------------------------------------------- by image shape


def discriminator(shape: tuple[int, int, int], out: int = 1, width: float = 1.0, batch_norm: bool = True,
                  dropout: float = 0.0) -> nn.Module:
    channels, size, _ = shape
    if size == 28:
        return Table3Discriminator(channels, out, width, batch_norm, dropout)
    return DCGANDiscriminator(size, channels, out, width, batch_norm, dropout)


def generator(shape: tuple[int, int, int], latent_dim: int, width: float = 1.0) -> nn.Module:
    channels, size, _ = shape
    if size == 28:
        return Table4Generator(latent_dim, channels, width)
    return DCGANGenerator(size, latent_dim, channels, width)


def encoder(shape: tuple[int, int, int], latent_dim: int, width: float = 1.0) -> nn.Module:
    """The α-GAN encoder (the generator transposed)."""
    channels, size, _ = shape
    if size == 28:
        return Table4Encoder(latent_dim, channels, width)
    return DCGANEncoder(size, latent_dim, channels, width)


def code_discriminator(latent_dim: int, hidden: int = 750, depth: int = 3) -> nn.Sequential:
    """H.4: a 3-layer MLP of 750 units (leaky ReLU 0.2), one logit."""
    layers: list[nn.Module] = []
    width = latent_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(LEAK)]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, 1))


# ------------------------------------------------------------------------------------ priors (H.3)


def sample_prior(n: int, latent_dim: int, prior: str, rng: torch.Generator) -> torch.Tensor:
    """N(0, I) for every model but AGE, whose prior is uniform on the unit sphere (H.3)."""
    z = torch.randn(n, latent_dim, generator=rng)
    return project_sphere(z) if prior == "sphere" else z


def project_sphere(z: torch.Tensor) -> torch.Tensor:
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
