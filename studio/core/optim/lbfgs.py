"""L-BFGS: quasi-Newton steps from a short history of gradient changes, with an optional line search.

The algorithm is PyTorch's (after minFunc): each `step(closure)` runs up to `max_iter` iterations on
the flattened parameters; the closure re-evaluates the model, calls `backward()` and returns the loss.
Scalars stay in the parameters' float type, as PyTorch's 0-d tensors do, so that runs agree with it.
"""

from __future__ import annotations

from .. import backend as B
from ..tensor import Tensor, _wrap
from .optimizer import Optimizer, _check_lr


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through two points with their slopes, kept within `bounds`."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = d2_square**0.5
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


class _Bracket:
    """The interval the strong-Wolfe zoom narrows: step sizes with their losses, gradients and slopes."""

    def __init__(self, ts, fs, gs, gtds):
        self.t, self.f, self.g, self.gtd = list(ts), list(fs), list(gs), list(gtds)

    def set(self, i, t, f, g, gtd):
        self.t[i], self.f[i], self.g[i], self.gtd[i] = t, f, g, gtd

    def order(self):
        """(index of the lower loss, index of the higher)."""
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step size along `d` meeting the strong Wolfe conditions: (loss, flat grad, step, evaluations)."""
    d_norm = abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:  # look for an interval that holds a point meeting the conditions
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new])
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = _Bracket([t], [f_new], [g_new], [gtd_new])
            done = True
            break
        if gtd_new >= 0:
            bracket = _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new])
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = _Bracket([0, t], [f, f_new], [g, g_new], [gtd, gtd_new])
    low = bracket.order()[0]
    if not done:
        evals, low = _zoom(
            obj_func, x, d, f, gtd, bracket, ls_iter, max_ls, evals, (c1, c2, tolerance_change, d_norm)
        )
    return bracket.f[low], bracket.g[low], bracket.t[low], evals


def _zoom(obj_func, x, d, f, gtd, br, ls_iter, max_ls, evals, tols):
    """Narrow the bracket by cubic interpolation until a point meets the strong Wolfe conditions."""
    c1, c2, tol, d_norm = tols
    low, high = br.order()
    insuf_progress = False
    done = False
    while not done and ls_iter < max_ls:
        if abs(br.t[1] - br.t[0]) * d_norm < tol:
            break
        t = _cubic_interpolate(br.t[0], br.f[0], br.gtd[0], br.t[1], br.f[1], br.gtd[1])
        hi_t, lo_t = max(br.t), min(br.t)
        eps = 0.1 * (hi_t - lo_t)
        if min(hi_t - t, t - lo_t) < eps:  # too close to an end: move away unless progress was fine
            if insuf_progress or t >= hi_t or t <= lo_t:
                t = hi_t - eps if abs(t - hi_t) < abs(t - lo_t) else lo_t + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= br.f[low]:
            br.set(high, t, f_new, g_new.copy(), gtd_new)
            low, high = (0, 1) if br.f[0] <= br.f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br.t[high] - br.t[low]) >= 0:
                br.set(high, br.t[low], br.f[low], br.g[low], br.gtd[low])
            br.set(low, t, f_new, g_new.copy(), gtd_new)
    return evals, low


_STATE_ARRAYS = ("d", "prev_flat_grad")
_STATE_LISTS = ("old_dirs", "old_stps", "ro", "al")


class LBFGS(Optimizer):
    """L-BFGS optimizer (one parameter group; every `step` needs a closure).

    Args:
        params: parameters to optimize.
        lr: learning rate (default 1).
        max_iter: most iterations per `step` (default 20).
        max_eval: most closure evaluations per `step` (default max_iter * 1.25).
        tolerance_grad: stop when the largest gradient entry is this small (default 1e-7).
        tolerance_change: stop when the loss or the parameters change less than this (default 1e-9).
        history_size: how many past updates approximate the inverse Hessian (default 100).
        line_search_fn: None (fixed step `lr`) or 'strong_wolfe'.
    """

    def __init__(
        self,
        params,
        lr=1,
        max_iter=20,
        max_eval=None,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search_fn=None,
    ):
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError(
                f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, got {line_search_fn!r}"
            )
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ----------------------------------------------------------------------- flat parameter views
    def _gather_flat_grad(self):
        parts = []
        for p in self._params:
            if p.grad is None:
                parts.append(B.array_module(p._data).zeros(p._data.size, p._data.dtype))
            else:
                parts.append(p.grad._data.reshape(-1))
        return B.array_module(parts[0]).concatenate(parts)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (step_size * update[offset : offset + n]).reshape(p._data.shape).astype(p._data.dtype)
            p._vc[0] += 1
            offset += n

    def _set_param(self, arrays):
        for p, a in zip(self._params, arrays):
            p._data[...] = a
            p._vc[0] += 1

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(self._closure_loss(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------------------------- step
    def step(self, closure=None):
        """Run up to `max_iter` L-BFGS iterations; `closure` re-evaluates the model and returns the loss."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and returns the loss")
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = self._closure_loss(closure)
        loss = float(orig_loss)
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if abs(flat_grad).max() <= group["tolerance_grad"]:
            return orig_loss
        mem = self._unpack_state(state)
        self._iterate(closure, group, state, mem, loss, flat_grad)
        self._pack_state(state, mem)
        return orig_loss

    def _iterate(self, closure, group, state, mem, loss, flat_grad):
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        current_evals, n_iter = 1, 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            mem["d"] = self._direction(state, mem, flat_grad, group["history_size"])
            d = mem["d"]
            if mem["prev_flat_grad"] is None:
                mem["prev_flat_grad"] = flat_grad.copy()
            else:
                mem["prev_flat_grad"][...] = flat_grad
            mem["prev_loss"] = prev_loss = loss
            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:  # not a descent direction
                mem["t"] = t
                break
            ls_evals = 0
            if group["line_search_fn"] is not None:
                x_init = [p._data.copy() for p in self._params]
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    lambda x, t_, d_: self._directional_evaluate(closure, x, t_, d_),
                    x_init,
                    t,
                    d,
                    loss,
                    flat_grad,
                    gtd,
                    max_ls=max_eval - current_evals,
                )
                self._add_grad(t, d)
                opt_cond = abs(flat_grad).max() <= tol_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(self._closure_loss(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            mem["t"] = t
            current_evals += ls_evals
            state["func_evals"] += ls_evals
            if (
                n_iter == max_iter
                or current_evals >= max_eval
                or opt_cond
                or abs(d * t).max() <= tol_change
                or abs(loss - prev_loss) < tol_change
            ):
                break

    def _direction(self, state, mem, flat_grad, history_size):
        """The search direction: minus the gradient times the inverse-Hessian estimate (two-loop rule)."""
        if state["n_iter"] == 1:
            mem.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return -flat_grad
        y = flat_grad - mem["prev_flat_grad"]
        s = mem["d"] * mem["t"]
        ys = y.dot(s)
        old_dirs, old_stps, ro = mem["old_dirs"], mem["old_stps"], mem["ro"]
        if ys > 1e-10:  # keep the pair only when the curvature condition holds
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            mem["H_diag"] = ys / y.dot(y)
        if mem.get("al") is None:
            mem["al"] = [None] * history_size
        al = mem["al"]
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q -= al[i] * old_dirs[i]
        r = q * mem["H_diag"]
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    # ---------------------------------------------------------------- state as tensors, as PyTorch's
    def _unpack_state(self, state):
        mem = {}
        for k in ("d", "t", "prev_flat_grad", "prev_loss", "H_diag", *_STATE_LISTS):
            mem[k] = _arrays(state.get(k))
        return mem

    def _pack_state(self, state, mem):
        for k, v in mem.items():
            state[k] = _tensors(v)


def _arrays(value):
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, list):
        return [_arrays(v) for v in value]
    return value


def _tensors(value):
    if isinstance(value, list):
        return [_tensors(v) for v in value]
    if value is None or isinstance(value, int | float):
        return value
    return _wrap(B.ensure_array(value))
