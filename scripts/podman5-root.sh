#!/usr/bin/env bash
# Build (once) the Debian 13 "trixie" root tree that the podman 5 test lane runs in:
# podman 5.4, netavark and aardvark-dns 1.14, pasta, runc, python3.13 with a venv holding
# aardcheck's dependencies and test tools. The host's podman 4.3.1 is not touched.
#
#   scripts/podman5-root.sh            # build or verify the tree, print its path
#
# The tree is cached in $AARDCHECK_P5_ROOT (default /var/lib/aardcheck-tests/podman5)
# and rebuilt only when this script's package list or pyproject.toml's dependencies
# change. About 600 MB and a few minutes the first time; a second or two after that.
set -euo pipefail
umask 022

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${AARDCHECK_P5_ROOT:-/var/lib/aardcheck-tests/podman5}
log() { printf 'podman5-root: %s\n' "$*" >&2; }
# The tree's path is this script's only output (callers take it with $(...)): everything
# else - apt-get, debootstrap, pip - goes to stderr. On a fresh machine apt-get's
# progress on stdout once became the "path" and the lane failed.
exec 3>&1 1>&2

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (debootstrap, chroot)"
    exit 1
fi

packages=(
    podman netavark aardvark-dns passt slirp4netns uidmap iptables nftables runc conmon
    catatonit python3 python3-venv ca-certificates procps iproute2 util-linux passwd
    bind9-dnsutils busybox-static
    systemd # systemd-analyze verify checks the unit files (no systemd runs)
    man-db  # ... and, on Debian 13, runs man for each Documentation=man: reference
)
venv=/opt/aardcheck-venv

# The dependencies and test tools of the project, read from pyproject.toml (mypy and
# ruff run once, on the host: they do not depend on the podman stack).
requirements=$(/usr/bin/python3 - "$repo_root/pyproject.toml" <<'EOF'
import sys, tomllib
pyproject = tomllib.load(open(sys.argv[1], "rb"))
project = pyproject["project"]
skip = ("ruff", "mypy", "types-")
wanted = pyproject["build-system"]["requires"] + project["dependencies"] + [
    r for r in project["optional-dependencies"]["test"] if not r.startswith(skip)
]
print("\n".join(wanted))
EOF
)
stamp_text=$(printf '%s\n' "${packages[*]}" "$requirements" | sha256sum | cut -d' ' -f1)

if [[ -f $root/.aardcheck-stamp && $(<"$root/.aardcheck-stamp") == "$stamp_text" ]] \
    && [[ -x $root$venv/bin/python ]]; then
    log "$root is up to date"
    printf '%s\n' "$root" >&3
    exit 0
fi

# The mirror the host's apt already uses (trixie is served beside bookworm).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [[ -z $mirror ]]; then
    mirror=$(awk '/^deb / && $2 ~ /^http/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q debootstrap </dev/null
fi

# A half-built tree from an interrupted run is thrown away: build beside, then rename.
building="$root.building"
mkdir -p "$(dirname "$root")"
if [[ ! -x $root/usr/bin/podman ]]; then
    rm -rf "$building"
    log "debootstrap trixie from $mirror into $building (a few minutes)"
    include=$(
        IFS=,
        echo "${packages[*]}"
    )
    debootstrap --variant=minbase --include="$include" trixie "$building" "$mirror" \
        >"$(dirname "$root")/debootstrap.log" 2>&1 \
        || {
            log "debootstrap failed; the last lines of $(dirname "$root")/debootstrap.log:"
            tail -n 20 "$(dirname "$root")/debootstrap.log" >&2
            exit 1
        }
    rm -rf "$root"
    mv "$building" "$root"
else
    # packages added to the list since the tree was built
    log "updating packages in $root"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # (dpkg --configure -a first: an update that was interrupted leaves dpkg half-done)
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c "dpkg --configure -a && apt-get update -q && apt-get install -y -q ${packages[*]}" \
        </dev/null >"$(dirname "$root")/apt.log" 2>&1 || {
        log "apt-get in $root failed; the last lines of $(dirname "$root")/apt.log:"
        tail -n 20 "$(dirname "$root")/apt.log" >&2
        exit 1
    }
fi

# podman's configuration inside the tree: it is the tree's own global config, not the
# host's. runc because crun 1.21 refuses this host's hybrid cgroup layout; the file
# event logger because there is no journald; cgroupfs because no systemd runs.
mkdir -p "$root/etc/containers"
cat >"$root/etc/containers/containers.conf" <<'EOF'
# Written by aardcheck's scripts/podman5-root.sh for the podman 5 test lane.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[network]
network_backend = "netavark"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF

log "installing aardcheck's dependencies into $root$venv"
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" /usr/bin/python3 -m venv "$venv"
printf '%s\n' "$requirements" >"$root$venv/requirements.txt"
# A clean environment: the host's pip settings (wheel dirs, constraints) mean nothing
# here; the host's CA bundle does (it may hold the CA of a TLS-inspecting proxy).
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/aardcheck-host-ca.crt"
chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root \
    PIP_CERT=/etc/ssl/certs/aardcheck-host-ca.crt PIP_DEFAULT_TIMEOUT=180 \
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
    -r "$venv/requirements.txt" </dev/null >&2
chmod -R a+rX "$root$venv"

printf '%s\n' "$stamp_text" >"$root/.aardcheck-stamp"
log "ready: $root"
printf '%s\n' "$root" >&3
