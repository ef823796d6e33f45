#!/usr/bin/env bash
# Install, from Debian 12's own archive, whatever quicsteer needs and the
# machine lacks.  Idempotent: when nothing is missing it touches nothing.
#   deps.sh build   compilers and libraries
#   deps.sh test    + the peers and tools the test suite drives
#   deps.sh bench   + the servers and plotting the benchmarks compare against
set -euo pipefail

profile=${1:-build}
build=(build-essential cmake pkg-config clang-14 libclang-rt-14-dev llvm-14
       bpftool libbpf-dev libelf-dev zlib1g-dev
       libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev
       libgnutls28-dev nettle-dev libev-dev libcmocka-dev openssl iproute2 procps
       libnghttp2-dev libhttp-parser-dev media-types)
test=(python3 ngtcp2-client ngtcp2-server chromium curl nghttp2-client nginx-light nftables
      brotli)
bench=(caddy gnuplot-nox)

want=("${build[@]}")
case "$profile" in
  build) ;;
  test) want+=("${test[@]}") ;;
  bench) want+=("${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "quicsteer: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "quicsteer: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
