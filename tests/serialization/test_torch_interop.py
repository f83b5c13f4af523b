"""PyTorch interop: files torch.save writes load in ember (views, shared storage, every dtype,
Parameters), files ember writes with format="torch" load with torch.load(weights_only=True),
safetensors files from torch's safetensors load, and malicious pickles are refused."""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import ember
from ember.nn.parameter import Parameter
from ember.serialization import ForbiddenGlobalError, SerializationError, load, save

TORCH_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                "float32", "float64"]


def _equal(e, t):
    """ember tensor e holds exactly torch tensor t (dtype, shape, bits, requires_grad)."""
    assert str(e.dtype)[6:] == str(t.dtype)[6:]
    assert tuple(e.shape) == tuple(t.shape)
    assert e.requires_grad == t.requires_grad
    tv = t.detach()
    if t.dtype == torch.bfloat16:
        tv = tv.view(torch.int16)
        ev = e.detach().numpy().view(np.int16)
    else:
        ev = e.detach().numpy()
    np.testing.assert_array_equal(ev, tv.numpy())


def _torch_saved(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    buf.seek(0)
    return buf


def test_torch_state_dict_with_views_and_shared_storage():
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    sd = collections.OrderedDict([
        ("base", base), ("rows", base[2:4]), ("cols", base[:, 3]), ("t", base.t()),
        ("step", base[::2, 1::3]), ("exp", base[0].expand(3, 8)), ("scalar", base[1, 1]),
        ("empty", base[:0]),
    ])
    r = load(_torch_saved(sd))
    assert type(r) is collections.OrderedDict and list(r) == list(sd)
    for k, t in sd.items():
        _equal(r[k], t)
        assert r[k].stride() == t.stride() and r[k].storage_offset() == t.storage_offset(), k
    r["base"][2, 3] = -1.0  # one storage in torch, one buffer in ember
    assert r["rows"][0, 3].item() == -1.0 and r["cols"][2].item() == -1.0
    assert r["t"][3, 2].item() == -1.0


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_torch_every_dtype(dtype):
    g = torch.Generator().manual_seed(0)
    t = (torch.randn(3, 4, generator=g) * 40)
    t = (t > 0) if dtype == "bool" else t.abs().to(getattr(torch, dtype)) \
        if dtype == "uint8" else t.to(getattr(torch, dtype))
    r = load(_torch_saved({"t": t, "view": t[1:, ::2], "scalar": t[0, 0].clone()}))
    _equal(r["t"], t)
    _equal(r["view"], t[1:, ::2])
    _equal(r["scalar"], t[0, 0])


def test_torch_parameters_containers_and_values(tmp_path):
    lin = torch.nn.Linear(3, 2)
    obj = {"params": [lin.weight, lin.bias], "frozen": torch.nn.Parameter(torch.ones(2),
                                                                         requires_grad=False),
           "leaf": torch.ones(2, requires_grad=True), "nonleaf": torch.ones(2,
                                                                           requires_grad=True) * 3,
           "tied": (lin.weight, lin.weight), "size": torch.Size([4, 5]), "dtype": torch.bfloat16,
           "device": torch.device("cpu"), "bytes": b"\x00\x01", "set": {1, 2}, "float": 0.5,
           "none": None, "nested": {"a": [1, (2, "3")]}, "ba": bytearray(b"q"),
           "complex": 1 + 2j, "sd": lin.state_dict()}
    path = tmp_path / "model.pth"
    torch.save(obj, path)
    r = load(path)
    for k, cls in [("frozen", Parameter), ("leaf", ember.Tensor), ("nonleaf", ember.Tensor)]:
        assert type(r[k]) is cls
        _equal(r[k], obj[k])
    assert type(r["params"][0]) is Parameter and r["params"][0].requires_grad
    _equal(r["params"][0], lin.weight)
    assert r["params"][0] is r["tied"][0] is r["tied"][1]
    assert type(r["size"]) is ember.Size and r["size"] == ember.Size([4, 5])
    assert r["dtype"] is ember.bfloat16 and r["device"] == ember.device("cpu")
    assert r["bytes"] == b"\x00\x01" and r["set"] == {1, 2} and r["ba"] == bytearray(b"q")
    assert r["nested"] == {"a": [1, (2, "3")]} and r["complex"] == 1 + 2j
    assert type(r["sd"]) is collections.OrderedDict
    _equal(r["sd"]["bias"], lin.state_dict()["bias"])
    assert r["sd"]._metadata == lin.state_dict()._metadata  # set by BUILD in the pickle


def test_state_dict_metadata_round_trips_through_both_formats():
    """A state_dict's _metadata (module versions) survives ember.save in either format and
    torch.load of the torch format."""
    sd = collections.OrderedDict(w=ember.ones(2))
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    for fmt in ("ember", "torch"):
        buf = io.BytesIO()
        save(sd, buf, format=fmt)
        buf.seek(0)
        r = load(buf)
        assert r._metadata == sd._metadata and type(r._metadata) is collections.OrderedDict
        if fmt == "torch":
            buf.seek(0)
            assert torch.load(buf, weights_only=True)._metadata == sd._metadata


def test_torch_tensors_with_python_attributes():
    """Tensors carrying attributes are pickled through _rebuild_from_type_v2 and
    _rebuild_parameter_with_state; the values load, the attributes are not set."""
    t = torch.arange(3.0)
    t.note = "hi"
    p = torch.nn.Parameter(torch.ones(2))
    p.tag = 5
    r = load(_torch_saved({"t": t, "p": p}))
    _equal(r["t"], t)
    assert type(r["p"]) is Parameter
    _equal(r["p"], p)
    assert not hasattr(r["t"], "note") and not hasattr(r["p"], "tag")


def test_torch_big_endian_record():
    """An archive whose byteorder record says big-endian is byte-swapped on load."""
    t = torch.arange(5, dtype=torch.int32)
    data = _torch_saved({"t": t}).getvalue()
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename.endswith("byteorder"):
                payload = b"big"
            elif "/data/" in info.filename:
                payload = np.frombuffer(payload, "<i4").astype(">i4").tobytes()
            dst.writestr(info.filename, payload)
    assert load(io.BytesIO(out.getvalue()))["t"].tolist() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- ember writes, torch reads
def _to_torch(obj, path=None, **kw):
    if path is None:
        buf = io.BytesIO()
        save(obj, buf, format="torch")
        buf.seek(0)
        return torch.load(buf, weights_only=True, **kw)
    save(obj, path, format="torch")
    return torch.load(path, weights_only=True, **kw)


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_ember_torch_format_every_dtype(dtype):
    rng = np.random.default_rng(0)
    a = rng.normal(0, 40, (3, 4))
    a = a > 0 if dtype == "bool" else np.abs(a) if dtype == "uint8" else a
    e = ember.tensor(a).to(getattr(ember, dtype))
    r = _to_torch({"e": e, "view": e[1:, ::2], "scalar": e[0, 0]})
    _equal(e, r["e"])
    _equal(e[1:, ::2].contiguous(), r["view"])
    _equal(e[0, 0], r["scalar"])


def test_ember_torch_format_state_dict_and_values(tmp_path):
    w = Parameter(ember.randn(2, 3))
    frozen = Parameter(ember.ones(2), requires_grad=False)
    obj = collections.OrderedDict(
        w=w, again=w, frozen=frozen, leaf=ember.ones(2).requires_grad_(),
        buf=ember.arange(4), size=ember.Size([1, 2]), dtype=ember.float16,
        device=ember.device("cpu"), b=b"xyz", s={3}, f=float("inf"), n=None,
        nested=[{"k": (1, 2.5, "v")}])
    for path in (None, tmp_path / "ember_model.pt"):
        r = _to_torch(obj, path)
        assert type(r) is collections.OrderedDict and list(r) == list(obj)
        assert type(r["w"]) is torch.nn.Parameter and r["w"].requires_grad
        assert r["w"] is r["again"]
        assert type(r["frozen"]) is torch.nn.Parameter and not r["frozen"].requires_grad
        assert type(r["leaf"]) is torch.Tensor and r["leaf"].requires_grad
        for k in ("w", "frozen", "leaf", "buf"):
            _equal(obj[k], r[k])
        assert r["size"] == torch.Size([1, 2]) and type(r["size"]) is torch.Size
        assert r["dtype"] is torch.float16 and r["device"] == torch.device("cpu")
        assert r["b"] == b"xyz" and r["s"] == {3} and r["f"] == float("inf") and r["n"] is None
        assert r["nested"] == [{"k": (1, 2.5, "v")}]
    # torch names the archive folder after the file; its mmap loader needs aligned storages
    assert zipfile.ZipFile(tmp_path / "ember_model.pt").namelist()[0] == "ember_model/data.pkl"
    r = torch.load(tmp_path / "ember_model.pt", weights_only=True, mmap=True)
    _equal(obj["buf"], r["buf"])


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_ember_torch_format_pickle_protocols(protocol):
    """Any protocol is accepted; the archive always uses 2, which weights_only reads."""
    buf = io.BytesIO()
    save({"t": ember.ones(2), "b": b"\xff"}, buf, pickle_protocol=protocol, format="torch")
    buf.seek(0)
    r = torch.load(buf, weights_only=True)
    assert r["b"] == b"\xff" and r["t"].tolist() == [1.0, 1.0]


def test_torch_model_load_state_dict_from_ember_file():
    """The practical path: train in ember, save, load the weights into a torch model."""
    lin = torch.nn.Linear(4, 3)
    sd = {k: ember.tensor(v.detach().numpy() + 1) for k, v in lin.state_dict().items()}
    lin.load_state_dict(_to_torch(sd))
    _equal(sd["weight"], lin.weight.detach())


# ---------------------------------------------------------------- safetensors from torch
def test_torch_safetensors_file(tmp_path):
    import safetensors.torch
    tensors = {"emb.weight": torch.randn(4, 3).bfloat16(), "mask": torch.tensor([True, False]),
               "ids": torch.arange(5), "half": torch.randn(2).half()}
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(tensors, path, metadata={"format": "pt"})
    r = load(path)
    assert list(r) == sorted(tensors)
    for k, t in tensors.items():
        _equal(r[k], t)
    # and the other way: torch's safetensors reads an ember file
    save({"a": ember.ones(2, dtype=ember.bfloat16)}, tmp_path / "e.safetensors")
    back = safetensors.torch.load_file(tmp_path / "e.safetensors")
    assert back["a"].dtype == torch.bfloat16 and back["a"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- malicious pickles
def _zip_with_pickle(payload: bytes, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    buf.seek(0)
    return buf


class _Evil:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return os.system, (f"touch {self.sentinel}",)


class _EvalEvil:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return eval, (f"open({str(self.sentinel)!r}, 'w')",)


@pytest.mark.parametrize("evil, forbidden", [
    (_Evil, f"{os.system.__module__}.system"),
    (_EvalEvil, "builtins.eval"),
])
def test_malicious_reduce_is_refused(evil, forbidden, tmp_path):
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps({"w": [evil(sentinel)]}, protocol=2)
    with pytest.raises(ForbiddenGlobalError, match=f"'{forbidden}'") as e:
        load(_zip_with_pickle(payload))
    assert isinstance(e.value, pickle.UnpicklingError) and isinstance(e.value, RuntimeError)
    assert "<BytesIO>" in str(e.value)
    assert not sentinel.exists()
    path = tmp_path / "evil.pt"
    path.write_bytes(_zip_with_pickle(payload).getvalue())
    with pytest.raises(ForbiddenGlobalError, match="evil.pt"):
        load(path, weights_only=False)
    assert not sentinel.exists()


@pytest.mark.parametrize("payload, msg", [
    (b"\x80\x02cbuiltins\ngetattr\n.", "'builtins.getattr'"),
    (b"\x80\x02csubprocess\nPopen\n.", "'subprocess.Popen'"),
    (b"\x80\x02ctorch\nload\n.", "'torch.load'"),
    (b"\x80\x02c__builtin__\nexec\n.", "'builtins.exec'"),
])
def test_forbidden_globals(payload, msg):
    with pytest.raises(ForbiddenGlobalError, match=msg):
        load(_zip_with_pickle(payload))


def test_torchscript_archive_gets_a_hint():
    payload = b"\x80\x02c__torch__\nNet\n."
    with pytest.raises(ForbiddenGlobalError, match="TorchScript"):
        load(_zip_with_pickle(payload, {"archive/code/__torch__.py": "x"}))


def _with_storage(payload, nbytes=16):
    return _zip_with_pickle(payload, {"archive/data/0": bytes(nbytes)})


def test_crafted_tensor_records_are_checked():
    # a view reaching past its storage would read foreign memory
    with pytest.raises(SerializationError, match="reaches element"):
        load(_with_storage(_tensor_pickle_global(0, (5,), (1,))))
    with pytest.raises(SerializationError, match="invalid view"):
        load(_with_storage(_tensor_pickle_global(0, (2,), (-1,))))
    with pytest.raises(SerializationError, match="size mismatch for storage"):
        load(_with_storage(_tensor_pickle_global(0, (2,), (1,)), nbytes=8))
    with pytest.raises(SerializationError, match="lacks storage"):
        load(_zip_with_pickle(_tensor_pickle_global(0, (2,), (1,))))
    r = load(_with_storage(_tensor_pickle_global(1, (3,), (1,))))
    assert r["t"].tolist() == [0.0, 0.0, 0.0]


def _tensor_pickle_global(offset, size, stride):
    """data.pkl for {'t': tensor} written opcode by opcode (no torch objects needed)."""
    def tup(xs):
        return b"(" + b"".join(b"K" + bytes([x]) if x >= 0 else b"J" + x.to_bytes(4, "little",
                                                                                  signed=True)
                               for x in xs) + b"t"
    return (b"\x80\x02}X\x01\x00\x00\x00t"
            b"ctorch._utils\n_rebuild_tensor_v2\n("
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000"
            b"X\x03\x00\x00\x00cpuK\x04tQ"
            + b"K" + bytes([offset]) + tup(size) + tup(stride) +
            b"\x89ccollections\nOrderedDict\n)Rt" b"Rs.")


def test_build_opcode_on_a_tensor_is_refused():
    payload = _tensor_pickle_global(0, (2,), (1,))
    # insert BUILD with a state dict right after the tensor's REDUCE
    payload = payload[:-2] + b"}X\x05\x00\x00\x00_dataK\x01sb" + payload[-2:]
    with pytest.raises(SerializationError, match="BUILD"):
        load(_with_storage(payload))


@pytest.mark.parametrize("target", [b"ctorch\nfloat32\n", b"ccollections\nCounter\n",
                                    b"ccollections\nOrderedDict\n",
                                    b"ctorch._utils\n_rebuild_tensor_v2\n"])
def test_build_cannot_alter_allowed_globals(target):
    """BUILD with slot state would setattr on a process-wide object (a dtype, a class)."""
    before = ember.float32.np
    payload = b"\x80\x02" + target + b"N}X\x02\x00\x00\x00npK\x01s\x86b."
    with pytest.raises(SerializationError, match="BUILD"):
        load(_zip_with_pickle(payload))
    assert ember.float32.np is before and not hasattr(collections.Counter, "np")


def test_legacy_torch_format_is_refused(tmp_path):
    buf = _torch_saved({"a": torch.ones(1)}, _use_new_zipfile_serialization=False)
    with pytest.raises(SerializationError, match="legacy"):
        load(buf)


def test_malformed_pickle():
    with pytest.raises(SerializationError, match="malformed data.pkl"):
        load(_zip_with_pickle(b"\x80\x02}q\x00(X"))
    with pytest.raises(SerializationError, match="persistent id"):
        load(_zip_with_pickle(b"\x80\x02X\x01\x00\x00\x00xQ."))
