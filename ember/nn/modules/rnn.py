"""Recurrent layers: RNN (tanh/relu), LSTM (with optional projection), GRU, and the single-step
cells RNNCell, LSTMCell, GRUCell, with PyTorch's parameter names, shapes, gate order and init.

How a layer runs: the input projection of every time step is one matmul per layer and
direction (inputs are kept packed time-major, (N, input) with N = sum of batch sizes); only
the recurrent part loops over time. Padded input is the packed case with a constant batch
size, so one engine serves padded and PackedSequence input. With packed input the batch
shrinks as sequences end (forward direction: finished rows are set aside as final states)
and grows again in the reverse direction (new rows start from the initial state). Each layer
and direction is one autograd node (`_Scan`) with a hand-written backward through time."""
from __future__ import annotations

import math
import numbers
import warnings

import ember
from ember.autograd import Function
from ember.jit import is_tracing

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ------------------------------------------------------------------ one time step per mode
# Each mode has three forms of its step:
# - `step(x, state, w)`: the meaning, in differentiable ember ops (cells, and the layer when
#   a second derivative is asked for);
# - `fwd(x, state, w) -> (state, saved)`: the same math run without recording, keeping what
#   the backward needs (saved[0] is always the incoming h);
# - `bwd(dstate, saved, w) -> (dx, dhp, dstate_in, proj)`: gradients w.r.t. the step's
#   projected input x, the hidden projection hp = h W_hh^T (+ b_hh), the incoming state, and
#   for LSTM projections (dh, hr) so that dW_hr can be summed over steps.
# `w` carries W_hh, its transpose, b_hh (None when folded into x: tanh/relu/LSTM layers; GRU
# keeps it apart because r gates (W_hn h + b_hn)) and W_hr (LSTM proj_size) with transpose.

class _Weights:
    __slots__ = ("w_hh", "whh_t", "b_hh", "w_hr", "whr_t")

    def __init__(self, w_hh, b_hh, w_hr):
        self.w_hh, self.whh_t, self.b_hh = w_hh, w_hh.t(), b_hh
        self.w_hr, self.whr_t = w_hr, None if w_hr is None else w_hr.t()


def _hidden(h, w):
    pre = h.matmul(w.whh_t)
    return pre if w.b_hh is None else pre + w.b_hh


def _tanh_step(x, state, w):
    return ((x + _hidden(state[0], w)).tanh(),)


def _tanh_fwd(x, state, w):
    h = (x + _hidden(state[0], w)).tanh_()
    return (h,), (state[0], h)


def _tanh_bwd(dstate, saved, w):
    h = saved[1]
    dpre = dstate[0] * (1 - h * h)
    return dpre, dpre, (dpre.matmul(w.w_hh),), None


def _relu_step(x, state, w):
    return (F.relu(x + _hidden(state[0], w)),)


def _relu_fwd(x, state, w):
    h = (x + _hidden(state[0], w)).clamp_min_(0)
    return (h,), (state[0], h)


def _relu_bwd(dstate, saved, w):
    dpre = dstate[0] * (saved[1] > 0)
    return dpre, dpre, (dpre.matmul(w.w_hh),), None


def _lstm_step(x, state, w):
    h, c = state
    i, f, g, o = (x + _hidden(h, w)).chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w.w_hr is not None:
        h = h.matmul(w.whr_t)
    return h, c


def _lstm_fwd(x, state, w):
    h, c = state
    n = c.shape[1]
    gates = x + _hidden(h, w)
    act = gates.sigmoid()            # i, f, o are read from here (the g part is unused)
    g = gates[:, 2 * n:3 * n].tanh()
    c2 = act[:, n:2 * n] * c
    c2.add_(act[:, :n] * g)
    tc = c2.tanh()
    hr = act[:, 3 * n:] * tc
    h2 = hr if w.w_hr is None else hr.matmul(w.whr_t)
    return (h2, c2), (h, c, act, g, tc, hr)


def _lstm_bwd(dstate, saved, w):
    dh, dc = dstate
    h, c, act, g, tc, hr = saved
    n = c.shape[1]
    proj = None
    if w.w_hr is not None:
        proj = (dh, hr)
        dh = dh.matmul(w.w_hr)
    dc = dc + dh * act[:, 3 * n:] * (1 - tc * tc)
    dact = ember.cat([dc * g, dc * c, dc * act[:, :n], dh * tc], 1)  # w.r.t. i, f, g, o
    dgates = dact * act * (1 - act)
    dgates[:, 2 * n:3 * n] = dact[:, 2 * n:3 * n] * (1 - g * g)    # g went through tanh
    return dgates, dgates, (dgates.matmul(w.w_hh), dc * act[:, n:2 * n]), proj


def _gru_step(x, state, w):
    h = state[0]
    xr, xz, xn = x.chunk(3, 1)
    hr, hz, hn = _hidden(h, w).chunk(3, 1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (n + z * (h - n),)


def _gru_fwd(x, state, w):
    h = state[0]
    k = h.shape[1]
    hp = _hidden(h, w)
    rz = (x[:, :2 * k] + hp[:, :2 * k]).sigmoid_()
    hn = hp[:, 2 * k:]
    n = (x[:, 2 * k:] + rz[:, :k] * hn).tanh_()
    return (n + rz[:, k:] * (h - n),), (h, rz, hn, n)


def _gru_bwd(dstate, saved, w):
    dh = dstate[0]
    h, rz, hn, n = saved
    k = h.shape[1]
    z = rz[:, k:]
    dn = dh * (1 - z) * (1 - n * n)
    drz = ember.cat([dn * hn, dh * (h - n)], 1) * rz * (1 - rz)
    dx = ember.cat([drz, dn], 1)
    dhp = ember.cat([drz, dn * rz[:, :k]], 1)
    return dx, dhp, (dh * z + dhp.matmul(w.w_hh),), None


class _Mode:
    """What differs between the recurrent kinds: gate count, the three forms of the step,
    whether b_hh can be folded into the input projection."""

    def __init__(self, gates, step, fwd, bwd, fold_hh_bias):
        self.gates = gates
        self.step, self.fwd, self.bwd = step, fwd, bwd
        self.fold_hh_bias = fold_hh_bias


_MODES = {
    "RNN_TANH": _Mode(1, _tanh_step, _tanh_fwd, _tanh_bwd, True),
    "RNN_RELU": _Mode(1, _relu_step, _relu_fwd, _relu_bwd, True),
    "LSTM": _Mode(4, _lstm_step, _lstm_fwd, _lstm_bwd, True),
    "GRU": _Mode(3, _gru_step, _gru_fwd, _gru_bwd, False),
}


# ------------------------------------------------------------------ the time loop

def _rows(state, n):
    return tuple(s[:n] for s in state)


def _scan(step, xs, sizes, state0, reverse):
    """Runs `step(t, xs[t], state) -> (state, record)` over time and returns (records in time
    order, final state). sizes: batch size per step (non-increasing); state0: initial state
    tuple, each with sizes[0] rows. Forward in time the batch shrinks as sequences end (their
    final states are set aside); in reverse it grows (new rows start from state0). The final
    state has sizes[0] rows in sorted batch order.

    The backward of a scan is the mirror scan (other direction) over the output gradients
    starting from the final-state gradients, so this one loop serves both."""
    steps = len(sizes)
    records = [None] * steps
    if reverse:
        state = _rows(state0, sizes[-1]) if sizes[-1] < sizes[0] else state0
        for t in range(steps - 1, -1, -1):
            have = state[0].shape[0]
            if sizes[t] > have:  # sequences whose last step is t join, from the initial state
                state = tuple(ember.cat([s, s0[have:sizes[t]]]) for s, s0 in zip(state, state0))
            state, records[t] = step(t, xs[t], state)
        return records, state
    state = state0
    done = []  # final states of sequences that ended, highest rows first
    for t in range(steps):
        have = state[0].shape[0]
        if sizes[t] < have:
            done.append(tuple(s[sizes[t]:have] for s in state))
            state = _rows(state, sizes[t])
        state, records[t] = step(t, xs[t], state)
    if done:
        done.append(state)
        state = tuple(ember.cat([piece[k] for piece in reversed(done)])
                      for k in range(len(state)))
    return records, state


def _cat_rows(parts):
    return parts[0] if len(parts) == 1 else ember.cat(parts)


def _scan_composite(mode, xp, sizes, state0, w_hh, b_hh, w_hr, reverse):
    """The layer over time in differentiable ops: (packed outputs, final state)."""
    w = _Weights(w_hh, b_hh, w_hr)

    def step(t, x, state):
        state = mode.step(x, state, w)
        return state, state[0]
    outs, final = _scan(step, xp.split(sizes), sizes, state0, reverse)
    return _cat_rows(outs), final


class _Scan(Function):
    """One layer and direction over time as one autograd node. Forward runs the fast steps
    without recording; backward is hand-written BPTT: per step only the elementwise gate
    math and dh @ W_hh, while the weight gradients are one matmul over all steps
    (dW_hh = dHP^T H_prev). Under create_graph the gradient goes through the composite, so
    higher derivatives stay exact."""

    @staticmethod
    def forward(ctx, mode, sizes, reverse, xp, w_hh, b_hh, w_hr, *state0):
        w = _Weights(w_hh, b_hh, w_hr)

        def step(t, x, state):
            state, saved = mode.fwd(x, state, w)
            return state, (state[0], saved)
        records, final = _scan(step, xp.split(sizes), sizes, state0, reverse)
        ctx.mode, ctx.sizes, ctx.reverse = mode, sizes, reverse
        ctx.saved_steps = [saved for _, saved in records]
        ctx.save_for_backward(xp, w_hh, b_hh, w_hr, *state0)
        return (_cat_rows([h for h, _ in records]), *final)

    @staticmethod
    def backward(ctx, dout, *dfinal):
        xp, w_hh, b_hh, w_hr, *state0 = ctx.saved_tensors
        needs = ctx.needs_input_grad[3:]
        if ember.is_grad_enabled():
            return (None, None, None) + _composite_grads(ctx, (xp, w_hh, b_hh, w_hr, *state0),
                                                         needs, (dout, *dfinal))
        mode, sizes, saved = ctx.mode, ctx.sizes, ctx.saved_steps
        w = _Weights(w_hh, b_hh, w_hr)

        def step(t, dout_t, d):
            d = (d[0] + dout_t, *d[1:])
            dx, dhp, d_in, proj = mode.bwd(d, saved[t], w)
            return d_in, (dx, dhp, proj)
        records, dstate0 = _scan(step, dout.split(sizes), sizes, tuple(dfinal), not ctx.reverse)
        dxp = _cat_rows([r[0] for r in records])
        dhp = dxp if records[0][1] is records[0][0] else _cat_rows([r[1] for r in records])
        dw_hh = db_hh = dw_hr = None
        if needs[1]:
            dw_hh = dhp.t().matmul(_cat_rows([s[0] for s in saved]))
        if b_hh is not None and needs[2]:
            db_hh = dhp.sum(0)
        if w_hr is not None and needs[3]:
            dw_hr = _cat_rows([r[2][0] for r in records]).t().matmul(
                _cat_rows([r[2][1] for r in records]))
        return (None, None, None, dxp, dw_hh, db_hh, dw_hr, *dstate0)


def _composite_grads(ctx, inputs, needs, grads):
    with ember.enable_grad():
        xp, w_hh, b_hh, w_hr, *state0 = inputs
        out, final = _scan_composite(ctx.mode, xp, ctx.sizes, tuple(state0), w_hh, b_hh, w_hr,
                                     ctx.reverse)
    wanted = [t for t, need in zip(inputs, needs) if need and t is not None]
    found = iter(ember.autograd.grad((out, *final), wanted, grads, create_graph=True,
                                     allow_unused=True))
    return tuple(next(found) if need and t is not None else None
                 for t, need in zip(inputs, needs))


def _run_direction(mode, xp, sizes, state0, w_hh, b_hh, w_hr, reverse):
    """(packed outputs, final state tuple) of one layer and direction."""
    if is_tracing():  # a traced graph holds primitives only: the meaning, op by op
        return _scan_composite(mode, xp, sizes, state0, w_hh, b_hh, w_hr, reverse)
    result = _Scan.apply(mode, sizes, reverse, xp, w_hh, b_hh, w_hr, *state0)
    return result[0], tuple(result[1:])


# ------------------------------------------------------------------ modules

class RNNBase(Module):
    """Shared parameters, checks and the layer/direction loop of RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        _check_config(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                      proj_size)
        num_directions = 2 if bidirectional else 1
        gate_size = _MODES[mode].gates * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                shapes = [("weight_ih_l{}{}", (gate_size, layer_input)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(ember.empty(shape, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    # -------------------------------------------------------------- parameters
    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Kept for API compatibility: weights are always used where they are."""

    def _direction_weights(self, layer, direction):
        """(W_ih, W_hh, b_ih, b_hh, W_hr) of one layer and direction (None where absent)."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return tuple(getattr(self, kind + suffix, None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    # -------------------------------------------------------------- checks (PyTorch's)
    def check_input(self, input, batch_sizes):
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                             f"model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        return _permute_states((hx,), permutation)[0]

    # -------------------------------------------------------------- the computation
    def _state_sizes(self):
        """Feature size of each state component (h; LSTM adds c)."""
        return (self.hidden_size,)

    def _zeros_state(self, batch, like):
        num_directions = 2 if self.bidirectional else 1
        return tuple(ember.zeros(self.num_layers * num_directions, batch, size, dtype=like.dtype)
                     for size in self._state_sizes())

    def _run(self, data, sizes, hx):
        """data: packed (N, input_size); sizes: python list of batch sizes; hx: tuple of state
        tensors (L * D, B, *). Returns packed output (N, D * H) and the final state tuple."""
        mode = _MODES[self.mode]
        fold = mode.fold_hh_bias
        num_directions = 2 if self.bidirectional else 1
        finals = [[] for _ in hx]
        x = data
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._direction_weights(layer, direction)
                in_bias = b_ih + b_hh if fold and b_ih is not None else b_ih
                xp = F.linear(x, w_ih, in_bias)   # every time step in one matmul
                idx = layer * num_directions + direction
                out, state = _run_direction(mode, xp, sizes, tuple(h[idx] for h in hx), w_hh,
                                            None if fold else b_hh, w_hr, direction == 1)
                outs.append(out)
                for k, s in enumerate(state):
                    finals[k].append(s)
            x = outs[0] if num_directions == 1 else ember.cat(outs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, tuple(ember.stack(f) for f in finals)

    def _forward_impl(self, input, hx, check_hx_dims):
        """Common forward for all modes; hx is a tuple of state tensors or None."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = [int(b) for b in batch_sizes.tolist()]
            if hx is None:
                hx = self._zeros_state(sizes[0], data)
            else:
                hx = _permute_states(hx, sorted_indices)
            self._check_states(data, hx, batch_sizes)
            out, state = self._run(data, sizes, hx)
            state = _permute_states(state, unsorted_indices)
            return PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices), state
        if input.dim() not in (2, 3):
            raise ValueError(_BAD_INPUT_DIM[name].format(input.dim()))
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if hx is not None:
            check_hx_dims(hx, batched)
        if not batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx)
        batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = self._zeros_state(batch, input)
        self._check_states(input, hx, None)
        seq = input.transpose(0, 1) if self.batch_first else input
        steps = seq.shape[0]
        out, state = self._run(seq.reshape(steps * batch, seq.shape[2]), [batch] * steps, hx)
        out = out.reshape(steps, batch, out.shape[-1])
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(batch_dim)
            state = tuple(s.squeeze(1) for s in state)
        return out, state

    def _check_states(self, input, hx, batch_sizes):
        self.check_forward_args(input, hx[0], batch_sizes)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)


def _permute_states(states, permutation):
    """Reorders the batch (dim 1) of each state tensor; None keeps the order."""
    if permutation is None:
        return tuple(states)
    return tuple(s.index_select(1, permutation) for s in states)


_BAD_INPUT_DIM = {
    "RNN": "RNN: Expected input to be 2D or 3D, got {}D tensor instead",
    "LSTM": "LSTM: Expected input to be 2D or 3D, got {}D instead",
    "GRU": "GRU: Expected input to be 2D or 3D, got {}D instead",
}


def _check_config(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                  proj_size):
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) \
            or not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                      f"non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
    for label, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{label} should be of type bool, got: {type(value).__name__}")
    for label, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise TypeError(f"{label} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{label} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if mode not in _MODES:
        raise ValueError("Unrecognized RNN mode: " + mode)


def _check_single_hx(hx, batched):
    want = 3 if batched else 2
    if hx[0].dim() != want:
        kind = "batched 3-D" if batched else "unbatched 2-D"
        raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                           f"{hx[0].dim()}-D tensor")


def _no_proj_size(kwargs):
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu."""

    def __init__(self, *args, **kwargs):
        _no_proj_size(kwargs)
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)

    def forward(self, input, hx=None):
        out, state = self._forward_impl(input, None if hx is None else (hx,),
                                        _check_single_hx)
        return out, state[0]


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order (r, z, n) with n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn))."""

    def __init__(self, *args, **kwargs):
        _no_proj_size(kwargs)
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        out, state = self._forward_impl(input, None if hx is None else (hx,),
                                        _check_single_hx)
        return out, state[0]


def _check_lstm_hx(hx, batched):
    want = 3 if batched else 2
    if hx[0].dim() != want or hx[1].dim() != want:
        kind = "batched 3-D" if batched else "unbatched 2-D"
        raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                           f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")


class LSTM(RNNBase):
    """Long short-term memory, gate order (i, f, g, o); with proj_size > 0 the output h is
    projected by weight_hr (LSTMP)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _state_sizes(self):
        h = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (h, self.hidden_size)

    def get_expected_cell_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        return _permute_states(hx, permutation)

    def _check_states(self, input, hx, batch_sizes):
        self.check_forward_args(input, hx, batch_sizes)

    def forward(self, input, hx=None):
        return self._forward_impl(input, None if hx is None else tuple(hx), _check_lstm_hx)


# ------------------------------------------------------------------ cells

class RNNCellBase(Module):
    """weight_ih (chunks*H, input), weight_hh (chunks*H, H), bias_ih, bias_hh (chunks*H)."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(ember.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(ember.empty(num_chunks * hidden_size, hidden_size,
                                               dtype=dtype))
        if bias:
            self.bias_ih = Parameter(ember.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(ember.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _cell(self, step, input, hx, what):
        """Checks ranks and sizes as PyTorch does, runs one step on (batched) state tuple hx."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, h in enumerate(hx):
                if h.dim() not in (1, 2):
                    label = "hidden" if what == 1 else f"hx[{idx}]"
                    raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {h.dim()}D "
                                     f"instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = ember.zeros(input.size(0), self.hidden_size, dtype=input.dtype)
            hx = (zeros,) * what
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx)
        self._check_sizes(input, hx)
        out = step(F.linear(input, self.weight_ih, self.bias_ih), hx,
                   _Weights(self.weight_hh, self.bias_hh, None))
        return out if batched else tuple(o.squeeze(0) for o in out)

    def _check_sizes(self, input, hx):
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected "
                               f"{self.input_size}")
        for label, h in enumerate(hx):
            if input.size(0) != h.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} "
                                   f"batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        steps = {"tanh": _tanh_step, "relu": _relu_step}
        if self.nonlinearity not in steps:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._cell(steps[self.nonlinearity], input, None if hx is None else (hx,), 1)[0]


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input, hx=None):
        return self._cell(_lstm_step, input, None if hx is None else tuple(hx), 2)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input, hx=None):
        return self._cell(_gru_step, input, None if hx is None else (hx,), 1)[0]
