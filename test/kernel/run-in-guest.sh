#!/usr/bin/env bash
# Usage: run-in-guest.sh CMD [ARG...]
# Boots the kernel prepared by prepare.sh under qemu (software emulation), runs CMD chrooted into this
# machine's root (read-only; /tmp, /run, /var/tmp are the guest's own tmpfs) from the current folder,
# streams CMD's output, and exits with CMD's exit status. On failure the guest console log is printed.
# Environment: NFQWALL_GUEST_TIMEOUT (seconds, default 900), NFQWALL_GUEST_KEEP=1 keeps the work folder,
# NFQWALL_QEMU_EXTRA adds qemu arguments (word-split).
# Every NFQWALL_* and CI variable is passed on to CMD, which also sees NFQWALL_IN_GUEST=1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/cache/current"
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
if [ ! -f "$build/initrd.img" ] || [ ! -f "$build/vmlinuz" ]; then
  echo "run-in-guest: no guest kernel; run test/kernel/prepare.sh first" >&2
  exit 2
fi
timeout_s="${NFQWALL_GUEST_TIMEOUT:-900}"

work="$(mktemp -d /tmp/nfqwall-guest.XXXXXX)"
qemu_pid=
tail_pid=
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
  if [ "${NFQWALL_GUEST_KEEP:-}" = 1 ]; then echo "run-in-guest: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command file the guest's /init runs with bash inside the chroot: same folder, same arguments.
{
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  # HOME on tmpfs: the host root is read-only in the guest, and tools such as npm write under HOME.
  echo 'export HOME=/tmp/home LANG=C.UTF-8 NFQWALL_IN_GUEST=1 NFQWALL_GUEST_WORK=/run/nfqwall-guest'
  echo 'mkdir -p "$HOME"'
  while IFS= read -r name; do
    printf 'export %s=%q\n' "$name" "${!name}"
  done < <(compgen -e | grep -E '^(NFQWALL_[A-Z0-9_]+|CI)$' | grep -vx -e NFQWALL_IN_GUEST -e NFQWALL_GUEST_WORK || true)
  printf 'cd %q || exit 126\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$work/cmd.sh"
: >"$work/output"
printf '%s' "$PWD" >"$work/cwd"
log="$work/console.log"

start=$(date +%s)
# -cpu max: emulating the host's instruction set extensions measured faster for node than qemu64.
# No NIC: the guest needs no network, and -nic none also spares loading an option ROM.
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
  -m 2048 -smp 2 -nographic -no-reboot \
  -cpu max ${NFQWALL_QEMU_EXTRA:-} \
  -kernel "$build/vmlinuz" -initrd "$build/initrd.img" \
  -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$work,mount_tag=work,security_model=none" \
  -nic none -serial "file:$log" -monitor none \
  </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
# CMD's output arrives through the work share; show it as it comes.
tail -n +1 -f --pid="$qemu_pid" "$work/output" &
tail_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
elapsed=$(($(date +%s) - start))

rc=125
if [ -s "$work/exit-code" ]; then rc="$(tr -dc '0-9' <"$work/exit-code")"; rc="${rc:-125}"; fi
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
  echo "run-in-guest: timed out after ${timeout_s} s" >&2
  rc=124
elif [ "$qemu_rc" != 0 ]; then
  echo "run-in-guest: qemu exited $qemu_rc" >&2
  [ "$rc" != 0 ] || rc=125
fi
if [ "$rc" != 0 ]; then
  echo "run-in-guest: exit status $rc after ${elapsed} s; guest console:" >&2
  # SeaBIOS clears the screen with escape sequences; drop them from the log.
  sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/^/  | /' "$log" >&2 || true
  [ -s "$work/qemu.out" ] && sed 's/^/  qemu: /' "$work/qemu.out" >&2
else
  echo "run-in-guest: ok after ${elapsed} s" >&2
fi
exit "$rc"
