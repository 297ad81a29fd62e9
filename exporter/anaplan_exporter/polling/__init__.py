"""Deciding what to ask Anaplan and when, and remembering what was seen.

``discovery`` resolves configured targets into objects, ``tracker`` keeps one object's task bookkeeping,
``poller`` schedules the requests and publishes snapshots, ``sharding`` splits objects between replicas.
"""
