"""WGAN-GP (Gulrajani et al. 2017, Alg. 1) as the full generative model of Rosca et al. (2017) §6.

Per iteration: five critic updates on E f(G(z)) − E f(x) + λ·E(‖∇f(x̂)‖ − 1)² with λ = 10 (H.1), then
one generator update on −E f(G(z)) ("for WGAN-GP, we update the discriminator 5 times for each generator
update following [1, 13]", §6). The gradient penalty is ``baselines.wgan.gradient_penalty`` applied to
flattened images. Networks of H.4 without batch norm in the critic (a batch-normalised critic breaks the
per-sample penalty; Gulrajani et al. §4), Adam(β = 0.5, 0.9), batch 64, Table 2's learning rates.
"""

from __future__ import annotations

import torch

from baselines import alpha_gan_networks as nets
from benchmark.api import RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int
from benchmark.nets.wgan_gp import (  # noqa: F401 (re-exported: the critic objective of this method)
    FlatCritic,
    critic_loss,
    image_gradient_penalty,
)


def generator_loss(f_fake: torch.Tensor) -> torch.Tensor:
    return -f_fake.mean()


@register_method
class WGANGP(nets.SuiteMethod):
    name = "wgan_gp"
    description = "WGAN-GP generative model: 5 critic updates per generator update, λ = 10"
    provides = ("sampler", "generator_snapshots")
    hparams = {**nets.COMMON_HPARAMS, "lr_g": Float(1e-4, low=0), "lr_d": Float(1e-4, low=0),
               "n_critic": Int(5, low=1), "penalty": Float(10.0, low=0)}

    def _train(self, ctx: RunContext, hp: dict) -> TrainResult:
        s = nets.Setup.from_ctx(ctx, hp)
        G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        D = nets.discriminator(s.shape, width=s.width, batch_norm=False).to(s.device)
        opt_g = nets.adam(G.parameters(), hp["lr_g"], s.betas)
        opt_d = nets.adam(D.parameters(), hp["lr_d"], s.betas)
        rng_x, rng_z, rng_eps = ctx.rng(1), ctx.rng(2), ctx.rng(3)
        snap = nets.SnapshotRecorder(ctx.steps, s.snapshots)
        bs, lam = s.batch_size, float(hp["penalty"])
        for step in range(1, ctx.steps + 1):
            for _ in range(int(hp["n_critic"])):
                x = nets.draw_images(ctx.dataset, bs, rng_x, s.device)
                z = nets.sample_prior(bs, s.latent_dim, "normal", rng_z).to(s.device)
                fake = G(z).detach()
                penalty = image_gradient_penalty(D, x, fake, rng_eps)
                d_loss = critic_loss(D(x), D(fake), penalty, lam)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            z = nets.sample_prior(bs, s.latent_dim, "normal", rng_z).to(s.device)
            g_loss = generator_loss(D(G(z)))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            snap(step, G)
            nets.log_step(ctx, step, {"critic_loss": d_loss, "penalty": penalty, "g_loss": g_loss})
        model = nets.GenerativeModel(G, s.latent_dim, "normal", s.device, s.shape, ctx.steps, snapshots=snap.saved)
        return TrainResult(model=model)
