"""The package version: must equal the loaded library's ``bw_version()``."""

__version__ = "0.1.0"
