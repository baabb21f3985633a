"""`python -m tests.chaos [--commands 10000] [--seed N] [--store sqlite|postgres] ...`.

Starts nats-server, the volunteers API, its relay and the gateway as processes on
free ports, sends commands from concurrent retrying clients while SIGKILLing and
restarting those processes, then checks that nothing acknowledged was lost or
duplicated and nothing appeared from nowhere. Exits 1 when an invariant fails or
the platform does not converge. The last line reads
`chaos: acknowledged=N lost=N duplicated=N phantom=N converged_s=X`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
from pathlib import Path

from tests.chaos import processes
from tests.chaos.run import TARGETS, ChaosConfig, run


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN:MAX seconds")
    return bounds


def parse(argv: list[str]) -> ChaosConfig:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos", description=(__doc__ or "").split("\n")[2]
    )
    parser.add_argument("--commands", type=int, default=10_000, help="commands to send")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--rate", type=float, default=None, help="offered commands/s (default: open)"
    )
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help=f"processes to kill ({','.join(TARGETS)})"
    )
    parser.add_argument("--gap", type=_range, default=(4.0, 12.0), help="MIN:MAX s between faults")
    parser.add_argument("--down", type=_range, default=(0.2, 2.0), help="MIN:MAX s down per fault")
    parser.add_argument(
        "--min-faults", type=int, default=0, help="faults per target, even after the load"
    )
    parser.add_argument("--converge-timeout", type=float, default=180.0)
    parser.add_argument(
        "--start-timeout", type=float, default=60.0, help="s for a process to become healthy"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep state and logs here")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    processes.START_TIMEOUT_S = args.start_timeout
    return ChaosConfig(
        commands=args.commands,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6),
        store=args.store,
        clients=args.clients,
        rate=args.rate,
        targets=targets,
        gap_s=args.gap,
        down_s=args.down,
        min_faults=args.min_faults,
        converge_timeout_s=args.converge_timeout,
        workdir=args.workdir,
    )


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.ERROR)
    config = parse(argv)
    if config.workdir is not None:
        config.workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(config, say=lambda line: print(line, flush=True)))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
