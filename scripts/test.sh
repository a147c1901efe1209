#!/usr/bin/env bash
# The whole check, as CI runs it: host setup, lint, format, types, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not rootless" -x).
# Every stage runs even when an earlier one failed; the exit status is
# non-zero when any failed. pytest collecting no test (exit 5) is a failure.
# pytest runs last, once per podman stack; a summary of both closes the output.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

bash "$repo_root/scripts/setup-host.sh"

venv_bin="$repo_root/.venv/bin"
export PATH="$venv_bin:$PATH"

failed=()
stage() {
    local name=$1
    shift
    printf '\n==> %s\n' "$name" >&2
    local started=$SECONDS
    local status=0
    "$@" || status=$?
    printf '<== %s: exit %d after %ds\n' "$name" "$status" "$((SECONDS - started))" >&2
    if ((status != 0)); then
        failed+=("$name")
    fi
    return 0
}

stage "ruff check" "$venv_bin/ruff" check .
stage "ruff format" "$venv_bin/ruff" format --check .
stage "mypy" "$venv_bin/mypy" aardcheck
if ((${#failed[@]} > 0)); then
    printf '\nFAILED stages: %s (running the tests anyway)\n' "${failed[*]}" >&2
fi

# The whole suite on each podman stack: the host's podman 4.3.1 (netavark/aardvark-dns
# 1.4.0) and podman 5.4.2 (netavark/aardvark-dns 1.14.0) from Debian 13 in the lane of
# scripts/podman5-lane.sh. AARDCHECK_LANES picks fewer (e.g. AARDCHECK_LANES=podman5).
lanes=${AARDCHECK_LANES:-podman4 podman5}
results="$repo_root/.test-results"
mkdir -p "$results"
declare -A lane_status=()
for lane in $lanes; do
    rm -f "$results/$lane.xml"
    printf '\n==> pytest on %s\n' "$lane" >&2
    started=$SECONDS
    status=0
    case $lane in
        podman4) "$venv_bin/python" -m pytest --junitxml="$results/$lane.xml" "$@" || status=$? ;;
        podman5) bash "$repo_root/scripts/podman5-lane.sh" --junitxml=".test-results/$lane.xml" "$@" \
            || status=$? ;;
        *)
            echo "unknown lane $lane (podman4, podman5)" >&2
            status=2
            ;;
    esac
    if ((status == 5)); then
        echo "pytest collected no tests on $lane: that is a failure here" >&2
        status=1
    fi
    printf '<== pytest on %s: exit %d after %ds\n' "$lane" "$status" "$((SECONDS - started))" >&2
    lane_status[$lane]=$status
done

# Each stack's figures, then one closing line over both (the last line of the output).
"$venv_bin/python" "$repo_root/scripts/lane_summary.py" "$results" $lanes || true
exit_status=0
for lane in $lanes; do
    ((lane_status[$lane] == 0)) || exit_status=1
done
if ((${#failed[@]} > 0)); then
    printf 'FAILED stages: %s\n' "${failed[*]}" >&2
    exit_status=1
fi
exit "$exit_status"
