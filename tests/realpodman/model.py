"""Plain data the harness hands to tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Networks to join: names, or names mapped to the aliases to give on each.
NetworkSpec = Mapping[str, Sequence[str]] | Sequence[str]


@dataclass(frozen=True)
class ContainerInfo:
    """What tests need from ``podman inspect`` of one container."""

    name: str
    id: str
    running: bool
    pid: int
    conmon_pid: int
    sandbox_key: str
    ips: Mapping[str, str]
    aliases: Mapping[str, tuple[str, ...]]

    @property
    def short_id(self) -> str:
        """The 12-character id podman adds to every DNS line."""
        return self.id[:12]

    @classmethod
    def from_inspect(cls, data: Mapping[str, Any]) -> ContainerInfo:
        """Build from one element of ``podman container inspect`` output."""
        state = data.get("State") or {}
        settings = data.get("NetworkSettings") or {}
        networks = settings.get("Networks") or {}
        return cls(
            name=str(data.get("Name", "")),
            id=str(data["Id"]),
            running=bool(state.get("Running")),
            pid=int(state.get("Pid") or 0),
            conmon_pid=int(state.get("ConmonPid") or 0),
            sandbox_key=str(settings.get("SandboxKey") or ""),
            ips={net: str(v.get("IPAddress") or "") for net, v in networks.items()},
            aliases={net: tuple(v.get("Aliases") or ()) for net, v in networks.items()},
        )
