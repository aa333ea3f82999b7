"""Helpers shared by the test suites: real sender processes (Prometheus, Alertmanager), polling, process lookup."""
