# Real machines for the lab (DESIGN §5): Debian 12 booting systemd as PID 1, one systemd-nspawn
# container per machine, each in a network namespace of its own on the lab's LAN. Sourced by
# scripts/lab.sh, which provides NS, LAB, LAN_BR, SWITCH, log, die, wire, v6, record_host_key.
#
# The root filesystem is built once with mmdebstrap and cached outside the checkout, keyed by
# what goes into it; every machine boots on an overlay of it, its upper layer being the machine's
# disk (kept across reboots, removed by `lab.sh down`).

DEBIAN_CACHE=${FLEET_DEBIAN_CACHE:-/var/cache/fleet-lab}
DEBIAN_SUITE=bookworm
DEBIAN_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,iptables,iptables-persistent,netfilter-persistent,nftables,iproute2,procps,conntrack,sudo,python3-minimal
# Bump when the way the tree is made changes, so a stale cache is not reused.
DEBIAN_RECIPE=1
DEBIAN_CGROUP=fleet-lab   # each machine's launcher runs in <hierarchy>/fleet-lab/<machine>
DEBIAN_FIRST=201          # deb01 is 198.18.0.201

debian_rootfs_path() {
  local key
  key=$(printf '%s\n' "$DEBIAN_SUITE" minbase "$DEBIAN_PACKAGES" "$DEBIAN_RECIPE" | sha256sum | cut -c1-16)
  echo "$DEBIAN_CACHE/debian-$key"
}

# The Debian archive this machine's apt already uses (it is reachable from here; another may not be).
debian_mirror() {
  local uri
  uri=$(apt-cache policy 2>/dev/null | awk -v s="$DEBIAN_SUITE/main" '$3 == s { print $2; exit }')
  [ -n "$uri" ] || uri=$(apt-cache policy 2>/dev/null | awk '$3 ~ /\/main$/ && $2 ~ /debian\/?$/ { print $2; exit }')
  [ -n "$uri" ] || die "no Debian archive in this machine's apt sources (apt-cache policy); add one"
  echo "$uri"
}

# Built into a temporary directory and renamed into place, so an interrupted build never looks
# finished; a lock keeps two labs from building it at once.
debian_rootfs() {
  local tree tmp mirror
  tree=$(debian_rootfs_path)
  mkdir -p "$DEBIAN_CACHE"
  exec 8>"$DEBIAN_CACHE/.build.lock"
  flock 8
  if [ ! -d "$tree" ]; then
    mirror=$(debian_mirror)
    tmp="$tree.building.$$"
    rm -rf "$DEBIAN_CACHE"/debian-*.building.*
    log "building the Debian $DEBIAN_SUITE root filesystem from $mirror (once; about 2 minutes) into $tree"
    # iptables-persistent would save *this* machine's live rules into the image at install time.
    mmdebstrap --quiet --variant=minbase --include="$DEBIAN_PACKAGES" \
      --essential-hook='printf "%s\n" "iptables-persistent iptables-persistent/autosave_v4 boolean false" "iptables-persistent iptables-persistent/autosave_v6 boolean false" | chroot "$1" debconf-set-selections' \
      --customize-hook='rm -f "$1"/etc/ssh/ssh_host_* "$1"/var/lib/dbus/machine-id; : > "$1"/etc/machine-id; rm -f "$1"/etc/iptables/rules.v4 "$1"/etc/iptables/rules.v6' \
      "$DEBIAN_SUITE" "$tmp" "deb $mirror $DEBIAN_SUITE main" \
      || { rm -rf "$tmp"; die "mmdebstrap failed; see above"; }
    mv "$tmp" "$tree"
  fi
  exec 8>&-
  echo "$tree"
}

debian_name() { printf 'deb%02d' "$1"; }
debian_addr() { echo "198.18.0.$((DEBIAN_FIRST - 1 + $1))"; }
debian_addr6() { echo "2001:db8:0:2::$((DEBIAN_FIRST - 1 + $1))"; }

# The machine's network: its own namespace, eth0 on the LAN with a fixed MAC (a rebooted machine
# keeps its hardware address, so its neighbours' caches stay right), routes via router01.
debian_network() {
  local name=$1 i=$2
  add_ns "$name"
  wire "$name" eth0 "$LAN_BR" "$(debian_addr "$i")/24"
  ip -n "${NS}${name}" link set eth0 address "02:00:c6:12:00:$(printf '%02x' "$((DEBIAN_FIRST - 1 + i))")"
  v6 "$name" eth0 "$(debian_addr6 "$i")/64"
  ip -n "${NS}${name}" route add default via 198.18.0.1
  ip -n "${NS}${name}" -6 route add default via 2001:db8:0:2::1
}

# The machine's disk: an overlay whose upper layer is this machine's alone, holding its name, its
# own SSH host key (recorded in the operator's known_hosts) and the operator's key.
debian_disk() {
  local name=$1 tree=$2 dir="$LAB/machines/$1" root
  root=$dir/root
  mkdir -p "$dir/upper" "$dir/work" "$root" "$LAB/hosts/$name"
  mount -t overlay "fleet-$name" -o "lowerdir=$tree,upperdir=$dir/upper,workdir=$dir/work" "$root"
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$LAB/hosts/$name/ssh_host_ed25519_key"
  install -m 600 "$LAB/hosts/$name/ssh_host_ed25519_key" "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$LAB/hosts/$name/ssh_host_ed25519_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
  cat > "$root/etc/ssh/sshd_config.d/fleet-lab.conf" <<CONF
Port 22
Port 2222
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
CONF
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$LAB/operator/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  echo "$name" > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$name" > "$root/etc/hosts"
}

debian_cgroup_dirs() {
  local name=$1 h
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
    [ -f "$h/cgroup.procs" ] || continue
    [ "$h" != /sys/fs/cgroup ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || continue   # a v2-only host
    echo "$h/$DEBIAN_CGROUP/$name"
  done
}

# Runs in the background for the machine's whole life (`lab.sh machine NAME I`): boots it,
# and when it reboots (nspawn exits with 133) boots it again on a fresh network namespace (the
# machine's netfilter state and sysctls live there, and a reboot must lose them) and the same disk.
debian_supervise() {
  local name=$1 i=$2 dir="$LAB/machines/$1" rc boots=0
  while :; do
    boots=$((boots + 1))
    echo "$boots" > "$dir/boots"
    (
      # A cgroup of its own: nspawn with --keep-unit makes its payload/supervisor groups inside the
      # one it was started in, and two machines must not share them.
      for cg in $(debian_cgroup_dirs "$name"); do mkdir -p "$cg" && echo "$BASHPID" > "$cg/cgroup.procs"; done
      # A machine may set its own sysctls (ip_forward...): /proc/sys/net is its network namespace's.
      SYSTEMD_NSPAWN_API_VFS_WRITABLE=network exec systemd-nspawn --quiet -b --register=no --keep-unit --capability=CAP_NET_ADMIN \
        --network-namespace-path="/run/netns/${NS}${name}" -D "$dir/root" -M "$name" --console=read-only
    ) >>"$dir/console.log" 2>&1 </dev/null && rc=0 || rc=$?
    echo "$(date -u +%FT%TZ) nspawn exited $rc" >> "$dir/console.log"
    [ "$rc" = 133 ] || break
    ip netns del "${NS}${name}" 2>/dev/null || true
    debian_network "$name" "$i"
  done
  rm -f "$dir/supervisor.pid"
}

debian_ssh() {
  local addr=$1; shift
  ssh -i "$LAB/operator/id_ed25519" -o UserKnownHostsFile="$LAB/operator/known_hosts" -o BatchMode=yes -o ConnectTimeout=3 \
    -o ProxyCommand="ssh -i $LAB/operator/id_ed25519 -o UserKnownHostsFile=$LAB/operator/known_hosts -o BatchMode=yes -o ConnectTimeout=3 -W %h:%p root@198.51.100.2" \
    "root@$addr" "$@"
}

# Booted means: sshd answers and systemd says the system is running (not degraded, not starting).
debian_wait() {
  local name=$1 addr=$2 deadline=$((SECONDS + ${3:-90})) state=
  until state=$(debian_ssh "$addr" systemctl is-system-running --wait 2>/dev/null); [ "$state" = running ]; do
    case $state in '' | initializing | starting) ;; *) deadline=0 ;; esac
    if [ $SECONDS -ge $deadline ]; then
      [ -z "$state" ] || debian_ssh "$addr" systemctl --failed --no-legend >&2 || true
      die "$name did not boot: systemd says '${state:-no SSH answer}' (console: $LAB/machines/$name/console.log)"
    fi
    sleep 0.5
  done
}

# The machine outlives this script: it must not inherit its open files (a `flock` on the lab lock
# held open by a machine would keep the lab locked for as long as the machine runs).
debian_start() {
  local name=$1 i=$2
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -le 2 ] || eval "exec $fd>&-"
    done
    exec setsid bash "$ROOT/scripts/lab.sh" machine "$name" "$i" </dev/null >/dev/null 2>&1
  ) &
  echo $! > "$LAB/machines/$name/supervisor.pid"
}

debian_up() {
  local n=$1 tree i name
  [ "$n" -ge 1 ] && [ "$n" -le 54 ] || die "--debian: 1 to 54 machines (198.18.0.201-254)"
  command -v mmdebstrap >/dev/null && command -v systemd-nspawn >/dev/null || die "mmdebstrap and systemd-nspawn are missing (packages mmdebstrap, systemd-container)"
  tree=$(debian_rootfs)
  for i in $(seq 1 "$n"); do
    name=$(debian_name "$i")
    debian_network "$name" "$i"
    debian_disk "$name" "$tree"
    record_host_key "$name" "$(debian_addr "$i")"
    record_host_key "$name" "$(debian_addr6 "$i")"
    debian_start "$name" "$i"
  done
  debian_inventory "$n"
  for i in $(seq 1 "$n"); do debian_wait "$(debian_name "$i")" "$(debian_addr "$i")"; done
  log "     $n Debian machines booted with systemd: deb01 $(debian_addr 1) and up; inventory in $LAB/debian.yaml"
}

debian_inventory() {
  local n=$1 i
  {
    cat <<'YAML'
# The lab's Debian machines (scripts/lab.sh up --debian N), behind router01.
defaults:
  ssh:
    user: root
    identity: operator/id_ed25519
    knownHosts: operator/known_hosts
  network:
    internal: 198.18.0.0/24
    internal6: 2001:db8:0:2::/64
    interface: eth0
    egress:
      tcp: [22, 80, 443]
      udp: [53]

hosts:
  router01:
    address: 198.51.100.2
    role: router
    network:
      wan: { interface: eth0, address: 198.51.100.2 }
      lan: { interface: eth1 }
      services: { tcp: [22, 80, 443] }
      untracked: { tcp: [80, 443] }
YAML
    for i in $(seq 1 "$n"); do
      printf '\n  %s:\n    address: %s\n    role: internal-server\n    ssh: { jump: router01 }\n' "$(debian_name "$i")" "$(debian_addr "$i")"
    done
  } > "$LAB/debian.yaml"
}

# `systemctl reboot` inside, then wait until the machine is back (a new boot id, systemd running).
debian_reboot() {
  local name=$1 i addr before after
  i=$((10#${name#deb}))
  addr=$(debian_addr "$i")
  [ -f "$LAB/machines/$name/supervisor.pid" ] || die "$name is not a running lab machine"
  before=$(debian_ssh "$addr" cat /proc/sys/kernel/random/boot_id)
  debian_ssh "$addr" systemctl reboot || true
  local deadline=$((SECONDS + 90))
  until after=$(debian_ssh "$addr" cat /proc/sys/kernel/random/boot_id 2>/dev/null) && [ -n "$after" ] && [ "$after" != "$before" ]; do
    [ $SECONDS -lt $deadline ] || die "$name did not come back from its reboot"
    sleep 0.5
  done
  debian_wait "$name" "$addr"
  log "$name rebooted"
}

# Pulls the plug on every machine (the whole cgroup at once), then removes their disks and cgroups.
debian_down() {
  local pidfile cg dir
  for pidfile in "$LAB"/machines/*/supervisor.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  for cg in /sys/fs/cgroup/unified/"$DEBIAN_CGROUP"/* /sys/fs/cgroup/"$DEBIAN_CGROUP"/*; do
    [ -f "$cg/cgroup.kill" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null || true
  done
  for cg in /sys/fs/cgroup/*/"$DEBIAN_CGROUP" /sys/fs/cgroup/"$DEBIAN_CGROUP"; do
    [ -d "$cg" ] || continue
    local deadline=$((SECONDS + 10))
    # Empty groups can be removed, deepest first; a group whose processes are still dying cannot yet.
    until find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null; [ ! -d "$cg" ]; do
      [ $SECONDS -lt $deadline ] || { echo "lab: $cg still has processes" >&2; break; }
      sleep 0.1
    done
  done
  # Every machine disk still mounted, even one whose lab directory is gone.
  for dir in $(findmnt -rn -t overlay -o TARGET | grep "^$LAB/machines/" || true); do
    umount "$dir" || umount -l "$dir"
  done
}

debian_status() {
  local dir name
  for dir in "$LAB"/machines/*; do
    [ -f "$dir/boots" ] || continue
    name=$(basename "$dir")
    if [ -f "$dir/supervisor.pid" ] && kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null; then
      echo "$name: running, booted $(cat "$dir/boots") time(s); console: $dir/console.log"
    else
      echo "$name: stopped; console: $dir/console.log"
    fi
  done
}
