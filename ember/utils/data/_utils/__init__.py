"""Helpers of the DataLoader (as torch.utils.data._utils): collation, fetchers, the worker
process loop, and the shared-memory channel batches travel through."""
from . import collate, fetch, sharing, worker  # noqa: F401
from .worker import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper  # noqa: F401
