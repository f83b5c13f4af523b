"""Atomic file replacement: a save either fully replaces the target or leaves it untouched."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile


def atomic_write(path, write) -> None:
    """Call `write(tmp_path)` to produce the new contents beside `path`, make them durable
    (fsync), then rename over `path` and fsync the directory, so a crash at any point leaves
    either the old file or the new one.

    tmp_path lies in a private temporary directory next to `path` (same file system, so the
    rename is atomic), which is removed on success and on any error, together with whatever
    temporary files the writer itself made there. A symlink is followed, so its target is
    replaced (as writing through it would do); an existing file's permission bits are kept;
    a new file gets the process umask."""
    path = os.path.realpath(os.fspath(path))
    directory, base = os.path.split(path)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    tmpdir = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    try:
        tmp = os.path.join(tmpdir, base)
        mode = _target_mode(path, tmp)
        write(tmp)
        os.chmod(tmp, mode)  # the writer may have made its own file in place of ours
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    _fsync_dir(directory)


def _target_mode(path, probe):
    """The existing file's permission bits, or those a new file gets under the umask
    (read from a probe file: os.umask cannot be read without changing it)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            return stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX; other systems cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
