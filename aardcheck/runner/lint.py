"""``aardcheck lint``: read the named files and directories (or every aardvark-dns
directory this user can see) and judge them by the grammar alone (``format.lint``).
No podman: the one command that reads files without asking podman anything.
"""

from __future__ import annotations

from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable, UsageError
from aardcheck.format.lint import LintResult, directory_results, file_result
from aardcheck.models import LATEST_AARDVARK, AardvarkVersion, RunDir, Scope


def _as_run_dir(path: Path) -> RunDir | None:
    """A directory argument: an ``aardvark-dns`` dir, or a run dir that holds one."""
    if (path / "aardvark-dns").is_dir():
        return RunDir(path, Scope.ROOTFUL, 0)
    return RunDir(path.parent, Scope.ROOTFUL, 0) if path.is_dir() else None


def lint_paths(paths: list[Path], version: AardvarkVersion | None) -> tuple[LintResult, ...]:
    from aardcheck.format.parse import parse_network_file
    from aardcheck.sources import discovery
    from aardcheck.sources.aardvark_files import (
        installed_aardvark_version,
        read_dns_directory,
        read_network_file,
        unreadable_directory,
    )

    grammar = version or installed_aardvark_version() or LATEST_AARDVARK
    results: list[LintResult] = []
    if not paths:
        dirs = discovery.visible_run_dirs()
        if not dirs:
            raise UsageError("no aardvark-dns directory found; name files or directories")
        targets: list[Path | RunDir] = list(dirs)
    else:
        targets = []
        for p in paths:
            if not p.exists() and not p.is_symlink():
                raise UsageError(f"{p}: no such file or directory")
            targets.append(_as_run_dir(p) or p if p.is_dir() else p)
    for target in targets:
        if isinstance(target, RunDir):
            directory = read_dns_directory(target, grammar)
            if why := unreadable_directory(directory):
                raise EnvironmentUnavailable(why)  # nothing in it could be checked
            results += directory_results(directory.files, directory.unreadable, grammar)
        elif target.name == "addnhosts":  # the dnsname CNI plugin's file (dnsmasq's grammar)
            from aardcheck.dnsname.lint_hosts import lint_addnhosts

            results.append(lint_addnhosts(target, read_network_file(target), grammar))
        else:
            content = read_network_file(target)
            results.append(file_result(parse_network_file(target, content, grammar), grammar))
    return tuple(results)
