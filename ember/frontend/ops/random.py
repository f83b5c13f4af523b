"""Public ops: random family."""
__all__ = []
