"""Higher-order gradients: create_graph=True records the backward pass, gradgradcheck checks it, and
gradient penalties, Hessian-vector products and MAML steps match PyTorch."""

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import Function, gradcheck, gradgradcheck, once_differentiable


def _t(*shape, seed=0, low=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, 1 - low, shape)
    return sc.tensor(data, dtype=sc.float64, requires_grad=True)


# every op's double backward against finite differences of its recorded first derivatives
ELEMENTWISE = {
    "mul_div": lambda a, b: a * b / (b * b + 1),
    "add_sub_broadcast": lambda a, b: (a - b[0]) * (a + 2 * b[0]),
    "pow": lambda a, b: a**3 + (b * b + 1) ** a,
    "exp_log": lambda a, b: (a.exp() + 1).log() * b.sin(),
    "sqrt_rsqrt": lambda a, b: (a * a + 1).sqrt() * (b * b + 1).rsqrt(),
    "tanh_sigmoid": lambda a, b: a.tanh() * b.sigmoid(),
    "abs_clamp": lambda a, b: a.abs() * b.clamp(-0.5, 0.5) * b,
    "maximum_where": lambda a, b: sc.maximum(a, b) * a + sc.where(a > b, a * a, b),
    "reciprocal_cos": lambda a, b: (a * a + 1).reciprocal() * b.cos(),
    "lerp_square": lambda a, b: sc.lerp(a, b, 0.3).square(),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_gradgradcheck(name):
    assert gradgradcheck(ELEMENTWISE[name], (_t(3, 4), _t(3, 4, seed=1)))


REDUCTIONS_AND_SHAPES = {
    "sum_mean": lambda x: (x.sum(1) ** 2, x.mean() * x[0]),
    "var_std": lambda x: x.var(1) * x.std(),
    "max_amax": lambda x: (x.max(1)[0] ** 2, x.amax(0) * x[1]),
    "logsumexp_prod": lambda x: (x.logsumexp(1), x.prod(1), x[:2, :3].prod() * x[0]),
    "norms": lambda x: x.norm(dim=1) + x.norm(p=1) * x[0, :3],
    "cumsum_sort_topk": lambda x: x.cumsum(1) ** 2 + x.sort(1)[0] ** 2 + x.topk(2)[0].sum(),
    "view_permute_expand": lambda x: x.T.reshape(2, 6).expand(3, 2, 6) ** 3,
    "cat_stack_split": lambda x: sc.stack([x, sc.cat([x[:, 2:], x[:, :2] ** 2], 1)]) * x.split(2, 1)[1].sum(),
    "index_gather": lambda x: (x[[0, 0, 2], 1:] ** 2, x.gather(1, sc.tensor([[0, 0, 3], [1, 2, 2]]))),
    "masked_flip_roll": lambda x: x.masked_fill(x > 0.5, 0.0) * x.flip(0).roll(1, 1),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS_AND_SHAPES))
def test_reduction_and_shape_gradgradcheck(name):
    assert gradgradcheck(REDUCTIONS_AND_SHAPES[name], (_t(3, 4),))


def test_matmul_family_gradgradcheck():
    a, b, v, batch = _t(3, 4), _t(4, 5, seed=1), _t(4, seed=2), _t(2, 3, 4, seed=3)
    assert gradgradcheck(lambda a, b, v, c: (a @ b, a @ v, v @ v, c @ b), (a, b, v, batch))
    einsum = lambda a, b, v, c: sc.einsum("bij,j->bi", c, v) * (c @ c.transpose(1, 2)).sum()  # noqa: E731
    assert gradgradcheck(einsum, (a, b, v, batch))


ACTIVATIONS = [
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "silu",
    "gelu",
    "softplus",
    "mish",
    "hardswish",
    "logsigmoid",
]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradgradcheck(name):
    fn = getattr(F, name)
    # the piecewise-linear ones have a zero second derivative: multiply by the input to see it
    assert gradgradcheck(lambda x: fn(x) * x, (_t(3, 4),))


def test_softmax_family_and_gelu_tanh_gradgradcheck():
    fn = lambda x: (F.softmax(x, 1), F.log_softmax(x, 0), F.gelu(x, approximate="tanh"))  # noqa: E731
    assert gradgradcheck(fn, (_t(3, 4),))


LOSSES = {
    "mse": lambda x, y, p, q: F.mse_loss(x, y),
    "l1_smooth_huber": lambda x, y, p, q: (
        F.l1_loss(x * x, y) + F.smooth_l1_loss(x, y, beta=0.5) + F.huber_loss(x, y, delta=0.7)
    ),
    "cross_entropy": lambda x, y, p, q: F.cross_entropy(x, sc.tensor([0, 2, 1, 2])),
    "cross_entropy_weighted_smoothed": lambda x, y, p, q: F.cross_entropy(
        x, sc.tensor([0, 2, 1, 2]), weight=sc.tensor([1.0, 2.0, 0.5], dtype=sc.float64), label_smoothing=0.2
    ),
    "cross_entropy_probabilities": lambda x, y, p, q: F.cross_entropy(x, F.softmax(y, 1)),
    "nll": lambda x, y, p, q: F.nll_loss(F.log_softmax(x, 1), sc.tensor([0, 2, 1, 2]), reduction="sum"),
    "bce": lambda x, y, p, q: F.binary_cross_entropy(p, q),
    "bce_logits": lambda x, y, p, q: F.binary_cross_entropy_with_logits(x, q, reduction="none"),
    "kl_div": lambda x, y, p, q: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1), reduction="batchmean"),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradgradcheck(name):
    args = (_t(4, 3), _t(4, 3, seed=1), _t(4, 3, seed=2, low=0.1), _t(4, 3, seed=3, low=0.1))
    assert gradgradcheck(LOSSES[name], args)


def test_cross_entropy_over_spatial_dims_gradgradcheck():
    target = sc.tensor([[[0, 1], [2, 2]], [[1, 1], [0, 2]]])
    assert gradgradcheck(lambda x: F.cross_entropy(x, target), (_t(2, 3, 2, 2),))


CONV2D = [{}, {"stride": 2, "padding": 1}, {"padding": 2, "dilation": 2}, {"padding": "same", "groups": 2}]


@pytest.mark.parametrize("kwargs", CONV2D)
def test_conv2d_gradgradcheck(kwargs):
    w = _t(2, 1, 3, 3, seed=1) if kwargs.get("groups") else _t(2, 2, 3, 3, seed=1)
    b = _t(2, seed=2)
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs).tanh(), (_t(1, 2, 4, 4), w, b))


def test_conv1d_and_transposed_conv_gradgradcheck():
    conv1d = lambda x, w: F.conv1d(x, w, padding=1, stride=2) ** 2  # noqa: E731
    assert gradgradcheck(conv1d, (_t(2, 2, 5), _t(3, 2, 3, seed=1)))
    args = (_t(1, 2, 3, 3), _t(2, 2, 3, 3, seed=1), _t(2, seed=2))
    transposed = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)  # noqa: E731
    assert gradgradcheck(transposed, args)


def test_pooling_and_normalization_gradgradcheck():
    x = _t(1, 2, 5, 5)
    assert gradgradcheck(lambda x: (F.max_pool2d(x, 3, stride=2, padding=1) ** 2, F.avg_pool2d(x, 2)), (x,))
    assert gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 2)) ** 2, (x,))
    w, b = _t(3, seed=1), _t(3, seed=2)
    batch_norm = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert gradgradcheck(batch_norm, (_t(4, 3, 2), w, b))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (3,), w, b), (_t(4, 2, 3), w, b))
    assert gradgradcheck(lambda x: F.group_norm(x, 2), (_t(2, 4, 3),))


def test_misc_ops_gradgradcheck():
    x, y, table = _t(3, 4), _t(3, 4, seed=1), _t(6, 4, seed=2)
    misc = lambda x, y: (F.normalize(x, dim=1), F.cosine_similarity(x, y), F.pad(x, (1, 2)) ** 2)  # noqa: E731
    assert gradgradcheck(misc, (x, y))
    assert gradgradcheck(lambda w: F.embedding(sc.tensor([[1, 2], [1, 5]]), w) ** 2, (table,))
    q, k, v = _t(2, 3, 4), _t(2, 5, 4, seed=1), _t(2, 5, 3, seed=2)
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))


@pytest.mark.parametrize("name", ["rnn_tanh_layer", "gru_layer", "lstm_layer"])
def test_recurrent_layers_gradgradcheck(name):
    from studio.core.ops import rnn

    gates = {"rnn_tanh_layer": 1, "gru_layer": 3, "lstm_layer": 4}[name]
    x, h = _t(3, 2, 3), _t(2, 2, seed=1)
    weights = (
        _t(gates * 2, 3, seed=2),
        _t(gates * 2, 2, seed=3),
        _t(gates * 2, seed=4),
        _t(gates * 2, seed=5),
    )
    layer = getattr(rnn, name)
    if name == "lstm_layer":
        c = _t(2, 2, seed=6)
        assert gradgradcheck(lambda x, h, c, *w: layer(x, h, c, *w, reverse=True), (x, h, c) + weights)
    else:
        assert gradgradcheck(lambda x, h, *w: layer(x, h, *w), (x, h) + weights)


def test_multihead_attention_gradgradcheck():
    from studio.core.ops import mha

    q, k, v = _t(3, 2, 4), _t(5, 2, 4, seed=1), _t(5, 2, 4, seed=2)
    mask = np.zeros((2, 1, 3, 5))
    mask[0, 0, 1, :] = -np.inf  # a query that sees no key: its weights are zeros
    mask = sc.tensor(mask)._data  # the op takes arrays of its inputs' device
    assert gradgradcheck(lambda q, k, v: mha.attention_heads(q, k, v, 2, mask=mask)[0], (q, k, v))
    assert gradgradcheck(lambda q, k, v: mha.attention_heads(q, k, v, 2, need_weights=True), (q, k, v))


def test_third_derivative():
    x = sc.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (g1,) = sc.autograd.grad((x**4).sum(), x, create_graph=True)
    (g2,) = sc.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = sc.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.detach().numpy(), 4 * x.detach().numpy() ** 3, rtol=1e-6)
    np.testing.assert_allclose(g2.detach().numpy(), 12 * x.detach().numpy() ** 2, rtol=1e-6)
    np.testing.assert_allclose(g3.numpy(), 24 * x.detach().numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_with_create_graph_gives_grad_a_graph():
    x = sc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [3.0, 12.0, 27.0])
    g = x.grad
    x.grad = None
    g.sum().backward()  # d/dx sum(3 x^2) = 6 x
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 18.0])


def test_plain_backward_stays_arrays_without_a_graph():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


# ----------------------------------------------------------------------------- against PyTorch


def _mlp(lib, slope=0.2):
    layers = [lib.nn.Linear(4, 16), lib.nn.LeakyReLU(slope), lib.nn.Linear(16, 16), lib.nn.ReLU()]
    return lib.nn.Sequential(*layers, lib.nn.Linear(16, 1))


def _copy_weights(model, tmodel, torch):
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))


def _grads_close(params, tparams, rtol=1e-5, atol=1e-6):
    # a parameter reached only through a piecewise-constant derivative (a ReLU mask, pooling's
    # choice) gets zeros from PyTorch and no gradient here: the same values
    for p, tp in zip(params, tparams):
        ours = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
        theirs = np.zeros(tuple(tp.shape)) if tp.grad is None else tp.grad.numpy()
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def test_wgan_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    sc.manual_seed(0)
    critic, tcritic = _mlp(sc), _mlp(torch)
    _copy_weights(critic, tcritic, torch)
    rng = np.random.default_rng(1)
    real, fake = (rng.standard_normal((8, 4)).astype(np.float32) for _ in range(2))
    alpha = rng.uniform(size=(8, 1)).astype(np.float32)

    def penalty(lib, model):
        inter = lib.tensor(alpha * real + (1 - alpha) * fake, requires_grad=True)
        out = model(inter)
        (grads,) = lib.autograd.grad(out, inter, lib.ones_like(out), create_graph=True)
        gp = ((grads.view(8, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = out.mean() + 10 * gp
        loss.backward()
        return gp

    gp, tgp = penalty(sc, critic), penalty(torch, tcritic)
    assert gp.item() == pytest.approx(tgp.item(), rel=1e-5)
    _grads_close(list(critic.parameters()), list(tcritic.parameters()))


def test_hessian_vector_product_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    w0, x0, v0 = (rng.standard_normal(s) for s in [(5, 3), (7, 5), (5, 3)])

    def hvp(lib):
        w = lib.tensor(w0, requires_grad=True)
        x, v = lib.tensor(x0), lib.tensor(v0)
        loss = (lib.tanh(x @ w) ** 2).sum() + (w**3).sum()
        (g,) = lib.autograd.grad(loss, w, create_graph=True)
        (hv,) = lib.autograd.grad((g * v).sum(), w)
        return hv.numpy()

    np.testing.assert_allclose(hvp(sc), hvp(torch), rtol=1e-10)


@pytest.mark.parametrize("loss_name", ["mse_loss", "cross_entropy"])
def test_maml_second_order_step_matches_torch(loss_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w1, b1, w2, b2 = (rng.standard_normal(s) * 0.5 for s in [(8, 4), (8,), (3, 8), (3,)])
    xs, xq = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    if loss_name == "mse_loss":
        ys, yq = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    else:
        ys, yq = rng.integers(0, 3, 6), rng.integers(0, 3, 6)

    def meta_grads(lib):
        params = [lib.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
        loss_fn = getattr(lib.nn.functional, loss_name)

        def forward(p, x):
            h = lib.nn.functional.relu(lib.nn.functional.linear(lib.tensor(x), p[0], p[1]))
            return lib.nn.functional.linear(h, p[2], p[3])

        inner = loss_fn(forward(params, xs), lib.tensor(ys))
        grads = lib.autograd.grad(inner, params, create_graph=True)
        fast = [p - 0.4 * g for p, g in zip(params, grads)]
        outer = loss_fn(forward(fast, xq), lib.tensor(yq))
        outer.backward()
        return [p.grad.numpy() for p in params]

    for ours, theirs in zip(meta_grads(sc), meta_grads(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_cnn_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")

    def model(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(2, 4, 3, padding=1),
            lib.nn.LeakyReLU(0.2),
            lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(4, 4, 3, stride=2, padding=1),
            lib.nn.Flatten(),
            lib.nn.Linear(16, 1),
        ).double()

    net, tnet = model(sc), model(torch)
    _copy_weights(net, tnet, torch)
    x0 = np.random.default_rng(4).standard_normal((3, 2, 8, 8))

    def run(lib, m):
        x = lib.tensor(x0, requires_grad=True)
        (g,) = lib.autograd.grad(m(x).sum(), x, create_graph=True)
        ((g.reshape(3, -1).norm(dim=1) - 1) ** 2).mean().backward()

    run(sc, net)
    run(torch, tnet)
    _grads_close(list(net.parameters()), list(tnet.parameters()), rtol=1e-9, atol=1e-12)


def test_lstm_and_attention_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    sc.manual_seed(5)
    lstm, att = sc.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double(), sc.nn.MultiheadAttention(8, 2)
    tlstm, tatt = (
        torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double(),
        torch.nn.MultiheadAttention(8, 2),
    )
    _copy_weights(lstm, tlstm, torch)
    _copy_weights(att.double(), tatt.double(), torch)
    x0 = np.random.default_rng(6).standard_normal((5, 2, 3))

    def run(lib, lstm, att):
        x = lib.tensor(x0, requires_grad=True)
        h = lstm(x)[0]
        out = att(h, h, h)[0]
        (g,) = lib.autograd.grad(out.pow(2).sum(), x, create_graph=True)
        (g * g).sum().backward()

    run(sc, lstm, att)
    run(torch, tlstm, tatt)
    _grads_close(
        list(lstm.parameters()) + list(att.parameters()),
        list(tlstm.parameters()) + list(tatt.parameters()),
        rtol=1e-8,
        atol=1e-10,
    )


def test_custom_function_double_backward_matches_torch():
    torch = pytest.importorskip("torch")

    def cube(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x**3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x * x * g

        x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return gg.numpy()

    np.testing.assert_allclose(cube(sc), cube(torch))


# -------------------------------------------------------------------------------------- refusals


def test_in_place_change_of_a_view_refuses_double_backward_when_differentiated_again():
    x = sc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[:2].mul_(x[1:])
    (g,) = sc.autograd.grad((y * y).sum(), x, create_graph=True)  # the first derivative itself works
    np.testing.assert_allclose(g.detach().numpy(), [8.0, 40.0, 30.0])  # as PyTorch
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="double backward through CopySlices is not supported"):
        g.sum().backward()


def test_once_differentiable_function_refuses_double_backward():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = sc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = sc.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="double backward through Square is not supported"):
        sc.autograd.grad(g.sum(), x)


def test_backward_with_create_graph_warns_once_of_the_reference_cycle(recwarn):
    from studio.core.autograd import entry

    entry._CYCLE_WARNED.clear()
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):
        (x * x).sum().backward(create_graph=True)
    cycle = [w for w in recwarn if "reference cycle" in str(w.message)]
    assert len(cycle) == 1 and cycle[0].category is UserWarning
    x.grad = None


def test_create_graph_retains_the_graph_and_plain_backward_does_not():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    sc.autograd.grad(y, x, create_graph=True)
    sc.autograd.grad(y, x)  # retained by the first call (retain_graph defaults to create_graph)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        sc.autograd.grad(y, x)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_hooks_see_recorded_gradients():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.requires_grad) or g * 2)
    h.sum().backward(create_graph=True)
    assert seen == [False] and h.grad is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [4.0, 8.0])  # the hook doubled 2x


def test_gradcheck_and_gradgradcheck_catch_a_wrong_second_derivative():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x.detach() ** 2 * g  # right first derivative, cut from the graph

    x = _t(3)
    assert gradcheck(Wrong.apply, (x,))
    assert not gradgradcheck(Wrong.apply, (x,), raise_exception=False)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradgradcheck(Wrong.apply, (x,))
