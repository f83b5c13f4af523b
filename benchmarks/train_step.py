"""Eager training-step time: ember vs PyTorch eager, in one process.

One step = forward, loss, backward, AdamW step, for three models with identical weights:
  - MLP 784-512-512-10, batch 128 (cross-entropy);
  - a small CNN: two 3x3 conv layers (1->32->64) with ReLU and max-pooling on 28x28, batch 64;
  - a 2-layer Transformer encoder, d_model 128, 4 heads, seq 64, batch 16 (batch_first,
    dropout 0 so both libraries do the same arithmetic).
Prints milliseconds per step (best of --repeat rounds of --steps steps, the libraries
alternating) and ember / torch.

    python benchmarks/train_step.py [--steps 20] [--repeat 3] [--threads N]
"""
import argparse
import time

import numpy as np
import torch

import ember


def mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, 10))


def cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def transformer(nn):
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.encoder(x).mean(1))
    return Encoder()


MODELS = {  # name -> (builder, input shape)
    "MLP 784-512-512-10, batch 128": (mlp, (128, 1, 28, 28)),
    "CNN 2xconv 28x28, batch 64": (cnn, (64, 1, 28, 28)),
    "Transformer 2 layers d128 h4, seq 64, batch 16": (transformer, (16, 64, 128)),
}


def make_step(lib, model, x, y):
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def time_steps(steps_by_lib, steps, repeat):
    """Best ms per step of each library. The libraries take turns within every round, so a
    slow spell of the machine hits both rather than one; a pause before each turn lets the
    other library's BLAS/OpenMP worker threads stop spinning, so neither steals a core."""
    for step in steps_by_lib:
        step()  # warm up
    best = [float("inf")] * len(steps_by_lib)
    for _ in range(repeat):
        for i, step in enumerate(steps_by_lib):
            time.sleep(0.3)
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            best[i] = min(best[i], (time.perf_counter() - t0) / steps)
    return [b * 1e3 for b in best]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'model':48s} {'torch ms':>9s} {'ember ms':>9s} {'ember/torch':>12s}")
    for name, (build, shape) in MODELS.items():
        torch.manual_seed(0)
        tm = build(torch.nn)
        em = build(ember.nn)
        em.load_state_dict({k: ember.tensor(v.detach().numpy())
                            for k, v in tm.state_dict().items()})
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(0, 10, shape[0])
        t, e = time_steps([make_step(torch, tm, torch.tensor(x), torch.tensor(y)),
                           make_step(ember, em, ember.tensor(x), ember.tensor(y))],
                          args.steps, args.repeat)
        print(f"{name:48s} {t:9.2f} {e:9.2f} {e / t:11.2f}x")


if __name__ == "__main__":
    main()
