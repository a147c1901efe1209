#!/usr/bin/env bash
# Install aardcheck on a Debian 12 host and (optionally) run it.
#
#   sudo scripts/install.sh            # install or update
#   sudo scripts/install.sh check      # install, then run `aardcheck check`
#
# Installs podman's stack from Debian when missing (podman, netavark, aardvark-dns,
# iptables, runc), aardcheck into a virtual environment under /opt/aardcheck (override
# with AARDCHECK_PREFIX) and links /usr/local/bin/aardcheck. Never touches podman's
# configuration.
set -euo pipefail
umask 022

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${AARDCHECK_PREFIX:-/opt/aardcheck}

log() { printf 'install: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (apt-get, $prefix, /usr/local/bin)"
    exit 2
fi

packages=(podman netavark aardvark-dns iptables runc uidmap slirp4netns iproute2 python3-venv)
missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}" </dev/null
fi

python_bin=/usr/bin/python3
[[ -x $python_bin ]] || python_bin=$(command -v python3)
if ! "$prefix/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $prefix"
    "$python_bin" -m venv "$prefix"
fi
log "installing aardcheck from $repo_root"
"$prefix/bin/python" -m pip install --disable-pip-version-check -q --upgrade "$repo_root" </dev/null
ln -sf "$prefix/bin/aardcheck" /usr/local/bin/aardcheck
log "installed: $(/usr/local/bin/aardcheck --version 2>/dev/null || echo aardcheck)"

if (($# > 0)); then
    exec /usr/local/bin/aardcheck "$@"
fi
