"""A faithful Anaplan API simulator for demo mode and tests.

Of the exporter it uses only the client's vocabulary (``anaplan_exporter.anaplan.models``), so that it
answers in the terms the client reads, and nothing else.
"""
