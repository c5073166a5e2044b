"""Errors that reach the user as one clear line."""


class AlfredError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits 2."""

    exit_code = 2


class ProjectError(AlfredError):
    """The user's project (main.py, its functions, its args) is not usable."""


class ScheduleError(AlfredError):
    """A schedule file is missing, misnamed or broken."""


class TreeError(AlfredError):
    """A root, a storage dir or a path given by the user is not valid."""
