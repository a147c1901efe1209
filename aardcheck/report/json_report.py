"""The versioned JSON document (schema ``aardcheck.check/1``, documented in the README)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from aardcheck import __version__
from aardcheck.findings import CheckResult, Finding
from aardcheck.models import ProbeAnswer

SCHEMA = "aardcheck.check/1"


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "kind": str(f.kind),
        "severity": str(f.severity),
        "network": f.network,
        "name": f.name,
        "container_id": f.container_id,
        "address": f.address,
        "message": f.message,
        "fix": f.fix,
        "path": f.path,
        "line": f.line_no,
    }


def probe_dict(a: ProbeAnswer) -> dict[str, Any]:
    return {
        "network": a.network,
        "name": a.name,
        "rdtype": a.rdtype,
        "server": str(a.server),
        "tries": [
            {
                "status": str(t.status),
                "addresses": sorted(str(x) for x in t.addresses),
                "ttl": t.ttl,
                "latency_ms": round(t.latency_ms, 2),
            }
            for t in a.tries
        ],
    }


def document(result: CheckResult, exit_code: int) -> dict[str, Any]:
    snap, ctx = result.snapshot, result.context
    return {
        "schema": SCHEMA,
        "tool": {"name": "aardcheck", "version": __version__},
        "host": {
            "scope": ctx.scope,
            "run_dir": ctx.run_dir,
            "podman_version": ctx.podman_version,
            "aardvark_version": str(snap.aardvark_version),
            "api_url": ctx.api_url,
            "private_api": ctx.private_api,
            "network_backend": ctx.network_backend,
        },
        "checked": {
            "networks": list(result.checked_networks),
            "backends": {n: result.backend_of(n) for n in result.checked_networks},
            "files": len(snap.directory.files),
            "containers": len(snap.podman.containers),
            "probed": snap.probed,
            "api_requests": snap.podman.api_requests,
            "duration_s": round(result.duration_s, 4),
        },
        "summary": {
            "findings": len(result.findings),
            "by_severity": dict(Counter(str(f.severity) for f in result.findings)),
            "by_kind": dict(Counter(str(f.kind) for f in result.findings)),
            "exit_code": exit_code,
        },
        "findings": [finding_dict(f) for f in result.findings],
        "probes": [probe_dict(a) for a in snap.probes],
        "probe_skipped": [{"network": s.network, "reason": s.reason} for s in snap.probe_skipped],
    }


def render(result: CheckResult, exit_code: int) -> str:
    return json.dumps(document(result, exit_code), indent=2, sort_keys=False) + "\n"
