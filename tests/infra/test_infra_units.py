"""Fast checks of the configuration and of the layer bundling helpers (no synth)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra import layer
from infra.config import Throttle, TocsinConfig


def test_config_defaults_and_validation() -> None:
    config = TocsinConfig()
    assert (config.retention_days, config.rate_limit, config.log_retention_days) == (90, "300/300", 30)
    assert config.throttles == {"ingest": Throttle(100, 200), "api": Throttle(25, 50), "web": Throttle(25, 50)}
    assert (config.alarm_emails, config.deadman_url, config.tracing, config.public_url) == ([], None, False, None)
    assert config.escalation_concurrency == 20
    assert TocsinConfig(alarm_email="a@example.com, b@example.org").alarm_emails == ["a@example.com", "b@example.org"]
    assert TocsinConfig(domain_name="oncall.example.com").public_url == "https://oncall.example.com"
    with pytest.raises(ValueError, match="rate_limit"):
        TocsinConfig(rate_limit="300 per 5 min")
    with pytest.raises(ValueError, match="log_retention_days"):
        TocsinConfig(log_retention_days=31)
    with pytest.raises(ValueError, match="retention_days"):
        TocsinConfig(retention_days=0)


@pytest.mark.parametrize("bad", ["Tocsin <oncall@example.com>", "on*call@example.com", "oncall@localhost", "x@-a.io"])
def test_email_from_must_be_a_bare_address_without_iam_wildcards(bad: str) -> None:
    with pytest.raises(ValueError, match="email_from"):
        TocsinConfig(email_from=bad)


def test_email_from_domain() -> None:
    assert TocsinConfig().email_domain is None
    assert TocsinConfig(email_from="pager+ops@mail.example.org").email_domain == "mail.example.org"


def test_layer_hash_follows_requirements_and_package(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==3.1.6\n")
    package = tmp_path / "oncall"
    package.mkdir()
    (package / "mod.py").write_text("X = 1\n")
    first = layer.layer_asset_hash(requirements, package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "mod.cpython-312.pyc").write_bytes(b"junk")
    assert layer.layer_asset_hash(requirements, package) == first  # caches do not change the layer
    (package / "mod.py").write_text("X = 2\n")
    second = layer.layer_asset_hash(requirements, package)
    assert second != first
    key = layer.dependencies_key(requirements)
    requirements.write_text("jinja2==3.1.5\n")
    assert layer.dependencies_key(requirements) != key
    assert layer.layer_asset_hash(requirements, package) != second
    assert layer.layer_asset_hash(requirements, package, bytecode=True) != layer.layer_asset_hash(requirements, package)


def test_local_bundling_uses_the_cache_without_pip(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("not-installable-offline==0.0.0\n")
    package = tmp_path / "oncall"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text('"""pkg"""\n')
    (package / "__pycache__" / "x.pyc").write_bytes(b"junk")
    cache = tmp_path / "cache"
    site = cache / layer.dependencies_key(requirements) / "site"
    (site / "dep").mkdir(parents=True)
    (site / "dep" / "__init__.py").write_text("")
    out = tmp_path / "out"
    out.mkdir()
    bundler = layer.LocalLayerBundling(requirements=requirements, package=package, cache_root=cache)
    assert bundler.try_bundle(str(out)) is True
    assert (out / "python" / "dep" / "__init__.py").is_file()
    assert (out / "python" / "oncall" / "__init__.py").is_file()
    assert not (out / "python" / "oncall" / "__pycache__").exists()


def test_with_a_cpython_312_the_layer_ships_bytecode_the_runtime_trusts(tmp_path: Path) -> None:
    python312 = layer.bytecode_python()
    assert not layer.is_cpython_312(sys.executable)  # the tests' own 3.11 would write bytecode Lambda ignores
    if python312 is None:  # no 3.12 on this machine: the layer ships source only (its hash says so)
        return
    package = tmp_path / "oncall"
    package.mkdir()
    (package / "__init__.py").write_text("ANSWER = 42\n")
    cache = tmp_path / "cache"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("not-installable-offline==0.0.0\n")
    (cache / layer.dependencies_key(requirements) / "site" / "dep").mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    bundler = layer.LocalLayerBundling(
        requirements=requirements, package=package, cache_root=cache, python312=python312
    )
    assert bundler.try_bundle(str(out)) is True
    (compiled,) = (out / "python" / "oncall" / "__pycache__").glob("*.pyc")
    assert compiled.name == "__init__.cpython-312.pyc"
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: the read-only layer's source is never re-read
    (out / "python" / "oncall" / "__init__.py").write_text("ANSWER = 0\n")  # the runtime imports the bytecode
    probe = f"import sys; sys.path.insert(0, {str(out / 'python')!r}); import oncall; print(oncall.ANSWER)"
    answer = subprocess.run([python312, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert answer == "42"


def test_the_infrastructure_tests_share_one_worker(request: pytest.FixtureRequest) -> None:
    """Under ``--dist loadgroup`` (``make test``) pytest-xdist names the group in the test id and keeps the group on
    one worker, which synthesizes the app once. A pytest that moved the id (9.2 did) silently spread the group, and
    every worker synthesized the app again."""
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@infra"), request.node.nodeid
    else:
        assert any(mark.args == ("infra",) for mark in request.node.iter_markers("xdist_group"))
