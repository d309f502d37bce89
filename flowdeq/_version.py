"""The package version (one copy: the root package and the Dask version check read it)."""
__version__ = "0.2.0"
