"""timecontrast: Time-Contrastive Networks in PyTorch.

Self-supervised visual embeddings learned from time-synchronised multi-view video.
"""

__version__ = "0.1.0"
