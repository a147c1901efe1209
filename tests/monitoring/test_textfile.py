"""The one-shot textfile (``check``/``clean --textfile-dir``) and the metrics added for
the fleet kit, without podman: a failed run still writes its file, an unwritable
directory warns without changing the exit code, labels and families are as documented."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from aardcheck.cli.app import app
from aardcheck.findings import Finding, Kind
from aardcheck.models import ProbeAnswer, ProbeStatus, ProbeTry
from aardcheck.repair.outcome import Change
from aardcheck.watch.metrics import WatchMetrics, write_run_textfile

runner = CliRunner()
NOWHERE = "unix:///nonexistent/aardtest-no-podman.sock"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_run_textfile_labels_every_sample_with_the_command(tmp_path: Path) -> None:
    dead = Finding(Kind.DEAD_ENTRY, "web", "a", "aa" * 32, "10.89.0.5")
    answer = ProbeAnswer(
        "web",
        "a",
        "A",
        ip_address("10.89.0.1"),
        (ProbeTry(ProbeStatus.ANSWER, latency_ms=2.0), ProbeTry(ProbeStatus.TIMEOUT)),
    )
    failed = Change("prune-lines", "web", "/x", "failed", "")
    path = write_run_textfile(
        tmp_path, "clean", ok=True, duration=0.3, full=True,
        findings=[dead], probes=[answer], changes=[failed],
    )  # fmt: skip
    assert path == tmp_path / "aardcheck-clean.prom"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    s = samples(path.read_text())
    assert all(dict(labels)["command"] == "clean" for _, labels in s)
    c = ("command", "clean")
    assert s[("aardcheck_findings", (c, ("kind", "dead-entry"), ("network", "web")))] == 1
    assert s[("aardcheck_probe_answers_total", (c, ("network", "web"), ("status", "answer")))] == 1
    assert s[("aardcheck_probe_answers_total", (c, ("network", "web"), ("status", "timeout")))] == 1
    assert s[("aardcheck_repairs_total", (c, ("network", "web"), ("result", "failed")))] == 1
    assert s[("aardcheck_check_duration_seconds_count", (c, ("scope", "full")))] == 1
    assert s[("aardcheck_last_check_success", (c,))] == 1
    assert not [name for name, _ in s if name.endswith("_created")]


def test_watch_endpoint_families_have_no_command_label() -> None:
    metrics = WatchMetrics()
    metrics.record_check(full=False, ok=True, duration=0.02)
    s = samples(generate_latest(metrics.registry).decode())
    assert s[("aardcheck_check_duration_seconds_count", (("scope", "partial"),))] == 1
    assert all("command" not in dict(labels) for _, labels in s)


def test_a_failed_check_still_writes_its_textfile(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--url", NOWHERE, "--textfile-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    s = samples((tmp_path / "aardcheck-check.prom").read_text())
    assert s[("aardcheck_last_check_success", (("command", "check"),))] == 0
    failed = (("command", "check"), ("result", "error"), ("scope", "full"))
    assert s[("aardcheck_checks_total", failed)] == 1


def test_a_failed_clean_still_writes_its_textfile(tmp_path: Path) -> None:
    args = ["clean", "--url", NOWHERE, "--lock-file", str(tmp_path / "lock")]
    result = runner.invoke(app, [*args, "--textfile-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    s = samples((tmp_path / "aardcheck-clean.prom").read_text())
    assert s[("aardcheck_last_check_success", (("command", "clean"),))] == 0


def test_textfile_dir_must_exist(tmp_path: Path) -> None:
    for command in ("check", "clean"):
        result = runner.invoke(app, [command, "--textfile-dir", str(tmp_path / "nope")])
        assert result.exit_code == 2, result.output
        assert "--textfile-dir" in result.output


def test_an_unwritable_directory_warns_and_keeps_the_exit_code(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "aardcheck-check.prom").mkdir()  # rename onto a directory fails, even for root
    result = runner.invoke(app, ["check", "--url", NOWHERE, "--textfile-dir", str(blocked)])
    assert result.exit_code == 3
    assert "warning: cannot write metrics to" in result.output
