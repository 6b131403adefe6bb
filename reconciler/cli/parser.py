"""Argument parsing for every command; options also read RECONCILER_* environment variables."""

from __future__ import annotations

import argparse
import os
from typing import Any

from reconciler import __version__


def _env_default(name: str, fallback: str | None = None) -> str | None:
    return os.environ.get(f"RECONCILER_{name}", fallback)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        default=_env_default("STATE_DIR", ".reconciler"),
        help="reconciler's own state: credentials, keys (env RECONCILER_STATE_DIR; .reconciler)",
    )
    common.add_argument(
        "--age-identity",
        default=_env_default("AGE_IDENTITY"),
        help="age identity file for secrets/*.age (env RECONCILER_AGE_IDENTITY)",
    )
    common.add_argument(
        "--secrets-dir",
        default=_env_default("SECRETS_DIR"),
        help="plain directory of secrets, one file per name (env RECONCILER_SECRETS_DIR)",
    )
    parser = argparse.ArgumentParser(
        prog="reconciler", description="GitOps for Docker hosts: make Docker match stack.yaml."
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str, *, path: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_, description=help_, parents=[common])
        if path:
            cmd.add_argument("path", nargs="?", default=".", help="stack.yaml or its directory")
        return cmd

    command("validate", "Check the manifests; print every error as FILE:LINE:COL: path: message.")
    plan = command("plan", "Show what apply would change, in apply order.")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--detailed-exitcode", action="store_true", help="0 none, 2 pending, 1 error")
    plan.add_argument("--no-prune", action="store_true", help="do not plan deletions")
    apply = command("apply", "Make Docker match the manifests.")
    apply.add_argument("--no-prune", action="store_true", help="keep objects no longer declared")
    apply.add_argument(
        "--allow-mass-deletion",
        action="store_true",
        help="allow deleting more than half of the managed workloads (or all of them)",
    )
    status = command(
        "status",
        "Show each app and add-on (replicas ready, in sync or not) and whether each declared "
        "backup is fresh (degraded: no success within twice its schedule's interval).",
    )
    status.add_argument("--json", action="store_true")
    down = command("down", "Remove every container and the network of the stack.")
    down.add_argument("--volumes", action="store_true", help="also remove the stack's volumes")
    credentials = sub.add_parser(
        "credentials", help="Print an add-on's credentials and connection URL.", parents=[common]
    )
    credentials.add_argument("addon", help="the add-on's name")
    credentials.add_argument("path", nargs="?", default=".", help="stack.yaml or its directory")
    credentials.add_argument("--json", action="store_true")
    credentials.add_argument(
        "--rotate",
        action="store_true",
        help="set a new password inside the running add-on first; `apply` then restarts its apps",
    )
    _daemon_commands(sub, common)
    _backup_commands(sub, common)
    schema = command("schema", "Write JSON Schema for manifests into a directory.", path=False)
    schema.add_argument("--out", default="schemas", help="target directory (default: schemas)")
    return parser


def _daemon_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser(
        "run", help="Follow a git branch and keep Docker converged to it.", parents=[common]
    )
    run.add_argument(
        "--repo", default=_env_default("REPO"), help="URL or path (env RECONCILER_REPO)"
    )
    run.add_argument("--branch", default=_env_default("BRANCH", "main"))
    run.add_argument("--path", default=_env_default("PATH", ""), help="directory of stack.yaml")
    run.add_argument("--listen", default=_env_default("LISTEN", "127.0.0.1:8080"))
    run.add_argument("--interval", default=_env_default("INTERVAL", "60s"), help="poll interval")
    watch = sub.add_parser(
        "watch", help="Apply a local directory on every save (debounced).", parents=[common]
    )
    watch.add_argument("path", nargs="?", default=".")
    watch.add_argument("--debounce", default="500ms")
    token = sub.add_parser("token", help="Manage API tokens.", parents=[common])
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser(
        "create", help="Create a token; it is printed once.", parents=[common]
    )
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated, e.g. apps:read,admin")
    token_sub.add_parser("list", help="List tokens (never their values).", parents=[common])
    revoke = token_sub.add_parser("revoke", help="Revoke a token by name.", parents=[common])
    revoke.add_argument("name")
    history = sub.add_parser("history", help="List deployments of the daemon.", parents=[common])
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true")
    rollback = sub.add_parser(
        "rollback", help="Pin the daemon to a deployment's revision.", parents=[common]
    )
    rollback.add_argument("deployment", type=int)
    sub.add_parser("resume", help="Unpin: follow the branch again.", parents=[common])


def _backup_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    def command(name: str, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name, help=help_, description=help_, parents=[common]
        )
        return parser

    def path(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("path", nargs="?", default=".", help="stack.yaml or its directory")

    backup = command("backup", "Back up an add-on (or a declared backup, by its name) now.")
    backup.add_argument("name", metavar="ADDON", help="an add-on or a name under `backups:`")
    path(backup)
    backups = command("backups", "List the stack's backups, newest first.")
    path(backups)
    backups.add_argument("--addon", help="only this add-on's (or APP-VOLUME's) backups")
    backups.add_argument("--json", action="store_true")
    restore = command(
        "restore", "Restore a backup into its add-on or volume (checksum verified first)."
    )
    restore.add_argument("backup_id", type=int, metavar="BACKUP_ID")
    path(restore)
    restore.add_argument("--to", metavar="NEW_ADDON", help="restore into this declared add-on")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restores = command(
        "restores", "List the stack's restores, newest first: trigger, who, outcome and why."
    )
    path(restores)
    restores.add_argument("--json", action="store_true")
    # The common options go on the leaves: `tasks run NAME --state-dir DIR` reads naturally.
    tasks = sub.add_parser("tasks", help="Run a declared task now, or list its runs.")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    run = tasks_sub.add_parser("run", help="Run the task now (with its retries).", parents=[common])
    run.add_argument("name")
    path(run)
    runs = tasks_sub.add_parser("runs", help="List the task's recent runs.", parents=[common])
    runs.add_argument("name")
    path(runs)
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
