"""DCGAN (Radford et al. 2016) as Rosca et al. (2017) train it for their comparison (§6, App. H).

Per iteration: one discriminator update on the BCE loss of eq. (1), then **two** generator updates on
the non-saturating loss of eq. (2), "following https://github.com/carpedm20/DCGAN-tensorflow; we found
it stabilizes training" (§6, "Experimental insights"). Networks of Appendix H.4 (Table 3 with dropout
after the last convolution, Table 4 on 28×28; the WGAN-code DCGAN networks on 32/64), Adam(β = 0.5,
0.9), batch 64, fixed learning rates swept over Table 2's {1, 2, 3}·10⁻⁴ for each network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines import alpha_gan_networks as nets
from benchmark.api import RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (1): E_p* −log D(x) + E_pθ −log(1 − D(x)), with D = sigmoid(logits)."""
    return -F.logsigmoid(logits_real).mean() - F.logsigmoid(-logits_fake).mean()


def generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (2), the alternative (non-saturating) loss: E_pθ −log D(x)."""
    return -F.logsigmoid(logits_fake).mean()


@register_method
class DCGAN(nets.SuiteMethod):
    name = "dcgan"
    description = "DCGAN, two generator updates per discriminator update (Rosca et al. 2017 §6)"
    provides = ("sampler", "generator_snapshots")
    # Table 3 caption: "dropout of 0.8 after the last convolutional layer" — read as TensorFlow's keep
    # probability 0.8, i.e. a drop rate of 0.2.
    hparams = {**nets.COMMON_HPARAMS, "lr_g": Float(2e-4, low=0), "lr_d": Float(2e-4, low=0),
               "g_steps": Int(2, low=1), "dropout": Float(0.2, low=0, high=1)}

    def _train(self, ctx: RunContext, hp: dict) -> TrainResult:
        s = nets.Setup.from_ctx(ctx, hp)
        G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        D = nets.discriminator(s.shape, width=s.width, dropout=float(hp["dropout"])).to(s.device)
        opt_g = nets.adam(G.parameters(), hp["lr_g"], s.betas)
        opt_d = nets.adam(D.parameters(), hp["lr_d"], s.betas)
        rng_x, rng_z = ctx.rng(1), ctx.rng(2)
        snap = nets.SnapshotRecorder(ctx.steps, s.snapshots)
        bs = s.batch_size
        for step in range(1, ctx.steps + 1):
            x = nets.draw_images(ctx.dataset, bs, rng_x, s.device)
            z = nets.sample_prior(bs, s.latent_dim, "normal", rng_z).to(s.device)
            d_loss = discriminator_loss(D(x), D(G(z).detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            for _ in range(int(hp["g_steps"])):
                z = nets.sample_prior(bs, s.latent_dim, "normal", rng_z).to(s.device)
                g_loss = generator_loss(D(G(z)))
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
            snap(step, G)
            nets.log_step(ctx, step, {"d_loss": d_loss, "g_loss": g_loss})
        model = nets.GenerativeModel(G, s.latent_dim, "normal", s.device, s.shape, ctx.steps, snapshots=snap.saved)
        return TrainResult(model=model)
