#!/usr/bin/env bash
# The lab of DESIGN §5: the seed's network as Linux network namespaces on this machine, each host
# with its own sshd, hostname, netfilter and conntrack tables and private /root /tmp /run /var/lib.
#
#   scripts/lab.sh up [--servers N] [--wan-servers N] [--debian N]
#                                                        build it (tears down a stale one first)
#   scripts/lab.sh down                                  remove it: namespaces, links, processes, files
#   scripts/lab.sh reboot debNN                          reboot a Debian machine, wait until it is back
#   scripts/lab.sh status                                what is running
#
# Addresses: 198.51.100.0/24 is the "internet" (the operator is 198.51.100.1 on the bridge
# fleetwan), 198.18.0.0/24 the LAN behind router01. Nothing in the lab routes anywhere else.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The lab's files live where no host's private mounts (/root, /tmp, /run, /var/lib) hide them
# from its sshd, wherever the checkout is; .lab in the checkout points there.
LAB=${FLEET_LAB_DIR:-/var/tmp/fleet-lab}
LINK=$ROOT/.lab
NS=fleet-              # namespace prefix; every lab namespace starts with it
WAN_BR=fleetwan        # the internet side, in the root namespace (the operator's side)
SWITCH=${NS}lanswitch  # a namespace that only holds the LAN bridge
LAN_BR=lan0
LAB_USER=fleetop       # a non-root operator account with passwordless sudo
LAB_SUDO_USER=fleetpw  # one whose sudo asks for a password (a random one, in .lab/operator/sudo-password)
SSH_PORTS=(22 2222)

die() { echo "lab: $*" >&2; exit 1; }
log() { [ -n "${QUIET:-}" ] || echo "lab: $*"; }

need_root() { [ "$(id -u)" = 0 ] || die "building the lab needs root (network namespaces, sshd); run as root or with sudo"; }

install_packages() {
  local debian=$1 missing=()
  command -v iptables >/dev/null || missing+=(iptables)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v curl >/dev/null || missing+=(curl)
  command -v nc >/dev/null || missing+=(netcat-openbsd)
  command -v sudo >/dev/null || missing+=(sudo)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v nft >/dev/null || missing+=(nftables)
  if [ "$debian" -gt 0 ]; then
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq || echo "lab: apt-get update failed; trying the cached package index" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS}" || true; }

down() {
  need_root
  # The Debian machines first: their containers, then their disks (overlays on the cached tree).
  debian_down
  # Processes the lab started: everything inside its namespaces (sshd, services, fleet's timers).
  for ns in $(lab_namespaces); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for ns in $(lab_namespaces); do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$WAN_BR" 2>/dev/null || true
  ip route del unreachable 198.18.0.0/24 2>/dev/null || true
  ip -6 route del unreachable 2001:db8::/32 2>/dev/null || true
  for user in "$LAB_USER" "$LAB_SUDO_USER"; do if id "$user" >/dev/null 2>&1; then userdel "$user" 2>/dev/null || true; fi; done
  rm -f /etc/sudoers.d/fleet-lab
  if [ -f "$LAB/made-etc-iptables" ]; then rmdir /etc/iptables 2>/dev/null || true; fi
  rm -rf "$LAB"
  [ ! -L "$LINK" ] || rm -f "$LINK"
  log "down: no lab namespaces, links or processes left"
}

add_ns() {
  local name=$1
  ip netns add "${NS}${name}"
  ip -n "${NS}${name}" link set lo up
}

# veth pair: one end becomes <ifname> inside the host, the other is enslaved to a bridge.
wire() {
  local host=$1 ifname=$2 bridge=$3 addr=$4 peer="f${RANDOM}${RANDOM}"
  peer=${peer:0:15}
  ip link add "$peer" type veth peer name "tmp$$${ifname}"
  ip link set "tmp$$${ifname}" netns "${NS}${host}"
  ip -n "${NS}${host}" link set "tmp$$${ifname}" name "$ifname"
  case $addr in
    *:*) ip -n "${NS}${host}" addr add "$addr" dev "$ifname" nodad ;;
    *) ip -n "${NS}${host}" addr add "$addr" dev "$ifname" ;;
  esac
  ip -n "${NS}${host}" link set "$ifname" up
  if [ "$bridge" = "$WAN_BR" ]; then
    ip link set "$peer" master "$WAN_BR" up
  else
    ip link set "$peer" netns "$SWITCH"
    ip -n "$SWITCH" link set "$peer" master "$LAN_BR" up
  fi
}

# An IPv6 address besides the IPv4 one (2001:db8::/32 only; no duplicate address detection wait).
v6() {
  ip -n "${NS}$1" addr add "$3" dev "$2" nodad
}

operator_key() {
  mkdir -p "$LAB/operator" "$LAB/authorized_keys"
  ssh-keygen -q -t ed25519 -N '' -C fleet-lab-operator -f "$LAB/operator/id_ed25519"
  cp "$LAB/operator/id_ed25519.pub" "$LAB/authorized_keys/root"
  cp "$LAB/operator/id_ed25519.pub" "$LAB/authorized_keys/$LAB_USER"
  cp "$LAB/operator/id_ed25519.pub" "$LAB/authorized_keys/$LAB_SUDO_USER"
  chmod 644 "$LAB/authorized_keys/"*
  : > "$LAB/operator/known_hosts"
}

lab_user() {
  id "$LAB_USER" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir / --shell /bin/sh "$LAB_USER"
  usermod -p '*' "$LAB_USER"   # '*' (no password) rather than '!' (locked): sshd refuses locked accounts
  echo "$LAB_USER ALL=(root) NOPASSWD: ALL" > /etc/sudoers.d/fleet-lab
  # Quotes, $, a backtick and ; in the password: it must reach sudo as it is, and nothing else.
  id "$LAB_SUDO_USER" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir / --shell /bin/sh "$LAB_SUDO_USER"
  (umask 077; printf "s3 cr'et\"\$HOME\`id\`;%s\n" "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" > "$LAB/operator/sudo-password")
  echo "$LAB_SUDO_USER:$(head -n1 "$LAB/operator/sudo-password")" | chpasswd
  echo "$LAB_SUDO_USER ALL=(root) ALL" >> /etc/sudoers.d/fleet-lab
  chmod 440 /etc/sudoers.d/fleet-lab
}

# known_hosts entries for a host at each of its addresses and SSH ports; web02's are hashed, as
# Debian's ssh writes them by default, so both kinds are exercised.
record_host_key() {
  local host=$1 addr=$2 key file
  key=$(cut -d' ' -f1,2 "$LAB/hosts/$host/ssh_host_ed25519_key.pub")
  file="$LAB/operator/known_hosts"
  for port in "${SSH_PORTS[@]}"; do
    local name=$addr
    [ "$port" = 22 ] || name="[$addr]:$port"
    if [ "$host" = web02 ]; then
      local tmp
      tmp=$(mktemp)
      echo "$name $key" > "$tmp"
      ssh-keygen -q -H -f "$tmp" >/dev/null 2>&1
      grep -v '^#' "$tmp" >> "$file"
      rm -f "$tmp" "$tmp.old"
    else
      echo "$name $key" >> "$file"
    fi
  done
}

start_sshd() {
  local host=$1 dir="$LAB/hosts/$1"
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "$host" -f "$dir/ssh_host_ed25519_key"
  {
    for port in "${SSH_PORTS[@]}"; do echo "Port $port"; done
    cat <<CONF
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $LAB/authorized_keys/%u
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
LogLevel ERROR
CONF
  } > "$dir/sshd_config"
  # Like a real Debian host, the host's own name resolves locally (sudo looks it up every time,
  # and this machine has no DNS to ask).
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$host" > "$dir/hosts"
  # A private mount and UTS namespace per host: its own hostname, /root, /tmp, /run and /var/lib,
  # and its own boot configuration (/etc/iptables, /etc/sysctl.d), inherited by every SSH session. sshd daemonizes and keeps the namespaces alive.
  ip netns exec "${NS}${host}" unshare --mount --uts --propagation private sh -c "
    hostname $host
    mount -t tmpfs -o mode=0700 tmpfs /root
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t tmpfs -o mode=0755 tmpfs /run
    mount -t tmpfs -o mode=0755 tmpfs /var/lib
    mount --bind $dir/hosts /etc/hosts
    mount -t tmpfs -o mode=0755 tmpfs /etc/iptables
    mount -t tmpfs -o mode=0755 tmpfs /etc/sysctl.d
    mkdir -p /run/sshd
    exec /usr/sbin/sshd -f $dir/sshd_config -E $dir/sshd.log
  "
}

start_services() {
  local host=$1; shift
  ip netns exec "${NS}${host}" setsid node "$ROOT/scripts/lab-services.mjs" "$host" "$@" \
    >"$LAB/hosts/$host/services.log" 2>&1 < /dev/null &
  echo $! > "$LAB/hosts/$host/services.pid"
}

internal_server() {
  local host=$1 addr=$2
  add_ns "$host"
  wire "$host" eth0 "$LAN_BR" "$addr/24"
  ip -n "${NS}${host}" route add default via 198.18.0.1
  start_sshd "$host"
  record_host_key "$host" "$addr"
}

# WAN servers have an IPv6 address (2001:db8:0:1::1:N) and, while the /24 lasts, an IPv4 one:
# IPv6 is what lets a scale run go past the 244 IPv4 addresses the WAN side has room for.
wan_server() {
  local host=$1 i=$2 v6="2001:db8:0:1::1:$2"
  add_ns "$host"
  if [ "$i" -le 244 ]; then
    wire "$host" eth0 "$WAN_BR" "198.51.100.$((9 + i))/24"
    ip -n "${NS}${host}" addr add "$v6/64" dev eth0 nodad
  else
    wire "$host" eth0 "$WAN_BR" "$v6/64"
  fi
  start_sshd "$host"
  [ "$i" -gt 244 ] || record_host_key "$host" "198.51.100.$((9 + i))"
  record_host_key "$host" "$v6"
}

wait_for_ssh() {
  local deadline=$((SECONDS + 20))
  for pidfile in "$LAB"/hosts/*/sshd.pid; do
    until [ -s "$pidfile" ]; do
      [ $SECONDS -lt $deadline ] || die "sshd did not start ($pidfile)"
      sleep 0.05
    done
  done
  until ip netns exec "${NS}router01" nc -z -w 1 127.0.0.1 22 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "router01's sshd does not answer"
    sleep 0.05
  done
}

up() {
  local servers=0 wan_servers=0 debian=0
  while [ $# -gt 0 ]; do
    case $1 in
      --servers) servers=$2; shift 2 ;;
      --wan-servers) wan_servers=$2; shift 2 ;;
      --debian) debian=$2; shift 2 ;;
      *) die "unknown option $1 (expected --servers N, --wan-servers N, --debian N)" ;;
    esac
  done
  case $servers$wan_servers$debian in *[!0-9]*) die "--servers, --wan-servers and --debian take a number" ;; esac
  [ "$servers" -le 181 ] || die "--servers: at most 181 fit on 198.18.0.20-200 (.201 and up are for the Debian machines)"
  [ "$wan_servers" -le 2000 ] || die "--wan-servers: at most 2000"
  need_root
  install_packages "$debian"
  QUIET=1 down
  mkdir -p "$LAB/hosts"
  # Each host gets its own /etc/iptables (where rules persist for boot), mounted over this
  # machine's; the directory is made here only if the machine has none, and removed again.
  if [ ! -d /etc/iptables ]; then mkdir /etc/iptables && touch "$LAB/made-etc-iptables"; fi
  [ ! -e "$LINK" ] || [ -L "$LINK" ] || die "$LINK exists and is not the lab's link; move it away"
  ln -sfn "$LAB" "$LINK"
  operator_key
  lab_user

  # The operator's side: a bridge in the root namespace. The LAN is unreachable from here except
  # through router01, as on the real network (and never out of the machine's own uplink).
  ip link add "$WAN_BR" type bridge
  ip addr add 198.51.100.1/24 dev "$WAN_BR"
  ip addr add 2001:db8:0:1::1/64 dev "$WAN_BR" nodad
  ip link set "$WAN_BR" up
  ip route add unreachable 198.18.0.0/24
  ip -6 route add unreachable 2001:db8::/32 2>/dev/null || true
  ip netns add "$SWITCH"
  ip -n "$SWITCH" link add "$LAN_BR" type bridge
  ip -n "$SWITCH" link set "$LAN_BR" up

  add_ns internet
  wire internet eth0 "$WAN_BR" 198.51.100.254/24
  v6 internet eth0 2001:db8:0:1::254/64
  start_sshd internet
  start_services internet --tcp 80,443,8080 --udp 53

  add_ns router01
  wire router01 eth0 "$WAN_BR" 198.51.100.2/24
  wire router01 eth1 "$LAN_BR" 198.18.0.1/24
  v6 router01 eth0 2001:db8:0:1::2/64
  v6 router01 eth1 2001:db8:0:2::1/64
  ip -n "${NS}router01" route add default via 198.51.100.254
  ip -n "${NS}router01" -6 route add default via 2001:db8:0:1::254
  start_sshd router01
  record_host_key router01 198.51.100.2
  record_host_key router01 198.18.0.1
  start_services router01 --tcp 80,443

  internal_server web01 198.18.0.11
  v6 web01 eth0 2001:db8:0:2::11/64
  ip -n "${NS}web01" -6 route add default via 2001:db8:0:2::1
  start_services web01 --tcp 80
  internal_server web02 198.18.0.12
  v6 web02 eth0 2001:db8:0:2::12/64
  ip -n "${NS}web02" -6 route add default via 2001:db8:0:2::1
  start_services web02 --tcp 80

  for i in $(seq 1 "$servers"); do internal_server "$(printf 'srv%03d' "$i")" "198.18.0.$((19 + i))"; done
  for i in $(seq 1 "$wan_servers"); do wan_server "$(printf 'wan%03d' "$i")" "$i"; done

  wait_for_ssh
  [ "$debian" = 0 ] || debian_up "$debian"
  log "up: router01 198.51.100.2 (LAN 198.18.0.1), web01 198.18.0.11, web02 198.18.0.12, internet 198.51.100.254"
  [ "$servers" = 0 ] || log "     $servers more internal servers from 198.18.0.20"
  [ "$wan_servers" = 0 ] || log "     $wan_servers servers on the WAN bridge: 198.51.100.10 and up, and 2001:db8:0:1::1:1 and up"
  log "     operator key and known_hosts in $LAB/operator; try: npx fleet apply -i inventory/lab.yaml"
}

status() {
  for ns in $(lab_namespaces); do echo "$ns: $(ip netns pids "$ns" | wc -l) processes"; done
  debian_status
}

. "$ROOT/scripts/lab-debian.sh"

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  reboot) need_root; debian_reboot "${2:?usage: $0 reboot debNN}" ;;
  machine) debian_supervise "$2" "$3" ;;   # internal: the life of one Debian machine (debian_start)
  status) status ;;
  *) echo "usage: $0 up [--servers N] [--wan-servers N] [--debian N] | down | reboot debNN | status" >&2; exit 2 ;;
esac
