"""The independent Wasserstein critic of Rosca et al. (2017) §5 (after Danihelka et al. 2017, with
WGAN-GP in place of the original WGAN, footnote 3): a critic trained, independently of the model, to
tell held-out *validation* data from model samples; reported as the negative Wasserstein distance it
estimates between the *test* set and the generator (higher is better).

"Half way": "we only start training it half way through the training of our model" (§5). The critic
trains alongside the second half of the model's training, so it faces the generator as it was at each
point of that half. Metrics run after training, so each method saves its generator at
``critic_snapshots`` points from the middle to the end (capability ``generator_snapshots``) and the
critic replays that half: its ``critic_steps`` updates are spread evenly over it, each drawing samples
from the snapshot in force at that point; the final estimate uses the final generator.

Critic: the dataset's discriminator architecture (H.4) without batch norm, gradient penalty λ = 10,
Adam(1e-4, β = (0.5, 0.9)), batch 64 (Gulrajani et al. 2017, Alg. 1). Its learning curve — the loss on a
validation minibatch and the estimate on the test set at ``critic_curve_points`` points — is logged as a figure
(Figure 13). Every estimate reads the whole split, as §5 does, unless ``critic_eval_images`` limits it to the
split's first images (a smoke run's few steps cannot use more).
Measurements: ``critic.neg_w`` = −(E_test f − E_G f); ``critic.neg_w_valid`` the same on the validation
data it trained on (the train/test gap of Appendix E). Its initial weights, minibatches, samples and penalty
interpolates come from the run's streams "metric/independent_critic/…", and its initialisation leaves torch's
global generator as it was.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmark import contracts  # noqa: E402
from benchmark.api import RunContext, TrainResult, register_metric, stream_seed  # noqa: E402
from benchmark.budget import read as read_budget  # noqa: E402
from benchmark.hparams import Float, Int  # noqa: E402
from benchmark.nets.rosca import discriminator, sample_prior  # noqa: E402
from benchmark.nets.wgan_gp import critic_loss, image_gradient_penalty  # noqa: E402
from benchmark.threads import cpu_threads  # noqa: E402

PENALTY, LR, BETAS, BATCH = 10.0, 1e-4, (0.5, 0.9), 64
BUDGET = {
    "critic_steps": Int(None, low=1, doc="the critic's updates over the second half of training; null: half the "
                                         "model's steps"),
    "critic_width": Float(1.0, low=0, doc="channel multiplier of the critic's network (1.0: the paper's)"),
    # the paper's estimate reads the whole split; a smoke run with real data would spend minutes per run there
    "critic_eval_images": Int(None, low=1, doc="images of the test (and validation) split each estimate reads, the "
                                               "first ones; null: the whole split (§5)"),
    "critic_curve_points": Int(10, low=1, doc="points of the learning curve (Figure 13), each an estimate"),
}
_STREAM = "metric/independent_critic"


def _generators(model: contracts.GeneratorSnapshots) -> list[tuple[int, nn.Module]]:
    """(step, generator in eval mode) from half way to the end; the final generator if none was saved."""
    out = []
    for step, state in model.snapshots:
        net = copy.deepcopy(model.generator)
        net.load_state_dict(state)
        out.append((step, net.eval()))
    return out or [(model.steps, model.generator.eval())]


def _schedule(critic_steps: int, generators: list[tuple[int, nn.Module]], total: int) -> list[int]:
    """For critic update k, the index of the snapshot in force at model step half + k·(total − half)/K."""
    half = generators[0][0]
    steps = [g[0] for g in generators]
    out = []
    for k in range(critic_steps):
        t = half + (total - half) * k / max(1, critic_steps)
        out.append(max(i for i, s in enumerate(steps) if s <= max(t, half)))
    return out


@torch.no_grad()
def _draw(net: nn.Module, n: int, model: contracts.GeneratorSnapshots, rng: torch.Generator) -> torch.Tensor:
    return net(sample_prior(n, model.latent_dim, model.prior, rng).to(model.device))


@torch.no_grad()
def _estimate(critic: nn.Module, data: torch.Tensor, net: nn.Module, model: contracts.GeneratorSnapshots,
              rng: torch.Generator, batch: int = 500) -> float:
    """E_data f − E_G f with as many samples as data points."""
    f_data = torch.cat([critic(data[i:i + batch].to(model.device)) for i in range(0, len(data), batch)])
    f_gen = torch.cat([critic(_draw(net, min(batch, len(data) - i), model, rng))
                       for i in range(0, len(data), batch)])
    return float(f_data.double().mean() - f_gen.double().mean())


def train_independent_critic(model: contracts.GeneratorSnapshots, dataset: Any, ctx: RunContext,
                             critic_steps: int, width: float = 1.0, eval_images: int | None = None,
                             curve_points: int = 10) -> dict[str, object]:
    """Train the critic on ``dataset`` (capabilities ``image_splits`` and ``validation_split``)."""
    generators = _generators(model)
    schedule = _schedule(critic_steps, generators, model.steps)
    # network initialisation draws from torch's global generator: take it from the run's own stream for the
    # critic and put the global one back, so that nothing after this metric depends on it having run
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(ctx.seed, f"{_STREAM}/init"))
        critic = discriminator(model.image_shape, width=width, batch_norm=False).to(model.device)
    opt = torch.optim.Adam(critic.parameters(), lr=LR, betas=BETAS)
    rng_v, rng_g = ctx.rng(f"{_STREAM}/valid_batches"), ctx.rng(f"{_STREAM}/samples")
    rng_e, rng_eval = ctx.rng(f"{_STREAM}/penalty"), ctx.rng(f"{_STREAM}/estimate")
    test, valid = dataset.split("test")[:eval_images], dataset.split("valid")[:eval_images]
    curve: dict[str, list[float]] = {"step": [], "valid_loss": [], "test_w": []}
    every = max(1, critic_steps // curve_points)
    for k, index in enumerate(schedule, start=1):
        x = dataset.sample_split("valid", BATCH, rng_v).to(model.device)
        fake = _draw(generators[index][1], BATCH, model, rng_g)
        loss = critic_loss(critic(x), critic(fake), image_gradient_penalty(critic, x, fake, rng_e), PENALTY)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if k % every == 0 or k == critic_steps:
            curve["step"].append(k)
            curve["valid_loss"].append(float(loss.detach()))
            curve["test_w"].append(_estimate(critic, test, generators[-1][1], model, ctx.rng(f"{_STREAM}/curve/{k}")))
    final = model.generator.eval()
    w_test = _estimate(critic, test, final, model, rng_eval)
    w_valid = _estimate(critic, valid, final, model, rng_eval)
    return {"neg_w": -w_test, "neg_w_valid": -w_valid, "curve": curve, "critic": critic}


def _figure(curve: dict[str, list[float]], title: str):
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(curve["step"], curve["valid_loss"])
    a.set(xlabel="critic step", ylabel="loss", title="validation minibatch")
    b.plot(curve["step"], [-w for w in curve["test_w"]])
    b.set(xlabel="critic step", ylabel="−W estimate", title="test set")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@register_metric(
    "independent_critic",
    produces=["critic.neg_w", "critic.neg_w_valid"],
    description="negative Wasserstein distance of an independent WGAN-GP critic started half way (§5)",
    version="2", needs_model=("generator_snapshots",), needs_dataset=("image_splits", "validation_split"),
    budget=BUDGET,
)
def independent_critic(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(contracts.GeneratorSnapshots, result.model)
    budget = read_budget(BUDGET, ctx.budget)
    steps = max(1, model.steps // 2) if budget["critic_steps"] is None else int(budget["critic_steps"])
    width = float(budget["critic_width"])
    with cpu_threads(ctx):
        out = train_independent_critic(model, ctx.dataset, ctx, steps, width, budget["critic_eval_images"],
                                       int(budget["critic_curve_points"]))
    ctx.log_figure(_figure(out["curve"], f"independent critic ({ctx.dataset.name})"), "independent_critic_curve")
    return {"critic.neg_w": float(out["neg_w"]), "critic.neg_w_valid": float(out["neg_w_valid"])}
