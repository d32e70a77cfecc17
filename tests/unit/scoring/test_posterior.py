"""PosteriorEAP: incremental updates, persistence and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoring import PosteriorEAP, estimate_eap


def test_fresh_posterior_is_the_prior():
    post = PosteriorEAP(prior_mean=0.5, prior_sd=0.7)
    assert post.theta == pytest.approx(0.5, abs=1e-9)
    assert post.se == pytest.approx(0.7, abs=1e-6)
    assert post.n_updates == 0
    assert post.nodes.shape == (41,)


def test_update_returns_self_and_moves_theta(lsat6_params):
    post = PosteriorEAP()
    assert post.update(lsat6_params, 2, 1) is post
    up = post.theta
    post.update(lsat6_params, 0, 0)
    assert post.theta < up
    assert post.n_updates == 2


def test_update_matches_batch_eap_with_settings(mixed_params, rng):
    settings = {"prior_mean": -0.2, "prior_sd": 1.3, "n_nodes": 61, "bounds": (-5.0, 5.0)}
    x = np.array([rng.integers(0, k) for k in mixed_params.n_categories], dtype=float)
    post = PosteriorEAP(**settings).update_many(mixed_params, range(len(x)), x.astype(int))
    batch = estimate_eap(x, mixed_params, **settings)
    assert post.theta == pytest.approx(batch.theta[0], abs=1e-10)
    assert post.se == pytest.approx(batch.se[0], abs=1e-10)


def test_log_posterior_round_trip(mixed_params):
    post = PosteriorEAP(n_nodes=21, bounds=(-4.0, 4.0)).update(mixed_params, 3, 2)
    saved = post.log_posterior
    saved[0] = 123.0  # a copy: the posterior is unchanged
    assert post.log_posterior[0] != 123.0
    restored = PosteriorEAP.from_log_posterior(
        post.log_posterior, n_nodes=21, bounds=(-4.0, 4.0), n_updates=post.n_updates
    )
    assert restored.theta == post.theta
    assert restored.se == post.se
    assert restored.n_updates == 1
    again = PosteriorEAP.from_dict(json.loads(json.dumps(post.to_dict())))
    assert again.theta == post.theta
    assert again.n_updates == 1
    copy = post.copy().update(mixed_params, 0, 1)
    assert copy.n_updates == 2
    assert post.n_updates == 1


def test_restore_validation():
    with pytest.raises(ValueError, match="n_nodes"):
        PosteriorEAP.from_log_posterior(np.zeros(10), n_nodes=41)
    with pytest.raises(ValueError, match="1-D"):
        PosteriorEAP.from_log_posterior(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        PosteriorEAP.from_log_posterior(np.full(41, np.nan))
    with pytest.raises(ValueError, match="lacks"):
        PosteriorEAP.from_dict({"n_nodes": 41})


def test_update_validation(mixed_params):
    post = PosteriorEAP()
    with pytest.raises(ValueError, match="out of range"):
        post.update(mixed_params, len(mixed_params), 0)
    with pytest.raises(ValueError, match="not a category"):
        post.update(mixed_params, 0, 2)
    with pytest.raises(ValueError, match="not a category"):
        post.update(mixed_params, 0, 0.5)
    with pytest.raises(ValueError, match="integer"):
        post.update(mixed_params, "x", 0)
    assert post.n_updates == 0


def test_long_extreme_sequences_stay_finite(lsat6_params):
    post = PosteriorEAP()
    for _ in range(500):
        post.update(lsat6_params, 2, 1)
    assert np.isfinite(post.theta)
    assert np.isfinite(post.se)
    assert post.theta > 4
