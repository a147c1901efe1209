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
    prometheus # promtool checks monitoring/'s rules and the metrics (no server started)
    prometheus-node-exporter # tests/monitoring: the textfile path end to end
    pipx       # tests/install: the pipx install path
    sudo       # tests/install: the README's `sudo scripts/install.sh check` for a user
    # tests/cni: podman 4.3's CNI backend with the dnsname plugin (and its dnsmasq)
    containernetworking-plugins golang-github-containernetworking-plugin-dnsname dnsmasq-base
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

# The rootless test user must run the venv's python and read its libraries. When the
# checkout sits where other users cannot enter (a CI clone under /root, say), the venv
# lives under /opt and .venv links to it.
others_can_enter() {
    local dir=$1
    while [[ $dir != / ]]; do
        [[ $(stat -c %A "$dir") == *x ]] || return 1
        dir=$(dirname "$dir")
    done
}
if [[ ! -e $venv ]] && ! others_can_enter "$repo_root"; then
    outside="/opt/aardcheck-test-venvs/$(printf '%s' "$repo_root" | sha256sum | cut -c1-16)"
    log "$repo_root is closed to other users: venv in $outside"
    mkdir -p "$outside"
    chmod 755 /opt/aardcheck-test-venvs "$outside"
    ln -sfn "$outside" "$venv"
fi

if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $venv with $python_bin"
    if [[ -L $venv ]]; then
        target=$(readlink -f "$venv")
        rm -rf "$target" && mkdir -p "$target"
        "$python_bin" -m venv "$target"
    else
        rm -rf "$venv"
        "$python_bin" -m venv "$venv"
    fi
fi

stamp="$venv/.aardcheck-install-stamp"
# "compat" editable mode: the checkout is put on sys.path by a plain path line, as an
# installed package is found, rather than by setuptools' import hook, which every Python
# start in the venv would pay for (~15 ms: pathlib, re, fnmatch) - and with it every
# start-up figure of the benchmark, which must be the installed tool's.
wanted="compat $(sha256sum "$repo_root/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f $stamp || $(<"$stamp") != "$wanted" ]] \
    || ! "$venv/bin/python" -c 'import aardcheck' >/dev/null 2>&1; then
    log "installing aardcheck[test] into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        --config-settings editable_mode=compat -e "$repo_root[test]" </dev/null
    printf '%s\n' "$wanted" >"$stamp"
else
    log "$venv is up to date"
fi
