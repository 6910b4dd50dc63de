"""Run the benchmarks and print one `name: value` line per figure.

Ratios come first; absolute figures follow for reference, because absolute
times drift with the machine's load while ratios measured in the same run
do not.
"""

import argparse
import json
import sys

from . import context, psa_import, queue, webhook

# Each benchmark: name -> function(registry, args) returning its figures.
BENCHMARKS = {
    "queue": lambda registry, args: queue.measure(registry, count=args.queue_jobs),
    "webhook": lambda registry, args: webhook.measure(
        registry,
        args.db,
        args.addons_path,
        args.http_port + 2,
        batches=args.webhook_batches,
        data_dir=args.data_dir,
    ),
    "import": lambda registry, args: psa_import.measure(
        registry,
        args.db,
        args.addons_path,
        {
            "rounds": args.import_rounds,
            "round_size": args.import_round_size,
            "memory_size": args.import_memory_size,
        },
    ),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python3 -m tests.bench", description=__doc__)
    parser.add_argument("--db", required=True, help="database with the suite installed")
    parser.add_argument("--addons-path", required=True, help="Odoo addons path")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only these benchmarks"
    )
    parser.add_argument(
        "--http-port", type=int, default=8269, help="first of the loopback ports to use"
    )
    parser.add_argument("--data-dir", help="Odoo data directory of the database")
    parser.add_argument("--queue-jobs", type=int, default=2000, help="noop jobs to run")
    parser.add_argument(
        "--webhook-batches", type=int, default=100, help="HubSpot batches per round"
    )
    parser.add_argument(
        "--import-rounds", type=int, default=4, help="import rounds for the ratios"
    )
    parser.add_argument(
        "--import-round-size", type=int, default=5000, help="time entries per round"
    )
    parser.add_argument(
        "--import-memory-size",
        type=int,
        default=20000,
        help="time entries of the extra import whose peak memory is reported",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def format_value(value):
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def run(args):
    registry = context.load_odoo(args.db, args.addons_path)
    selected = args.only or list(BENCHMARKS)
    return [BENCHMARKS[name](registry, args) for name in selected]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = run(args)
    ratios = {
        name: value for result in results for name, value in result["ratios"].items()
    }
    absolute = {
        name: value for result in results for name, value in result["absolute"].items()
    }
    for name, value in {**ratios, **absolute}.items():
        print(f"{name}: {format_value(value)}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"ratios": ratios, "absolute": absolute}, handle, indent=2)


if __name__ == "__main__":
    main()
