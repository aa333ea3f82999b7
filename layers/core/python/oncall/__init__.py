"""Tocsin's domain package: alert ingest, grouping, escalation, heartbeats and maintenance.

Shipped as the Lambda layer ``layers/core`` and imported by every function and by the local stack.
Nothing here imports boto3 except :mod:`oncall.store` and the AWS adapters.
"""
