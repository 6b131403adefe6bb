"""Typed application keys shared by the views."""

from __future__ import annotations

from aiohttp import web

from reconciler.daemon.service import Daemon

DAEMON = web.AppKey("daemon", Daemon)
