"""Template render benchmark: the CPU time of what ingest renders per alert with the default templates (grouping
id, resolve condition, source link, title, message) of the Alertmanager and webhook integrations, on their
example payloads. Templates are compiled once, as ingest's cache does; figures are the median of several runs.

    .venv/bin/python bench/templates.py [--runs 7] [--layer PATH]

``--layer`` renders with another copy of the ``oncall`` package (e.g. an older commit's, extracted with
``git archive <commit> layers/core/python | tar -x -C /tmp/old``) to compare before and after a change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def measure(render: Any, template: str, context: dict[str, Any], count: int) -> float:
    """Microseconds of CPU time per render."""
    started = time.thread_time()
    for _ in range(count):
        render(template, **context)
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--count", type=int, default=2000, help="renders per template and run")
    parser.add_argument("--layer", type=Path, default=REPO / "layers/core/python")
    options = parser.parse_args()
    sys.path.insert(0, str(options.layer))

    from oncall import integration_types, templating

    print(f"oncall package: {Path(templating.__file__).parent}")
    total_per_alert: dict[str, float] = {}
    for slug in ("alertmanager", "webhook"):
        kind = integration_types.TYPES[slug]
        payload = integration_types.example_payload(slug)
        context = {"payload": payload, "labels": {}}
        print(f"\n{slug} ({kind.example_file}):")
        total_per_alert[slug] = 0.0
        for name in ("grouping_id", "resolve_condition", "source_link", "title", "message"):
            template = kind.default(name)  # type: ignore[arg-type]
            if not template:
                continue
            templating.render_or_fallback(template, **context)  # compile and warm up
            runs = [
                measure(templating.render_or_fallback, template, context, options.count) for _ in range(options.runs)
            ]
            median = statistics.median(runs)
            total_per_alert[slug] += median
            print(f"  {name:18} {median:8.1f} us CPU per render  (runs: {min(runs):.1f}-{max(runs):.1f})")
    print()
    for slug, total in total_per_alert.items():
        print(f"{slug}: {total:.1f} us CPU of template rendering per alert")


if __name__ == "__main__":
    main()
