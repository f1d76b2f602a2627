#!/bin/sh
# Build the C baselines into bench/baseline/build/ (git-ignored).
# Needs a C compiler and libnetfilter-queue-dev (libnetfilter_queue + libnfnetlink).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"
mkdir -p "$out"
cc=${CC:-cc}
cflags="-O2 -Wall -Wextra -Werror ${CFLAGS:-}"
if pkg-config --exists libnetfilter_queue 2>/dev/null; then
  nfq_cflags=$(pkg-config --cflags libnetfilter_queue)
  nfq_libs=$(pkg-config --libs libnetfilter_queue)
else
  nfq_cflags=
  nfq_libs="-lnetfilter_queue -lnfnetlink"
fi
# shellcheck disable=SC2086 # flag lists are meant to split
$cc $cflags $nfq_cflags -o "$out/nfq-accept" "$here/nfq-accept.c" $nfq_libs
# shellcheck disable=SC2086
$cc $cflags -o "$out/tcp-connrate" "$here/tcp-connrate.c"
echo "built $out/nfq-accept $out/tcp-connrate"
