"""`reconciler` entry point: argument parsing and exit codes; the work lives in the engine."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.plan.status import status_rows, status_text
from reconciler.state.errors import DockerUnavailable, ManifestErrors, ReconcilerError

if TYPE_CHECKING:
    from reconciler.engine import Engine

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconciler", description=__doc__)
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_, description=help_)
        if name != "schema":
            cmd.add_argument("path", nargs="?", default=".", help="stack.yaml or its directory")
        return cmd

    command("validate", "Check the manifests; print every error as FILE:LINE:COL: path: message.")
    plan = command("plan", "Show what apply would change, in apply order.")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--detailed-exitcode", action="store_true", help="0 none, 2 pending, 1 error")
    plan.add_argument("--no-prune", action="store_true", help="do not plan deletions")
    apply = command("apply", "Make Docker match the manifests.")
    apply.add_argument("--no-prune", action="store_true", help="keep objects no longer declared")
    status = command("status", "Show each app: replicas running, health, in sync or not.")
    status.add_argument("--json", action="store_true")
    down = command("down", "Remove every container and the network of the stack.")
    down.add_argument("--volumes", action="store_true", help="also remove the stack's volumes")
    schema = command("schema", "Write JSON Schema for manifests into a directory.")
    schema.add_argument("--out", default="schemas", help="target directory (default: schemas)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except ManifestErrors as e:
        print(e.render(), file=sys.stderr)
        print(f"{len(e.issues)} error(s); nothing was changed.", file=sys.stderr)
        return EXIT_ERROR
    except DockerUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except ReconcilerError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; run apply again to finish converging", file=sys.stderr)
        return 130


def _engine(report: Callable[[str], None] | None = None) -> Engine:
    # Imported here so `validate` and `schema` never pay for the docker SDK.
    from reconciler.engine import Engine
    from reconciler.observed.docker_adapter import DockerSdkPort

    return Engine(DockerSdkPort(), report or (lambda _: None))


def _progress() -> Callable[[str], None]:
    started = time.monotonic()
    lock = threading.Lock()  # apply reports from several threads; keep lines whole

    def report(message: str) -> None:
        with lock:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    return report


def cmd_validate(args: argparse.Namespace) -> int:
    from reconciler.manifests.loader import load_stack

    loaded = load_stack(Path(args.path))
    apps = len(loaded.stack.apps)
    print(f"{', '.join(loaded.files)}: valid (stack {loaded.stack.stack}, {apps} app(s))")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.plan.render import plan_to_json, plan_to_text

    engine = _engine()
    prepared = engine.prepare(Path(args.path), prune=False if args.no_prune else None)
    print(plan_to_json(prepared.plan) if args.json else plan_to_text(prepared.plan))
    if args.detailed_exitcode and not prepared.plan.empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.plan.render import plan_to_text

    report = _progress()
    engine = _engine(report)
    outcome = engine.reconcile(Path(args.path), prune=False if args.no_prune else None)
    plan = outcome.prepared.plan
    if plan.empty and outcome.result.converged:
        print(plan_to_text(plan))
        return EXIT_OK
    if outcome.result.converged:
        report(f"converged: {len(outcome.result.succeeded)} object(s) changed")
        return EXIT_OK
    for name, reason in sorted(outcome.result.failures.items()):
        print(f"failed: {name}: {reason}", file=sys.stderr)
    print(f"{len(outcome.result.failures)} object(s) did not converge", file=sys.stderr)
    return EXIT_ERROR


def cmd_status(args: argparse.Namespace) -> int:
    engine = _engine()
    prepared = engine.prepare(Path(args.path))
    rows = status_rows(prepared.desired, prepared.observed)
    print(json.dumps(rows, indent=2) if args.json else status_text(prepared.desired.stack, rows))
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    engine = _engine(_progress())
    stack = engine.desired(Path(args.path)).stack
    removed = engine.down(stack, volumes=args.volumes)
    print(f"stack {stack}: removed {len(removed)} object(s)")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.manifests.schema import write_schemas

    for path in write_schemas(Path(args.out)):
        print(f"wrote {path}")
    return EXIT_OK


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "status": cmd_status,
    "down": cmd_down,
    "schema": cmd_schema,
}


if __name__ == "__main__":
    sys.exit(main())
