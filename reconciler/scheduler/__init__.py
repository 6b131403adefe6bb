"""Scheduled work: backups, tasks and housekeeping as APScheduler jobs, and task runs.

Only `runtime` imports APScheduler; the CLI uses `tasks` and `jobs` without paying for it.
"""
