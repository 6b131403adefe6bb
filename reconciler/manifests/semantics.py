"""Checks that span objects: references, dependency cycles, port clashes, backups and tasks."""

from __future__ import annotations

from reconciler.manifests.models import ENGINES, PUBLISH_PATTERN, App, Backup, Stack
from reconciler.manifests.yamlread import ParsedFile
from reconciler.state.errors import ManifestIssue

Origins = dict[tuple[str, str], ParsedFile]


def check_stack(stack: Stack, origins: Origins, root: ParsedFile) -> list[ManifestIssue]:
    """Checks across objects and files; `root` is stack.yaml, where the settings are."""
    issues: list[ManifestIssue] = []
    issues += _backup_and_task_references(stack, origins)
    for name, app in stack.apps.items():
        issues += _check_app(stack, name, app, origins[("apps", name)])
    for name in sorted(set(stack.apps) & set(stack.addons)):
        message = (
            "an app and an add-on share this name; DNS names on the stack network must be unique"
        )
        issues.append(origins[("addons", name)].issue(("addons", name), message, key=True))
    issues += _cycles(stack, origins)
    issues += _host_port_clashes(stack, origins)
    for engine in stack.settings.images:
        if engine not in ENGINES:
            message = f"unknown engine {engine!r}; known: {', '.join(ENGINES)}"
            issues.append(root.issue(("settings", "images", engine), message, key=True))
    return issues


def _backup_and_task_references(stack: Stack, origins: Origins) -> list[ManifestIssue]:
    issues = []
    for name, backup in stack.backups.items():
        problem = _backup_problem(stack, backup)
        if problem:
            where, message = problem
            issues.append(origins[("backups", name)].issue(("backups", name, *where), message))
    for name, task in stack.tasks.items():
        if task.app not in stack.apps:
            known = ", ".join(sorted(stack.apps)) or "none"
            message = f"no app named {task.app!r} (apps: {known})"
            issues.append(origins[("tasks", name)].issue(("tasks", name, "app"), message))
    return issues


def _backup_problem(stack: Stack, backup: Backup) -> tuple[tuple[str, ...], str] | None:
    if backup.addon is not None and backup.addon not in stack.addons:
        known = ", ".join(sorted(stack.addons)) or "none"
        return ("addon",), f"no add-on named {backup.addon!r} (add-ons: {known})"
    if backup.volume is not None:
        app = stack.apps.get(backup.volume.app)
        if app is None:
            known = ", ".join(sorted(stack.apps)) or "none"
            return ("volume", "app"), f"no app named {backup.volume.app!r} (apps: {known})"
        if backup.volume.name not in app.volumes:
            known = ", ".join(sorted(app.volumes)) or "none"
            message = f"app {backup.volume.app!r} has no volume {backup.volume.name!r} ({known})"
            return ("volume", "name"), message
    return None


def _check_app(stack: Stack, name: str, app: App, source: ParsedFile) -> list[ManifestIssue]:
    issues = []
    for index, dependency in enumerate(app.depends_on):
        where = ("apps", name, "dependsOn", index)
        if dependency == name:
            issues.append(source.issue(where, "an app cannot depend on itself"))
        elif dependency not in stack.apps and dependency not in stack.addons:
            issues.append(source.issue(where, f"no app or add-on named {dependency!r}"))
    for index, addon in enumerate(app.addons):
        if addon not in stack.addons:
            where = ("apps", name, "addons", index)
            issues.append(source.issue(where, f"no add-on named {addon!r}"))
    if app.replicas > 1:
        for index, entry in enumerate(app.publish):
            match = PUBLISH_PATTERN.match(entry)
            if match and match.group("host"):
                message = (
                    f"replicas is {app.replicas} but {entry!r} fixes host port "
                    f"{match.group('host')}, which only one container can bind"
                )
                issues.append(source.issue(("apps", name, "publish", index), message))
    if app.healthcheck and app.healthcheck.http and app.port is None:
        message = "an http healthcheck needs the app's 'port'"
        issues.append(source.issue(("apps", name, "healthcheck", "http"), message))
    return issues


def _cycles(stack: Stack, origins: Origins) -> list[ManifestIssue]:
    # Self-dependencies are reported by _check_app; here they would only repeat it as a cycle.
    graph = {
        name: [d for d in app.depends_on if d in stack.apps and d != name]
        for name, app in stack.apps.items()
    }
    state: dict[str, int] = {}  # 1 visiting, 2 done
    reported: set[frozenset[str]] = set()
    issues: list[ManifestIssue] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dependency in graph[node]:
            if state.get(dependency) == 1:
                cycle = [*trail[trail.index(dependency) :], dependency]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    where = ("apps", dependency, "dependsOn")
                    message = f"dependency cycle: {' -> '.join(cycle)}"
                    issues.append(origins[("apps", dependency)].issue(where, message))
            elif dependency not in state:
                visit(dependency, [*trail, dependency])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return issues


def _host_port_clashes(stack: Stack, origins: Origins) -> list[ManifestIssue]:
    taken: dict[tuple[str, str, str], str] = {}
    issues = []
    for name, app in sorted(stack.apps.items()):
        for index, entry in enumerate(app.publish):
            match = PUBLISH_PATTERN.match(entry)
            if not match or not match.group("host"):
                continue
            key = (
                match.group("ip") or "0.0.0.0",
                match.group("host"),
                match.group("proto") or "tcp",
            )
            # 0.0.0.0 binds every address, so it clashes with any address on the same port.
            clash = next(
                (
                    owner
                    for (ip, port, proto), owner in taken.items()
                    if ((port, proto) == key[1:] and "0.0.0.0" in (ip, key[0]))
                    or (ip, port, proto) == key
                ),
                None,
            )
            if clash is not None:
                message = f"host port {key[1]}/{key[2]} is already published by app {clash!r}"
                issues.append(
                    origins[("apps", name)].issue(("apps", name, "publish", index), message)
                )
            else:
                taken[key] = name
    return issues
