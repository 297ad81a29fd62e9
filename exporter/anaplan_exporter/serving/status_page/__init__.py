"""The landing page ``/``: a status page for an incident, rendered on the server from one snapshot.

``render_status_page(snapshot, info, query)`` reads nothing but its arguments (the clock comes in as
``info.now``), so tests feed it hand-made snapshots. Every string from Anaplan, the configuration or the query
string goes through ``html.escape``. Problems sort first and at most ``info.max_rows`` rows are drawn, so a
10,000-object tenant still renders in a few milliseconds; the filters (a plain GET form) narrow the rest.
Links are relative (``metrics``, ``-/healthy``) so the page also works behind a proxy that adds a path prefix.

``page`` joins the page from ``sections`` (with the ``stylesheet``) and one row per object from ``cells``;
``outcomes`` classifies an object, ``filters`` parses the query string and matches objects, ``time_text``
and ``markup`` write times and shared HTML pieces, ``page_info`` holds ``PageInfo``.
"""
