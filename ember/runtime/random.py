"""Random number generators: a PCG64 stream per `Generator`, seedable and snapshotable.

Kernels of the random primitives receive `generator=<numpy.random.Generator>`; this class
owns that NumPy generator, the seed it started from, and a byte encoding of its state so
the frontend can expose `get_state`/`set_state` as uint8 tensors.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["Generator", "DEFAULT_SEED", "normalize_seed"]

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed, so initial_seed() reads the same
_U64 = (1 << 64) - 1
_STATE_BYTES = 16 + 16 + 1 + 4 + 8   # pcg state, increment, has_uint32, uinteger, seed


def normalize_seed(seed) -> int:
    """PyTorch accepts any integer in [-2**63, 2**64) and reinterprets negatives as uint64."""
    if isinstance(seed, (float, str, bytes)) or not hasattr(seed, "__index__"):
        raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed <= _U64:
        raise RuntimeError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
    return seed & _U64


class Generator:
    """A CPU random stream (PCG64). Same seed, same numbers."""

    def __init__(self, device="cpu"):
        dev = str(device)
        if dev.split(":")[0] != "cpu":
            raise RuntimeError(f"Generator: only 'cpu' generators are available, got device {dev!r}")
        self.device = device
        self._seed = DEFAULT_SEED
        self.np = np.random.Generator(np.random.PCG64(DEFAULT_SEED))

    def manual_seed(self, seed):
        self._seed = normalize_seed(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from OS entropy and return the new seed (as torch.Generator.seed)."""
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    # --- state as bytes: the frontend wraps these in uint8 tensors
    def state_bytes(self) -> np.ndarray:
        st = self.np.bit_generator.state
        raw = (st["state"]["state"].to_bytes(16, "little") + st["state"]["inc"].to_bytes(16, "little")
               + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little")
               + self._seed.to_bytes(8, "little"))
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def load_state_bytes(self, arr: np.ndarray) -> None:
        if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size != _STATE_BYTES:
            raise RuntimeError(f"Generator.set_state: expected a 1-D uint8 state of {_STATE_BYTES} "
                               f"bytes, got {arr.dtype} of shape {tuple(arr.shape)}")
        raw = arr.tobytes()
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64",
                    "state": {"state": int.from_bytes(raw[0:16], "little"),
                              "inc": int.from_bytes(raw[16:32], "little")},
                    "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:37], "little")}
        self.np = np.random.Generator(bg)
        self._seed = int.from_bytes(raw[37:45], "little")

    def __repr__(self):
        return f"<ember.Generator object (device={self.device}, initial_seed={self._seed})>"
