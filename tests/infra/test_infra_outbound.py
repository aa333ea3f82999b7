"""No deployed function may call private addresses or plain http: the guarded client's strict policy is the default,
and the local stack's settings never reach the template."""

from __future__ import annotations

from infra_testlib import Synthesized
from oncall.outbound import ALLOW_HTTP_ENV, ALLOW_LOOPBACK_ENV


def test_no_function_is_allowed_plain_http_or_loopback(synth: Synthesized) -> None:
    functions = synth.resources("AWS::Lambda::Function").values()
    variables = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions]
    assert len(variables) >= 7 and any("TOCSIN_PUBLIC_URL" in v for v in variables)  # the functions that send
    assert not [v for v in variables if ALLOW_HTTP_ENV in v or ALLOW_LOOPBACK_ENV in v]
