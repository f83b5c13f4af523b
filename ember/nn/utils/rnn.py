"""nn.utils.rnn: PackedSequence and the packing helpers (pack_padded_sequence,
pad_packed_sequence, pad_sequence, unpad_sequence, pack_sequence, unpack_sequence).

A PackedSequence stores the valid steps of a batch of sequences time-major: the rows of
step t are the first `batch_sizes[t]` sequences (sorted by decreasing length). Packing and
unpacking are each one `index_select` with an index computed on the host from the lengths,
so autograd sees a single gather (no per-step slices)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import ember

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: ember.Tensor
    batch_sizes: ember.Tensor
    sorted_indices: ember.Tensor | None
    unsorted_indices: ember.Tensor | None


def _bind(optional, fn):
    return None if optional is None else fn(optional)


class PackedSequence(PackedSequence_):
    """Holds the data and list of batch_sizes of a packed sequence. Build one with
    pack_padded_sequence or pack_sequence, not by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)) as in PyTorch
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs):
        return self

    def cuda(self, *args, **kwargs):
        return type(self)(self.data.cuda(*args, **kwargs), self.batch_sizes,
                          self.sorted_indices, self.unsorted_indices)

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def double(self):
        return self.to(dtype=ember.float64)

    def float(self):
        return self.to(dtype=ember.float32)

    def half(self):
        return self.to(dtype=ember.float16)

    def long(self):
        return self.to(dtype=ember.int64)

    def int(self):
        return self.to(dtype=ember.int32)

    def short(self):
        return self.to(dtype=ember.int16)

    def char(self):
        return self.to(dtype=ember.int8)

    def byte(self):
        return self.to(dtype=ember.uint8)


def invert_permutation(permutation):
    """The permutation p^-1 with p^-1[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    output = ember.empty_like(permutation)
    return output.scatter_(0, permutation, ember.arange(permutation.numel()))


# ------------------------------------------------------------------ host-side index math

def batch_sizes_of(lengths):
    """batch_sizes[t] = how many of the (decreasing) lengths exceed t."""
    return [sum(1 for n in lengths if n > t) for t in range(lengths[0])] if lengths else []


def lengths_of(batch_sizes):
    """Inverse of batch_sizes_of: the length of each sorted sequence."""
    return [sum(1 for b in batch_sizes if b > i) for i in range(batch_sizes[0])]


def _flat_position(t, b, steps, batch, batch_first):
    """Row of element (step t, sequence b) in a padded tensor flattened over its first two
    dims: (T, B) time-major or (B, T) batch-first."""
    return b * steps + t if batch_first else t * batch + b


def _check_lengths(lengths, batch, steps):
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    if batch and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if any(a < b for a, b in zip(lengths, lengths[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if batch and lengths[0] > steps:
        raise RuntimeError(f"pack_padded_sequence: the longest length {lengths[0]} exceeds the "
                           f"padded sequence length {steps}")


def _index(rows):
    return ember.tensor(rows, dtype=ember.int64)


# ------------------------------------------------------------------ public functions

def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch of variable-length sequences: input is (T, B, *) or, with
    batch_first, (B, T, *); lengths are the valid lengths of each sequence."""
    if isinstance(lengths, ember.Tensor):
        lengths = lengths.to(ember.int64)
    else:
        lengths = ember.as_tensor(lengths, dtype=ember.int64)
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = ember.sort(lengths, descending=True)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    lens = [int(n) for n in lengths.tolist()]
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    _check_lengths(lens, batch, steps)
    sizes = batch_sizes_of(lens)
    rows = [_flat_position(t, b, steps, batch, batch_first)
            for t, bs in enumerate(sizes) for b in range(bs)]
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, _index(rows))
    return PackedSequence(data, _index(sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: returns (padded, lengths), padded (T, B, *) or
    (B, T, *), in the original (unsorted) batch order."""
    sizes = [int(n) for n in sequence.batch_sizes.tolist()]
    steps = len(sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    data = sequence.data
    batch = sizes[0]
    feat = tuple(data.shape[1:])
    # every padded position reads either its packed row or the padding row appended at the end
    pad_row = data.shape[0]
    offsets = [0]
    for bs in sizes:
        offsets.append(offsets[-1] + bs)
    grid = [[pad_row] * steps for _ in range(batch)]
    for t, bs in enumerate(sizes):
        for b in range(bs):
            grid[b][t] = offsets[t] + b
    order = [grid[b][t] for b in range(batch) for t in range(steps)] if batch_first else \
        [grid[b][t] for t in range(steps) for b in range(batch)]
    source = ember.cat([data, ember.full((1, *feat), padding_value, dtype=data.dtype)])
    shape = (batch, steps) if batch_first else (steps, batch)
    padded = source.index_select(0, _index(order)).reshape(*shape, *feat)
    lengths = _index(lengths_of(sizes))
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices]
    return padded, lengths


_PADDING_SIDES = ("left", "right")


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks sequences of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding each
    on `padding_side` with `padding_value`."""
    if isinstance(sequences, ember.Tensor):
        sequences = sequences.unbind(0)
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in _PADDING_SIDES:
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    first = sequences[0]
    trailing = tuple(first.shape[1:])
    for s in sequences:
        for j, (a, b) in enumerate(zip(trailing, s.shape[1:])):
            if a != b:
                raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                                   f"({b}) at non-singleton dimension {j + 1}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        s = s.to(first.dtype)
        fill = longest - s.shape[0]
        if fill:
            pad = ember.full((fill, *trailing), padding_value, dtype=first.dtype)
            s = ember.cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return ember.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Splits a right-padded batch back into a list of sequences of the given lengths.
    (PyTorch transposes a time-major input in place first; this leaves the input as it is.)"""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = lengths.tolist() if isinstance(lengths, ember.Tensor) else list(lengths)
    return [seq[:int(n)] for seq, n in zip(padded_sequences.unbind(0), lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of sequences of shape (L_i, *)."""
    lengths = ember.as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Inverse of pack_sequence: the list of sequences, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
