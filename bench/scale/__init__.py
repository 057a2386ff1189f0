"""The million-account run (``make bench-scale``): ``python -m bench.scale``."""
