"""ember.save / ember.load round trips: dtypes, containers, views, sharing, Parameters,
paths and file objects, map_location, atomic writes."""
import collections
import io
import math
import os
import pathlib
import stat

import numpy as np
import pytest

import ember
from ember.nn.parameter import Parameter
from ember.runtime.formats import safetensors_file, torch_zip
from ember.runtime.formats.records import StoredStorage, StoredTensor
from ember.serialization import SerializationError, load, save

FORMATS = ["ember", "torch"]
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
          "float32", "float64"]


def _values(dtype, shape):
    a = np.random.default_rng(0).normal(0, 50, size=shape)
    if dtype == "bool":
        return a > 0
    if dtype == "uint8":
        return np.abs(a)
    return a


def _make(dtype, shape):
    return ember.tensor(_values(dtype, shape)).to(getattr(ember, dtype))


def _same(a, b):
    """Same type, dtype, shape, requires_grad and bits."""
    assert type(a) is type(b)
    assert a.dtype is b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    x, y = a.detach().numpy(), b.detach().numpy()
    assert x.tobytes() == np.ascontiguousarray(y).tobytes() or np.array_equal(x, y)


def _roundtrip(obj, fmt, **load_kw):
    buf = io.BytesIO()
    save(obj, buf, format=fmt)
    buf.seek(0)
    return load(buf, **load_kw)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (), (0, 4), (5,)])
def test_every_dtype(fmt, dtype, shape):
    t = _make(dtype, shape)
    r = _roundtrip(t, fmt)
    _same(r, t)
    assert r.is_contiguous()
    r.add_(1) if dtype != "bool" else r.logical_not_()  # loaded tensors are writable


def test_nan_inf_bits_survive():
    t = ember.tensor([math.nan, math.inf, -math.inf, -0.0, 1e-45], dtype=ember.float32)
    for fmt in FORMATS:
        r = _roundtrip(t, fmt)
        assert r.numpy().tobytes() == t.numpy().tobytes()


Point = collections.namedtuple("Point", ["x", "y"])


def _plain_values():
    return {
        "none": None, "true": True, "false": False, "int": -7, "big": 2 ** 100,
        "float": 1.25, "nan": math.nan, "inf": math.inf, "ninf": -math.inf,
        "complex": complex(1.5, -2), "str": "héllo \"quoted\"", "bytes": b"\x00\xffab",
        "bytearray": bytearray(b"xy"), "dtype": ember.bfloat16, "dtypes": [ember.bool, ember.int8],
        "device": ember.device("cpu"), "size": ember.Size([2, 3]), "empty": {},
        "tuple": (1, (2, 3)), "list": [1, [2, [3]]], "set": {1, 2, 3},
        7: "int key", (1, 2): "tuple key",
    }


def _check_plain(r, exp):
    assert set(r) == set(exp)
    for k, v in exp.items():
        got = r[k]
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(got)
        else:
            assert got == v and type(got) is type(v), (k, got, v)


@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_values_and_containers(fmt):
    exp = _plain_values()
    r = _roundtrip(exp, fmt)
    _check_plain(r, exp)
    assert type(r["size"]) is ember.Size and r["dtype"] is ember.bfloat16
    assert r["device"] == ember.device("cpu")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_state_dict(fmt):
    a, b = _make("float32", (3, 2)), _make("int64", (4,))
    sd = collections.OrderedDict([("layer.weight", a), ("layer.bias", b)])
    obj = {"model": sd, "optim": {"state": {0: {"step": 3, "exp_avg": a * 2}},
                                  "param_groups": [{"lr": 0.1, "params": [0]}]},
           "history": [a[0], (b, [b])], "epoch": 4}
    r = _roundtrip(obj, fmt)
    assert type(r["model"]) is collections.OrderedDict
    assert list(r["model"]) == ["layer.weight", "layer.bias"]
    _same(r["model"]["layer.weight"], a)
    _same(r["optim"]["state"][0]["exp_avg"], a * 2)
    assert r["optim"]["param_groups"] == [{"lr": 0.1, "params": [0]}]
    _same(r["history"][0], a[0].contiguous())
    assert isinstance(r["history"][1], tuple) and r["history"][1][1][0] is r["history"][1][0]
    assert r["epoch"] == 4


def test_ember_only_containers():
    """namedtuple and frozenset: the ember format keeps them; the torch format refuses them
    at save time because torch.load(weights_only=True) could not read them back."""
    obj = {"p": Point(ember.ones(2), 3), "f": frozenset({1, 2})}
    r = _roundtrip(obj, "ember")
    assert r["p"]._fields == ("x", "y") and type(r["p"]).__name__ == "Point"
    assert r["p"].y == 3 and r["p"].x.tolist() == [1.0, 1.0]
    assert r["f"] == frozenset({1, 2}) and type(r["f"]) is frozenset
    r2 = _roundtrip(Point(1, 2), "ember")
    assert type(r2) is type(r["p"])  # one namedtuple type per (name, fields)
    for bad in (Point(1, 2), frozenset({1})):
        with pytest.raises(TypeError, match="weights_only"):
            save(bad, io.BytesIO(), format="torch")


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_saved_as_their_own_data(fmt):
    base = ember.arange(1000, dtype=ember.float64).reshape(100, 10)
    views = {"rows": base[10:12], "cols": base[:, 3], "t": base[:3, :2].t(),
             "flip": base[:2].flip(0), "exp": base[0, :2].unsqueeze(0).expand(3, 2)}
    buf = io.BytesIO()
    save(views, buf, format=fmt)
    assert len(buf.getvalue()) < base.nbytes  # not the 8000-byte base, only what views show
    buf.seek(0)
    r = load(buf)
    for k, v in views.items():
        _same(r[k], v.contiguous())
        assert r[k].is_contiguous()
    r["rows"].zero_()
    assert r["cols"][10].item() == 103.0  # loaded views do not share memory


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_tensor_object_loads_shared(fmt):
    w = _make("float32", (2, 2))
    other = w.clone()
    r = _roundtrip({"a": w, "b": [w, {"c": w}], "d": other}, fmt)
    assert r["a"] is r["b"][0] is r["b"][1]["c"]
    assert r["d"] is not r["a"]
    r["a"].add_(1)
    assert r["b"][0][0, 0].item() == r["a"][0, 0].item()


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameters_and_requires_grad(fmt):
    p = Parameter(_make("float32", (3,)))
    frozen = Parameter(_make("float64", (2,)), requires_grad=False)
    leaf = _make("float32", (2,)).requires_grad_()
    nonleaf = leaf * 2
    ints = Parameter(_make("int64", (2,)), requires_grad=False)
    r = _roundtrip({"p": p, "frozen": frozen, "leaf": leaf, "nonleaf": nonleaf, "ints": ints,
                    "plain": _make("float32", (1,))}, fmt)
    for k, cls, rg in [("p", Parameter, True), ("frozen", Parameter, False),
                       ("leaf", ember.Tensor, True), ("nonleaf", ember.Tensor, True),
                       ("ints", Parameter, False), ("plain", ember.Tensor, False)]:
        assert type(r[k]) is cls and r[k].requires_grad is rg and r[k].is_leaf, k
        assert r[k].grad_fn is None
    _same(r["nonleaf"], nonleaf.detach().requires_grad_())
    (r["p"] * 2).sum().backward()
    assert r["p"].grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_paths_and_file_objects(fmt, tmp_path):
    t = _make("float32", (2, 3))
    for f in (str(tmp_path / "a.bin"), tmp_path / "b.pt"):
        save({"t": t}, f, format=fmt)
        _same(load(f)["t"], t)
    with open(tmp_path / "c.pt", "wb") as fh:
        save(t, fh, format=fmt)
    with open(tmp_path / "c.pt", "rb") as fh:
        _same(load(fh), t)

    class Stream(io.RawIOBase):  # readable, not seekable
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(b)

    _same(load(Stream((tmp_path / "c.pt").read_bytes())), t)
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.pt", "c.pt"]  # no temp files left


def test_file_object_position():
    """Saving and loading start at the file object's position, as torch's do."""
    buf = io.BytesIO()
    buf.write(b"prefix")
    save(ember.ones(2), buf)
    end = buf.tell()
    buf.seek(6)
    assert load(buf).tolist() == [1.0, 1.0]
    assert end == len(buf.getvalue())


def test_ember_file_is_plain_safetensors():
    """Other safetensors tools see an ember file as tensors named by their path."""
    import safetensors.numpy
    sd = {"enc": {"w": _make("float32", (2, 2))}, "b": [_make("int8", (3,))]}
    buf = io.BytesIO()
    save(sd, buf)
    flat = safetensors.numpy.load(buf.getvalue())
    assert sorted(flat) == ["b.0", "enc.w"]
    np.testing.assert_array_equal(flat["enc.w"], sd["enc"]["w"].numpy())


def test_save_rejects_unsupported_objects():
    with pytest.raises(TypeError, match=r"type object at obj\['a'\]\[0\]"):
        save({"a": [object()]}, io.BytesIO())
    cyc = []
    cyc.append(cyc)
    with pytest.raises(ValueError, match="reference cycle"):
        save(cyc, io.BytesIO())
    with pytest.raises(ValueError, match="unknown format 'onnx'"):
        save(ember.ones(1), io.BytesIO(), format="onnx")


def test_numpy_scalars_save_as_python_numbers():
    r = _roundtrip({"a": np.float64(1.5), "b": np.int32(3), "c": np.bool_(True)}, "ember")
    assert r == {"a": 1.5, "b": 3, "c": True} and type(r["b"]) is int


# ---------------------------------------------------------------- map_location
def _cuda_file():
    """A torch-format file whose storage says it was saved on cuda:0."""
    rec = StoredTensor(StoredStorage(np.arange(4, dtype=np.float32), "cuda:0"), 1, (3,), (1,))
    buf = io.BytesIO()
    torch_zip.write({"w": rec}, buf)
    return buf.getvalue()


def _cuda_error():
    with pytest.raises(Exception) as e:
        ember.ones(1).cuda()
    return type(e.value)


def test_map_location_forms():
    data = _cuda_file()
    err = _cuda_error()
    with pytest.raises(err, match="CUDA") as e:
        load(io.BytesIO(data))
    assert "map_location='cpu'" in str(e.value)
    for ml in ("cpu", ember.device("cpu"), {"cuda:0": "cpu"}, {ember.device("cuda:0"): "cpu"}):
        assert load(io.BytesIO(data), map_location=ml)["w"].tolist() == [1.0, 2.0, 3.0]
    seen = []

    def fn(storage, loc):
        seen.append((storage.tolist(), loc))
        return storage * 10

    assert load(io.BytesIO(data), map_location=fn)["w"].tolist() == [10.0, 20.0, 30.0]
    assert seen == [([0.0, 1.0, 2.0, 3.0], "cuda:0")]
    with pytest.raises(err, match="CUDA"):
        load(io.BytesIO(data), map_location=lambda s, loc: None)  # None keeps cuda:0
    with pytest.raises(err, match="CUDA"):
        load(io.BytesIO(data), map_location={"cuda:1": "cpu"})
    buf = io.BytesIO()
    save(ember.ones(2), buf)
    with pytest.raises(err, match="CUDA"):
        load(io.BytesIO(buf.getvalue()), map_location="cuda:0")
    with pytest.raises(TypeError, match="map_location"):
        load(io.BytesIO(buf.getvalue()), map_location=3)
    with pytest.raises(RuntimeError, match="map_location returned"):
        load(io.BytesIO(buf.getvalue()), map_location=lambda s, loc: s[:1])


def test_unsupported_load_options():
    buf = io.BytesIO()
    save(ember.ones(1), buf)
    with pytest.raises(ValueError, match="mmap"):
        load(buf, mmap=True)
    buf.seek(0)
    assert load(buf, weights_only=False).tolist() == [1.0]


# ---------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_save_leaves_old_file_and_no_temp(fmt, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save({"v": ember.tensor([1.0])}, path, format=fmt)
    before = path.read_bytes()
    if fmt == "ember":
        def partial(dest, arrays, meta, checksum=True):
            with open(dest, "wb") as fh:
                fh.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\"")
            raise OSError("disk full")
        monkeypatch.setattr(safetensors_file, "write", partial)
    else:
        real_add, calls = torch_zip._add, []

        def add(archive, name, data):
            calls.append(name)
            if len(calls) == 3:
                raise OSError("disk full")
            real_add(archive, name, data)
        monkeypatch.setattr(torch_zip, "_add", add)
    with pytest.raises(OSError, match="disk full"):
        save({"v": ember.tensor([2.0])}, path, format=fmt)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    monkeypatch.undo()
    assert load(path)["v"].tolist() == [1.0]
    save({"v": ember.tensor([3.0])}, path, format=fmt)
    assert load(path)["v"].tolist() == [3.0]


def test_interrupted_save_cleans_up(tmp_path, monkeypatch):
    """A KeyboardInterrupt mid-write is no different."""
    path = tmp_path / "m.ember"

    def interrupted(dest, arrays, meta, checksum=True):
        pathlib.Path(dest).write_bytes(b"x")
        raise KeyboardInterrupt
    monkeypatch.setattr(safetensors_file, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(ember.ones(1), path)
    assert os.listdir(tmp_path) == []


def test_save_keeps_mode_and_follows_symlinks(tmp_path):
    target = tmp_path / "real.ember"
    save(ember.ones(1), target)
    os.chmod(target, 0o640)
    link = tmp_path / "link.ember"
    link.symlink_to(target)
    save(ember.zeros(2), link)
    assert link.is_symlink() and load(target).tolist() == [0.0, 0.0]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    with pytest.raises(RuntimeError, match="Parent directory"):
        save(ember.ones(1), tmp_path / "missing" / "x.ember")


def test_error_on_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.pt")


def test_serialization_error_is_runtime_error():
    assert issubclass(SerializationError, RuntimeError)
