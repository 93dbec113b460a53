#!/usr/bin/env bash
# OpenSSL's half of the remote-mode interop tests (tests/remote_interop.rs): signs a file
# through the pkcs11 engine (libp11) with a key held by `mhsm serve`, then verifies the
# signature with plain OpenSSL (no engine) against a public key from elsewhere (the SDK's).
#
# Usage: remote-openssl.sh MODULE KEY_URI DATA PUB.pem SIG_OUT
# The module's remote mode comes from the environment (MHSM_URL, MHSM_CA_FILE, MHSM_TOKEN).
# Needs openssl and libengine-pkcs11-openssl (tests/interop/pkcs11-consumers.sh installs them).
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: $0 MODULE KEY_URI DATA PUB.pem SIG_OUT" >&2
  exit 2
fi
MODULE=$1 URI=$2 DATA=$3 PUB=$4 SIG=$5
ENGINES_DIR=$(openssl version -e 2>/dev/null | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
[ -f "${ENGINES_DIR:-/usr/lib/x86_64-linux-gnu/engines-3}/pkcs11.so" ] || {
  echo "the OpenSSL pkcs11 engine is missing (apt-get install libengine-pkcs11-openssl)" >&2
  exit 1
}
export PKCS11_MODULE_PATH=$MODULE
echo "\$ openssl dgst -sha256 -engine pkcs11 -keyform engine -sign <uri> $DATA"
openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$URI" -out "$SIG" "$DATA"
echo "\$ openssl dgst -sha256 -verify $PUB -signature $SIG $DATA"
openssl dgst -sha256 -verify "$PUB" -signature "$SIG" "$DATA"
