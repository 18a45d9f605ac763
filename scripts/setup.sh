#!/usr/bin/env bash
# Install everything stacklab needs, idempotently: Debian/Ubuntu packages, then a
# virtual environment that sees Debian's mininet (system site packages) with the
# project installed into it. Safe to run again; it only does what is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv="${STACKLAB_VENV:-$here/.venv}"

# Each package and the command that proves it is there.
packages=(
  openvswitch-switch:ovs-vswitchd
  mininet:mnexec
  net-tools:ifconfig
  iproute2:ip
  iputils-ping:ping
  ethtool:ethtool
  dnsmasq-base:dnsmasq
  haproxy:haproxy
  keepalived:keepalived
  ovn-central:ovn-northd
  ovn-host:ovn-controller
  dropbear-bin:dropbear
  openssh-client:ssh
  busybox:busybox
  iptables:iptables
  tcpdump:tcpdump
  procps:ps
  socat:socat
  curl:curl
  openssl:openssl
  graphviz:dot
  python3-venv:
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (sudo make ...): stacklab installs packages and builds network namespaces" >&2
  exit 1
fi

missing=()
for entry in "${packages[@]}"; do
  pkg=${entry%%:*}
  cmd=${entry#*:}
  if [ -n "$cmd" ] && PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && continue
  missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps the VM small; policy-rc.d stops the packages'
  # own services (root-namespace OVS, haproxy) from being started on install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.stacklab
  chmod +x /usr/sbin/policy-rc.d.stacklab
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    cp /usr/sbin/policy-rc.d.stacklab /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.stacklab' EXIT
  else
    trap 'rm -f /usr/sbin/policy-rc.d.stacklab' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # OVN runs inside the labs' nodes only: the packages' own units, enabled on install, would start
  # OVN's databases and ovn-controller in the machine's own namespace at the next boot
  # (keepalived too: it runs in the labs' HA routers only)
  if [[ " ${missing[*]} " == *" ovn-"* || " ${missing[*]} " == *" keepalived "* ]] && command -v systemctl >/dev/null 2>&1; then
    for unit in ovn-central ovn-host ovn-northd ovn-controller ovn-ovsdb-server-nb ovn-ovsdb-server-sb keepalived; do
      systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# Debian's mininet is installed for /usr/bin/python3; the venv must see it.
# Where Debian's pip is installed the venv uses it (it sees the system's site
# packages): copying a pip into the venv is a minute's work in an emulated VM.
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating virtual environment $venv"
  if /usr/bin/python3 -c "import pip" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages --without-pip "$venv"
  else
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
fi

stamp="$venv/.stacklab-installed"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  echo "setup: installing stacklab and its Python dependencies into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$here[test]"
  touch "$stamp"
fi

# The parts stacklab imports (scapy's probe layers, not scapy.all: ten seconds in an emulated VM).
"$venv/bin/python" -c "import mininet.node, os_ken.base.app_manager, scapy.layers.dhcp, scapy.sendrecv, yaml, graphviz" \
  || { echo "setup: the virtual environment cannot import mininet/os_ken/scapy/yaml/graphviz" >&2; exit 1; }

# `stacklab` on the PATH (sudo's secure_path has /usr/local/bin), as a package
# would put it. A stacklab there that is not a link to a checkout's venv that
# still exists is left alone; stacklab's messages name the command that works.
link=/usr/local/bin/stacklab
if [ "$(id -u)" = 0 ] && { [ ! -e "$link" ] || { [ -L "$link" ] && [ ! -e "$(readlink -f "$link")" ]; }; }; then
  ln -sfn "$venv/bin/stacklab" "$link" && echo "setup: $link -> $venv/bin/stacklab"
fi
