from ._speedups import count_words

__all__ = ["count_words"]
