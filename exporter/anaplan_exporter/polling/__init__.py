"""Deciding what to ask Anaplan and when, and remembering what was seen.

``discovery`` resolves configured targets into objects; ``tracker`` keeps one object's task bookkeeping (its
``completion_ledger`` counts each finished run once, its ``rhythm`` is learned from the runs it reads);
``poller`` schedules the requests with a ``schedule`` (a priority queue of due times), splits objects between
replicas, keeps the ``watched`` objects and publishes snapshots of them, remembers its ``catalog_reads``
(discovery and step names) and sums up failed polls in ``problems``; ``state`` keeps the trackers' state
across restarts.
"""
