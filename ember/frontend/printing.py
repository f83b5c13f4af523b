"""Tensor printing shaped like PyTorch's."""
import numpy as np

_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            _OPTS[k] = v
    _OPTS["sci_mode"] = sci_mode


def tensor_repr(t):
    body = np.array2string(np.asarray(t._data, dtype=np.float32) if t._data.dtype.kind == "V" or
                           str(t._data.dtype) == "bfloat16" else t._data,
                           precision=_OPTS["precision"], separator=", ", prefix="tensor(")
    return f"tensor({body})"
