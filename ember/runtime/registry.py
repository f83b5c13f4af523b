"""Kernel registries: device type -> {primitive name -> kernel}.

Higher layers register into these when imported (e.g. the Triton codegen provides the
CUDA kernels), so the runtime never imports them.
"""
KERNELS: dict[str, dict] = {"cpu": {}}


def register_kernels(device_type: str, table: dict) -> None:
    KERNELS.setdefault(device_type, {}).update(table)


def kernel(device_type: str, op: str):
    try:
        return KERNELS[device_type][op]
    except KeyError:
        raise RuntimeError(f"{op}: no kernel registered for device type '{device_type}'") from None
