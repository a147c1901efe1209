#!/usr/bin/env bash
# Install aardcheck on a Debian 12 host and (optionally) run it.
#
#   scripts/install.sh check           # as root (a fresh Debian has no sudo)
#   sudo scripts/install.sh check      # as a user with sudo
#   scripts/install.sh                 # install or update only
#
# Installs podman's stack from Debian when missing (podman, netavark, aardvark-dns,
# iptables, runc), aardcheck into a virtual environment under /opt/aardcheck (override
# with AARDCHECK_PREFIX) and links /usr/local/bin/aardcheck (AARDCHECK_BIN_DIR). Never
# touches podman's configuration. Arguments after the install go to aardcheck.
set -euo pipefail
umask 022

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${AARDCHECK_PREFIX:-/opt/aardcheck}
bin_dir=${AARDCHECK_BIN_DIR:-/usr/local/bin}

log() { printf 'install: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (apt-get, $prefix, $bin_dir): sudo $0 $*"
    log "(or without installing anything system-wide: pipx install $repo_root)"
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
# Build from a copy: pip builds in the source tree, and root-owned build/ and egg-info
# directories must not land in the checkout of the user who ran sudo (nor, through a
# kept HOME, a root-owned pip cache in their home: --no-cache-dir).
source_copy=$(mktemp -d)
cp -R "$repo_root/pyproject.toml" "$repo_root/README.md" "$repo_root/aardcheck" "$source_copy/"
status=0
"$prefix/bin/python" -m pip install --disable-pip-version-check --no-cache-dir -q --upgrade \
    "$source_copy" </dev/null || status=$?
rm -rf "$source_copy"
((status == 0)) || exit "$status"
mkdir -p "$bin_dir"
ln -sf "$prefix/bin/aardcheck" "$bin_dir/aardcheck"
log "installed: $("$bin_dir/aardcheck" --version 2>/dev/null || echo aardcheck) as $bin_dir/aardcheck"

if (($# > 0)); then
    exec "$bin_dir/aardcheck" "$@"
fi
