"""default_collate / default_convert against torch's: the same container types, tensor
dtypes, shapes and values, and the same errors, for every supported element type."""
import collections
from collections.abc import Mapping

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata
from ember.utils.data._utils.collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


class FrozenMap(Mapping):
    """A read-only mapping whose type cannot be rebuilt from a dict (collate falls back to
    a dict)."""

    def __init__(self, items, _token=None):
        if _token is not True:
            raise TypeError("build with FrozenMap.of")
        self._d = dict(items)

    @classmethod
    def of(cls, **kw):
        return cls(kw, _token=True)

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


def assert_same(ours, theirs, path="batch"):
    """Structure, container types, tensor dtypes/shapes/values all equal."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ember.Tensor), f"{path}: {type(ours)} is not a tensor"
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], \
            f"{path}: {ours.dtype} vs {theirs.dtype}"
        assert tuple(ours.shape) == tuple(theirs.shape), path
        np.testing.assert_array_equal(np.asarray(ours.numpy(), np.float64),
                                      theirs.double().numpy(), err_msg=path)
        return
    assert type(ours) is type(theirs), f"{path}: {type(ours)} vs {type(theirs)}"
    if isinstance(theirs, Mapping):
        assert list(ours) == list(theirs), path
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{path}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), path
        for i, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, f"{path}[{i}]")
    elif isinstance(theirs, np.ndarray):
        np.testing.assert_array_equal(ours, theirs)
    else:
        assert ours == theirs, path


# Each case builds a batch given the tensor library (ember or torch), so tensor leaves are
# the library's own and everything else is shared.
CASES = {
    "ints": lambda L: [0, 1, -2],
    "floats": lambda L: [0.5, 1.5, -2.25],
    "bools": lambda L: [True, False],
    "int_then_float": lambda L: [1, 2.5],
    "np_float32": lambda L: [np.float32(1.5), np.float32(2)],
    "np_float16": lambda L: [np.float16(1.5), np.float16(2)],
    "np_int32": lambda L: [np.int32(3), np.int32(-4)],
    "np_uint8": lambda L: [np.uint8(3), np.uint8(250)],
    "np_bool": lambda L: [np.bool_(True), np.bool_(False)],
    "np_float64": lambda L: [np.float64(0.1), np.float64(0.2)],
    "np_array_f32": lambda L: [np.arange(6, dtype=np.float32).reshape(2, 3),
                               np.ones((2, 3), np.float32)],
    "np_array_i16": lambda L: [np.array([1, 2], np.int16), np.array([3, 4], np.int16)],
    "np_array_bool": lambda L: [np.array([True, False]), np.array([False, False])],
    "np_array_0d": lambda L: [np.array(1.5), np.array(2.5)],
    "np_array_noncontig": lambda L: [np.arange(12.).reshape(3, 4)[:, ::2],
                                     np.arange(12.).reshape(3, 4).T[:3, :2]],
    "tensors_f32": lambda L: [L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0])],
    "tensors_i64_2d": lambda L: [L.arange(6).reshape(2, 3), L.arange(6, 12).reshape(2, 3)],
    "tensors_bool": lambda L: [L.tensor([True]), L.tensor([False])],
    "tensors_0d_f64": lambda L: [L.tensor(1.5, dtype=L.float64), L.tensor(2.0, dtype=L.float64)],
    "strings": lambda L: ["a", "bc"],
    "bytes": lambda L: [b"a", b"bc"],
    "dict": lambda L: [{"img": L.zeros(2), "label": 1, "name": "a"},
                       {"img": L.ones(2), "label": 2, "name": "b"}],
    "nested": lambda L: [{"a": {"b": [L.tensor([1]), 2.0]}, "c": (3, np.int32(4))},
                         {"a": {"b": [L.tensor([5]), 6.0]}, "c": (7, np.int32(8))}],
    "ordered_dict": lambda L: [collections.OrderedDict(b=1, a=2.0),
                               collections.OrderedDict(b=3, a=4.0)],
    "defaultdict": lambda L: [collections.defaultdict(list, {"k": 1}),
                              collections.defaultdict(list, {"k": 2})],
    "frozen_mapping": lambda L: [FrozenMap.of(k=1), FrozenMap.of(k=2)],
    "namedtuple": lambda L: [Point(1, np.float32(2)), Point(3, np.float32(4))],
    "namedtuple_tensors": lambda L: [Point(L.zeros(2), "p"), Point(L.ones(2), "q")],
    "tuples_to_lists": lambda L: [(1, "a", 2.0), (3, "b", 4.0)],
    "lists": lambda L: [[1, 2], [3, 4]],
    "ranges": lambda L: [range(2), range(2, 4)],
}


@pytest.mark.parametrize("case", list(CASES))
def test_default_collate_matches_torch(case):
    assert_same(edata.default_collate(CASES[case](ember)),
                tdata.default_collate(CASES[case](torch)))


@pytest.mark.parametrize("case", list(CASES))
def test_default_convert_matches_torch(case):
    for sample_e, sample_t in zip(CASES[case](ember), CASES[case](torch)):
        assert_same(edata.default_convert(sample_e), tdata.default_convert(sample_t))


def _error(fn, batch):
    with pytest.raises(Exception) as info:
        fn(batch)
    return type(info.value), str(info.value)


ERROR_CASES = {
    "unequal_lengths": lambda L: [[1, 2], [3]],
    "unsupported_type": lambda L: [object(), object()],
    "np_str_array": lambda L: [np.array(["a"]), np.array(["b"])],
    "np_object_array": lambda L: [np.array([None]), np.array([None])],
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_default_collate_errors_match_torch(case):
    ours = _error(edata.default_collate, ERROR_CASES[case](ember))
    theirs = _error(tdata.default_collate, ERROR_CASES[case](torch))
    assert ours[0] is theirs[0]
    assert ours[1] == theirs[1].replace("torch", "ember")


def test_tensor_shape_mismatch_raises_like_torch():
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        edata.default_collate([ember.zeros(2), ember.zeros(3)])


def test_collate_fn_map_is_extensible():
    def tensor_as_list(batch, *, collate_fn_map=None):
        return [t.tolist() for t in batch]
    table = {**default_collate_fn_map, ember.Tensor: tensor_as_list}
    out = collate([{"t": ember.tensor([1, 2])}, {"t": ember.tensor([3, 4])}],
                  collate_fn_map=table)
    assert out == {"t": [[1, 2], [3, 4]]}


def test_collated_tensors_do_not_alias_the_samples():
    a, b = ember.zeros(2), ember.ones(2)
    out = edata.default_collate([a, b])
    out.add_(5)
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1.0, 1.0]
