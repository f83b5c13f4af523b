"""nn.Module and containers against torch.nn: registration, iteration, state dicts, modes,
conversions, hooks (forward, pre-forward, full backward) and reprs."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn
import torch.nn as tnn


def _pair(build):
    """The same model built in both libraries, ember weights copied from torch."""
    t = build(tnn)
    e = build(enn)
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return e, t


class _Net:
    @staticmethod
    def build(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(3, 4)
                self.blocks = nn.Sequential(nn.Linear(4, 4), nn.Identity())
                self.shared = self.fc1  # duplicate submodule: listed once
                self.register_buffer("scale", (torch if nn is tnn else ember).ones(4))
                self.register_buffer("tmp", (torch if nn is tnn else ember).zeros(2),
                                     persistent=False)
                self.extra = nn.Parameter((torch if nn is tnn else ember).zeros(2))

            def forward(self, x):
                return self.blocks(self.fc1(x)) * self.scale
        return Net()


def test_named_members_match_torch():
    e, t = _pair(_Net.build)
    for fn in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(e, fn)()] == [n for n, _ in getattr(t, fn)()], fn
    assert list(e.state_dict()) == list(t.state_dict())
    assert [n for n, _ in e.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert len(list(e.modules())) == len(list(t.modules()))
    assert len(list(e.named_modules(remove_duplicate=False))) == \
        len(list(t.named_modules(remove_duplicate=False)))


def test_forward_and_state_dict_round_trip():
    e, t = _pair(_Net.build)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    sd = e.state_dict()
    assert all(not v.requires_grad for v in sd.values())
    assert e.state_dict(keep_vars=True)["fc1.weight"] is e.fc1.weight


def test_load_state_dict_errors_like_torch():
    e, t = _pair(_Net.build)
    bad_e = dict(e.state_dict())
    bad_t = dict(t.state_dict())
    for d in (bad_e, bad_t):
        del d["fc1.bias"]
        d["nope"] = d["scale"]
    for m, d in ((e, bad_e), (t, bad_t)):
        with pytest.raises(RuntimeError) as info:
            m.load_state_dict(d)
        msg = str(info.value)
        assert 'Missing key(s) in state_dict: "fc1.bias"' in msg
        assert 'Unexpected key(s) in state_dict: "nope"' in msg
    re_, rt = e.load_state_dict(bad_e, strict=False), t.load_state_dict(bad_t, strict=False)
    assert re_.missing_keys == rt.missing_keys and re_.unexpected_keys == rt.unexpected_keys
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        e.load_state_dict({**e.state_dict(), "fc1.weight": ember.zeros(2, 2)})
    assert repr(e.load_state_dict(e.state_dict())) == repr(t.load_state_dict(t.state_dict()))


def test_load_state_dict_copies_in_place():
    m = enn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": ember.ones(2, 2), "bias": ember.zeros(2)})
    assert m.weight is w and w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    m.load_state_dict({"weight": ember.full((2, 2), 3.0), "bias": ember.zeros(2)}, assign=True)
    assert isinstance(m.weight, enn.Parameter) and m.weight.requires_grad


def test_setattr_registration_rules():
    m = enn.Module()
    m.p = enn.Parameter(ember.ones(1))
    m.sub = enn.Linear(1, 1)
    m.register_buffer("b", ember.zeros(1))
    assert set(m._parameters) == {"p"} and set(m._modules) == {"sub"} and set(m._buffers) == {"b"}
    with pytest.raises(TypeError, match="cannot assign"):
        m.p = ember.ones(1)
    m.p = None
    assert list(m.parameters()) == list(m.sub.parameters())
    with pytest.raises(TypeError):
        m.sub = 3
    m.b = ember.ones(2)
    assert m.b.shape == (2,)
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub
    with pytest.raises(KeyError, match="attribute 'p' already exists"):
        m.add_module("p", enn.Identity())
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_buffer("a.b", ember.zeros(1))
    m.buf = enn.Buffer(ember.ones(3), persistent=False)
    assert "buf" in m._buffers and "buf" not in m.state_dict()
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(enn.Module):
            def __init__(self):
                self.w = enn.Parameter(ember.ones(1))
        Bad()


def test_train_eval_requires_grad_zero_grad_apply():
    e, _ = _pair(_Net.build)
    e.eval()
    assert not any(m.training for m in e.modules())
    e.train()
    assert all(m.training for m in e.modules())
    e(ember.ones(2, 3)).sum().backward()
    assert e.fc1.weight.grad is not None
    e.zero_grad(set_to_none=False)
    assert e.fc1.weight.grad.abs().sum().item() == 0
    e.zero_grad()
    assert e.fc1.weight.grad is None
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    seen = []
    e.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_conversions_keep_parameter_identity():
    m = enn.Sequential(enn.Linear(2, 3), enn.Linear(3, 1))
    m.register_buffer("steps", ember.tensor(3))
    w = m[0].weight
    m.double()
    assert m[0].weight is w and w.dtype is ember.float64 and m.steps.dtype is ember.int64
    m.to(ember.float16)
    assert w.dtype is ember.float16
    m.float()
    assert w.dtype is ember.float32
    assert m.to("cpu") is m
    with pytest.raises(TypeError, match="floating point"):
        m.to(ember.int32)
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        m.cuda()


def test_get_submodule_parameter_buffer():
    e, t = _pair(_Net.build)
    assert e.get_submodule("blocks.0") is e.blocks[0]
    assert e.get_parameter("blocks.0.weight") is e.blocks[0].weight
    assert e.get_buffer("scale") is e.scale
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        e.get_submodule("blocks.nope")
    with pytest.raises(AttributeError):
        t.get_submodule("blocks.nope")


def _hook_log(lib, nn):
    lib.manual_seed(0)
    m = nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        m.bias.fill_(0.5)
    log = []
    m.register_forward_pre_hook(lambda mod, a: (a[0] * 2,))
    m.register_forward_pre_hook(lambda mod, a, kw: log.append(("pre_kw", sorted(kw))),
                                with_kwargs=True)
    h = m.register_forward_hook(lambda mod, a, o: o + 1)
    m.register_forward_hook(lambda mod, a, o: log.append(("f", o.tolist())), prepend=True)
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("bpre", go[0].tolist())))
    m.register_full_backward_hook(
        lambda mod, gi, go: (log.append(("bw", gi[0].tolist(), go[0].tolist())), (gi[0] * 3,))[1])
    x = lib.ones(2, 3, requires_grad=True)
    y = m(x)
    (y * y).sum().backward()
    log.append(("y", y.tolist()))
    log.append(("xgrad", x.grad.tolist()))
    h.remove()
    log.append(("after_remove", m(lib.ones(1, 3)).tolist()))
    return log


def test_hooks_match_torch():
    assert _hook_log(ember, enn) == _hook_log(torch, tnn)


def test_backward_hook_without_input_grad():
    for lib, nn in ((ember, enn), (torch, tnn)):
        m = nn.Linear(2, 2)
        seen = []
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
        with pytest.warns(UserWarning) if lib is torch else _nullcontext():
            m(lib.ones(3, 2)).sum().backward()
        assert seen[0][0] == (None,) and tuple(seen[0][1]) == (3, 2)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_reprs_match_torch():
    def build(nn):
        return nn.Sequential(OrderedDict(
            fc=nn.Linear(2, 3), body=nn.ModuleList([nn.Linear(3, 3) for _ in range(3)]),
            head=nn.Sequential(nn.Linear(3, 1, bias=False))))
    e, t = _pair(build)
    assert repr(e) == repr(t)
    assert repr(enn.ModuleList()) == repr(tnn.ModuleList())


def test_sequential_container_ops():
    def build(nn):
        return nn.Sequential(nn.Linear(1, 2), nn.Linear(2, 3), nn.Linear(3, 4))
    e, t = _pair(build)
    for m in (e, t):
        assert len(m[1:]) == 2 and list(m[1:]._modules) == ["1", "2"]
        assert m[-1].out_features == 4
        m.append(type(m[0])(4, 5))
        m.insert(0, type(m[0])(7, 1))
        del m[1]
    assert list(e._modules) == list(t._modules)
    assert [x.out_features for x in e] == [x.out_features for x in t]
    with pytest.raises(IndexError):
        e[10]
    assert len(e + e) == 2 * len(e)


def test_module_list_dict_param_containers():
    for lib, nn in ((ember, enn), (torch, tnn)):
        ml = nn.ModuleList([nn.Linear(1, 1)])
        ml += [nn.Identity()]
        ml.insert(0, nn.Linear(2, 2))
        assert [type(x).__name__ for x in ml] == ["Linear", "Linear", "Identity"]
        md = nn.ModuleDict({"b": nn.Identity(), "a": nn.Linear(1, 1)})
        assert list(md.keys()) == ["b", "a"] and "a" in md
        md.update([("c", nn.Identity())])
        assert md.pop("b") is not None and len(md) == 2
        pl = nn.ParameterList([lib.ones(2), nn.Parameter(lib.zeros(1))])
        assert all(isinstance(p, nn.Parameter) for p in pl)
        pl.append(lib.ones(3))
        assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
        pd = nn.ParameterDict({"y": lib.ones(1), "x": lib.ones(2)})
        assert list(pd.keys()) == ["x", "y"]
        assert isinstance(pd["x"], nn.Parameter)
        with pytest.raises(RuntimeError):
            pl(1)
    assert repr(enn.ParameterList([ember.ones(2, 3)])) == \
        repr(tnn.ParameterList([torch.ones(2, 3)])).replace("torch", "ember")


def test_parameter_behaviour():
    p = enn.Parameter(ember.ones(2))
    assert p.requires_grad and p.is_leaf and isinstance(p, ember.Tensor)
    assert repr(p) == repr(tnn.Parameter(torch.ones(2))).replace("torch", "ember")
    assert type(p * 2) is ember.Tensor
    import copy
    import pickle
    q = copy.deepcopy(p)
    assert isinstance(q, enn.Parameter) and q is not p and q.tolist() == p.tolist()
    assert isinstance(pickle.loads(pickle.dumps(p)), enn.Parameter)
    assert not enn.Parameter(ember.ones(1), requires_grad=False).requires_grad


def test_deepcopy_module_is_independent():
    import copy
    m = enn.Sequential(enn.Linear(2, 2))
    c = copy.deepcopy(m)
    with ember.no_grad():
        c[0].weight.fill_(0)
    assert m[0].weight.abs().sum().item() > 0
