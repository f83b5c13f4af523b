"""Devices. `ember.device('cpu')`, `ember.device('cuda:0')` mirror torch.device."""
from __future__ import annotations

_DEVICE_TYPES = ("cpu", "cuda")


class device:
    __slots__ = ("type", "index")

    def __new__(cls, type_or_str, index=None):
        if isinstance(type_or_str, device):
            return type_or_str
        if not isinstance(type_or_str, str):
            if hasattr(type_or_str, "type") and hasattr(type_or_str, "index"):  # torch.device
                return device(type_or_str.type, type_or_str.index)
            raise TypeError(f"device(): expected a string or device, got {type(type_or_str).__name__}")
        s = type_or_str
        if ":" in s:
            s, idx = s.split(":", 1)
            if index is not None:
                raise RuntimeError("device(): type (string) must not include an index because "
                                   "index was passed explicitly: " + type_or_str)
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type_or_str}'") from None
        if s not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of "
                               f"device string: {type_or_str}")
        key = (s, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        object.__setattr__(self, "type", s)
        object.__setattr__(self, "index", index)
        _CACHE[key] = self
        return self

    def __setattr__(self, *_):
        raise AttributeError("device is immutable")

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


_CACHE: dict = {}
CPU = device("cpu")
