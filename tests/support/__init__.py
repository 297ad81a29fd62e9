"""Helpers shared by the test suites: ports, processes, external binaries."""
