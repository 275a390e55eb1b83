"""GAN baseline of Dai et al. (ICLR 2017), Section 5.1 / Table 2, through the shared networks
and loop of ``ebgan_common``.

From the authors' ``synthetic/binary_gan.py``: the discriminator network outputs an energy c(x)
and D(x) = σ(−c(x)), so real data get low energy and c(x) = −logit D(x) is what p_disc uses;
the discriminator minimises −E log D(x_real) − E log(1 − D(x_fake)), the generator the
non-saturating −E log D(G(z)); both are updated on every step from one forward pass, with
Adagrad at lr 0.001, batches of 500, 500 epochs of the 100K set (100K steps), discriminator
weights N(0, 0.01²) (``lasagne.init.Normal()``) and generator weights N(0, 0.125²).
"""

from __future__ import annotations

from baselines.ebgan_common import BUDGET, GAN_HPARAMS, NEEDS, AdversarialTraining, bce_costs
from benchmark.api import Method, RunContext, register_method


class _BCE:
    def costs(self, e_real, e_fake):
        return bce_costs(e_real, e_fake)


@register_method
class GANCegan(Method):
    name = "gan_cegan"
    description = "standard GAN (binary_gan.py) on the Appendix B.1 networks; energy c = −logit D"
    # binary_gan.py updates both networks every step: no EGAN switch bounds, no margin
    hparams = GAN_HPARAMS
    budget = BUDGET
    produces = ("train.frac_all_updates",)
    batch_family = "cegan_2d"  # the 2-D runs train together (baselines/ebgan_batched.py)
    provides = ("sampler", "noise_sampler", "energy", "gradient_fields if net=null", "features if net")
    needs = NEEDS

    def setup(self, ctx: RunContext) -> AdversarialTraining:
        return AdversarialTraining(ctx, _BCE(), energy_sign=1.0, label="GAN")
