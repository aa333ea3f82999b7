"""``npx cdk synth -q`` with the pinned CLI works offline (no AWS credentials, no Docker, cached layer deps)."""

from __future__ import annotations

import json
import os
import subprocess

from infra_testlib import CONFIG_ENV_VARS, REPO_ROOT


def test_cdk_synth_quiet_with_the_pinned_cli(tmp_path) -> None:
    cli = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), f"{cli} is missing: run `npm install` (package.json pins aws-cdk ^2.1148) first"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in CONFIG_ENV_VARS}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    outdir = tmp_path / "cdk.out"
    command = ["npx", "--no-install", "cdk", "synth", "-q", "--no-notices", "-o", str(outdir), "-c", "rate_limit=42/60"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"{' '.join(command)} -> rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    template = json.loads((outdir / "Tocsin.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions and all(
        f["Properties"]["Environment"]["Variables"]["TOCSIN_RATE_LIMIT"] == "42/60" for f in functions
    )
    # No email_from in cdk.json: no e-mail sender, so no SES permission at all (SMS and links still work).
    assert not any("TOCSIN_EMAIL_FROM" in f["Properties"]["Environment"]["Variables"] for f in functions)
    policies = json.dumps([r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"])
    assert '"ses:' not in policies
    assert '"sns:Publish"' in policies
    # No alarm_email: the alarms reach nobody, and `cdk synth`/`cdk deploy` say so.
    assert "alarms reach nobody" in result.stdout + result.stderr
    assert "AlarmsReachNobody" in template["Outputs"]
