"""The `ecomlake` command line: a thin layer that parses flags and calls the Python API."""
