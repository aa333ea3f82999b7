"""Configuration importers: Grafana OnCall, PagerDuty and Opsgenie to Tocsin (``tocsin import ...``)."""
