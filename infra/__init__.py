"""Tocsin's AWS CDK infrastructure: one construct per concern, wired by :mod:`infra.stack`.

| module             | concern                                                                  |
|--------------------|--------------------------------------------------------------------------|
| ``config``         | deployment settings from CDK context / ``TOCSIN_*`` environment variables |
| ``sources``        | repository paths and the single-sourced definitions from ``oncall``       |
| ``data``           | the DynamoDB table (from ``oncall.store.schema``)                        |
| ``layer``          | the ``oncall`` Lambda layer with its pinned runtime deps (no Docker)     |
| ``functions``      | one Lambda function: log group, least-privilege role, layer, environment |
| ``ingest_api``     | the HTTP API (routes from ``oncall.http_routes``) + ingest/api functions  |
| ``observability``  | the alarm topic and the alarms                                           |
| ``heartbeat``      | the rate(1 minute) rule -> heartbeat_check (the heartbeat sweep)         |
| ``maintenance``    | maintenance_end, its schedule group and scheduler role; api scheduling   |
| ``stack``          | the ``Tocsin`` stack                                                     |
| ``application``    | the CDK app (stack + cdk-nag), shared by ``app.py`` and the infra tests  |
"""
