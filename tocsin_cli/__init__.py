"""``tocsin``: the command line of Tocsin, a thin client of the management API (``TOCSIN_URL``, ``TOCSIN_API_KEY``)."""
