"""Public ops: linalg family."""
__all__ = []
