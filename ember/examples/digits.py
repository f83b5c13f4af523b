"""The main demo: a small CNN learns scikit-learn's bundled 8x8 handwritten digits.

Everything a training script uses comes from ember: Dataset/DataLoader with worker
processes, nn layers, AdamW, a one-cycle LR schedule, a tqdm progress bar, and
checkpoints (model + optimizer + scheduler + RNG states) that `--resume` continues from,
giving the same losses as an uninterrupted run.

    python -m ember.examples.digits [--epochs 12] [--workers 2] [--resume]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ember
import ember.nn as nn
from ember.utils.data import DataLoader, RandomSampler, TensorDataset, random_split


def load_digits():
    """(images float32 (N, 1, 8, 8) scaled to [0, 1], labels int64 (N,))."""
    try:
        from sklearn.datasets import load_digits as sk_load
    except ImportError:  # pragma: no cover - depends on the environment
        raise SystemExit("the digits demo needs scikit-learn: pip install 'ember[examples]'")
    d = sk_load()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    return ember.from_numpy(x), ember.from_numpy(d.target.astype(np.int64))


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def build(args):
    """Model, optimizer, scheduler and data loaders, all seeded from args.seed."""
    ember.manual_seed(args.seed)
    images, labels = load_digits()
    split_gen = ember.Generator().manual_seed(args.seed)
    train_set, test_set = random_split(TensorDataset(images, labels), [0.8, 0.2],
                                       generator=split_gen)
    # The shuffling generator is the sampler's own: a DataLoader also draws its workers'
    # base seed from its `generator` whenever it starts workers (as PyTorch's does), which
    # would shift the shuffle order of a resumed run that restarts them.
    loader_gen = ember.Generator().manual_seed(args.seed + 1)
    sampler = RandomSampler(train_set, generator=loader_gen)
    workers = dict(num_workers=args.workers, persistent_workers=args.workers > 0,
                   generator=ember.Generator().manual_seed(args.seed + 2))
    train = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, **workers)
    # every DataLoader iterator draws a seed from its generator (the global RNG by default),
    # so evaluation gets its own and never shifts the training run's random stream
    test = DataLoader(test_set, batch_size=256, generator=ember.Generator().manual_seed(0))
    model = DigitsNet()
    opt = ember.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = ember.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=len(train))
    return model, opt, sched, train, test, loader_gen


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with ember.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    model.train()
    return correct / total


def save_checkpoint(path, epoch, model, opt, sched, loader_gen, losses):
    ember.save({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "rng": ember.get_rng_state(),
                "loader_rng": loader_gen.get_state(), "losses": losses}, path)


def load_checkpoint(path, model, opt, sched, loader_gen):
    ck = ember.load(path)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    ember.set_rng_state(ck["rng"])
    loader_gen.set_state(ck["loader_rng"])
    return ck["epoch"], list(ck["losses"])


def train(args, progress=True):
    """Runs the demo; returns (per-epoch mean losses, final test accuracy)."""
    model, opt, sched, train_loader, test_loader, loader_gen = build(args)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    start, losses = 0, []
    if args.resume and os.path.exists(args.checkpoint):
        start, losses = load_checkpoint(args.checkpoint, model, opt, sched, loader_gen)
        print(f"resumed from {args.checkpoint} after epoch {start}")
    acc = evaluate(model, test_loader) if start else 0.0
    for epoch in range(start, args.stop_after or args.epochs):
        total, n = 0.0, 0
        batches = train_loader
        if progress:
            from tqdm import tqdm
            batches = tqdm(train_loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False,
                           unit="batch")
        for x, y in batches:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * y.shape[0]
            n += y.shape[0]
        losses.append(total / n)
        acc = evaluate(model, test_loader)
        print(f"epoch {epoch + 1:2d}  loss {losses[-1]:.4f}  test accuracy {acc:.2%}  "
              f"lr {sched.get_last_lr()[0]:.2e}")
        if args.checkpoint:
            save_checkpoint(args.checkpoint, epoch + 1, model, opt, sched, loader_gen, losses)
    return losses, acc


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a small CNN on 8x8 handwritten digits.")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="digits_checkpoint.ember",
                   help="checkpoint written after every epoch ('' to disable)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this many epochs (to try --resume)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    _, acc = train(args, progress=not args.no_progress)
    print(f"test accuracy {acc:.2%} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
