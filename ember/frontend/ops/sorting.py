"""Public ops: sorting family."""
__all__ = []
