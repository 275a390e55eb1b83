"""Adam and Adagrad with the arithmetic of Lasagne's ``lasagne.updates``, which the original code of Dai et al.
(ICLR 2017) trains with (zihangdai/cegan_iclr2017 ``synthetic/egan_knn.py`` line 13 and ``synthetic/binary_gan.py``
line 10 import them; Lasagne/Lasagne ``lasagne/updates.py``, functions ``adam`` and ``adagrad``). torch.optim places
epsilon elsewhere:

- Adagrad: Lasagne steps lr·g / sqrt(Σg² + ε), torch lr·g / (sqrt(Σg²) + ε). While Σg² is below ε = 1e-6 (the
  first steps of a network whose gradients are 1e-5 to 1e-4, as the 2-D GAN's generator at initialisation) Lasagne's
  step is about lr·g/1e-3, torch's about lr·sign(g): up to tens of times larger.
- Adam: Lasagne steps a_t·m_t / (sqrt(v_t) + ε) with a_t = lr·sqrt(1 − β2^t)/(1 − β1^t), torch lr/(1 − β1^t) · m_t /
  (sqrt(v_t)/sqrt(1 − β2^t) + ε): the same but for ε, which is in effect ε/sqrt(1 − β2^t) in Lasagne's (3.2e-7 at
  t = 1, 1.3e-8 at t = 1000), damping parameters with tiny gradients in the first steps.

Each optimiser counts its steps per parameter, as torch.optim does; Lasagne counts them per ``adam`` call, which
is the same here because the parameters of one call always move together.
"""

from __future__ import annotations

from typing import Any

import torch


class _PerParameter(torch.optim.Optimizer):
    """One update per parameter that has a gradient, with its own state and step count (as torch.optim keeps them)."""

    def _fresh(self, p: torch.Tensor) -> dict[str, Any]:
        raise NotImplementedError

    def _move(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, **self._fresh(p))
                state["step"] += 1
                self._move(p, state, group)


class LasagneAdam(_PerParameter):
    def __init__(self, params: Any, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    def _fresh(self, p: torch.Tensor) -> dict[str, Any]:
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def _move(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        t = state["step"]
        a_t = group["lr"] * (1.0 - beta2 ** t) ** 0.5 / (1.0 - beta1 ** t)
        state["m"].mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
        state["v"].mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
        p.addcdiv_(state["m"], state["v"].sqrt().add_(group["eps"]), value=-a_t)


class LasagneAdagrad(_PerParameter):
    def __init__(self, params: Any, lr: float, eps: float = 1e-6) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})

    def _fresh(self, p: torch.Tensor) -> dict[str, Any]:
        return {"accu": torch.zeros_like(p)}

    def _move(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["accu"].addcmul_(p.grad, p.grad)
        p.addcdiv_(p.grad, state["accu"].add(group["eps"]).sqrt_(), value=-group["lr"])
