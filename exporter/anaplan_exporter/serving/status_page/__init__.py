"""The status page at ``/``: ``page`` renders it from one snapshot, ``filters`` reads the query string and
matches objects, ``outcomes`` classifies an object (its task outcome, poll health and row status)."""
