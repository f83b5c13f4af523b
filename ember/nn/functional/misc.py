"""one_hot."""
from __future__ import annotations

import ember

__all__ = ["one_hot"]


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != ember.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    empty = tensor.numel() == 0
    if num_classes == -1:
        if empty:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max()) + 1
    if not empty:
        if int(tensor.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    elif num_classes < 0:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = ember.zeros((*tensor.shape, num_classes), dtype=ember.int64)
    return out.scatter_(-1, tensor.unsqueeze(-1), 1)
