"""Errors that end a command, each with its documented exit code.

Anything that merely could not be checked is a finding (``unchecked``), not one of these.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
    ENVIRONMENT = 3
    REPAIR_INCOMPLETE = 4
    BUSY = 5


class AardcheckError(Exception):
    """Base: ``str(err)`` is the one-line message shown to the user."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT


class EnvironmentUnavailable(AardcheckError):
    """Podman missing or unreachable, run directory unreadable, ...: could not look at all."""

    exit_code = ExitCode.ENVIRONMENT


class ApiTimeout(EnvironmentUnavailable):
    """The podman API did not answer within the wait the caller asked for."""


class UsageError(AardcheckError):
    exit_code = ExitCode.USAGE
