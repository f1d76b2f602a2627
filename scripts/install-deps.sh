#!/usr/bin/env bash
# Installs what nfqwall needs on Debian (run as root): the kernel tools it drives, the headers its
# native bindings build against, and the tools its tests and lab use. Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  nftables iptables iproute2 conntrack           # steering and the lab
  libnetfilter-queue-dev libpcap-dev             # headers for the nfqueue and cap bindings
  build-essential python3                        # node-gyp
  iputils-ping iperf3 socat tcpdump tshark       # lab traffic and capture checks
  systemd                                        # systemd-analyze verify of the unit file
  etcd-server                                    # the fleet datastore tests run a real etcd on loopback
)
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs npm); fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("nfqwall needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'
