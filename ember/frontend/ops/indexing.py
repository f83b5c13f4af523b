"""Public ops: indexing family."""
__all__ = []
