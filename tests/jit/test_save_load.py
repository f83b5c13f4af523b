"""ember.jit.save / ember.jit.load: graphs and weights in one safe file, loadable and
runnable in a fresh process that imports only ember (not the code that defined them)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
import ember.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Net(nn.Module):
    """Conv, batch norm (buffers written back in training), dropout (random), nested outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, 3))

    def forward(self, x, scale=1.0):
        h = self.bn(self.conv(x)).relu()
        out = self.head(h) * scale
        return {"logits": out, "parts": (h.mean(), out.softmax(-1))}


def _run_fresh(code, tmp_path):
    """Run code in a new interpreter that imports only ember (cwd: an empty directory)."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_module_round_trip_in_a_fresh_process(tmp_path):
    ember.manual_seed(0)
    net = Net()
    x = ember.randn(2, 1, 6, 6)
    traced = ember.jit.trace(net, (x, 2.0))
    path = tmp_path / "net.ember"
    ember.jit.save(traced, path)
    np.save(tmp_path / "x.npy", x.numpy())
    net.eval()
    np.save(tmp_path / "eval.npy", net(x, 2.0)["logits"].detach().numpy())
    net.train()
    ember.manual_seed(7)
    np.save(tmp_path / "train.npy", net(x, 2.0)["logits"].detach().numpy())
    np.save(tmp_path / "mean.npy", net.bn.running_mean.numpy())
    out = _run_fresh("""
        import sys, numpy as np, ember
        m = ember.jit.load("net.ember")
        x = ember.from_numpy(np.load("x.npy"))
        names = sorted(k for k, _ in m.named_parameters())
        assert names == ['bn.bias', 'bn.weight', 'conv.bias', 'conv.weight', 'head.2.bias',
                         'head.2.weight'], names
        m.eval()
        y = m(x, 2.0)
        assert set(y) == {"logits", "parts"} and len(y["parts"]) == 2
        np.testing.assert_allclose(y["logits"].detach().numpy(), np.load("eval.npy"), rtol=1e-6)
        m.train()
        ember.manual_seed(7)
        y = m(x.requires_grad_(), 2.0)
        np.testing.assert_allclose(y["logits"].detach().numpy(), np.load("train.npy"), rtol=1e-6)
        np.testing.assert_allclose(m.bn.running_mean.numpy(), np.load("mean.npy"), rtol=1e-6)
        y["logits"].sum().backward()
        assert x.grad is not None and m.conv.weight.grad is not None
        print("ok", "Net" in sys.modules, any(k.startswith("test_") for k in sys.modules))
    """, tmp_path)
    assert out.split() == ["ok", "False", "False"]


def test_function_round_trip_and_graph_equality(tmp_path):
    def f(a, b):
        return [a @ b.t(), (a * 2).sum(1)]
    a, b = ember.randn(3, 4), ember.randn(5, 4)
    traced = ember.jit.trace(f, (a, b))
    ember.jit.save(traced, tmp_path / "f.ember")
    loaded = ember.jit.load(tmp_path / "f.ember")
    assert str(loaded.graph) == str(traced.graph)
    a2, b2 = ember.randn(3, 4), ember.randn(5, 4)
    for got, want in zip(loaded(a2, b2), f(a2, b2)):
        np.testing.assert_allclose(got._data, want._data, rtol=1e-6)
    assert isinstance(loaded(a2, b2), list)


def test_loaded_module_keeps_training_state_dict_compatible(tmp_path):
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    traced = ember.jit.trace(net, (ember.randn(2, 4),))
    ember.jit.save(traced, tmp_path / "m.ember")
    loaded = ember.jit.load(tmp_path / "m.ember")
    assert loaded.state_dict().keys() == net.state_dict().keys()
    opt = ember.optim.SGD(loaded.parameters(), lr=0.1)
    x = ember.randn(2, 4)
    before = loaded(x).sum().item()
    loaded(x).sum().backward()
    opt.step()
    assert loaded(x).sum().item() < before
    loaded.load_state_dict(net.state_dict())
    np.testing.assert_allclose(loaded(x).detach()._data, net(x).detach()._data, rtol=1e-6)


def test_load_rejects_other_files(tmp_path):
    ember.save({"w": ember.ones(2)}, tmp_path / "plain.ember")
    with pytest.raises(RuntimeError, match="not a file written by ember.jit.save"):
        ember.jit.load(tmp_path / "plain.ember")
    with pytest.raises(TypeError, match="expected a traced module or function"):
        ember.jit.save(nn.Linear(2, 2), tmp_path / "x.ember")
