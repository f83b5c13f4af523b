"""The channel between the DataLoader and one worker process: a Unix socket pair carrying
tasks (index batches) to the worker and results back, with result data in shared memory.

A worker keeps array data in anonymous shared-memory files (memfd on Linux, an unlinked
temporary file elsewhere). It sends over a Unix socket only a pickle in which every NumPy
array (so every ember tensor's storage) is a reference (segment, offset, dtype, shape,
strides), and passes the segments' file descriptors with the same sendmsg (SCM_RIGHTS). The
main process maps the descriptors and builds the arrays over the mappings: batch bytes are
written once, by collation in the worker (`shared_empty`), and never copied through a pipe.
Arrays that were not built in shared memory are copied into one extra segment per message.

Why descriptors and not named segments: the kernel frees a segment when its last descriptor
and mapping are gone, so a worker killed mid-send, a message never read or an iterator
dropped early leaks nothing, and no tracker process or /dev/shm name is involved.

Reading a Unix stream socket with plain read() past a message boundary would silently drop
the descriptors attached to the next message, so the receiver only ever reads exact sizes:
the fixed header (which carries the descriptors) with recvmsg, then the payload.

No queue feeder threads or semaphores are involved: the main process writes tasks without
blocking (MainEnd keeps an outbox) and ends a channel with shutdown(), which every copy of
the descriptor sees, so stopping a worker is synchronous and leaves nothing open.
"""
from __future__ import annotations

import io
import mmap
import os
import pickle
import select
import socket
import struct
import tempfile

import numpy as np

__all__ = ["SegmentPool", "WorkerEnd", "MainEnd", "shared_empty", "install_pool", "in_worker"]

_HEADER = struct.Struct("<QI")   # payload bytes, number of descriptors
_MAX_FDS = 240                   # per message; the kernel allows 253 (SCM_MAX_FD)
_ALIGN = 64                      # byte alignment of arrays packed into one segment
_ARENA = -1                      # segment number of the per-message copy segment (sent last)
_SEGMENT_NAME = "ember-batch"
_INLINE_PAYLOAD = 1 << 16        # pickles up to this size go in the header's sendmsg


def _anon_fd(nbytes: int) -> int:
    """A descriptor of a fresh, nameless shared-memory file of nbytes."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(_SEGMENT_NAME, os.MFD_CLOEXEC)
    else:
        shm_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix=_SEGMENT_NAME + "-", dir=shm_dir)
        os.unlink(path)
    try:
        os.ftruncate(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _extent(a: np.ndarray) -> tuple[int, int]:
    """[low, high) byte addresses that array `a` touches."""
    lo = hi = _address(a)
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


def _c_strides(shape, itemsize) -> tuple[int, ...]:
    strides, acc = [], itemsize
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


class SegmentPool:
    """The shared segments a worker allocated while producing the current message; the
    pickler refers to arrays inside them instead of copying. Released after every message
    (the descriptors close; mappings live on while arrays use them)."""

    def __init__(self):
        self._segments = []   # (fd, mmap, start address, end address)

    def empty(self, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes == 0:
            return np.empty(shape, dtype)
        fd = _anon_fd(nbytes)
        try:
            mm = mmap.mmap(fd, nbytes)
        except BaseException:
            os.close(fd)
            raise
        raw = np.frombuffer(mm, np.uint8, count=nbytes)
        start = _address(raw)
        self._segments.append((fd, mm, start, start + nbytes))
        return raw.view(dtype).reshape(shape)

    def locate(self, lo: int, hi: int) -> int:
        """Index of the segment holding bytes [lo, hi), or -1."""
        for i, (_, _, start, end) in enumerate(self._segments):
            if start <= lo and hi <= end:
                return i
        return -1

    def fd(self, i: int) -> int:
        return self._segments[i][0]

    def start(self, i: int) -> int:
        return self._segments[i][2]

    def release(self) -> None:
        segments, self._segments = self._segments, []
        for fd, *_ in segments:
            os.close(fd)


_pool: SegmentPool | None = None   # set in worker processes only


def install_pool(pool: SegmentPool | None) -> None:
    global _pool
    _pool = pool


def in_worker() -> bool:
    return _pool is not None


def shared_empty(shape, dtype) -> np.ndarray | None:
    """An uninitialized array in shared memory when called in a DataLoader worker (what the
    worker sends back then costs no copy), else None."""
    return None if _pool is None else _pool.empty(shape, dtype)


class _Pickler(pickle.Pickler):
    """Pickles arrays as references into shared segments (see the module docstring)."""

    def __init__(self, file, pool: SegmentPool | None):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._pool = pool
        self.pool_segments = []   # pool indices, in the order of their segment numbers
        self._numbers = {}        # pool index -> segment number in this message
        self.staged = []          # (array, offset, strides) to copy into the arena
        self._staged_roots = {}   # id(root array) -> arena offset, so aliases stay aliases
        self.arena_size = 0

    def persistent_id(self, obj):
        if type(obj) is not np.ndarray or obj.dtype.hasobject or obj.size == 0:
            return None
        lo, hi = _extent(obj)
        seg = self._pool.locate(lo, hi) if self._pool is not None else -1
        if seg >= 0 and (seg in self._numbers or len(self._numbers) < _MAX_FDS - 1):
            number = self._numbers.get(seg)
            if number is None:
                number = self._numbers[seg] = len(self.pool_segments)
                self.pool_segments.append(seg)
            offset = _address(obj) - self._pool.start(seg)
            return (number, offset, obj.dtype, obj.shape, obj.strides)
        offset, strides = self._stage(obj)
        return (_ARENA, offset, obj.dtype, obj.shape, strides)

    def _reserve(self, nbytes: int) -> int:
        offset = -(-self.arena_size // _ALIGN) * _ALIGN
        self.arena_size = offset + nbytes
        return offset

    def _stage(self, a: np.ndarray):
        """Arena (offset, strides) for `a`. A view is staged with its whole base array when
        that base is compact and not much larger, so views of one storage stay views of one
        storage after the trip; otherwise `a` alone is copied, C-contiguous."""
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        compact = root.flags.c_contiguous or root.flags.f_contiguous
        if compact and root.nbytes <= 4 * a.nbytes:
            off = self._staged_roots.get(id(root))
            if off is None:
                off = self._staged_roots[id(root)] = self._reserve(root.nbytes)
                self.staged.append((root, off, root.strides))
            return off + (_address(a) - _address(root)), a.strides
        strides = _c_strides(a.shape, a.itemsize)
        off = self._reserve(a.nbytes)
        self.staged.append((a, off, strides))
        return off, strides


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, maps):
        super().__init__(file)
        self._maps = maps

    def persistent_load(self, pid):
        number, offset, dtype, shape, strides = pid
        return np.ndarray(shape, dtype, buffer=self._maps[number], offset=offset,
                          strides=strides)


def _fill_arena(staged, size: int) -> int:
    fd = _anon_fd(size)
    try:
        with mmap.mmap(fd, size) as mm:
            for src, offset, strides in staged:
                dst = np.ndarray(src.shape, src.dtype, buffer=mm, offset=offset,
                                 strides=strides)
                np.copyto(dst, src)
                del dst   # the mapping closes at the end of the with block
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_exact(sock: socket.socket, view: memoryview) -> None:
    while len(view):
        n = sock.recv_into(view)
        if n == 0:
            raise EOFError("DataLoader channel closed by the other process")
        view = view[n:]


def _read_message(sock: socket.socket):
    """One framed message: the header (with any descriptors) by recvmsg, the pickle by
    exact reads, the descriptors mapped for the unpickler and closed."""
    head, fds, flags, _ = socket.recv_fds(sock, _HEADER.size, _MAX_FDS)
    try:
        if not head:
            raise EOFError("DataLoader channel closed by the other process")
        if flags & socket.MSG_CTRUNC:
            raise RuntimeError("DataLoader: shared-memory descriptors were truncated in transit "
                               "(too many open files? raise `ulimit -n`)")
        header = bytearray(_HEADER.size)
        header[:len(head)] = head
        _read_exact(sock, memoryview(header)[len(head):])
        size, nfds = _HEADER.unpack(header)
        if nfds != len(fds):
            raise RuntimeError(f"DataLoader: expected {nfds} shared-memory descriptors, "
                               f"received {len(fds)}")
        payload = bytearray(size)
        _read_exact(sock, memoryview(payload))
        maps = [mmap.mmap(fd, 0) for fd in fds]
    finally:
        for fd in fds:
            os.close(fd)
    return _Unpickler(io.BytesIO(payload), maps).load()


def _frame(payload) -> bytes:
    return _HEADER.pack(len(payload), 0) + bytes(payload)


NOTHING = object()   # WorkerEnd.recv's "no task yet"


class WorkerEnd:
    """A worker's end of its channel: tasks in, results out (through shared memory)."""

    def __init__(self, sock: socket.socket, pool: SegmentPool):
        self.sock = sock
        self.pool = pool
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)

    def recv(self, timeout: float):
        """The next task, or NOTHING after `timeout` seconds; EOFError once the main
        process closed the channel."""
        if not self._poller.poll(int(timeout * 1000)):
            return NOTHING
        return _read_message(self.sock)

    def pack(self, obj):
        """`obj` ready to send: (header, payload, descriptors, arena descriptor or None).
        Pickling errors surface here, before anything is written."""
        buf = io.BytesIO()
        pickler = _Pickler(buf, self.pool)
        pickler.dump(obj)
        fds = [self.pool.fd(i) for i in pickler.pool_segments]
        arena = _fill_arena(pickler.staged, pickler.arena_size) if pickler.staged else None
        if arena is not None:
            fds.append(arena)
        payload = buf.getbuffer()
        return _HEADER.pack(len(payload), len(fds)), payload, fds, arena

    def write(self, packed) -> None:
        header, payload, fds, arena = packed
        try:
            if len(payload) <= _INLINE_PAYLOAD:   # one syscall for the usual small pickle
                self._send(header + bytes(payload), fds)
            else:
                self._send(header, fds)
                self.sock.sendall(payload)
        finally:
            if arena is not None:
                os.close(arena)

    def send(self, obj) -> None:
        self.write(self.pack(obj))

    def _send(self, data: bytes, fds) -> None:
        sent = socket.send_fds(self.sock, [data], fds) if fds else self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(data[sent:])


class MainEnd:
    """The main process's end of a worker's channel. Results are read with blocking exact
    reads (the worker always writes whole messages); tasks are written without ever
    blocking: what the socket cannot take now waits in an outbox that flush() retries when
    the socket is writable, so the main process and a worker can never both block on
    writing to each other."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._outbox = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self):
        return _read_message(self.sock)

    def post(self, obj) -> None:
        self._outbox += _frame(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        self.flush()

    @property
    def pending(self) -> bool:
        return bool(self._outbox)

    def flush(self) -> None:
        while self._outbox:
            try:
                n = self.sock.send(self._outbox, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except (BrokenPipeError, ConnectionResetError):
                # the worker is gone; its process sentinel reports that if it matters
                self._outbox.clear()
                return
            del self._outbox[:n]

    def close(self) -> None:
        """End the channel for every process holding it (forked processes inherit copies of
        this descriptor, so closing ours alone would not be seen): the worker reads EOF and
        its next send fails."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass   # the worker is gone already
        self.sock.close()
