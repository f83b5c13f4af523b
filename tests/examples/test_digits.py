"""The main demo: it learns the digits, and a checkpointed, resumed run gives bit-identical
losses to an uninterrupted one (model, optimizer, scheduler, RNG and shuffling states)."""
import pytest

pytest.importorskip("sklearn")

from ember.examples import digits  # noqa: E402


def _run(tmp_path, *extra):
    args = digits.parse_args(["--checkpoint", str(tmp_path / "ck.ember"), *extra])
    return digits.train(args, progress=False)


def test_reaches_95_percent(tmp_path):
    losses, acc = _run(tmp_path, "--epochs", "4", "--workers", "0")
    assert acc >= 0.95, acc
    assert losses[-1] < losses[0]


def test_resume_is_bit_identical(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    full, _ = _run(tmp_path / "a", "--epochs", "3")
    first, _ = _run(tmp_path / "b", "--epochs", "3", "--stop-after", "1")
    resumed, _ = _run(tmp_path / "b", "--epochs", "3", "--resume")
    assert len(first) == 1
    assert resumed == full  # exact float equality, epoch by epoch
