"""Training-side name for the dataset readers, which live in the core as :mod:`crossglg.datasets`.

The readers are numpy-only and shared with the edge (skeleton replay), so they sit below both
``train`` and ``edge``; this module keeps ``from train.datasets import ...`` working with the same
public names (``__all__``) and objects.
"""

from crossglg.datasets import *  # noqa: F403
from crossglg.datasets import __all__ as __all__
