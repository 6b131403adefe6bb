"""`backup`, `backups`, `restore`, `restores` and `tasks`: backups, restores and task runs
from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.state.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.backups.records import BackupRecord
    from reconciler.backups.service import BackupService
    from reconciler.engine import Engine
    from reconciler.manifests.models import Stack
    from reconciler.store.db import Database

EngineFactory = Callable[[argparse.Namespace], "Engine"]


def _open(args: argparse.Namespace, make_engine: EngineFactory) -> tuple[Stack, Database, Engine]:
    from reconciler.desired.load import load_manifests
    from reconciler.store.db import Database

    stack = load_manifests(Path(args.path)).stack
    return stack, Database(Path(args.state_dir) / "state.db"), make_engine(args)


def _service(args: argparse.Namespace, make_engine: EngineFactory) -> tuple[Stack, BackupService]:
    from reconciler.backups.service import BackupService

    stack, db, engine = _open(args, make_engine)
    service = BackupService(engine.port, db, engine.settings.state_dir, engine.report)
    service.recover()
    return stack, service


def cmd_backup(args: argparse.Namespace, make_engine: EngineFactory) -> int:
    stack, service = _service(args, make_engine)
    record = service.backup(stack, args.name)
    print(_summary(record))
    return 0


def _summary(record: BackupRecord) -> str:
    verified = {None: "not verified", True: "verified", False: "verification FAILED"}
    detail = f" ({record.verify_detail})" if record.verify_detail else ""
    return (
        f"backup {record.id} of {record.source}: {record.status}, {_size(record.size)}, "
        f"sha256 {record.sha256[:16]}, {verified[record.verified]}{detail}\n  {record.path}"
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def cmd_backups(args: argparse.Namespace, make_engine: EngineFactory) -> int:
    stack, service = _service(args, make_engine)
    records = service.log.find(stack.stack, source=args.addon)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    if not records:
        print(f"stack {stack.stack}: no backups")
        return 0
    print(f"{'ID':>5}  {'SOURCE':<20} {'STATUS':<10} {'SIZE':>9}  {'STARTED':<24} VERIFIED")
    for r in records:
        verified = {None: "-", True: "yes", False: "NO"}[r.verified]
        line = f"{r.id:>5}  {r.source:<20} {r.status:<10} {_size(r.size):>9}  "
        print(line + f"{r.started_at:<24} {verified}")
        if r.status == "failed" and r.error:
            print(f"       {r.error.splitlines()[-1][:120]}")
    return 0


def cmd_restore(args: argparse.Namespace, make_engine: EngineFactory) -> int:
    from reconciler.backups.restore import plan_restore, restore

    stack, service = _service(args, make_engine)
    plan = plan_restore(service, stack, args.backup_id, args.to)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ReconcilerError(f"{plan.describe()}\npass --yes to confirm without a terminal")
        answer = input(f"{plan.describe()}\nType 'yes' to go on: ")
        if answer.strip().lower() != "yes":
            print("nothing was changed")
            return 1
    restore_id = restore(service, plan)
    into = plan.target.container or plan.target.volume
    print(f"restored backup {args.backup_id} into {into} (restore {restore_id})")
    return 0


def cmd_restores(args: argparse.Namespace, make_engine: EngineFactory) -> int:
    stack, service = _service(args, make_engine)  # settles restores that died with their process
    records = service.restores.find(stack.stack)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    if not records:
        print(f"stack {stack.stack}: no restores")
        return 0
    print(
        f"{'ID':>5}  {'BACKUP':>6}  {'INTO':<20} {'FROM':<20} {'STATUS':<10} {'TOOK':>7}  "
        f"{'STARTED':<30} BY"
    )
    for r in records:
        took = "-" if r.seconds is None else f"{r.seconds:.1f}s"
        by = f"{r.trigger} {r.actor}".strip() + (f" ({r.peer})" if r.peer else "")
        print(
            f"{r.id:>5}  {r.backup_id:>6}  {r.source:<20} {r.from_source:<20} {r.status:<10} "
            f"{took:>7}  {r.started_at:<30} {by}"
        )
        if r.status == "failed" and r.error:
            print(f"       {r.error.splitlines()[-1][:120]}")
    return 0


def cmd_tasks(args: argparse.Namespace, make_engine: EngineFactory) -> int:
    from reconciler.scheduler.runs import SUCCEEDED, TaskRunLog
    from reconciler.scheduler.tasks import TaskRunner

    stack, db, engine = _open(args, make_engine)
    if args.tasks_command == "run":
        run = TaskRunner(engine, db, engine.report).run(Path(args.path), args.name)
        print(f"task {args.name}: run {run.id} {run.status} (exit code {run.exit_code})")
        if run.log_tail:
            print(run.log_tail)
        return 0 if run.status == SUCCEEDED else 1
    if args.name not in stack.tasks:
        raise ReconcilerError(f"no task named {args.name!r} in stack {stack.stack}")
    runs = TaskRunLog(db).find(stack.stack, args.name, limit=args.limit)
    if args.json:
        print(json.dumps([run.to_dict() for run in runs], indent=2))
        return 0
    for run in runs:
        print(
            f"{run.id:>5}  {run.status:<9} exit {run.exit_code!s:<4} attempt {run.attempt}  "
            f"{run.started_at} → {run.finished_at or '…'}  ({run.trigger})"
        )
    return 0
