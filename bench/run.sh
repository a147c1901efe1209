#!/usr/bin/env bash
# The benchmark in one command, on a fresh Debian 12 machine or a prepared one:
#   sudo bench/run.sh [--quick] [python -m bench options...]
# Installs what is missing (scripts/setup-host.sh: podman stack, .venv), then measures.
# The report goes to bench/results/report.md and report.json (report-quick.* with --quick).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
    echo "bench: run as root (real podman, network namespaces)" >&2
    exit 1
fi
bash "$repo_root/scripts/setup-host.sh"
cd "$repo_root"
exec "$repo_root/.venv/bin/python" -m bench "$@"
