"""Deciding what to ask Anaplan and when, and remembering what was seen.

``discovery`` resolves configured targets into objects, ``tracker`` keeps one object's task bookkeeping,
``poller`` schedules the requests and publishes snapshots, ``sharding`` splits objects between replicas.

The tracker counts completions with a ``completion_ledger``, learns a ``rhythm``, fills the status's computed
fields with ``status_fields``, names a failed poll's reason with ``poll_errors`` and keeps a ``tracker_state``
for the ``state`` file. The poller orders its work with a ``schedule`` (``next_poll`` says when an object is
due again), keeps the ``watched`` objects and its ``catalog_reads`` (discovery and step names), sums up failed
polls in ``problems`` and builds each snapshot with ``publishing``; ``interfaces`` says what it needs from the
client and the request budget.
"""
