"""A faithful Anaplan API simulator for demo mode and tests."""
