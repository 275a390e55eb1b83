"""The DCGAN-style networks of Dai et al. (ICLR 2017), Appendix B.1, for 28×28 digits, 32×32 CIFAR-10
and 64×64 CelebA, shared by every EBGAN-family method that trains on images (``baselines/ebgan_common``).

Facts from the authors' code (zihangdai/cegan_iclr2017, read for facts only):

- ``knn_nist/network.py`` + ``knn_nist/exp_state.py`` (digits): noise 10; ``g_num_filters`` 128 and
  ``d_num_filters`` 64, so the generator is FC(10, 512·7·7, no bias)-BN-ReLU-DC(512,256;4c2s)-BN-ReLU-
  DC(256,128;4c2s)-BN-ReLU-DC(128,1;3c1s, bias)-Sigmoid and the discriminator CV(1,64;3c1s)-BN-LRec-
  CV(64,128;4c2s)-BN-LRec-CV(128,256;4c2s)-BN-LRec-FC(256·7·7, 1) (convolutions without bias, no final
  sigmoid); LeakyRectify with leak 0.2 (``nn/activition.py``); weights N(0, 0.05²) for (de)convolutions
  (``d_conv_init``, ``g_conv_init``) and N(0, 0.005²) for the fully connected layers (``d_init``,
  ``g_init``); biases and BN shifts 0, BN scales 1.
- ``cifar10/conv_cifar10_energy_gan.py`` (CIFAR-10): noise 100 (B.1 prints FC(10, ·)); generator
  FC(100, 512·4·4)-BN-ReLU-DC(512,512;4c2s)-BN-ReLU-DC(512,256;4c2s)-BN-ReLU-DC(256,128;4c2s)-BN-ReLU-
  DC(128,3;3c1s)-Tanh (B.1's listing of the middle layers has a typo: 256 → 128 twice); discriminator
  and inference net CV(3,64;3c1s)-BN-ReLU-CV(64,128;4c2s)-BN-ReLU-CV(128,256;4c2s)-BN-ReLU-
  CV(256,256;4c2s)-BN-ReLU-FC(256·4·4, 1 or 2·noise) — plain ReLU in the code where B.1 says LRec;
  every weight N(0, 0.02²).
- 64×64 CelebA follows B.1 (four 4c2s convolutions each way; its generator listing repeats
  DC(256,128), read here as 512 → 256 → 128 → 128 → 3).

The discriminator is split into ``features`` (everything up to the last fully connected layer) and
``head``, so that the linear probe of Appendix B.5 can read the "last-layer activation".
``width`` scales every channel count (1.0 = the code's) for reduced CPU budgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ImageArch:
    """One of the B.1 architectures: image geometry, layer plan and output non-linearity."""

    channels: int
    size: int
    base: int  # spatial size after the generator's fully connected layer (and of the last D map)
    g_plan: tuple[int, ...]  # generator channel multipliers of g_filters, first = after the FC layer
    d_plan: tuple[int, ...]  # discriminator channel multipliers of d_filters
    d_first_3x3: bool  # the first D convolution is 3c1s (digits, CIFAR) instead of 4c2s (CelebA)
    g_last_3x3: bool  # the last G deconvolution is 3c1s (digits, CIFAR) instead of 4c2s (CelebA)
    output: str  # "sigmoid" (pixels in [0, 1]) or "tanh" ([-1, 1])


ARCHS: dict[str, ImageArch] = {
    "digits28": ImageArch(1, 28, 7, (4, 2, 1), (1, 2, 4), True, True, "sigmoid"),
    "cifar32": ImageArch(3, 32, 4, (4, 4, 2, 1), (1, 2, 4, 4), True, True, "tanh"),
    "celeba64": ImageArch(3, 64, 4, (4, 2, 1, 1), (1, 2, 4, 4), False, False, "tanh"),
}


def arch(name: str) -> ImageArch:
    if name not in ARCHS:
        raise ValueError(f"unknown image network '{name}' (one of {sorted(ARCHS)})")
    return ARCHS[name]


def _scaled(filters: int, width: float) -> int:
    return max(1, int(round(filters * width)))


def _init(net: nn.Module, fc_std: float, conv_std: float) -> nn.Module:
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, fc_std)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, conv_std)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return net


class Reshape(nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), *self.shape)


def make_image_generator(name: str, noise_dim: int, g_filters: int = 128, width: float = 1.0,
                         init_fc: float = 0.005, init_conv: float = 0.05) -> nn.Sequential:
    a = arch(name)
    chans = [_scaled(g_filters * m, width) for m in a.g_plan]
    layers: list[nn.Module] = [nn.Linear(noise_dim, chans[0] * a.base * a.base, bias=False),
                               nn.BatchNorm1d(chans[0] * a.base * a.base), nn.ReLU(),
                               Reshape(chans[0], a.base, a.base)]
    for c_in, c_out in zip(chans, chans[1:], strict=False):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if a.g_last_3x3:
        layers.append(nn.ConvTranspose2d(chans[-1], a.channels, 3, 1, 1, bias=True))
    else:
        layers.append(nn.ConvTranspose2d(chans[-1], a.channels, 4, 2, 1, bias=True))
    layers.append(nn.Sigmoid() if a.output == "sigmoid" else nn.Tanh())
    return _init(nn.Sequential(*layers), init_fc, init_conv)


def image_trunk(name: str, d_filters: int = 64, width: float = 1.0, leak: float = 0.2) -> tuple[nn.Sequential, int]:
    """The convolutional trunk shared by discriminator and inference net; (trunk, flat feature size)."""
    a = arch(name)
    chans = [_scaled(d_filters * m, width) for m in a.d_plan]
    act = (lambda: nn.LeakyReLU(leak)) if leak > 0 else nn.ReLU
    first = nn.Conv2d(a.channels, chans[0], 3, 1, 1, bias=False) if a.d_first_3x3 else \
        nn.Conv2d(a.channels, chans[0], 4, 2, 1, bias=False)
    layers: list[nn.Module] = [Reshape(a.channels, a.size, a.size), first, nn.BatchNorm2d(chans[0]), act()]
    for c_in, c_out in zip(chans, chans[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), act()]
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), chans[-1] * a.base * a.base


class ImageDiscriminator(nn.Module):
    """CV…-FC(·, out): ``features`` is the last-layer activation, ``head`` the final linear map
    (out = 1 for the energy, 2·noise for the inference net's (µ, log σ))."""

    def __init__(self, name: str, out: int = 1, d_filters: int = 64, width: float = 1.0, leak: float = 0.2,
                 init_fc: float = 0.005, init_conv: float = 0.05) -> None:
        super().__init__()
        self.features, n_features = image_trunk(name, d_filters, width, leak)
        self.head = nn.Linear(n_features, out, bias=True)
        self.n_features = n_features
        _init(self, init_fc, init_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
