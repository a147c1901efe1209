"""Human text, grouped by network, most severe first."""

from __future__ import annotations

from collections import defaultdict

from aardcheck.findings import CheckResult, Finding
from aardcheck.report.visible import escape


def _line(f: Finding) -> str:
    where = f" (line {f.line_no})" if f.line_no is not None else ""
    head = f"  {str(f.severity).upper():8} {f.kind}{where}: {escape(f.message)}"
    return f"{head}\n           fix: {escape(f.fix)}"


def render(result: CheckResult, exit_code: int) -> str:
    snap, ctx = result.snapshot, result.context
    resolver = (
        "CNI backend (dnsname)"
        if ctx.network_backend == "cni"
        else f"aardvark {snap.aardvark_version}"
    )
    out = [
        f"aardcheck: {ctx.scope} run dir {escape(ctx.run_dir)}, {resolver}"
        + (f", podman {ctx.podman_version}" if ctx.podman_version else "")
    ]
    by_net: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_net[f.network].append(f)
    for net in result.checked_networks:
        findings = by_net.pop(net, [])
        status = f"{len(findings)} finding(s)" if findings else "ok"
        # aardvark networks keep the plain form; dnsname ones say which resolver they use
        backend = " (dnsname)" if result.backend_of(net) == "dnsname" else ""
        out.append(f"network {escape(net)}{backend}: {status}")
        out.extend(_line(f) for f in findings)
    for net, findings in sorted(by_net.items()):
        out.append(f"{escape(net)}:")
        out.extend(_line(f) for f in findings)
    probed = "probed" if snap.probed else "not probed (--no-probe)"
    summary = f"{len(result.findings)} finding(s)" if result.findings else "clean: no findings"
    out.append(
        f"{summary}; {len(result.checked_networks)} network(s), "
        f"{len(snap.podman.containers)} container(s), names {probed}, "
        f"{result.duration_s:.2f} s"
    )
    return "\n".join(out) + "\n"
