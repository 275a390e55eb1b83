"""The Fréchet distance (benchmark/features/scores.py) against its closed form and against pytorch-fid."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy import linalg

from benchmark.features.scores import frechet


def test_frechet_of_diagonal_gaussians_is_its_closed_form():
    # for commuting covariances tr((Σ₁Σ₂)^½) = Σ √(σ₁σ₂): |Δμ|² + Σ (√σ₁ − √σ₂)²
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)  # 7.25 + 4 + 1 + 0
    assert frechet((mu1, np.diag(var1)), (mu2, np.diag(var2))) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(12.25)


def test_frechet_of_a_fit_with_itself_is_zero_and_a_singular_fit_still_measures():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    fit = (x.mean(0), np.cov(x, rowvar=False))
    assert frechet(fit, fit) == pytest.approx(0.0, abs=1e-8)
    low_rank = rng.normal(size=(3, 6))  # 3 points in 6 dimensions: a covariance of rank 2
    singular = (low_rank.mean(0), np.cov(low_rank, rowvar=False))
    assert np.isfinite(frechet(singular, fit)) and frechet(singular, fit) > 0


@pytest.mark.skipif("disp" not in inspect.signature(linalg.sqrtm).parameters,
                    reason="pytorch-fid's calculate_frechet_distance needs sqrtm(disp=...), removed in SciPy 1.18")
# the reference's own call is the deprecated one (pytorch_fid/fid_score.py); ours passes no ``disp``
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")
def test_frechet_agrees_with_pytorch_fid():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 8)), rng.normal(0.3, 1.5, size=(300, 8))
    fa, fb = (a.mean(0), np.cov(a, rowvar=False)), (b.mean(0), np.cov(b, rowvar=False))
    assert frechet(fa, fb) == pytest.approx(calculate_frechet_distance(fa[0], fa[1], fb[0], fb[1]), rel=1e-9)
