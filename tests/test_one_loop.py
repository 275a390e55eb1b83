"""One training loop (benchmark/loop.py): no method counts its own steps. A method module supplies a program's
set-up and one step (or a batch's chunk of steps); only the engine advances progress, logs losses at its
cadence, takes budget-curve points and checkpoints or restores a run. The check reads the source of every
module in baselines/, so a newly added method that brings its own loop fails it."""

from __future__ import annotations

import ast

from conftest import REPO

# what only the engine's loop (and the batch relay in benchmark/batching.py) calls on a run's context
LOOP_ONLY = {"advance", "log_losses", "curve_point", "checkpoint", "restore"}


def loop_calls(source: str) -> list[tuple[int, str]]:
    """Calls of the loop's own bookkeeping, and loops over ``steps`` (``for`` over a range of it, ``while``
    against it): a step loop."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOOP_ONLY:
            found.append((node.lineno, node.func.attr))
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and \
                getattr(node.iter.func, "id", "") == "range":
            names = {n.id if isinstance(n, ast.Name) else n.attr for a in node.iter.args for n in ast.walk(a)
                     if isinstance(n, (ast.Name, ast.Attribute))}
            if "steps" in names:
                found.append((node.lineno, "for … in range(steps)"))
        if isinstance(node, ast.While) and any(isinstance(n, ast.Name) and n.id == "steps" or
                                               isinstance(n, ast.Attribute) and n.attr == "steps"
                                               for n in ast.walk(node.test)):
            found.append((node.lineno, "while … steps"))
    return sorted(found)


def test_the_check_finds_a_hand_written_step_loop():
    planted = ("def train(self, ctx):\n"
               "    for step in range(1, ctx.steps + 1):\n"
               "        loss = self.step(step)\n"
               "        ctx.advance()\n"
               "        if step % ctx.log_every == 0:\n"
               "            ctx.log_losses(step, {'loss': loss})\n"
               "    for _ in range(self.hp['g_steps']):\n"  # inner updates of one step: allowed
               "        pass\n"
               "    while start <= steps:\n"
               "        start += 50\n")
    assert loop_calls(planted) == [(2, "for … in range(steps)"), (4, "advance"), (6, "log_losses"),
                                   (9, "while … steps")]


def test_no_method_module_has_a_training_loop_of_its_own():
    offenders = {str(path.relative_to(REPO)): calls for path in sorted((REPO / "baselines").glob("*.py"))
                 if (calls := loop_calls(path.read_text()))}
    assert not offenders, offenders
