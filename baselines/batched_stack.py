"""Parameter layouts of a batched network (Dai et al., ICLR 2017, Appendix B.1: the 2-D generator
FC-BN-ReLU stack and discriminator FC-ReLU stack of zihangdai/cegan_iclr2017 ``synthetic/network.py``): one
network of every member as rows of a flat buffer, per-layer views into it, BatchNorm's running statistics, and
the way back to ordinary modules. What a row's values mean is the optimiser's (``batched_optim``) and the
model's (``ebgan_batched``) business; this module only lays them out."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def layout(template: nn.Sequential) -> tuple[list[tuple[int, str, tuple[int, int], int]], int]:
    """(module index, parameter name, shape, offset) of every parameter of a Linear / BatchNorm1d stack, and
    the total size: weights as (out, in), biases and BatchNorm's affine parameters as (out, 1)."""
    entries, offset = [], 0
    for i, mod in enumerate(template):
        if isinstance(mod, nn.Linear):
            shapes = (("weight", (mod.out_features, mod.in_features)), ("bias", (mod.out_features, 1)))
        elif isinstance(mod, nn.BatchNorm1d):
            shapes = (("weight", (mod.num_features, 1)), ("bias", (mod.num_features, 1)))
        else:
            continue
        for name, shape in shapes:
            entries.append((i, name, shape, offset))
            offset += shape[0] * shape[1]
    return entries, offset


class Stack:
    """One network of every member, living in rows of the optimiser's buffers (``p``, ``g``: (members, ≥ size)
    views): per-layer views (members, out, in) for weights and (members, out, 1) for biases, and BatchNorm's
    running statistics. ``nets`` are the members' freshly built nn.Sequential, whose values are copied in."""

    def __init__(self, nets: Sequence[nn.Sequential], p: torch.Tensor, g: torch.Tensor, device: torch.device) -> None:
        self.template = nets[0]
        self.entries, size = layout(self.template)
        self.p, self.g = p[:, :size], g[:, :size]
        for j, net in enumerate(nets):
            self.p[j] = torch.cat([getattr(net[i], name).detach().reshape(-1) for i, name, _, _ in self.entries])
        self.bn = [i for i, mod in enumerate(self.template) if isinstance(mod, nn.BatchNorm1d)]
        self.running = {i: (torch.stack([net[i].running_mean for net in nets]).to(device).unsqueeze(-1),
                            torch.stack([net[i].running_var for net in nets]).to(device).unsqueeze(-1))
                        for i in self.bn}

    def views(self, buf: torch.Tensor) -> list[torch.Tensor]:
        """Per module, in order: [weight, bias] views of ``buf`` for each Linear / BatchNorm1d."""
        return [buf[:, o:o + s[0] * s[1]].view(-1, *s) for _, _, s, o in self.entries]

    def unstack(self, j: int, forwards: int, device: torch.device) -> nn.Sequential:
        """Member j's network as an ordinary module in eval mode; ``forwards``: the training-mode forward passes
        its BatchNorm running statistics followed (``num_batches_tracked``)."""
        net = clone_structure(self.template)
        with torch.no_grad():
            for (i, name, s, o) in self.entries:
                getattr(net[i], name).copy_(self.p[j, o:o + s[0] * s[1]].reshape(getattr(net[i], name).shape))
            for i in self.bn:
                rm, rv = self.running[i]
                net[i].running_mean.copy_(rm[j, :, 0])
                net[i].running_var.copy_(rv[j, :, 0])
                net[i].num_batches_tracked.fill_(forwards)
        return net.to(device).eval()


def clone_structure(template: nn.Sequential) -> nn.Sequential:
    layers: list[nn.Module] = []
    for mod in template:
        if isinstance(mod, nn.Linear):
            layers.append(nn.Linear(mod.in_features, mod.out_features))
        elif isinstance(mod, nn.BatchNorm1d):
            layers.append(nn.BatchNorm1d(mod.num_features, eps=mod.eps, momentum=mod.momentum))
        else:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
