#!/usr/bin/env bash
# The README's two commands, for a fresh Debian 12 machine as root.
#   bash scripts/quickstart.sh run [SERVER OPTION]...
#       install what is missing, build, generate a dev certificate and run
#       quicsteer-server with its defaults (both address families, port 4433,
#       one worker per CPU, the bundled demo site).
#   bash scripts/quickstart.sh test
#       install what is missing (test peers too), build with ASan+UBSan and
#       run every test, then run the multi-worker tests again under TSan.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
jobs=$(nproc)

# run_ctest DIR [CTEST ARG]...: a skipped test fails the run.  The suite runs
# as root with every peer installed (deps.sh test), where BPF, network
# namespaces and the peers are all available: a skip there is a defect.
run_ctest() {
  local dir=$1 log
  shift
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure --timeout 600 "$@" | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  if grep -qE '\*\*\*Skipped|Not Run' "$log"; then
    echo "quicsteer: tests were skipped (see above): every test must run here" >&2
    rc=1
  fi
  rm -f "$log"
  return "$rc"
}

configure() { # DIR [CMAKE ARG]...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

case "${1:-}" in
  run)
    shift
    bash scripts/deps.sh build
    configure build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
    bash scripts/dev-cert.sh build/dev-cert
    exec build/release/src/server/quicsteer-server \
      --cert build/dev-cert/cert.pem --key build/dev-cert/key.pem "$@"
    ;;
  test)
    bash scripts/deps.sh test
    configure build/asan -DCMAKE_BUILD_TYPE=Debug -DQS_SANITIZE=ON -DQS_FUZZ=ON
    run_ctest build/asan
    configure build/tsan -DCMAKE_BUILD_TYPE=Debug -DQS_TSAN=ON
    run_ctest build/tsan -L tsan
    ;;
  *)
    echo "usage: bash scripts/quickstart.sh run [server options] | test" >&2
    exit 2
    ;;
esac
