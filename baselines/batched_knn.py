"""The k-NN entropy direction of EGAN-Ent-NN (Dai et al., ICLR 2017, eqs. 10-11; zihangdai/cegan_iclr2017
``synthetic/egan_knn.py``) for a stack of batches at once, each batch on its own: what
``baselines.egan_ent_nn.knn_entropy_direction`` computes for one."""

from __future__ import annotations

import numpy as np
import torch


def nearest_cpu(dist: torch.Tensor, k: int) -> torch.Tensor:
    """The k+1 nearest of each row, unordered: the set topk(k+1) gives, in a third of its CPU time. (Splitting
    the rows over a second thread gains nothing inside a step: torch's OpenMP worker still spins on the other
    core after the preceding parallel op.)"""
    return torch.from_numpy(np.argpartition(dist.numpy(), k, axis=2)[:, :, :k + 1])


def knn_directions(x: torch.Tensor, k: int, normalise: str) -> torch.Tensor:
    """``egan_ent_nn.knn_entropy_direction`` for a stack of batches x (B, n, 2), each on its own: the reference
    takes topk(k+1) of the cdist distances and drops the first (the point itself); here the k+1 nearest come
    unordered and the nearest of them is dropped. Only the neighbours' mean and variance are used, so their
    order matters to rounding alone."""
    b, n, dim = x.shape
    dist = torch.cdist(x, x)
    idx = nearest_cpu(dist, k) if dist.device.type == "cpu" else torch.topk(dist, k + 1, dim=2, largest=False)[1]
    flat = (idx + (torch.arange(b, device=x.device) * n).view(b, 1, 1)).view(-1)
    # coordinates first, neighbours last, so that every reduction runs over contiguous memory
    nb = x.reshape(b * n, dim).t().contiguous().index_select(1, flat).view(dim, b, n, k + 1)
    own = (nb - x.permute(2, 0, 1).unsqueeze(-1)).square().sum(0).argmin(dim=-1, keepdim=True)  # the point itself
    total = nb.sum(-1, keepdim=True)
    mean = (total - nb.gather(-1, own.expand(dim, b, n, 1))).div_(k)
    diff = (mean.squeeze(-1).permute(1, 2, 0) - x)
    if normalise == "unit":
        return diff / diff.norm(dim=2, keepdim=True).clamp_min(1e-12)
    # the neighbourhood's variance with itself, (1/(k+1)) Σ (x_j − mean)², two-pass (torch.var is slow here)
    var = nb.sub_(total.div_(k + 1)).square_().mean(-1)
    return diff / var.permute(1, 2, 0).clamp_min(1e-12)
