"""ember.cuda: device queries. The CUDA backend arrives with its own issue; until then
no CUDA device is available and asking for one raises PyTorch's error."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def _unavailable(op):
    raise AssertionError(f"{op}: Torch not compiled with CUDA enabled (ember has no CUDA device "
                         f"available on this machine)")
