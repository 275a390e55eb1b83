"""The "Random" column of Table 3 of Dai et al. (ICLR 2017), Appendix B.5: "a baseline where the input
features are extracted from a discriminator network with random weights". Nothing is trained: the
image networks of ``baselines/cegan_image_networks.py`` are drawn from the run's seed with the
experiment's initialisation and handed to the metrics as they are (BN with its initial running
statistics, mean 0 and variance 1). The released code has no script for Table 3; this reading is
the plain one of the sentence above.
"""

from __future__ import annotations

from baselines.cegan_image_networks import arch
from baselines.ebgan_common import (
    BUDGET,
    NETWORK_HPARAMS,
    EnergyModel,
    build_networks,
    is_image,
    noise_dim_of,
)
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.loop import Program


@register_method
class RandomDiscriminator(Method):
    name = "random_discriminator"
    description = "untrained discriminator (random weights): Table 3's 'Random' feature baseline"
    # the networks of the experiment, drawn and not trained: only their settings apply
    hparams = NETWORK_HPARAMS
    budget = BUDGET
    produces = ()
    provides = ("sampler", "noise_sampler", "energy", "features")
    needs = ()  # nothing: untrained networks never see the data

    def setup(self, ctx: RunContext) -> Program:
        return _Untrained(ctx)


class _Untrained(Program):
    """The networks as initialised (the loop seeds them from the run's ``init`` stream, the same draw as a
    trained method's initial networks), and no step."""

    steps = 0

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp = ctx.hparams
        if not is_image(hp):
            raise ValueError("random_discriminator needs an image network (hparam 'net')")
        gen, disc = build_networks(hp)
        self.gen, self.disc = gen.to(ctx.device).eval(), disc.to(ctx.device).eval()
        self.hp, self.device = hp, ctx.device

    def result(self) -> TrainResult:
        hp = self.hp
        a = arch(str(hp["net"]))
        model = EnergyModel(self.gen, self.disc, 1.0, self.device, int(hp["batch_size"]), None, noise_dim_of(hp),
                            image_shape=(a.channels, a.size, a.size), noise=str(hp.get("noise", "normal")),
                            energy_form=str(hp.get("energy_form", "identity")), label="Random")
        return TrainResult(model=model, measurements={})
