"""Damaged and foreign files: every truncation and bit flip of an ember file, wrong kinds of
file, malformed headers and structures are refused with SerializationError naming the file."""
import io
import json
import struct
import zipfile

import numpy as np
import pytest

import ember
from ember.runtime.formats import safetensors_file
from ember.serialization import SerializationError, load, save


def _ember_bytes():
    obj = {"w": ember.arange(6, dtype=ember.float32).reshape(2, 3), "b": ember.tensor([1, 2]),
           "h": ember.ones(2, dtype=ember.bfloat16), "flag": ember.tensor([True]),
           "step": 3, "name": "x"}
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


def _torch_bytes():
    buf = io.BytesIO()
    save({"w": ember.arange(6, dtype=ember.float32), "i": ember.tensor([7, 8])}, buf,
         format="torch")
    return buf.getvalue()


def _header_len(data):
    return 8 + struct.unpack("<Q", data[:8])[0]


def _load_bytes(data, tmp_path, name="f.bin"):
    p = tmp_path / name
    p.write_bytes(data)
    return load(p)


def test_intact_files_load(tmp_path):
    assert _load_bytes(_ember_bytes(), tmp_path)["step"] == 3
    assert _load_bytes(_torch_bytes(), tmp_path)["i"].tolist() == [7, 8]


@pytest.mark.parametrize("make", [_ember_bytes, _torch_bytes], ids=["ember", "torch"])
def test_truncated_files_are_rejected(make, tmp_path):
    data = make()
    h = _header_len(data) if make is _ember_bytes else 64
    cuts = sorted({0, 1, 4, 7, 8, 9, 20, h - 1, h, h + 1, h + 5, len(data) // 2,
                   len(data) - 4, len(data) - 1})
    for cut in cuts:
        with pytest.raises(SerializationError) as e:
            _load_bytes(data[:cut], tmp_path, "cut.pt")
        assert "cut.pt" in str(e.value), (cut, e.value)


def test_truncation_messages(tmp_path):
    data = _ember_bytes()
    h = _header_len(data)
    cases = {0: "empty", 5: "unknown file format", 40: "bad header length",
             h: "data offsets out of range", len(data) - 1: "data offsets out of range"}
    for cut, msg in cases.items():
        with pytest.raises(SerializationError, match=msg):
            _load_bytes(data[:cut], tmp_path)


@pytest.mark.parametrize("mask", [0x01, 0x04, 0x20, 0x80])
def test_every_bit_flip_in_an_ember_file_is_detected(mask):
    """Each byte of the file, header and data alike, flipped in turn."""
    data = _ember_bytes()
    missed = []
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= mask
        try:
            load(io.BytesIO(bytes(bad)))
        except SerializationError:
            continue
        missed.append(i)
    assert not missed, f"undetected flips at {missed} (header ends at {_header_len(data)})"


def test_bit_flip_messages():
    data = _ember_bytes()
    h = _header_len(data)
    bad = bytearray(data)
    bad[-1] ^= 1  # in the data
    with pytest.raises(SerializationError, match="checksum mismatch"):
        load(io.BytesIO(bytes(bad)))
    bad = bytearray(data)
    bad[9] ^= 0x80  # inside the JSON header
    with pytest.raises(SerializationError, match="header is not valid JSON"):
        load(io.BytesIO(bytes(bad)))
    bad = bytearray(data)
    bad[6] ^= 1  # the header length
    with pytest.raises(SerializationError, match="header length"):
        load(io.BytesIO(bytes(bad)))
    assert h < len(data)


def test_bit_flips_in_torch_archive_data_are_detected():
    data = _torch_bytes()
    z = zipfile.ZipFile(io.BytesIO(data))
    for info in z.infolist():
        if "/data/" not in info.filename and not info.filename.endswith("data.pkl"):
            continue
        start = info.header_offset + 30 + len(info.filename) + \
            struct.unpack("<H", data[info.header_offset + 28:info.header_offset + 30])[0]
        for i in range(start, start + info.file_size):
            bad = bytearray(data)
            bad[i] ^= 0x10
            with pytest.raises(SerializationError, match="corrupted|malformed"):
                load(io.BytesIO(bytes(bad)))


@pytest.mark.parametrize("content, msg", [
    (b"", "empty"),
    (b"hello, this is a text file\n", "unknown file format"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "unknown file format"),
    (bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)), "unknown file format"),
    (b"PK\x05\x06" + bytes(18), "not a PyTorch checkpoint"),
    (b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}", "header entry 'a'"),
    (b"\x02\x00\x00\x00\x00\x00\x00\x00[]", "unknown file format"),
])
def test_other_kinds_of_file(content, msg, tmp_path):
    with pytest.raises(SerializationError, match=msg) as e:
        _load_bytes(content, tmp_path, "weird.pt")
    assert "weird.pt" in str(e.value)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(SerializationError, match="not a PyTorch checkpoint"):
        _load_bytes(buf.getvalue(), tmp_path)


def _raw_safetensors(header: dict, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


@pytest.mark.parametrize("header, data, msg", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4), "size mismatch"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(2), "out of range"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(6), "after the last"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), "gap"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, bytes(6), "overlap"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), "invalid shape"),
    ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, bytes(4), "unknown dtype"),
    ({"a": {"dtype": "U16", "shape": [1], "data_offsets": [0, 2]}}, bytes(2), "U16.*not support"),
    ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), "exactly dtype"),
    ({"__metadata__": {"k": 1}}, b"", "strings to strings"),
    ({"__metadata__": {"ember.format": "ember.save"}}, b"", "lacks ember.version"),
])
def test_malformed_safetensors_headers(header, data, msg):
    with pytest.raises(SerializationError, match=msg):
        load(io.BytesIO(_raw_safetensors(header, data)))


def _ember_file_with(meta_changes):
    """An ember file rewritten with changed metadata (checksum recomputed)."""
    data = _ember_bytes()
    arrays, meta = safetensors_file.read(io.BytesIO(data), "x")
    meta.update(meta_changes)
    meta.pop(safetensors_file.CHECKSUM_KEY)
    buf = io.BytesIO()
    safetensors_file.write(buf, arrays, meta)
    return buf.getvalue()


@pytest.mark.parametrize("changes, msg", [
    ({"ember.version": "2"}, "unsupported ember file version '2'"),
    ({"ember.format": "other"}, "unknown format 'other'"),
    ({"ember.structure": "{"}, "malformed ember.structure"),
    ({"ember.structure": '{"tensors": [], "root": {"tensor": 0}}'}, "out of range"),
    ({"ember.structure": '{"tensors": [], "root": {"pickle": "x"}}'}, "unknown node kind"),
    ({"ember.structure": '{"tensors": [{"name": "zz", "requires_grad": false, '
                         '"parameter": false, "location": "cpu"}], "root": {"tensor": 0}}'},
     "lacks"),
    ({"ember.structure": '{"tensors": [], "root": {"namedtuple": ["os.system", ["a"], [1]]}}'},
     "malformed"),
])
def test_malformed_ember_metadata(changes, msg):
    with pytest.raises(SerializationError, match=msg):
        load(io.BytesIO(_ember_file_with(changes)))


def test_foreign_safetensors_has_no_checksum_but_loads():
    import safetensors.numpy
    data = safetensors.numpy.save({"z": np.arange(3, dtype=np.int16), "a": np.ones(1)})
    r = load(io.BytesIO(data))
    assert list(r) == ["a", "z"] and r["z"].dtype is ember.int16
