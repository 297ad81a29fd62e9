"""The Anaplan Integration API v2 client: auth, limiter, retries, typed results."""
