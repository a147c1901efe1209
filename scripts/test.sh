#!/usr/bin/env bash
# The whole check, as CI runs it: host setup, lint, format, types, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not rootless" -x).
# Every stage runs even when an earlier one failed; the exit status is
# non-zero when any failed. pytest collecting no test (exit 5) is a failure.
# pytest runs last so that its summary is the last line of the output.
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

# pytest last, so that its summary line closes the output
printf '\n==> pytest\n' >&2
status=0
"$venv_bin/python" -m pytest "$@" || status=$?
if ((status == 5)); then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
if ((status == 0 && ${#failed[@]} > 0)); then
    exit 1
fi
exit "$status"
