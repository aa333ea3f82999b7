#!/usr/bin/env python3
"""CDK entry point (``cdk.json`` runs it with the project venv): the ``Tocsin`` stack, checked by cdk-nag.

Settings: CDK context or ``TOCSIN_*`` environment variables, see ``infra/config.py``.
"""

from infra.application import build_app

app, _stack = build_app()
app.synth()
