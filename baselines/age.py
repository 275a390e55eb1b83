"""Adversarial Generator-Encoder networks (AGE; Ulyanov et al. 2017) as Rosca et al. (2017) train them.

No discriminator: the encoder E and the generator G play the game themselves (§4, "the encoder tries to
compress data into codes drawn from the prior, while compressing samples into codes which do not match
the prior"). Codes live on the unit sphere, the prior is uniform on it (H.3), and the divergence of a
minibatch of codes from the prior is the empirical KL of eq. (18) divided by the latent size (App. D:
"this approximation was also used by Ulyanov et al. [41] in AGE"). Losses (H.1, H.2):

- encoder (minimises): KL(E(x)) − KL(E(G(z))) + λ_x·‖x − G(E(x))‖₁, λ_x swept over {100, 500, 1000, 2000};
- generator (minimises): KL(E(G(z))) + λ_z·(1 − cos(z, E(G(z)))), λ_z = 10 (cosine code reconstruction).

The generator is "updated multiple times for each encoder update" (§6); we take two, AGE's own
g_updates for CIFAR-10. One learning rate for both networks, Table 2: {1, 2, 5}·10⁻⁴, fixed (H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines import alpha_gan_networks as nets
from benchmark.api import RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int


def encoder_loss(codes_real: torch.Tensor, codes_fake: torch.Tensor, x: torch.Tensor, x_rec: torch.Tensor,
                 recon_x: float) -> torch.Tensor:
    return nets.empirical_kl(codes_real) - nets.empirical_kl(codes_fake) + recon_x * nets.l1(x, x_rec)


def generator_loss(codes_fake: torch.Tensor, z: torch.Tensor, recon_z: float) -> torch.Tensor:
    cosine_distance = 1.0 - F.cosine_similarity(z, codes_fake, dim=1).mean()
    return nets.empirical_kl(codes_fake) + recon_z * cosine_distance


@register_method
class AGE(nets.SuiteMethod):
    name = "age"
    description = "AGE: encoder/generator game on the unit sphere, L1 data and cosine code reconstruction"
    provides = ("sampler", "generator_snapshots", "encoder")
    hparams = {**nets.COMMON_HPARAMS, "lr": Float(2e-4, low=0), "recon_x": Float(1000.0, low=0),
               "recon_z": Float(10.0, low=0), "g_steps": Int(2, low=1)}

    def _train(self, ctx: RunContext, hp: dict) -> TrainResult:
        s = nets.Setup.from_ctx(ctx, hp)
        G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        # H.4: "For AGE we used the encoder architecture suggested by the authors, which is very similar
        # to the DCGAN discriminator architecture"
        E = nets.discriminator(s.shape, out=s.latent_dim, width=s.width).to(s.device)
        opt_g = nets.adam(G.parameters(), hp["lr"], s.betas)
        opt_e = nets.adam(E.parameters(), hp["lr"], s.betas)
        rng_x, rng_z = ctx.rng(1), ctx.rng(2)
        snap = nets.SnapshotRecorder(ctx.steps, s.snapshots)
        bs, lx, lz = s.batch_size, float(hp["recon_x"]), float(hp["recon_z"])

        def encode(x: torch.Tensor) -> torch.Tensor:
            return nets.project_sphere(E(x))

        def prior() -> torch.Tensor:
            return nets.sample_prior(bs, s.latent_dim, "sphere", rng_z).to(s.device)

        for step in range(1, ctx.steps + 1):
            x = nets.draw_images(ctx.dataset, bs, rng_x, s.device)
            codes_real = encode(x)
            e_loss = encoder_loss(codes_real, encode(G(prior()).detach()), x, G(codes_real), lx)
            opt_e.zero_grad(set_to_none=True)
            e_loss.backward()
            opt_e.step()
            for _ in range(int(hp["g_steps"])):
                z = prior()
                g_loss = generator_loss(encode(G(z)), z, lz)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
            snap(step, G)
            nets.log_step(ctx, step, {"e_loss": e_loss, "g_loss": g_loss})
        model = nets.GenerativeModel(G, s.latent_dim, "sphere", s.device, s.shape, ctx.steps, encoder=E,
                                     snapshots=snap.saved)
        return TrainResult(model=model)
