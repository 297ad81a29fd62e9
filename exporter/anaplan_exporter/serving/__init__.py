"""What the exporter serves over HTTP: the web server and its connections, the metric families and their
exposition at ``/metrics``, and the status page at ``/``."""
