#!/usr/bin/env bash
# Writes the certificates and keys the security tests use into __tests__/fixtures/tls/.
# They are test-only secrets, valid for 100 years so the committed copies never expire;
# rerun this script to replace them all.
set -euo pipefail
out="$(dirname "$0")/../__tests__/fixtures/tls"
mkdir -p "$out"
cd "$out"
days=36500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ca() { # name subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=$2" -keyout "$1-key.pem" -out "$1.pem" 2>/dev/null
}
leaf() { # name subject ca extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1-key.pem" -out "$work/$1.csr" 2>/dev/null
  printf '%s\n' "$4" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -CAcreateserial \
    -CAserial "$work/$3.srl" -days $days -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}

server_ext='subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'
client_ext='extendedKeyUsage=clientAuth'

ca ca 'follower-maze test CA'
ca other-ca 'follower-maze untrusted test CA'
leaf server 'follower-maze test server' ca "$server_ext"
leaf server-rotated 'follower-maze test server (rotated)' ca "$server_ext"
leaf source 'follower-maze test event source' ca "$client_ext"
leaf client 'follower-maze test client' ca "$client_ext"
leaf untrusted-source 'follower-maze untrusted event source' other-ca "$client_ext"
rm -f other-ca-key.pem

# JSON Web Token keys: an HS256 secret and one key pair per asymmetric algorithm.
openssl rand -hex 32 | tr -d '\n' >jwt-hs256.secret
openssl rand -hex 32 | tr -d '\n' >jwt-hs256-other.secret
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-rs256-key.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out jwt-es256-key.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out jwt-eddsa-key.pem 2>/dev/null
for alg in rs256 es256 eddsa; do
  openssl pkey -in "jwt-$alg-key.pem" -pubout -out "jwt-$alg-public.pem"
done
