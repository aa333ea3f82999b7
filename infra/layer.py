"""The ``core`` Lambda layer: the ``oncall`` package plus the pinned runtime deps of ``requirements.txt``.

Bundled locally, without Docker: ``pip install --platform manylinux2014_aarch64 --only-binary=:all:``
downloads the cp312/arm64 wheels with the environment's own pip configuration (index, find-links,
certificates; we never pass ``--index-url``). The installed dependencies are cached under
``.local/layer-cache/<key>/`` where ``key`` hashes ``requirements.txt`` and the target platform, so only the
first synth after a change of ``requirements.txt`` needs the package index; later synths (and the infra tests)
run offline and just copy the cache. The asset hash covers ``requirements.txt``, the platform and the files of
the ``oncall`` package, so any change there produces a new layer version.

With a CPython 3.12 at hand (the Lambda runtime's version: ``$TOCSIN_BYTECODE_PYTHON``, ``python3.12`` on the
PATH, or a pyenv 3.12), the layer ships precompiled bytecode (``unchecked-hash`` .pyc files): ``/opt`` is read-only
on Lambda, so without them every cold start compiles every module it imports (measured: about a third of the
ingest and api handlers' import time). Whether it does is part of the asset hash.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.sources import LOCAL_DIR, ONCALL_PACKAGE, REQUIREMENTS

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_TARGET_ARGS: tuple[str, ...] = (
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
)
# Bump when the bundling procedure changes in a way that changes the layer content.
_BUNDLER_VERSION = "1"
_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".DS_Store"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
BYTECODE_PYTHON_ENV = "TOCSIN_BYTECODE_PYTHON"


@functools.cache
def is_cpython_312(executable: str) -> bool:
    try:
        probe = subprocess.run(
            [executable, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.split() == ["cpython", "3", "12"]


def bytecode_python() -> str | None:
    """A CPython 3.12 to precompile the layer with, if this machine has one."""
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    candidates = [os.environ.get(BYTECODE_PYTHON_ENV), shutil.which("python3.12"), *pyenv]
    return next((c for c in candidates if c and is_cpython_312(c)), None)


def _skipped(path: Path) -> bool:
    return path.name in _SKIP_NAMES or path.name.endswith(_SKIP_SUFFIXES)


def _package_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_NAMES)
        files.extend(Path(dirpath) / f for f in sorted(filenames) if not _skipped(Path(f)))
    return files


def dependencies_key(requirements: Path = REQUIREMENTS) -> str:
    """Cache key of the installed dependencies: requirements.txt + pip target platform."""
    digest = hashlib.sha256()
    digest.update(" ".join(PIP_TARGET_ARGS).encode())
    digest.update(b"\0")
    digest.update(requirements.read_bytes())
    return digest.hexdigest()[:24]


def layer_asset_hash(
    requirements: Path = REQUIREMENTS, package: Path = ONCALL_PACKAGE, *, bytecode: bool = False
) -> str:
    """Asset hash of the layer: dependency key, bytecode or not, every file of the ``oncall`` package."""
    digest = hashlib.sha256()
    flavour = "cpython-312-bytecode" if bytecode else "source"
    digest.update(f"tocsin-core-layer/{_BUNDLER_VERSION}/{dependencies_key(requirements)}/{flavour}\0".encode())
    for file in _package_files(package):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _install_dependencies(requirements: Path, cache_root: Path) -> Path:
    """Return the cached ``site`` folder of installed deps, running pip into it first if it is missing."""
    cached = cache_root / dependencies_key(requirements) / "site"
    if cached.is_dir():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"tmp-{uuid.uuid4().hex[:8]}-", dir=cache_root))
    try:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
            "-r", str(requirements), "--target", str(staging), *PIP_TARGET_ARGS,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"Bundling the core layer failed: {' '.join(command)} exited with {result.returncode}. "
                "The first synth after a change of requirements.txt needs the package index (pip's own config); "
                f"later synths reuse {cached.parent}.\n"
                f"{result.stdout}\n{result.stderr}"
            )
        for leftover in (staging / "bin",):  # console scripts are of no use in a layer
            shutil.rmtree(leftover, ignore_errors=True)
        for pycache in list(staging.rglob("__pycache__")):
            shutil.rmtree(pycache, ignore_errors=True)
        try:
            staging.rename(cached)  # atomic: a cache folder is either complete or absent
        except OSError:
            if not cached.is_dir():  # lost a race against a concurrent synth: theirs is as good as ours
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """Builds ``<output>/python/`` = cached pip install of requirements.txt + a copy of the ``oncall`` package."""

    def __init__(
        self,
        requirements: Path = REQUIREMENTS,
        package: Path = ONCALL_PACKAGE,
        cache_root: Path | None = None,
        python312: str | None = None,
    ):
        self.requirements = requirements
        self.package = package
        self.python312 = python312  # precompiles the bundle when given
        default_cache = Path(os.environ.get("TOCSIN_LAYER_CACHE", LOCAL_DIR / "layer-cache"))
        self.cache_root = cache_root or default_cache

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        self.cache_root.mkdir(parents=True, exist_ok=True)
        site = _install_dependencies(self.requirements, self.cache_root)
        target = Path(output_dir) / "python"
        shutil.copytree(site, target, copy_function=_link_or_copy, dirs_exist_ok=True)
        shutil.copytree(
            self.package,
            target / self.package.name,
            ignore=lambda _dir, names: [n for n in names if _skipped(Path(n))],
            dirs_exist_ok=True,
        )
        if self.python312:
            # unchecked-hash: the runtime trusts the .pyc without reading the source (the layer never changes)
            compile_all = [self.python312, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
            result = subprocess.run([*compile_all, str(target)], check=False, capture_output=True, text=True)
            if result.returncode not in (0, 1):  # 1: some file did not compile (it stays source-only)
                raise RuntimeError(f"precompiling the core layer failed: {result.stderr}")
        return True


class CoreLayer(Construct):
    """``LayerVersion`` of ``layers/core`` for python3.12 on arm64."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        python312 = bytecode_python()
        code = lambda_.Code.from_asset(
            str(ONCALL_PACKAGE.parent.parent),  # layers/core; only the bundling output is shipped
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=layer_asset_hash(bytecode=python312 is not None),
            bundling=BundlingOptions(
                image=RUNTIME.bundling_image,
                local=LocalLayerBundling(python312=python312),
                # Only used if local bundling were to decline, which it never does (it raises on failure).
                command=["bash", "-c", "echo 'the core layer is bundled locally (infra/layer.py)' >&2; exit 1"],
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Tocsin core: the oncall domain package and its pinned runtime dependencies",
        )
