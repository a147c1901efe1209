#!/usr/bin/env bash
# Prepare a Debian 12 host to run aardcheck's tests against real podman.
#
# Idempotent; run as root from anywhere inside a clone:
#   - installs the Debian packages the tests need (skipped when all present),
#   - makes /dev/net/tun usable by rootless users (slirp4netns needs it),
#   - creates .venv in the repo and installs aardcheck with its test extras
#     (skipped when pyproject.toml has not changed since the last install).
#
# It never writes /etc/containers/containers.conf or any user's podman config:
# the tests pass their own file through CONTAINERS_CONF.
set -euo pipefail
umask 022 # the venv must stay readable by the tests' throw-away rootless user

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo_root/.venv"

log() { printf 'setup-host: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (apt-get, /dev/net/tun)"
    exit 1
fi

packages=(
    podman netavark aardvark-dns runc iptables uidmap slirp4netns
    busybox-static dnsutils iproute2 python3-venv python3-pip
    systemd # systemd-analyze verify checks the unit files (no running systemd needed)
)
missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ $status != installed ]]; then
        missing+=("$package")
    fi
done
if ((${#missing[@]} > 0)); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}" </dev/null
else
    log "Debian packages already installed"
fi

if [[ -e /dev/net/tun ]]; then
    chmod 666 /dev/net/tun
fi

# Debian's own python3 (not a pyenv or other interpreter under /root), so that
# a rootless test user can execute the venv's python too.
python_bin=${AARDCHECK_PYTHON:-}
if [[ -z $python_bin ]]; then
    if [[ -x /usr/bin/python3 ]]; then
        python_bin=/usr/bin/python3
    else
        python_bin=$(command -v python3)
    fi
fi

if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $venv with $python_bin"
    rm -rf "$venv"
    "$python_bin" -m venv "$venv"
fi

stamp="$venv/.aardcheck-install-stamp"
wanted=$(sha256sum "$repo_root/pyproject.toml" | cut -d' ' -f1)
if [[ ! -f $stamp || $(<"$stamp") != "$wanted" ]] \
    || ! "$venv/bin/python" -c 'import aardcheck' >/dev/null 2>&1; then
    log "installing aardcheck[test] into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -e "$repo_root[test]" </dev/null
    printf '%s\n' "$wanted" >"$stamp"
else
    log "$venv is up to date"
fi
