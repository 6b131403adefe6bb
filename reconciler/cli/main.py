"""`reconciler` entry point: argument parsing and exit codes; the work lives in the engine."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli.parser import build_parser
from reconciler.plan.status import status_rows, status_text
from reconciler.state.errors import DockerUnavailable, ManifestErrors, ReconcilerError


class _LazyModule:
    """A command module imported on first use: `apply` should not pay for the daemon's imports."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


daemon_cmds = _LazyModule("reconciler.cli.daemon_cmds")
backup_cmds = _LazyModule("reconciler.cli.backup_cmds")

if TYPE_CHECKING:
    from reconciler.apply.containers import WorkloadRunner
    from reconciler.apply.executor import Upgrader
    from reconciler.engine import Engine
    from reconciler.plan.model import Action

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


def _engine(args: argparse.Namespace, report: Callable[[str], None] | None = None) -> Engine:
    # Imported here so `validate` and `schema` never pay for the engine's imports.
    from reconciler.engine import Engine, EngineSettings
    from reconciler.observed.docker_adapter import DockerSdkPort

    settings = EngineSettings(
        state_dir=Path(args.state_dir),
        age_identity=Path(args.age_identity) if args.age_identity else None,
        secrets_dir=Path(args.secrets_dir) if args.secrets_dir else None,
    )
    return Engine(DockerSdkPort(), report or (lambda _: None), settings)


def _upgrader(engine: Engine, report: Callable[[str], None]) -> Upgrader:
    """Runs dump-and-restore add-on upgrades; the backups database opens only if one is due."""
    from functools import cache

    @cache
    def upgrader() -> Upgrader:
        from reconciler.backups.service import BackupService
        from reconciler.backups.upgrade import DumpRestoreUpgrader
        from reconciler.store.db import Database

        state_dir = engine.settings.state_dir
        db = Database(state_dir / "state.db")
        return DumpRestoreUpgrader(BackupService(engine.port, db, state_dir, report))

    def run(action: Action, runner: WorkloadRunner) -> None:
        upgrader()(action, runner)

    return run


def _progress() -> Callable[[str], None]:
    started = time.monotonic()
    lock = threading.Lock()  # apply reports from several threads; keep lines whole

    def report(message: str) -> None:
        with lock:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    return report


def cmd_validate(args: argparse.Namespace) -> int:
    from reconciler.desired.load import load_manifests

    loaded = load_manifests(Path(args.path))
    apps, addons = len(loaded.stack.apps), len(loaded.stack.addons)
    summary = f"stack {loaded.stack.stack}, {apps} app(s), {addons} add-on(s)"
    print(f"{', '.join(loaded.files)}: valid ({summary})")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.plan.render import plan_to_json, plan_to_text

    engine = _engine(args)
    prepared = engine.prepare(Path(args.path), prune=False if args.no_prune else None)
    print(plan_to_json(prepared.plan) if args.json else plan_to_text(prepared.plan))
    if args.detailed_exitcode and not prepared.plan.empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.plan.render import plan_to_text

    report = _progress()
    engine = _engine(args, report)
    engine.upgrader = _upgrader(engine, report)
    outcome = engine.reconcile(
        Path(args.path),
        prune=False if args.no_prune else None,
        allow_mass_deletion=args.allow_mass_deletion,
    )
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
    from reconciler.cli.backup_status import backup_rows, backup_text

    engine = _engine(args)
    prepared = engine.prepare(Path(args.path))
    rows = status_rows(prepared.desired, prepared.observed)
    backups = backup_rows(Path(args.path), Path(args.state_dir))
    if args.json:
        print(json.dumps(rows + backups, indent=2))
        return EXIT_OK
    print(status_text(prepared.desired.stack, rows))
    if backups:
        print(backup_text(backups))
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    engine = _engine(args, _progress())
    stack = engine.desired(Path(args.path)).stack
    removed = engine.down(stack, volumes=args.volumes)
    print(f"stack {stack}: removed {len(removed)} object(s)")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.manifests.schema import write_schemas

    for path in write_schemas(Path(args.out)):
        print(f"wrote {path}")
    return EXIT_OK


def cmd_credentials(args: argparse.Namespace) -> int:
    """The one command that prints a password: it is what the user asked for."""
    engine = _engine(args, _progress() if args.rotate else None)
    if args.rotate:
        engine.rotate_credentials(Path(args.path), args.addon)
    addon = engine.addon(Path(args.path), args.addon)
    conn = addon.connection
    fields = {
        "addon": addon.name,
        "type": addon.engine.name,
        "version": addon.version,
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "password": conn.password,
        "database": conn.database,
        "url": conn.url,
    }
    shown = {key: value for key, value in fields.items() if value is not None}
    if args.json:
        print(json.dumps(shown, indent=2))
    else:
        print("\n".join(f"{key}: {value}" for key, value in shown.items()))
    return EXIT_OK


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": lambda args: daemon_cmds.cmd_run(args),
    "watch": lambda args: daemon_cmds.cmd_watch(args, lambda: _engine(args, _progress())),
    "token": lambda args: daemon_cmds.cmd_token(args),
    "history": lambda args: daemon_cmds.cmd_history(args),
    "rollback": lambda args: daemon_cmds.cmd_rollback(args),
    "resume": lambda args: daemon_cmds.cmd_resume(args),
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "status": cmd_status,
    "down": cmd_down,
    "schema": cmd_schema,
    "credentials": cmd_credentials,
    "backup": lambda args: backup_cmds.cmd_backup(args, lambda a: _engine(a, _progress())),
    "backups": lambda args: backup_cmds.cmd_backups(args, _engine),
    "restore": lambda args: backup_cmds.cmd_restore(args, lambda a: _engine(a, _progress())),
    "restores": lambda args: backup_cmds.cmd_restores(args, _engine),
    "tasks": lambda args: backup_cmds.cmd_tasks(args, lambda a: _engine(a, _progress())),
}


if __name__ == "__main__":
    sys.exit(main())
