"""Multi-view sequences and labeled frames: sources, conversion, sampling, transforms."""
