"""Per-op latency on tiny tensors: ember vs NumPy vs PyTorch eager, in one process.

Eager overhead is what users feel in small models and in the Python glue around compiled
code, so each op runs on a 4x4 (or Linear-sized) tensor where the kernel is negligible.
Prints microseconds per call and the ratio to PyTorch, without and with autograd.

    python benchmarks/eager_overhead.py [--repeat 5] [--number 20000]
"""
import argparse
import timeit

import numpy as np
import torch

import ember


def _time(fn, number, repeat):
    fn()  # warm up (first-call imports, caches)
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def cases(lib, grad):
    """name -> zero-argument callable for library `lib` (ember or torch), with or without grad."""
    a = lib.randn(4, 4, requires_grad=grad)
    b = lib.randn(4, 4)
    idx = lib.tensor([0, 2])
    x = lib.randn(32, 64)
    w = lib.randn(128, 64, requires_grad=grad)
    bias = lib.zeros(128, requires_grad=grad)

    def linear_fwd_bwd():
        y = (x @ w.t() + bias).relu() if hasattr(lib.Tensor, "relu") else (x @ w.t() + bias).clamp(min=0)
        s = y.sum()
        if grad:
            w.grad = None
            bias.grad = None
            s.backward()
        return s

    return {
        "add": lambda: a + b,
        "mul": lambda: a * b,
        "sum": lambda: a.sum(),
        "matmul 4x4": lambda: a @ b,
        "index [1]": lambda: a[1],
        "index [:, 1:3]": lambda: a[:, 1:3],
        "index [tensor]": lambda: a[idx],
        "linear 32x64->128 fwd" + ("+bwd" if grad else ""): linear_fwd_bwd,
    }


def numpy_cases():
    a = np.random.randn(4, 4).astype(np.float32)
    b = np.random.randn(4, 4).astype(np.float32)
    idx = np.array([0, 2])
    x = np.random.randn(32, 64).astype(np.float32)
    w = np.random.randn(128, 64).astype(np.float32)
    bias = np.zeros(128, np.float32)
    return {
        "add": lambda: a + b, "mul": lambda: a * b, "sum": lambda: a.sum(),
        "matmul 4x4": lambda: a @ b, "index [1]": lambda: a[1],
        "index [:, 1:3]": lambda: a[:, 1:3], "index [tensor]": lambda: a[idx],
        "linear 32x64->128 fwd": lambda: np.maximum(x @ w.T + bias, 0).sum(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--number", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    npc = numpy_cases()
    worst = {}
    for grad in (False, True):
        print(f"\n== {'with' if grad else 'without'} grad (us per call; ratio = ember / torch) ==")
        print(f"{'op':28s} {'numpy':>8s} {'torch':>8s} {'ember':>8s} {'ratio':>7s}")
        ec, tc = cases(ember, grad), cases(torch, grad)
        for name in ec:
            n = args.number if "linear" not in name else max(args.number // 10, 100)
            te = _time(ec[name], n, args.repeat)
            tt = _time(tc[name], n, args.repeat)
            tn = _time(npc[name], n, args.repeat) if name in npc else float("nan")
            r = te / tt
            worst[grad] = max(worst.get(grad, 0), r)
            print(f"{name:28s} {tn:8.2f} {tt:8.2f} {te:8.2f} {r:6.2f}x")
    print(f"\nworst ratio without grad: {worst[False]:.2f}x (target <= 3x); "
          f"with grad: {worst[True]:.2f}x (target <= 4x)")


if __name__ == "__main__":
    main()
