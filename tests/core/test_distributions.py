"""torch.distributions: every distribution checked against PyTorch (log_prob, entropy, moments,
cdf/icdf, KL divergences to 1e-6, gradients through log_prob and rsample), shapes and errors exactly,
sample statistics loosely with a fixed seed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import studio.core as sc
from studio.core import distributions as D

torch = pytest.importorskip("torch")

R = np.random.default_rng(7)
LOC = R.normal(size=(2, 3))
SCALE = R.uniform(0.5, 2.0, size=(2, 3))
POS = R.uniform(0.5, 3.0, size=(2, 3))
POS2 = R.uniform(0.5, 3.0, size=(2, 3))
PROBS = R.uniform(0.05, 0.95, size=(2, 3))
CAT = R.uniform(0.1, 1.0, size=(2, 4))
TRIL = np.tril(R.normal(size=(2, 3, 3)) * 0.3) + np.eye(3) * 1.5
COV = TRIL @ np.swapaxes(TRIL, -1, -2)
VEC = R.normal(size=(2, 3))

# name: (constructor args as numpy arrays / numbers, kwargs names, a value in the support)
CASES = {
    "Normal": ((LOC, SCALE), {}, R.normal(size=(2, 3))),
    "Laplace": ((LOC, SCALE), {}, R.normal(size=(2, 3))),
    "Exponential": ((POS,), {}, R.uniform(0.1, 3, size=(2, 3))),
    "Gamma": ((POS, POS2), {}, R.uniform(0.1, 3, size=(2, 3))),
    "Beta": ((POS, POS2), {}, R.uniform(0.05, 0.95, size=(2, 3))),
    "LogNormal": ((LOC, SCALE), {}, R.uniform(0.1, 3, size=(2, 3))),
    "Uniform": ((LOC - 2, LOC + SCALE), {}, LOC - 1),
    "Bernoulli": ((), {"probs": PROBS}, (R.random((2, 3)) < 0.5).astype(np.float64)),
    "Bernoulli-logits": ((), {"logits": LOC}, (R.random((2, 3)) < 0.5).astype(np.float64)),
    "Categorical": ((), {"probs": CAT}, np.array([0, 3])),
    "Categorical-logits": ((), {"logits": CAT}, np.array([[1, 2], [0, 3]])),
    "OneHotCategorical": ((), {"probs": CAT}, np.eye(4)[[2, 1]]),
    "Dirichlet": ((CAT,), {}, CAT / CAT.sum(-1, keepdims=True)),
    "MultivariateNormal-scale_tril": ((VEC,), {"scale_tril": TRIL}, R.normal(size=(2, 3))),
    "MultivariateNormal-covariance_matrix": ((VEC,), {"covariance_matrix": COV}, R.normal(size=(2, 3))),
    "MultivariateNormal-precision_matrix": ((VEC,), {"precision_matrix": COV}, R.normal(size=(2, 3))),
}
CONTINUOUS_PARAMS = {"Bernoulli-logits", "Categorical-logits"}


def _make(lib, name, requires_grad=False):
    """The distribution `name` built by `lib` (torch or studio), and its parameter tensors."""
    args, kwargs, _ = CASES[name]
    cls = getattr(lib.distributions, name.split("-")[0])
    params = []

    def tensor(a):
        t = lib.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)
        params.append(t)
        return t

    dist = cls(*(tensor(a) for a in args), **{k: tensor(v) for k, v in kwargs.items()})
    return dist, params


def _value(lib, name):
    value = np.asarray(CASES[name][2])
    return lib.tensor(value if value.dtype.kind == "i" else value.astype(np.float64))


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(ours, theirs, tol=1e-6):
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_shapes_log_prob_entropy_and_moments_match_pytorch(name):
    ours, _ = _make(sc, name)
    theirs, _ = _make(torch, name)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    _close(ours.log_prob(_value(sc, name)), theirs.log_prob(_value(torch, name)))
    _close(ours.entropy(), theirs.entropy())
    for moment in ("mean", "variance", "stddev", "mode"):
        a, b = getattr(ours, moment), getattr(theirs, moment)
        assert tuple(a.shape) == tuple(b.shape), moment
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-6, err_msg=moment)
    for shape in ((), (5,), (4, 1)):
        assert tuple(ours.sample(shape).shape) == tuple(theirs.sample(shape).shape)
    assert str(ours.sample().dtype).split(".")[-1] == str(theirs.sample().dtype).split(".")[-1]
    assert repr(ours).replace("studio.core", "torch") == repr(theirs)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Exponential", "LogNormal", "Uniform", "Gamma"])
def test_cdf_and_icdf_match_pytorch(name):
    ours, _ = _make(sc, name)
    theirs, _ = _make(torch, name)
    _close(ours.cdf(_value(sc, name)), theirs.cdf(_value(torch, name)))
    if name == "Gamma":
        return  # PyTorch's Gamma has no icdf
    q = R.uniform(0.01, 0.99, size=(2, 3))
    _close(ours.icdf(sc.tensor(q)), theirs.icdf(torch.tensor(q)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_of_log_prob_and_entropy_match_pytorch(name):
    ours, ps = _make(sc, name, requires_grad=True)
    theirs, pt = _make(torch, name, requires_grad=True)
    (ours.log_prob(_value(sc, name)).sum() + ours.entropy().sum()).backward()
    (theirs.log_prob(_value(torch, name)).sum() + theirs.entropy().sum()).backward()
    for a, b in zip(ps, pt):
        _close(a.grad, b.grad)


def test_normal_rsample_is_reparameterized():
    sc.manual_seed(0)
    loc, scale = sc.tensor(LOC, requires_grad=True), sc.tensor(SCALE, requires_grad=True)
    x = D.Normal(loc, scale).rsample((50,))
    x.sum().backward()
    eps = (x.detach() - loc.detach()) / scale.detach()
    _close(loc.grad, np.full((2, 3), 50.0))
    _close(scale.grad, eps.sum(0))
    assert D.Normal(loc, scale).sample().requires_grad is False


def test_gamma_rsample_gradient_is_pytorchs_implicit_gradient():
    sc.manual_seed(1)
    alpha = np.array([0.3, 1.0, 2.5, 7.0, 12.0, 60.0])
    conc = sc.tensor(alpha, requires_grad=True)
    x = D.Gamma(conc, sc.tensor(1.0, dtype=sc.float64)).rsample((200,))
    x.sum().backward()
    expected = torch._standard_gamma_grad(
        torch.tensor(alpha).expand(200, 6), torch.tensor(x.detach().numpy())
    )
    _close(conc.grad, expected.sum(0), tol=1e-5)


def test_dirichlet_and_beta_rsample_gradients_are_unbiased():
    sc.manual_seed(2)
    conc = sc.tensor([0.7, 2.0, 4.0], dtype=sc.float64, requires_grad=True)
    D.Dirichlet(conc).rsample((20000,)).mean(0)[0].backward()
    # d E[x_0] / d alpha = d (alpha_0 / sum alpha) / d alpha
    total = 6.7
    expected = np.array([(total - 0.7) / total**2, -0.7 / total**2, -0.7 / total**2])
    np.testing.assert_allclose(conc.grad.numpy(), expected, atol=5e-3)
    a = sc.tensor(2.0, dtype=sc.float64, requires_grad=True)
    D.Beta(a, sc.tensor(3.0, dtype=sc.float64)).rsample((20000,)).mean().backward()
    np.testing.assert_allclose(a.grad.item(), 3.0 / 25.0, atol=5e-3)


def test_multivariate_normal_rsample_has_its_covariance_and_gradients():
    sc.manual_seed(3)
    loc = sc.tensor(VEC[0], requires_grad=True)
    tril = sc.tensor(TRIL[0], requires_grad=True)
    x = D.MultivariateNormal(loc, scale_tril=tril).rsample((40000,))
    np.testing.assert_allclose(np.cov(x.detach().numpy().T), COV[0], atol=0.1)
    x.sum().backward()
    _close(loc.grad, np.full(3, 40000.0))
    eps = np.linalg.solve(TRIL[0], (x.detach().numpy() - VEC[0]).T)
    _close(tril.grad, np.ones((3, 1)) @ eps.sum(1, keepdims=True).T, tol=1e-4)  # every entry, as in PyTorch


@pytest.mark.parametrize(
    "name, mean, var",
    [
        ("Normal", LOC, SCALE**2),
        ("Laplace", LOC, 2 * SCALE**2),
        ("Exponential", 1 / POS, 1 / POS**2),
        ("Gamma", POS / POS2, POS / POS2**2),
        ("Beta", POS / (POS + POS2), POS * POS2 / ((POS + POS2) ** 2 * (POS + POS2 + 1))),
        ("Uniform", LOC - 1 + SCALE / 2, (SCALE + 2) ** 2 / 12),
        ("Bernoulli", PROBS, PROBS * (1 - PROBS)),
    ],
)
def test_sample_statistics(name, mean, var):
    sc.manual_seed(4)
    dist, _ = _make(sc, name)
    draws = dist.sample((20000,)).numpy()
    np.testing.assert_allclose(draws.mean(0), mean, atol=0.05 * (1 + np.abs(mean).max()))
    np.testing.assert_allclose(draws.var(0), var, rtol=0.1, atol=0.01)


def test_categorical_samples_follow_the_probabilities():
    sc.manual_seed(5)
    dist = D.Categorical(probs=sc.tensor(CAT))
    draws = dist.sample((20000,)).numpy()
    assert draws.dtype == np.int64 and draws.shape == (20000, 2)
    for row in range(2):
        freq = np.bincount(draws[:, row], minlength=4) / 20000
        np.testing.assert_allclose(freq, CAT[row] / CAT[row].sum(), atol=0.02)
    one_hot = D.OneHotCategorical(probs=sc.tensor(CAT)).sample((3,))
    assert tuple(one_hot.shape) == (3, 2, 4) and (one_hot.sum(-1).numpy() == 1).all()


KL_PAIRS = [
    ("Normal", "Normal"),
    ("Bernoulli", "Bernoulli-logits"),
    ("Categorical", "Categorical-logits"),
    ("OneHotCategorical", "OneHotCategorical"),
    ("Beta", "Beta"),
    ("Gamma", "Gamma"),
    ("Dirichlet", "Dirichlet"),
    ("Laplace", "Laplace"),
    ("Exponential", "Exponential"),
    ("LogNormal", "LogNormal"),
    ("Uniform", "Uniform"),
    ("Uniform", "Normal"),
    ("Normal", "Laplace"),
    ("Exponential", "Gamma"),
    ("Exponential", "Normal"),
    ("MultivariateNormal-scale_tril", "MultivariateNormal-covariance_matrix"),
]


@pytest.mark.parametrize("p_name, q_name", KL_PAIRS)
def test_kl_divergence_matches_pytorch(p_name, q_name):
    def build(lib, name, shift):
        dist, params = _make(lib, name, requires_grad=True)
        if not shift:
            return dist, params
        args, kwargs, _ = CASES[name]
        # the second distribution: parameters moved within their support
        moved = [
            lib.tensor(np.asarray(a) * 1.3 + (0.1 if name != "Dirichlet" else 0), requires_grad=True)
            for a in args
        ]
        extra = {
            k: lib.tensor(np.asarray(v) * (1.2 if "Categorical" in name else 1.0), requires_grad=True)
            for k, v in kwargs.items()
        }
        cls = getattr(lib.distributions, name.split("-")[0])
        return cls(*moved, **extra), moved + list(extra.values())

    results = []
    for lib in (sc, torch):
        p, pp = build(lib, p_name, False)
        q, qp = build(lib, q_name, True)
        if p_name == "Uniform" and q_name == "Uniform":
            q = lib.distributions.Uniform(p.low - 0.5, p.high + 0.25)
            qp = []
        kl = lib.distributions.kl_divergence(p, q)
        kl.sum().backward()
        results.append((kl, [t.grad for t in pp + qp]))
    (ours, our_grads), (theirs, their_grads) = results
    assert tuple(ours.shape) == tuple(theirs.shape)
    _close(ours, theirs)
    for a, b in zip(our_grads, their_grads):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            _close(a, b)


def test_independent_normal_is_a_diagonal_gaussian():
    for lib in (sc, torch):
        base = lib.distributions.Normal(lib.tensor(LOC), lib.tensor(SCALE))
        ind = lib.distributions.Independent(base, 1)
        assert tuple(ind.batch_shape) == (2,) and tuple(ind.event_shape) == (3,)
        assert tuple(ind.log_prob(lib.tensor(VEC)).shape) == (2,)
    ours = D.Independent(D.Normal(sc.tensor(LOC), sc.tensor(SCALE)), 1)
    theirs = torch.distributions.Independent(
        torch.distributions.Normal(torch.tensor(LOC), torch.tensor(SCALE)), 1
    )
    _close(ours.log_prob(sc.tensor(VEC)), theirs.log_prob(torch.tensor(VEC)))
    _close(ours.entropy(), theirs.entropy())
    assert repr(ours).replace("studio.core", "torch") == repr(theirs)
    other = D.Independent(D.Normal(sc.tensor(VEC), sc.tensor(SCALE)), 1)
    other_t = torch.distributions.Independent(
        torch.distributions.Normal(torch.tensor(VEC), torch.tensor(SCALE)), 1
    )
    _close(D.kl_divergence(ours, other), torch.distributions.kl_divergence(theirs, other_t))
    mvn = D.MultivariateNormal(sc.tensor(LOC), scale_tril=sc.tensor(np.diag(SCALE[0])))
    _close(mvn.log_prob(sc.tensor(VEC))[0], ours.log_prob(sc.tensor(VEC))[0])


def test_enumerate_support_matches_pytorch():
    for name in ("Bernoulli", "Categorical", "OneHotCategorical"):
        ours, _ = _make(sc, name)
        theirs, _ = _make(torch, name)
        for expand in (True, False):
            a, b = ours.enumerate_support(expand), theirs.enumerate_support(expand)
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(_np(a), _np(b))


def _errors(fn_ours, fn_theirs):
    with pytest.raises(Exception) as ours:
        fn_ours()
    with pytest.raises(Exception) as theirs:
        fn_theirs()
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value).replace("studio.core", "torch") == str(theirs.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda lib: lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
        lambda lib: lib.distributions.Normal(lib.tensor([0.0, float("nan")]), lib.tensor([1.0, 1.0])),
        lambda lib: lib.distributions.Bernoulli(probs=lib.tensor([0.2, 1.5])),
        lambda lib: lib.distributions.Bernoulli(),
        lambda lib: lib.distributions.Bernoulli(probs=0.3, logits=0.2),
        lambda lib: lib.distributions.Categorical(probs=lib.tensor(0.5)),
        lambda lib: lib.distributions.Categorical(probs=lib.tensor([0.5, -0.1])),
        lambda lib: lib.distributions.Uniform(lib.tensor([0.0]), lib.tensor([0.0])),
        lambda lib: lib.distributions.Gamma(lib.tensor([1.0]), lib.tensor([0.0])),
        lambda lib: lib.distributions.Dirichlet(lib.tensor(1.0)),
        lambda lib: lib.distributions.Independent(lib.distributions.Normal(0.0, 1.0), 1),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2)),
        lambda lib: lib.distributions.MultivariateNormal(lib.tensor(0.0), scale_tril=lib.eye(2)),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), scale_tril=lib.ones(2)),
        lambda lib: lib.distributions.MultivariateNormal(
            lib.zeros(2), scale_tril=lib.tensor([[1.0, 0.0], [1.0, -1.0]])
        ),
        lambda lib: lib.distributions.MultivariateNormal(
            lib.zeros(2), covariance_matrix=lib.tensor([[1.0, 2.0], [2.0, 1.0]])
        ),
    ],
)
def test_invalid_arguments_raise_pytorchs_errors(build):
    _errors(lambda: build(sc), lambda: build(torch))


@pytest.mark.parametrize(
    "name, value",
    [
        ("Normal", lambda lib: [0.0, 1.0, 2.0]),
        ("Normal", lambda lib: lib.zeros(4)),
        ("Normal", lambda lib: lib.zeros(5, 2)),
        ("Exponential", lambda lib: -lib.ones(2, 3)),
        ("Bernoulli", lambda lib: lib.full((2, 3), 0.5)),
        ("Categorical", lambda lib: lib.tensor([0, 4])),
        ("Dirichlet", lambda lib: lib.ones(2, 4)),
        ("MultivariateNormal-scale_tril", lambda lib: lib.zeros(2, 2)),
        ("Beta", lambda lib: lib.full((2, 3), 1.5)),
    ],
)
def test_invalid_values_raise_pytorchs_errors(name, value):
    ours, _ = _make(sc, name)
    theirs, _ = _make(torch, name)
    _errors(lambda: ours.log_prob(value(sc)), lambda: theirs.log_prob(value(torch)))


def test_validation_can_be_turned_off_and_kl_needs_a_registered_pair():
    dist = D.Normal(sc.tensor([0.0]), sc.tensor([-1.0]), validate_args=False)
    assert math.isnan(dist.log_prob(sc.tensor([0.0])).item())
    with pytest.raises(
        NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Beta and q type Normal"
    ):
        D.kl_divergence(D.Beta(1.0, 2.0), D.Normal(0.0, 1.0))

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl_wide(p, q):
        return sc.tensor(42.0)

    assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0)).item() == 0.0  # the Normal pair applies


def test_categorical_policy_gradient_flows_into_logits():
    logits_s = sc.tensor(CAT, requires_grad=True)
    logits_t = torch.tensor(CAT, requires_grad=True)
    actions = np.array([3, 0])
    for lib, logits in ((sc, logits_s), (torch, logits_t)):
        dist = lib.distributions.Categorical(logits=logits)
        (
            -(dist.log_prob(lib.tensor(actions)) * lib.tensor([1.5, -0.5], dtype=lib.float64)).sum()
            - 0.01 * dist.entropy().sum()
        ).backward()
    _close(logits_s.grad, logits_t.grad)


def test_float32_parameters_keep_float32():
    dist = D.Normal(sc.zeros(3), 1.0)
    assert dist.scale.dtype == sc.float32 and dist.rsample().dtype == sc.float32
    assert D.Gamma(sc.ones(2), 2.0).rsample().dtype == sc.float32
    assert D.Normal(0.0, 1.0).sample().dtype == sc.float32 and D.Normal(0.0, 1.0).batch_shape == ()


@pytest.mark.parametrize(
    "name",
    ["Normal", "Bernoulli", "Categorical", "Beta", "Gamma", "Dirichlet", "LogNormal", "Uniform"]
    + ["MultivariateNormal-scale_tril", "OneHotCategorical"],
)
def test_expand_matches_pytorch(name):
    ours, _ = _make(sc, name)
    theirs, _ = _make(torch, name)
    shape = (4, *tuple(theirs.batch_shape))
    a, b = ours.expand(shape), theirs.expand(shape)
    assert tuple(a.batch_shape) == tuple(b.batch_shape) and tuple(a.event_shape) == tuple(b.event_shape)
    value = _value(sc, name)
    _close(a.log_prob(value), b.log_prob(_value(torch, name)))
    assert tuple(a.sample((2,)).shape) == tuple(b.sample((2,)).shape)
    ind_ours = D.Independent(ours, 1).expand((3, *tuple(D.Independent(ours, 1).batch_shape)))
    assert tuple(ind_ours.batch_shape)[0] == 3


def test_straight_through_perplexity_and_default_validation():
    logits = sc.tensor(CAT, requires_grad=True)
    dist = D.OneHotCategoricalStraightThrough(logits=logits)
    sample = dist.rsample()
    assert (sample.detach().sum(-1).numpy() == 1).all()
    (sample * sc.tensor(np.arange(4.0))).sum().backward()
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0
    ours, _ = _make(sc, "Normal")
    theirs, _ = _make(torch, "Normal")
    _close(ours.perplexity(), theirs.perplexity())
    try:
        D.Distribution.set_default_validate_args(False)
        assert math.isnan(D.Normal(0.0, -1.0).log_prob(sc.tensor(0.0)).item())
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Normal(0.0, -1.0)


def test_removed_reinforce_points_to_distributions_and_resize_reshapes_as_in_pytorch():
    for lib in (sc, torch):
        with pytest.raises(RuntimeError) as err:
            lib.ones(2).reinforce(1.0)
        assert "Use torch.distributions instead." in str(err.value)
    _errors(lambda: sc.arange(6.0).resize(4), lambda: torch.arange(6.0).resize(4))
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        out = sc.arange(6.0).resize(2, 3)
    assert out.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def _squashed(lib, loc, scale):
    T = lib.distributions.transforms
    base = lib.distributions.Normal(loc, scale)
    return lib.distributions.TransformedDistribution(
        base, [T.AffineTransform(0.5, 2.0), T.TanhTransform(cache_size=1)]
    )


def test_transformed_distributions_match_pytorch_with_gradients():
    value = np.array([[0.3, -0.5, 0.9], [-0.2, 0.1, 0.7]])
    results = []
    for lib in (sc, torch):
        loc, scale = lib.tensor(LOC, requires_grad=True), lib.tensor(SCALE, requires_grad=True)
        dist = _squashed(lib, loc, scale)
        T = lib.distributions.transforms
        chain = lib.distributions.TransformedDistribution(
            lib.distributions.Normal(loc, scale), [T.SigmoidTransform(), T.ExpTransform()]
        )
        log_prob = dist.log_prob(lib.tensor(value))
        (log_prob.sum() + chain.log_prob(lib.tensor(value + 1.5)).sum()).backward()
        q = lib.tensor([[0.1, 0.5, 0.9]] * 2)
        results.append(
            (
                log_prob,
                dist.cdf(lib.tensor(value)),
                dist.icdf(q),
                chain.cdf(lib.tensor(value + 1.5)),
                loc.grad,
                scale.grad,
            )
        )
        assert repr(dist) == "TransformedDistribution()" and repr(dist.support).startswith(
            "Interval(lower_bound=-1.0"
        )
        assert tuple(dist.batch_shape) == (2, 3) and dist.has_rsample
    for ours, theirs in zip(*results):
        _close(ours, theirs)


def test_a_tanh_squashed_policy_rsample_scores_its_own_draws():
    sc.manual_seed(6)
    loc, scale = sc.tensor(LOC, requires_grad=True), sc.tensor(SCALE, requires_grad=True)
    dist = _squashed(sc, loc, scale)
    action = dist.rsample()
    assert np.all(np.abs(action.detach().numpy()) <= 1)
    # the cached inverse returns the draw itself, so the score equals the base score less the Jacobians
    log_prob = dist.log_prob(action)
    theirs = _squashed(torch, torch.tensor(LOC), torch.tensor(SCALE)).log_prob(
        torch.tensor(action.detach().numpy())
    )
    _close(log_prob, theirs, tol=1e-4)
    (log_prob.sum() - action.sum()).backward()
    assert np.isfinite(loc.grad.numpy()).all() and np.isfinite(scale.grad.numpy()).all()
    with pytest.raises(ValueError, match="transforms must be a Transform or a list of Transforms"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), "tanh")
