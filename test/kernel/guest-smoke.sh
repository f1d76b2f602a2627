#!/usr/bin/env bash
# Guest-side smoke test of the native nft backend's building blocks (run as root inside the kernel
# test guest: bash test/kernel/run-in-guest.sh bash test/kernel/guest-smoke.sh). In a namespace of
# its own: a native nftables `queue flags bypass` rule on an input hook, a node consumer using the
# project's nfqueue package that accepts and counts packets, pings to the namespace's own address;
# then the consumer is killed and the same pings must still pass (fail-open bypass).
set -euo pipefail

project="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
queue=7
pings=5
addr=192.0.2.1                      # TEST-NET-1, only ever inside the namespace
ns="nfqwall-smoke-$$"
scratch="$(mktemp -d /tmp/nfqwall-smoke.XXXXXX)"
consumer_pid=

say() { echo "smoke: $*"; }
fail() { echo "smoke: FAIL: $*" >&2; [ -f "$scratch/consumer.out" ] && sed 's/^/  consumer: /' "$scratch/consumer.out" >&2; exit 1; }
cleanup() {
  [ -n "$consumer_pid" ] && kill -KILL "$consumer_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root"
[ "${NFQWALL_IN_GUEST:-}" = 1 ] || say "warning: NFQWALL_IN_GUEST is not set; the native queue expression may be missing here"
say "kernel $(uname -r), $(nft --version)"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add smoke0 type veth peer name smoke1
ip -n "$ns" addr add "$addr/24" dev smoke0
ip -n "$ns" link set smoke0 up
ip -n "$ns" link set smoke1 up

cat >"$scratch/ruleset.nft" <<EOF
table inet nfqwall_smoke {
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr $addr icmp type echo-request queue flags bypass to $queue
  }
}
EOF
# nft -c: the ruleset parses and the kernel accepts it (checked in a transaction that is not committed).
ip netns exec "$ns" nft -c -f "$scratch/ruleset.nft" || fail "nft -c rejected the native queue rule"
ip netns exec "$ns" nft -f "$scratch/ruleset.nft" || fail "nft -f rejected the native queue rule"
listing="$(ip netns exec "$ns" nft list ruleset)"
echo "$listing" | sed 's/^/  /'
grep -q "queue flags bypass to $queue" <<<"$listing" || fail "nft list ruleset shows no native queue rule"
grep -q "xt target" <<<"$listing" && fail "the rule went through the xtables compatibility layer"

# The consumer: accept everything, count, print the count on SIGTERM.
cat >"$scratch/consumer.js" <<'EOF'
const nfq = require(process.env.NFQUEUE_MODULE);
let count = 0;
nfq.createQueueHandler(Number(process.env.QUEUE), 65535, (p) => {
  count++;
  p.setVerdict(nfq.NF_ACCEPT);
});
console.log('ready');
process.on('SIGTERM', () => { console.log(`count ${count}`); process.exit(0); });
setTimeout(() => { console.log(`count ${count}`); process.exit(2); }, 60000).unref();
setInterval(() => {}, 1000);
EOF
NFQUEUE_MODULE="$project/node_modules/nfqueue" QUEUE="$queue" \
  ip netns exec "$ns" node "$scratch/consumer.js" >"$scratch/consumer.out" 2>&1 &
consumer_pid=$!
for _ in $(seq 300); do                                   # up to 30 s: node starts slowly under emulation
  grep -qx ready "$scratch/consumer.out" && break
  kill -0 "$consumer_pid" 2>/dev/null || fail "consumer exited early"
  sleep 0.1
done
grep -qx ready "$scratch/consumer.out" || fail "consumer not ready after 30 s"

ip netns exec "$ns" ping -n -q -c "$pings" -i 0.2 -W 2 "$addr" || fail "pings through the queue failed"
kill -TERM "$consumer_pid"
wait "$consumer_pid" || fail "consumer exited non-zero"
consumer_pid=
count="$(sed -n 's/^count //p' "$scratch/consumer.out")"
[ "$count" = "$pings" ] || fail "consumer judged ${count:-no} packets, expected $pings"
say "consumer judged $count packets through native queue $queue"

# No consumer bound: with `flags bypass` the packets pass instead of being dropped.
ip netns exec "$ns" ping -n -q -c 2 -i 0.2 -W 2 "$addr" || fail "pings with no consumer failed (bypass)"
say "bypass passes packets with no consumer"
say "ok"
