"""MML calibration: published values, agreement with girth, the estimator contract, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp

from scoring import ItemParameters, estimate_eap, log_likelihood
from scoring.calibration import (
    ConvergenceWarning,
    LogNormalPrior,
    MMLCalibrator,
    NormalPrior,
    ResponseData,
)

from .calibration_helpers import load_wide, random_items, simulate, to_sparse

# Bock & Lieberman's LSAT6, 2PL with D = 1 (DESIGN.md; Bock & Aitkin, 1981).
LSAT6_A = [0.83, 0.72, 0.89, 0.69, 0.66]
LSAT6_B = [-3.36, -1.37, -0.28, -1.87, -3.12]
LSAT6_LL = -2466.65
# Standard errors from the observed information, as reported by ltm (Rizopoulos, 2006, JSS
# 17(5), the LSAT example), to the three or four decimals printed there.
LSAT6_SE_A = [0.2581, 0.1867, 0.2326, 0.1852, 0.2100]
LSAT6_SE_B = [0.8669, 0.3073, 0.0997, 0.4341, 0.8700]


@pytest.fixture(scope="module")
def lsat6() -> np.ndarray:
    return load_wide("lsat6.csv")[0]


@pytest.fixture(scope="module")
def lsat6_fit(lsat6: np.ndarray) -> MMLCalibrator:
    return MMLCalibrator("2pl", se_method="observed").fit(lsat6)


@pytest.fixture(scope="module")
def verbagg() -> np.ndarray:
    return load_wide("verbagg.csv")[0]


def _girth(name: str, *args):
    """Call a girth estimator; girth's own numerical warnings are not ours to fail on."""
    girth = pytest.importorskip("girth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(girth, name)(*args)


def _marginal_ll(params: ItemParameters, responses: np.ndarray) -> float:
    nodes = np.linspace(-6, 6, 41)
    log_w = -0.5 * nodes**2
    log_w -= logsumexp(log_w)
    return float(logsumexp(log_likelihood(params, responses, nodes) + log_w, axis=1).sum())


# ---------------------------------------------------------------------------- real data
def test_lsat6_matches_published_estimates_and_log_likelihood(lsat6_fit: MMLCalibrator) -> None:
    np.testing.assert_allclose(lsat6_fit.discrimination_, LSAT6_A, atol=0.01)
    np.testing.assert_allclose(lsat6_fit.difficulty_, LSAT6_B, atol=0.01)
    assert lsat6_fit.log_likelihood_ == pytest.approx(LSAT6_LL, abs=0.01)
    assert lsat6_fit.converged_
    assert lsat6_fit.n_parameters_ == 10
    assert lsat6_fit.aic_ == pytest.approx(-2 * lsat6_fit.log_likelihood_ + 20)
    assert lsat6_fit.bic_ == pytest.approx(-2 * lsat6_fit.log_likelihood_ + 10 * np.log(1000))


def test_lsat6_observed_information_standard_errors_match_ltm(lsat6_fit: MMLCalibrator) -> None:
    # ltm integrates with 21 Gauss-Hermite points, we with 41 rectangles: 0.005 covers it.
    assert lsat6_fit.se_.method == "observed"
    np.testing.assert_allclose(lsat6_fit.se_.discrimination, LSAT6_SE_A, atol=0.005)
    np.testing.assert_allclose(lsat6_fit.se_.difficulty, LSAT6_SE_B, atol=0.005)


def test_lsat6_observed_standard_errors_are_the_inverse_hessian(
    lsat6: np.ndarray, lsat6_fit: MMLCalibrator
) -> None:
    """Independent of any published table: the SEs are the square roots of the diagonal of
    the inverse negative Hessian of the marginal log-likelihood, taken by central differences
    in (a, b) on the calibration's own quadrature."""
    x0 = np.concatenate([lsat6_fit.discrimination_, lsat6_fit.difficulty_])

    def marginal(x: np.ndarray) -> float:
        return _marginal_ll(ItemParameters.dichotomous(x[:5], x[5:]), lsat6)

    assert marginal(x0) == pytest.approx(lsat6_fit.log_likelihood_, abs=1e-6)
    n, h = x0.size, 1e-3
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            di, dj = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = hessian[j, i] = (
                marginal(x0 + di + dj)
                - marginal(x0 + di - dj)
                - marginal(x0 - di + dj)
                + marginal(x0 - di - dj)
            ) / (4 * h * h)
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    # Differences come from the finite-difference step and EM's stopping point: 1e-3 relative.
    np.testing.assert_allclose(lsat6_fit.se_.discrimination, se[:5], rtol=1e-3)
    np.testing.assert_allclose(lsat6_fit.se_.difficulty, se[5:], rtol=1e-3)


def test_observed_standard_errors_count_a_prior_once(lsat6: np.ndarray) -> None:
    """With a N(0, 0.5^2) prior on b, the SEs are those of the inverse of (-Hessian of the
    marginal log-likelihood + 1/0.5^2 on the b diagonal), by central differences in (a, b)."""
    fit = MMLCalibrator("2pl", prior_difficulty=(0.0, 0.5)).fit(lsat6)
    assert fit.se_method_ == "observed"
    x0 = np.concatenate([fit.discrimination_, fit.difficulty_])

    def marginal(x: np.ndarray) -> float:
        return _marginal_ll(ItemParameters.dichotomous(x[:5], x[5:]), lsat6)

    n, h = x0.size, 1e-3
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            di, dj = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = hessian[j, i] = (
                marginal(x0 + di + dj)
                - marginal(x0 + di - dj)
                - marginal(x0 - di + dj)
                + marginal(x0 - di - dj)
            ) / (4 * h * h)
    info = -hessian + np.diag([0.0] * 5 + [1 / 0.5**2] * 5)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    np.testing.assert_allclose(fit.se_.discrimination, se[:5], rtol=2e-3)
    np.testing.assert_allclose(fit.se_.difficulty, se[5:], rtol=2e-3)


def test_the_default_standard_errors_are_observed_information(lsat6: np.ndarray) -> None:
    default = MMLCalibrator("2pl").fit(lsat6)
    assert default.se_method_ == "observed"
    np.testing.assert_allclose(default.se_.difficulty, LSAT6_SE_B, atol=0.005)


def test_cross_product_standard_errors_are_close_to_observed(lsat6: np.ndarray) -> None:
    xpd = MMLCalibrator("2pl", se_method="xpd").fit(lsat6).se_
    assert xpd.method == "xpd"
    np.testing.assert_allclose(xpd.discrimination, LSAT6_SE_A, rtol=0.05)
    np.testing.assert_allclose(xpd.difficulty, LSAT6_SE_B, rtol=0.05)


def test_lsat_agrees_with_girth() -> None:
    options = {"quadrature_n": 41, "quadrature_bounds": (-6, 6), "max_iteration": 2000}
    for name in ("lsat6.csv", "lsat7.csv"):
        x = load_wide(name)[0]
        ours = MMLCalibrator("2pl", se_method=None).fit(x)
        theirs = _girth("twopl_mml", x.T.astype(int), options)
        np.testing.assert_allclose(ours.discrimination_, theirs["Discrimination"], atol=2e-3)
        np.testing.assert_allclose(ours.difficulty_, theirs["Difficulty"], atol=2e-3)
        ones = MMLCalibrator("1pl", se_method=None).fit(x)
        theirs = _girth("onepl_mml", x.T.astype(int), None, options)
        assert ones.discrimination_[0] == pytest.approx(theirs["Discrimination"], abs=2e-3)
        np.testing.assert_allclose(ones.difficulty_, theirs["Difficulty"], atol=2e-3)


@pytest.mark.parametrize(
    ("model", "girth_fn", "tol_a", "tol_b"),
    [("grm", "grm_mml", 0.07, 0.10), ("gpcm", "pcm_mml", 0.005, 0.025)],
)
def test_verbagg_polytomous_agrees_with_girth_and_reaches_a_higher_likelihood(
    verbagg: np.ndarray, model: str, girth_fn: str, tol_a: float, tol_b: float
) -> None:
    """GRM and GPCM on VerbAgg (316 x 24, 3 categories).

    girth stops short of the maximum (its marginal log-likelihood under the same model and
    quadrature is lower than ours: GRM by about 0.6, GPCM by 0.04), so the agreement is
    stated as a tolerance and our solution must be at least as likely.
    """
    options = {"quadrature_n": 41, "quadrature_bounds": (-6, 6), "max_iteration": 2000}
    theirs = _girth(girth_fn, verbagg.T.astype(int), options)
    ours = MMLCalibrator(model, se_method=None).fit(verbagg)
    np.testing.assert_allclose(ours.discrimination_, theirs["Discrimination"], atol=tol_a)
    np.testing.assert_allclose(ours.thresholds_, theirs["Difficulty"], atol=tol_b)
    their_params = ItemParameters.polytomous(model, theirs["Discrimination"], theirs["Difficulty"])
    assert ours.log_likelihood_ == pytest.approx(_marginal_ll(ours.item_parameters_, verbagg))
    assert ours.log_likelihood_ >= _marginal_ll(their_params, verbagg) - 1e-6


def test_verbagg_grm_with_items_as_mixed_format(verbagg: np.ndarray) -> None:
    models = ["grm"] * 12 + ["gpcm"] * 12
    fit = MMLCalibrator(models, se_method=None).fit(verbagg)
    assert fit.model_ == tuple(models)
    assert fit.converged_
    assert np.all(np.diff(fit.thresholds_[:12], axis=1) > 0)


# ---------------------------------------------------------------------------- contract
def test_fit_returns_self_and_learned_attributes(lsat6: np.ndarray) -> None:
    cal = MMLCalibrator("2pl", compute_theta=True)
    assert cal.fit(lsat6) is cal
    for name in (
        "discrimination_",
        "difficulty_",
        "guessing_",
        "thresholds_",
        "se_",
        "log_likelihood_",
        "aic_",
        "bic_",
        "n_iter_",
        "converged_",
        "item_parameters_",
        "theta_",
        "theta_se_",
        "history_",
    ):
        assert hasattr(cal, name), name
    assert cal.item_ids_ == ("item0001", "item0002", "item0003", "item0004", "item0005")
    assert not hasattr(MMLCalibrator(), "discrimination_")
    params = cal.get_params()
    assert params["model"] == "2pl"
    assert params["n_nodes"] == 41


def test_log_likelihood_never_decreases_under_plain_em(lsat6: np.ndarray) -> None:
    cal = MMLCalibrator("2pl", acceleration=None, se_method=None, tol=1e-6).fit(lsat6)
    assert np.all(np.diff(cal.history_) >= -1e-8)
    accelerated = MMLCalibrator("2pl", se_method=None, tol=1e-6).fit(lsat6)
    assert accelerated.n_iter_ < cal.n_iter_
    np.testing.assert_allclose(accelerated.difficulty_, cal.difficulty_, atol=1e-4)


def test_dense_sparse_and_long_inputs_agree(rng: np.random.Generator) -> None:
    params = random_items("2pl", 20, rng)
    x = simulate(params, rng.normal(size=1500), rng, per_person=12)
    dense = MMLCalibrator("2pl", se_method=None, kernel="dense").fit(x)
    sparse = MMLCalibrator("2pl", se_method=None).fit(to_sparse(x))
    rows, cols = np.nonzero(~np.isnan(x))
    data = ResponseData.from_long(
        [f"p{r}" for r in rows],
        [f"item{c + 1:04d}" for c in cols],
        x[rows, cols],
    )
    long = MMLCalibrator("2pl", se_method=None).fit(data)
    for other in (sparse, long):
        np.testing.assert_allclose(other.difficulty_, dense.difficulty_, atol=1e-6)
        np.testing.assert_allclose(other.discrimination_, dense.discrimination_, atol=1e-6)
        assert other.log_likelihood_ == pytest.approx(dense.log_likelihood_, abs=1e-6)


def test_mixed_precision_reaches_the_double_precision_solution(rng: np.random.Generator) -> None:
    params = random_items("2pl", 40, rng)
    x = simulate(params, rng.normal(size=30000), rng)
    # A tight tolerance, so that both runs stop at (almost) the same fixed point.
    mixed = MMLCalibrator("2pl", se_method=None, tol=1e-6).fit(x)
    double = MMLCalibrator("2pl", se_method=None, precision="double", tol=1e-6).fit(x)
    np.testing.assert_allclose(mixed.discrimination_, double.discrimination_, atol=2e-5)
    np.testing.assert_allclose(mixed.difficulty_, double.difficulty_, atol=2e-5)
    assert mixed.log_likelihood_ == pytest.approx(double.log_likelihood_, abs=1e-3)


def test_results_do_not_depend_on_the_number_of_threads(rng: np.random.Generator) -> None:
    params = random_items("2pl", 30, rng)
    x = simulate(params, rng.normal(size=9000), rng, per_person=20)
    one = MMLCalibrator("2pl", n_threads=1).fit(x)
    two = MMLCalibrator("2pl", n_threads=2).fit(x)
    dense = MMLCalibrator("2pl", n_threads=2, kernel="dense", se_method=None).fit(x)
    np.testing.assert_array_equal(one.difficulty_, two.difficulty_)
    np.testing.assert_array_equal(one.se_.difficulty, two.se_.difficulty)
    assert one.log_likelihood_ == two.log_likelihood_
    np.testing.assert_allclose(dense.difficulty_, one.difficulty_, atol=1e-6)
    with pytest.raises(ValueError, match="n_threads"):
        MMLCalibrator(n_threads=0).fit(x)


def test_item_order_does_not_matter(rng: np.random.Generator) -> None:
    params = random_items("gpcm", 10, rng)
    x = simulate(params, rng.normal(size=800), rng)
    order = rng.permutation(10)
    a = MMLCalibrator("gpcm", se_method=None).fit(x)
    b = MMLCalibrator("gpcm", se_method=None).fit(x[:, order])
    np.testing.assert_allclose(b.thresholds_, a.thresholds_[order], atol=1e-5)
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, abs=1e-6)


def test_eap_scores_use_the_calibrated_scale(lsat6: np.ndarray) -> None:
    cal = MMLCalibrator("2pl", compute_theta=True, se_method=None).fit(lsat6)
    direct = estimate_eap(lsat6[:50], cal.item_parameters_)
    np.testing.assert_allclose(cal.theta_[:50], direct.theta, atol=1e-6)
    np.testing.assert_allclose(cal.theta_se_[:50], direct.se, atol=1e-6)
    again = cal.eap(lsat6[:50])
    np.testing.assert_allclose(again.theta, direct.theta, atol=1e-9)
    assert cal.eap().theta.shape == (1000,)


def test_params_document_round_trips_through_item_parameters(verbagg: np.ndarray) -> None:
    cal = MMLCalibrator("gpcm").fit(verbagg)
    doc = cal.to_params_document()
    assert doc["model"] == "gpcm"
    assert {"log_likelihood", "deviance", "aic", "bic", "n_iter", "converged"} <= set(doc)
    item = doc["items"][0]
    assert set(item) == {"item_id", "model", "discrimination", "thresholds", "se"}
    assert set(item["se"]) == {"discrimination", "thresholds"}
    again = ItemParameters.from_records(doc["items"], default_model=doc["model"])
    np.testing.assert_allclose(again.thresholds, cal.thresholds_)
    dich = MMLCalibrator("3pl", se_method=None).fit(load_wide("lsat7.csv")[0])
    rec = dich.to_params_document()["items"][0]
    assert {"difficulty", "guessing"} <= set(rec)
    assert "thresholds" not in rec
    assert "se" not in rec


def test_priors_pull_estimates_towards_their_centre(rng: np.random.Generator) -> None:
    params = random_items("2pl", 8, rng)
    x = simulate(params, rng.normal(size=150), rng)
    free = MMLCalibrator("2pl", se_method=None).fit(x)
    tight = MMLCalibrator(
        "2pl",
        se_method=None,
        prior_discrimination=LogNormalPrior(0.0, 0.05),
        prior_difficulty=NormalPrior(0.0, 0.1),
    ).fit(x)
    assert np.all(np.abs(np.log(tight.discrimination_)) <= np.abs(np.log(free.discrimination_)))
    assert np.abs(tight.difficulty_).max() < 0.35
    assert tight.log_posterior_ < tight.log_likelihood_


def test_non_convergence_warns_and_never_returns_nan(lsat6: np.ndarray) -> None:
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 steps"):
        cal = MMLCalibrator("2pl", max_iter=2).fit(lsat6)
    assert not cal.converged_
    assert cal.n_iter_ == 2
    assert np.all(np.isfinite(cal.discrimination_))
    assert np.all(np.isfinite(cal.difficulty_))
    assert np.all(np.isfinite(cal.se_.difficulty))


def test_a_miskeyed_item_stays_finite_and_is_reported(rng: np.random.Generator) -> None:
    params = random_items("2pl", 10, rng)
    x = simulate(params, rng.normal(size=2000), rng)
    x[:, 3] = 1 - x[:, 3]  # reverse-keyed: negative discrimination
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal = MMLCalibrator("2pl").fit(x)
    assert np.all(np.isfinite(cal.discrimination_))
    assert cal.discrimination_[3] == pytest.approx(0.02, rel=1e-3)
    assert "item0004" in cal.item_warnings_


# ---------------------------------------------------------------------------- bad input
def test_non_numeric_cell_is_named() -> None:
    cells = [[0, 1, 1], [1, "x", 0], [1, 1, 0]]
    with pytest.raises(ValueError, match=r"row 1, column 1 \(item 'item0002'\): 'x' is not a"):
        MMLCalibrator().fit(np.array(cells, dtype=object))
    with pytest.raises(ValueError, match=r"row 0, column 2 .*score 0.5 is not an integer"):
        MMLCalibrator().fit(np.array([[0, 1, 0.5], [1, 0, 1]]))
    with pytest.raises(ValueError, match=r"score -1 is not an integer"):
        MMLCalibrator().fit(np.array([[0, 1, -1.0], [1, 0, 1]]))


def test_long_format_errors_name_the_response() -> None:
    with pytest.raises(ValueError, match=r"response 2 \(person p2, item b\): answered twice"):
        ResponseData.from_long(["p1", "p2", "p2"], ["a", "b", "b"], [0, 1, 1])
    with pytest.raises(ValueError, match=r"response 1 \(person p2, item b\): score 'x'"):
        ResponseData.from_long(["p1", "p2"], ["a", "b"], [0, "x"])
    with pytest.raises(ValueError, match=r"response 0 .*score is missing"):
        ResponseData.from_long(["p1"], ["a"], [np.nan])
    with pytest.raises(ValueError, match=r"score 3 is not an integer in 0..1"):
        ResponseData.from_long(["p1", "p2"], ["a", "a"], [1, 3], n_categories=2)


def test_sparse_duplicates_and_out_of_range_are_errors() -> None:
    coo = sp.coo_array(([1.0, 0.0], ([0, 0], [1, 1])), shape=(2, 2))
    with pytest.raises(ValueError, match=r"row 0, column 1 .*answered twice"):
        ResponseData.from_sparse(coo)
    csr = sp.csr_array(([1.0, 2.0], [0, 1], [0, 1, 2]), shape=(2, 2))
    with pytest.raises(ValueError, match=r"row 1, column 1 .*score 2 is not an integer in 0..1"):
        ResponseData.from_sparse(csr, n_categories=2)


def test_unusable_items_and_persons_are_excluded_and_reported(rng: np.random.Generator) -> None:
    params = random_items("2pl", 6, rng)
    x = simulate(params, rng.normal(size=600), rng)
    x[:, 1] = np.nan  # no responses
    x[:, 2] = 1.0  # no variance
    x[5] = np.nan  # a person with no responses
    poly = x[:, 4].copy()
    poly[poly == 1] = 2  # categories 0 and 2 only: category 1 never observed
    x[:, 4] = poly
    cal = MMLCalibrator("2pl", compute_theta=True).fit(x)
    assert cal.item_ids_ == ("item0001", "item0004", "item0006")
    assert cal.excluded_items_ == {
        "item0002": "no responses",
        "item0003": "no variance: every response is category 1",
        "item0005": "category 1 is never observed (scores seen: 0, 2); collapse the item's "
        "categories",
    }
    assert cal.excluded_persons_.tolist() == [5]
    assert np.isnan(cal.theta_[5])
    assert np.all(np.isfinite(np.delete(cal.theta_, 5)))
    assert cal.n_persons_ == 599
    doc = cal.to_params_document()
    assert doc["excluded_items"]["item0002"] == "no responses"
    assert doc["n_excluded_persons"] == 1


def test_nothing_to_calibrate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no item can be calibrated"):
        MMLCalibrator().fit(np.array([[1.0, np.nan], [1.0, np.nan]]))


def test_unknown_anchor_items_are_an_error(lsat6: np.ndarray) -> None:
    anchors = ItemParameters.dichotomous([1.0, 1.0], [0.0, 1.0], item_ids=["item0001", "Q9"])
    with pytest.raises(ValueError, match=r"anchor item\(s\) 'Q9' do not occur in the responses"):
        MMLCalibrator(anchors=anchors).fit(lsat6)
    with pytest.raises(ValueError, match="must carry item_ids"):
        MMLCalibrator(anchors=ItemParameters.dichotomous([1.0], [0.0])).fit(lsat6)


def test_scores_beyond_an_anchor_categories_are_an_error() -> None:
    x = np.array([[0, 2, 1], [1, 1, 0], [1, 0, 1], [0, 2, 0]], dtype=float)
    anchors = ItemParameters.dichotomous([1.0], [0.0], item_ids=["item0002"])
    with pytest.raises(ValueError, match=r"item 'item0002': score 2 is out of range"):
        MMLCalibrator(anchors=anchors).fit(x)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model": "4pl"}, "unknown model"),
        ({"n_nodes": 2}, "n_nodes"),
        ({"bounds": (1, -1)}, "bounds"),
        ({"tol": 0}, "tol"),
        ({"se_method": "bootstrap"}, "se_method"),
        ({"prior_guessing": "flat"}, "prior_guessing"),
        ({"kernel": "gpu"}, "kernel"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_bad_settings_are_rejected(lsat6: np.ndarray, settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MMLCalibrator(**settings).fit(lsat6)


def test_group_labels_must_match_persons(lsat6: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one label per person"):
        MMLCalibrator().fit(lsat6, groups=["a"] * 10)
    with pytest.raises(ValueError, match="reference_group 'z'"):
        MMLCalibrator(reference_group="z").fit(lsat6, groups=["a"] * 500 + ["b"] * 500)


def test_observed_standard_errors_give_way_to_xpd_on_large_problems(lsat6, monkeypatch):
    from scoring.calibration import mml

    monkeypatch.setattr(mml, "OBSERVED_SE_BUDGET", 1e3)  # LSAT6: 2 x 10 x 5,000 = 1e5
    cal = MMLCalibrator("2pl").fit(lsat6)
    assert cal.se_method_ == "xpd"
    assert cal.to_params_document()["se_method"] == "xpd"
