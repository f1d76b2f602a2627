#!/usr/bin/env bash
# Prepares the kernel test stage (run as root; safe to run again): installs qemu, busybox, cpio and
# kmod, fetches the kernel that Debian's linux-image-amd64 currently depends on, and builds a small
# initramfs whose /init loads the netfilter modules, mounts the host's root (read-only) and a work
# folder over 9p, and runs a command chrooted into the host root. Everything lands in cache/ beside
# this script (git-ignored); a second run with the same kernel and the same script does nothing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/cache"
mkdir -p "$cache"

# One prepare at a time (a mocha run and a manual run may race on the cache).
exec 9>"$cache/.lock"
flock -w 600 9 || { echo "prepare: cache lock busy for 600 s" >&2; exit 1; }

log() { echo "prepare: $*" >&2; }

# --- host packages -----------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x modprobe >/dev/null || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v depmod >/dev/null 2>&1 || [ -x /sbin/depmod ] || need+=(kmod)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "must run as root to install: ${need[*]}"; exit 1; }
  log "installing ${need[*]}"
  # The package lists are refreshed only when the install cannot find something with the ones we have.
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
# busybox-static's binary: it must be static, it runs as PID 1 before any library is reachable.
busybox=/bin/busybox
if ldd "$busybox" >/dev/null 2>&1; then log "$busybox is not static (is busybox installed instead of busybox-static?)"; exit 1; fi
depmod="$(command -v depmod || echo /sbin/depmod)"

# --- kernel package --------------------------------------------------------------------------
resolve_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1; }
pkg="$(resolve_pkg)"
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg="$(resolve_pkg)"
fi
[ -n "$pkg" ] || { log "cannot resolve the package linux-image-amd64 depends on"; exit 1; }
kver="${pkg#linux-image-}"                       # e.g. 6.1.0-56-amd64, also the modules folder name
kdir="$cache/kernel-$kver"

download() {
  rm -rf "$cache/debs"
  mkdir -p "$cache/debs"
  # apt-get download runs unsandboxed as root; saying so keeps apt from warning about _apt.
  (cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
}
if [ ! -f "$kdir/.unpacked" ]; then
  rm -rf "$kdir" "$kdir.tmp"
  log "downloading $pkg"
  if ! download; then
    # Stale package lists name a version the mirror no longer has.
    apt-get update -qq
    pkg="$(resolve_pkg)"
    kver="${pkg#linux-image-}"
    kdir="$cache/kernel-$kver"
    rm -rf "$kdir" "$kdir.tmp"
    log "downloading $pkg"
    download
  fi
  deb="$(ls "$cache"/debs/"$pkg"_*.deb | head -n1)"
  log "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$kdir.tmp"
  mv "$kdir.tmp" "$kdir"
  touch "$kdir/.unpacked"
  rm -rf "$cache/debs"                           # the unpacked tree is all we use
fi
# Earlier kernels' trees and builds are dead weight once Debian moves on.
shopt -s nullglob
for old in "$cache"/kernel-* "$cache"/build-*; do
  [ "$old" = "$kdir" ] || [ "$old" = "$cache/build-$kver" ] || rm -rf "$old"
done
shopt -u nullglob

vmlinuz="$(ls "$kdir"/boot/vmlinuz-* | head -n1)"
moddir="$kdir/lib/modules/$kver"
[ -d "$moddir/kernel" ] || { log "no modules in $moddir"; exit 1; }

# --- initramfs -------------------------------------------------------------------------------
# Module folders copied whole, so that netfilter matches and expressions the tests may need later
# are there for the kernel's own on-demand loading (request_module runs /sbin/modprobe in the
# initramfs root, not in the chroot).
module_dirs=(kernel/net kernel/fs/9p kernel/fs/netfs kernel/fs/fscache kernel/drivers/virtio kernel/lib kernel/crypto)
module_files=(kernel/drivers/net/veth.ko kernel/drivers/net/dummy.ko)
# Protocol families no test uses: about a third of kernel/net, left out to keep the initramfs small.
module_prune=(kernel/net/{wireless,mac80211,bluetooth,sunrpc,ceph,rxrpc,nfc,batman-adv,tipc})
# Loaded at boot, in this order, after crc32c_generic (see init below).
boot_modules="virtio_pci 9pnet_virtio 9p veth dummy nf_tables nft_queue nfnetlink_queue nf_conntrack nft_ct nf_nat nft_chain_nat"

build="$cache/build-$kver"
stamp="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)-$(sha256sum "$busybox" | cut -c1-16)"
if [ -f "$build/initrd.img" ] && [ "$(cat "$build/stamp" 2>/dev/null)" = "$stamp" ]; then
  log "cached: kernel $kver, $(du -h "$build/initrd.img" | cut -f1) initramfs"
else
  log "building initramfs for $kver"
  rm -rf "$build" "$build.tmp"
  root="$build.tmp/root"
  mkdir -p "$root"/{bin,sbin,dev,proc,sys,host,work,lib/modules/"$kver"}
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  # The kernel calls /sbin/modprobe for on-demand module loading.
  ln -sf ../bin/busybox "$root/sbin/modprobe"
  for d in "${module_dirs[@]}"; do
    [ -d "$moddir/$d" ] || { log "missing module folder $d"; exit 1; }
    mkdir -p "$root/lib/modules/$kver/$(dirname "$d")"
    cp -a "$moddir/$d" "$root/lib/modules/$kver/$d"
  done
  for d in "${module_prune[@]}"; do rm -rf "${root:?}/lib/modules/$kver/$d"; done
  for f in "${module_files[@]}"; do
    [ -f "$moddir/$f" ] || { log "missing module $f"; exit 1; }
    mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
    cp -a "$moddir/$f" "$root/lib/modules/$kver/$f"
  done
  for f in modules.builtin modules.builtin.modinfo modules.order; do
    if [ -f "$moddir/$f" ]; then cp "$moddir/$f" "$root/lib/modules/$kver/"; fi
  done
  # The package ships no modules.dep; busybox modprobe needs it (and modules.alias for nft-expr-* requests).
  "$depmod" -b "$root" "$kver"

  cat >"$root/init" <<EOF
#!/bin/sh
# PID 1 of the kernel test guest. Output goes to the serial console (the harness's log file).
export PATH=/sbin:/bin
say() { echo "nfqwall-guest: \$*"; }
finish() { sync; say "poweroff"; poweroff -f; sleep 5; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# busybox modprobe ignores softdeps: libcrc32c needs a crc32c provider loaded first, otherwise
# nf_tables fails with "Unknown symbol".
modprobe crc32c_generic || say "modprobe crc32c_generic failed"
for m in $boot_modules; do
  modprobe "\$m" || say "modprobe \$m failed"
done

# msize: the 6.1 default of 8 KiB makes reading node and node_modules slow (the kernel caps the
# 512 KiB asked for at 512000). cache=loose on the read-only host root lets the guest keep what it
# has read (the host does not change it under a test run).
opts=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o "\$opts",cache=loose,ro host /host || { say "cannot mount the host share"; finish; }
mount -t 9p -o "\$opts" work /work || { say "cannot mount the work share"; finish; }
echo 125 >/work/exit-code
# A live system inside the read-only host root: kernel filesystems and writable scratch space.
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
# The caller's folder may live under a path the tmpfs mounts below hide (a CI clone under /tmp):
# keep a bind of it aside and put it back on top afterwards.
cwd=""
[ -s /work/cwd ] && cwd=\$(cat /work/cwd)
case "\$cwd" in
  /tmp/*|/run/*|/var/tmp/*) mkdir -p /saved-cwd && mount -o bind "/host\$cwd" /saved-cwd || cwd="" ;;
  *) cwd="" ;;
esac
for d in /tmp /run /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "/host\$d"; done
if [ -n "\$cwd" ]; then
  mkdir -p "/host\$cwd" && mount -o bind /saved-cwd "/host\$cwd" || say "cannot show \$cwd in the guest"
fi
mkdir -p /host/run/nfqwall-guest
mount -o bind /work /host/run/nfqwall-guest

ip link set lo up

say "kernel \$(uname -r) ready"
if [ "\$#" -gt 0 ]; then
  # A command given on the kernel command line after "--".
  chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp NFQWALL_IN_GUEST=1 "\$@" >/work/output 2>&1 </dev/null
else
  chroot /host /bin/bash /run/nfqwall-guest/cmd.sh >/work/output 2>&1 </dev/null
fi
rc=\$?
say "command exited \$rc"
echo "\$rc" >/work/exit-code
umount /host/run/nfqwall-guest 2>/dev/null
finish
EOF
  chmod 755 "$root/init"

  # Uncompressed: the guest then needs no decompression pass, which is slow under emulation.
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$build.tmp/initrd.img"
  cp "$vmlinuz" "$build.tmp/vmlinuz"
  rm -rf "$root"
  echo "$stamp" >"$build.tmp/stamp"
  mv "$build.tmp" "$build"
  log "built: kernel $kver, $(du -h "$build/initrd.img" | cut -f1) initramfs"
fi

# What run-in-guest.sh boots.
ln -sfn "build-$kver" "$cache/current"
echo "$kver" >"$cache/current-kernel"
