"""DataLoader throughput: ember.utils.data vs torch.utils.data, in one process.

The dataset is image-like: N uint8 3x32x32 arrays, and __getitem__ runs a deterministic
augmentation in NumPy (reflect-pad + crop, flip, normalize, a 3-tap blur, tanh squash), the
per-item CPU work a vision pipeline does. Both loaders read the same dataset class, which
wraps its result with the library's from_numpy, and collate with their default_collate.
Each setting times whole epochs (worker start-up included, as a training loop sees it),
alternating ember and torch, and keeps the best of --repeat. It also reports the CPU time
per batch of the main process plus its (reaped) workers, which a busy machine disturbs far
less than wall-clock throughput.

    python benchmarks/dataloader.py [--n 4096] [--batch-size 64] [--workers 0 2] [--repeat 5]
"""
import argparse
import resource
import time

import numpy as np
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

_MEAN = np.array([0.49, 0.48, 0.45], np.float32)[:, None, None]
_STD = np.array([0.25, 0.24, 0.26], np.float32)[:, None, None]


def augment(img: np.ndarray, i: int) -> np.ndarray:
    """A deterministic (by index) CIFAR-style augmentation of one uint8 3x32x32 image."""
    x = img.astype(np.float32) * (1.0 / 255.0)
    x = np.pad(x, ((0, 0), (4, 4), (4, 4)), mode="reflect")
    dy, dx = i % 9, (i * 7) % 9
    x = x[:, dy:dy + 32, dx:dx + 32]
    if i % 2:
        x = x[:, :, ::-1]
    x = (x - _MEAN) / _STD
    x = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    x = 0.25 * x[:, :, :-2] + 0.5 * x[:, :, 1:-1] + 0.25 * x[:, :, 2:]      # blur along x
    x = 0.25 * x[:, :-2, :] + 0.5 * x[:, 1:-1, :] + 0.25 * x[:, 2:, :]      # blur along y
    return np.ascontiguousarray(np.tanh(x), dtype=np.float32)


def make_dataset_class(base):
    class ImageLike(base):
        def __init__(self, n, from_numpy):
            rng = np.random.default_rng(0)
            self.images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
            self.labels = rng.integers(0, 10, size=n)
            self.from_numpy = from_numpy

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.from_numpy(augment(self.images[i], i)), int(self.labels[i])
    return ImageLike


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have been waited for."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def run_epoch(loader) -> tuple[float, float]:
    """(batches per second, CPU milliseconds per batch) over one full epoch; the loaders'
    workers are reaped when the epoch ends, so their CPU time is counted."""
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    count = 0
    for _ in loader:
        count += 1
    wall = time.perf_counter() - t0
    return count / wall, (_cpu_seconds() - cpu0) / count * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="dataset size")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--repeat", type=int, default=5, help="epochs per library and setting")
    args = ap.parse_args()

    libs = {
        "ember": (edata.DataLoader, make_dataset_class(edata.Dataset)(args.n, ember.from_numpy)),
        "torch": (tdata.DataLoader, make_dataset_class(tdata.Dataset)(args.n, torch.from_numpy)),
    }
    print(f"dataset: {args.n} items of 3x32x32 with a NumPy augmentation; batch_size "
          f"{args.batch_size}; best epoch of {args.repeat}")
    print(f"{'num_workers':>11} {'ember batch/s':>14} {'torch batch/s':>14} {'ratio':>6}"
          f" {'ember cpu ms/b':>15} {'torch cpu ms/b':>15} {'ratio':>6}")
    for nw in args.workers:
        rate = {name: 0.0 for name in libs}
        cpu = {name: float("inf") for name in libs}
        for _ in range(args.repeat):
            for name, (loader_cls, ds) in libs.items():
                loader = loader_cls(ds, batch_size=args.batch_size, shuffle=True,
                                    num_workers=nw)
                r, c = run_epoch(loader)
                rate[name], cpu[name] = max(rate[name], r), min(cpu[name], c)
        # both ratios read "ember relative to torch, higher is better"
        print(f"{nw:>11} {rate['ember']:>14.1f} {rate['torch']:>14.1f} "
              f"{rate['ember'] / rate['torch']:>6.2f} {cpu['ember']:>15.2f} "
              f"{cpu['torch']:>15.2f} {cpu['torch'] / cpu['ember']:>6.2f}")


if __name__ == "__main__":
    main()
