"""Collation (torch.utils.data._utils.collate): default_collate merges a list of samples into
a batch, recursing through mappings, namedtuples and sequences, with a type-keyed table of
leaf rules (default_collate_fn_map) users can extend; default_convert turns NumPy data into
tensors without batching. Output types and dtypes follow PyTorch: python ints -> int64 (bools
-> bool), floats -> float64, NumPy arrays/scalars keep their dtype, str/bytes pass through.

In a DataLoader worker, tensors are stacked straight into shared memory, so the batch
reaches the main process without another copy (see sharing.py)."""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable

import numpy as np

import ember

from .sharing import in_worker, shared_empty

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn"]

# NumPy dtypes that cannot become tensors: bytes, str, unicode, object
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")


def _is_numpy_value(data) -> bool:
    t = type(data)
    return t.__module__ == "numpy" and t.__name__ not in ("str_", "string_")


def _rebuild_mapping(data, items: dict):
    """A mapping like `data` holding `items`: a shallow copy for mutable mappings (keeps
    the type and any attributes), the type rebuilt from a dict otherwise, else a dict."""
    try:
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(items)
            return clone
        return type(data)(items)
    except TypeError:
        return items


def _rebuild_sequence(data, items: list):
    """Like _rebuild_mapping, for sequences."""
    try:
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(data)(items)
    except TypeError:
        return items


def default_convert(data):
    """NumPy arrays and scalars -> tensors, recursively through containers; everything
    else unchanged (tuples become lists, as in PyTorch)."""
    if isinstance(data, ember.Tensor):
        return data
    if _is_numpy_value(data):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return ember.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):   # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate `batch` (a list of samples): a leaf rule from collate_fn_map (exact type
    first, then the first isinstance match in insertion order), else recurse into
    mappings, namedtuples and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {
            key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
            for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        elem_size = len(elem)
        if not all(len(e) == elem_size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns   # tuples become lists, as in PyTorch
        return _rebuild_sequence(elem, columns)
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def _stack_shared(batch):
    """Stack `batch` into a shared-memory array when in a worker and the plain case holds
    (same shape and dtype, no autograd); None otherwise (the caller then uses ember.stack,
    which also gives PyTorch's errors for mismatched shapes)."""
    elem = batch[0]
    shape, dtype = elem.shape, elem.dtype
    if any(not isinstance(t, ember.Tensor) or t.shape != shape or t.dtype != dtype
           or t.requires_grad for t in batch):
        return None
    out = shared_empty((len(batch),) + tuple(shape), elem.numpy().dtype)
    if out is None:
        return None
    np.stack([t.numpy() for t in batch], out=out)
    return ember.from_numpy(out)


def collate_tensor_fn(batch, *, collate_fn_map: dict | None = None):
    out = _stack_shared(batch) if in_worker() else None
    return out if out is not None else ember.stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map: dict | None = None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([ember.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map: dict | None = None):
    # through np.array: a list of NumPy scalars keeps their dtype (int32 stays int32)
    return ember.as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map: dict | None = None):
    return ember.tensor(batch, dtype=ember.float64)


def collate_int_fn(batch, *, collate_fn_map: dict | None = None):
    return ember.tensor(batch)


def collate_str_fn(batch, *, collate_fn_map: dict | None = None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    ember.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Merge a list of samples into a batch: tensors and NumPy arrays are stacked along a
    new first dimension, numbers become 1-D tensors, str/bytes lists pass through, and
    mappings/namedtuples/sequences are collated field by field."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
