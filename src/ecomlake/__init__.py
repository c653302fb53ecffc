"""ecomlake: a medallion data lake for e-commerce data."""

__version__ = "0.1.0"
