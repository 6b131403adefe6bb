"""The error hierarchy: one root, a class per failure domain, permanent vs temporary."""

from __future__ import annotations

from dataclasses import dataclass


class ReconcilerError(Exception):
    """Root of every error reconciler raises on purpose."""

    #: Temporary errors may succeed when retried with backoff; permanent ones are reported.
    temporary: bool = False


@dataclass(frozen=True)
class ManifestIssue:
    """One problem in the manifests, pointing at the file, line and column it comes from."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestErrors(ReconcilerError):
    """Every problem found in a set of manifests; the commit is refused whole."""

    def __init__(self, issues: list[ManifestIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.path, i.message))
        count = len(self.issues)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in manifests")

    def render(self) -> str:
        return "\n".join(issue.render() for issue in self.issues)


class PlanError(ReconcilerError):
    """The desired state cannot be planned against what is live."""


class DockerUnavailable(ReconcilerError):
    """No Docker engine answers; usually temporary (the daemon is starting or restarting)."""

    temporary = True


class DockerApiError(ReconcilerError):
    """The engine answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, temporary: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.temporary = temporary


class ApplyError(ReconcilerError):
    """An apply finished without converging; names every object that failed and why."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        lines = "; ".join(f"{name}: {reason}" for name, reason in sorted(self.failures.items()))
        super().__init__(f"{len(self.failures)} object(s) did not converge: {lines}")


class GitSyncError(ReconcilerError):
    """Fetching or checking out the desired revision failed."""

    temporary = True


class BackupError(ReconcilerError):
    """A backup or restore failed."""
