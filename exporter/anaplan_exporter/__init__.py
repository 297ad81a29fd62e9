"""anaplan-exporter: a Prometheus exporter for Anaplan Integration API v2 tasks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("anaplan-exporter")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
