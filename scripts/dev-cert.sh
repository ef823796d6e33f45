#!/usr/bin/env bash
# Generate a self-signed development certificate (ECDSA P-256, CN and SAN
# localhost, 127.0.0.1, ::1) into DIR/cert.pem and DIR/key.pem, once.
# Prints the SPKI SHA-256 (base64) that Chromium's
# --ignore-certificate-errors-spki-list wants.
set -euo pipefail
dir=${1:?usage: dev-cert.sh DIR}
mkdir -p "$dir"
if [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 825 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
  chmod 600 "$dir/key.pem"
fi
openssl x509 -in "$dir/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64 > "$dir/spki.txt"
