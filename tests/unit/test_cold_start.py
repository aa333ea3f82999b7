"""The HTTP handlers' cold-start budgets (ingest < 120 ms of import CPU time; api and web < 250 ms), pinned
as Powertools pins its own imports; ``bench/coldstart.py`` prints the figures with the same measurement.

Each check runs fresh interpreters (a discarded first import writes the bytecode) and passes on the first import
under budget: other processes on a loaded machine only ever add to a sample, so the best of several is the fair
figure. The modules a handler keeps off its import path fail at once, without timing anything."""

from __future__ import annotations

import pytest

from bench import coldstart

RUNS = 30  # at most; a quiet machine needs one, a loaded one a quieter moment (10 were all 1 % over, once)

# Alone on their xdist worker, and each import with a time limit of its own (bench.coldstart.sample).
pytestmark = [pytest.mark.xdist_group("cold_start"), pytest.mark.timeout(240)]


@pytest.mark.parametrize("function", coldstart.FUNCTIONS)
def test_the_handler_import_keeps_off_what_its_first_request_does_not_use(function: str) -> None:
    modules = coldstart.sample(function).modules
    imported = [m for m in coldstart.KEPT_OFF[function] if m in modules]
    assert not imported, f"the {function} handler's import loads {imported}"


@pytest.mark.parametrize("function", coldstart.PINNED)
def test_the_handler_imports_within_its_budget(function: str) -> None:
    budget = coldstart.BUDGET_MS[function]
    samples = coldstart.best_import(function, RUNS, stop_below=budget)
    best = min(s.import_cpu_ms for s in samples)
    assert best < budget, f"{function}: best import of {len(samples)} took {best:.0f} ms of CPU (budget {budget:.0f})"
