#!/usr/bin/env bash
# Run pytest on the podman 5 stack: podman 5.4, netavark/aardvark-dns 1.14, pasta, from
# Debian 13, in the root tree scripts/podman5-root.sh builds, inside a network namespace
# of its own (so nothing touches the host's podman 4.3.1, its bridges or its firewall).
#
#   scripts/podman5-lane.sh [PYTEST ARGS...]       # as root
#   scripts/podman5-lane.sh --exec CMD [ARGS...]   # any command in the lane (benchmarks)
#
# The whole pytest session runs in ONE long-lived mount namespace whose root is the tree
# (pivot_root, not chroot: the kernel refuses user namespaces - rootless podman - to a
# chrooted process). One namespace for the whole session because podman's netns bind
# mounts under /run/netns must outlive each command (`ip netns exec` per call loses them).
# /run and /tmp are fresh tmpfs: podman 5's run state is never the host's.
set -euo pipefail
umask 022

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'podman5-lane: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (namespaces, mounts)"
    exit 1
fi

root=$(bash "$repo_root/scripts/podman5-root.sh")
# One lane at a time: lanes share the tree's storage (graph root) but each has its own
# /run, and two podmans on one store with two run roots would corrupt it.
# AARDCHECK_P5_NO_PODMAN=1 promises the run never calls podman (the aardvark oracle):
# it may then run beside a lane that does.
exec 9>"$root.lane-lock"
if [[ -z ${AARDCHECK_P5_NO_PODMAN:-} ]] && ! flock -w 1800 9; then
    log "another podman 5 lane has held $root.lane-lock for 30 minutes"
    exit 1
fi
netns="aardcheck-p5-$$"
inside=/src/aardcheck

# Processes podman leaves in the lane (conmon, aardvark-dns, a rootless pause process)
# would keep the namespaces alive: they are ours, found by the lane's netns, and ended.
cleanup() {
    local ns_inode pid
    if ns_inode=$(stat -L -c %i "/run/netns/$netns" 2>/dev/null); then
        for pid in $(ls /proc | grep -E '^[0-9]+$'); do
            if [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$ns_inode" ]]; then
                kill -9 "$pid" 2>/dev/null || true
            fi
        done
        ip netns delete "$netns" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# The lane's throw-away users get ids far from the host's (login.defs, read by useradd and
# by the harness): the harness ends a user's processes by uid and subordinate range, and
# /proc shows every process of the machine, so equal ids would let one stack's cleanup
# kill the other stack's containers.
sed -i -E -e 's/^(UID_MIN|GID_MIN)[[:space:]].*/\1 20000/' \
    -e 's/^(UID_MAX|GID_MAX)[[:space:]].*/\1 29999/' \
    -e 's/^(SUB_UID_MIN|SUB_GID_MIN)[[:space:]].*/\1 700000000/' \
    -e 's/^(SUB_UID_MAX|SUB_GID_MAX)[[:space:]].*/\1 1300000000/' "$root/etc/login.defs"

ip netns add "$netns"
ip -n "$netns" link set lo up
# pasta (rootless podman 5) copies the addresses and routes of the interface that holds
# the default route into the rootless namespace. With none, it picks whatever interface
# has routes - a rootful test's bridge, when there is exactly one - and fails now and
# then ("Couldn't set IPv4 route(s) in guest"). An uplink on a documentation range
# (RFC 5737) is always the template; what goes out through it goes nowhere (a veth pair
# with both ends here: this kernel has no dummy interfaces).
ip -n "$netns" link add aardcheck0 type veth peer name aardcheck1
ip -n "$netns" addr add 192.0.2.2/24 dev aardcheck0
ip -n "$netns" link set aardcheck1 up
ip -n "$netns" link set aardcheck0 up
ip -n "$netns" route add default via 192.0.2.1 dev aardcheck0
[[ -e /dev/net/tun ]] && chmod 666 /dev/net/tun

mkdir -p "$root$inside"

mode=pytest
if [[ ${1:-} == --exec ]]; then
    mode=exec
    shift
fi

# Variables the tests read; everything else of the host's environment stays out.
pass_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8 PODMAN_IGNORE_CGROUPSV1_WARNING=1 AARDTEST_STACK=podman5
    "CI=${CI:-}" "TERM=${TERM:-dumb}")
for var in AARDTEST_KEEP HYPOTHESIS_PROFILE; do
    [[ -n ${!var:-} ]] && pass_env+=("$var=${!var}")
done

status=0
# A pid namespace of its own too: the harness ends a throw-away user's processes by uid,
# and every lane's first user has the same uid (each tree has its own /etc/passwd), so a
# lane must see, and can kill, only its own processes. catatonit is its init: it reaps
# what podman's daemons leave, as a real host's init does.
nsenter --net="/run/netns/$netns" unshare --mount --propagation private --pid --fork \
    env ROOT="$root" REPO="$repo_root" INSIDE="$inside" MODE="$mode" \
    bash -s -- "${pass_env[@]}" -- "$@" <<'EOF' || status=$?
set -euo pipefail
envs=()
while [[ $1 != -- ]]; do envs+=("$1"); shift; done
shift
mount --rbind "$ROOT" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount -t tmpfs -o mode=755 cgroup "$ROOT/sys/fs/cgroup"
for controller in cpu cpuacct cpuset memory devices freezer pids blkio; do
    mkdir -p "$ROOT/sys/fs/cgroup/$controller"
    mount -t cgroup -o "$controller" cgroup "$ROOT/sys/fs/cgroup/$controller" 2>/dev/null || true
done
mkdir -p "$ROOT/sys/fs/cgroup/systemd" "$ROOT/sys/fs/cgroup/unified"
mount -t cgroup -o none,name=systemd cgroup "$ROOT/sys/fs/cgroup/systemd" 2>/dev/null || true
mount -t cgroup2 cgroup2 "$ROOT/sys/fs/cgroup/unified" 2>/dev/null || true
mount --rbind /dev "$ROOT/dev"
# A /dev/shm of its own: rootful podman keeps its SHM lock table there (libpod_lock),
# and podman 5 must never share the host podman's table.
mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$ROOT/run"
mkdir -p "$ROOT/run/lock" "$ROOT/run/user"
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
mount --bind "$REPO" "$ROOT$INSIDE"
cd "$ROOT"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
cd "$INSIDE"
# The checkout, installed editable into the tree's venv (its `aardcheck` command too, as
# on the host; "compat" mode, a plain path line, as scripts/setup-host.sh says why); again
# only when pyproject.toml changed.
stamp=/opt/aardcheck-venv/.aardcheck-editable
wanted="compat $(sha256sum pyproject.toml)"
if [[ ! -f $stamp || $(<"$stamp") != "$wanted" ]]; then
    /opt/aardcheck-venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
        --no-build-isolation --no-index --config-settings editable_mode=compat -e "$INSIDE" >&2
    printf '%s\n' "$wanted" >"$stamp"
fi
if [[ $MODE == exec ]]; then
    exec env -i "${envs[@]}" /usr/bin/catatonit -- "$@"
fi
exec env -i "${envs[@]}" /usr/bin/catatonit -- /opt/aardcheck-venv/bin/python -m pytest "$@"
EOF
exit "$status"
