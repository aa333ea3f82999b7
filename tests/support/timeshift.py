"""Run a command with every process's wall clock shifted (``python -m tests.support.timeshift +1y -- make test``).

The shift comes from libfaketime (the build vendored by the PyPI package ``libfaketime``, whose settings also keep
Python's locks, the JVM of DynamoDB Local and Chromium working: Debian's 0.9.10 stalls them). The monotonic clock
stays real, so timeouts and sleeps behave; only what reads the date (``datetime.now``, ``time.time``) moves.
Go programs (Prometheus, Alertmanager) read the clock without libc and keep the real date, like another machine.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.support.timeshift <shift, e.g. +1y or -400d> -- <command ...>", file=sys.stderr)
        return 2
    shift, command = argv[0], argv[2:]
    import libfaketime

    _, env = libfaketime.get_reload_information()
    env = {**os.environ, **env, "FAKETIME": shift}
    if os.environ.get("LD_LIBRARY_PATH"):
        env["LD_LIBRARY_PATH"] = f"{env['LD_LIBRARY_PATH']}:{os.environ['LD_LIBRARY_PATH']}"
    print(f"timeshift: the clock at {shift} for: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
