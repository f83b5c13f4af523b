"""A short tour of eager ember: tensors, broadcasting, autograd, and a tiny model fit by
gradient descent. Run with `python -m ember.examples.tour`."""
import time

import ember


def main():
    ember.manual_seed(0)
    x = ember.linspace(-2, 2, 200).unsqueeze(1)                # (200, 1)
    y = 0.5 * x ** 3 - x + 0.1 * ember.randn(200, 1)           # noisy cubic

    # a one-hidden-layer network written with plain tensor ops
    w1 = (ember.randn(1, 32) * 0.5).requires_grad_()
    b1 = ember.zeros(32, requires_grad=True)
    w2 = (ember.randn(32, 1) * 0.2).requires_grad_()
    b2 = ember.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]

    t0 = time.perf_counter()
    for step in range(1, 1501):
        pred = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= 0.05 * p.grad
        if step % 300 == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}")
    print(f"trained in {time.perf_counter() - t0:.2f} s; final loss {loss.item():.4f}")
    print("prediction at x=1.5:", ((ember.tensor([[1.5]]) @ w1 + b1).tanh() @ w2 + b2).item(),
          "(true value without noise: 0.1875)")
    return loss.item()


if __name__ == "__main__":
    main()
