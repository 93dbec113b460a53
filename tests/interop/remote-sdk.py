"""The Azure SDK for Python's half of the remote-mode interop tests (tests/remote_interop.rs).

Usage: remote-sdk.py COMMAND ARGS...
  create-ec NAME PUB.pem        creates an EC P-256 key; writes its public key (from the JWK)
  show NAME                     the key is in list_properties_of_keys; prints "listed NAME"
  sign NAME DIGEST_HEX SIG.der  signs the SHA-256 digest with CryptographyClient (ES256, by the
                                server) and checks the signature with the `cryptography`
                                package against the key's JWK; writes it DER-encoded
  deleted NAME                  the key is in list_deleted_keys; prints "deleted NAME"
  recover NAME                  begin_recover_deleted_key(NAME).wait()

Environment: MHSM_URL (vault URL), MHSM_CA (CA certificate), MHSM_SDK_TOKEN (the bearer token
the SDK's credential hands out). Prints "ok" last; exits non-zero on the first failure.
"""

import base64
import sys
import time

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.keyvault.keys import KeyClient, KeyCurveName
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    encode_dss_signature,
)
import os

URL = os.environ["MHSM_URL"]
CA = os.environ["MHSM_CA"]
TOKEN = os.environ.get("MHSM_SDK_TOKEN", "static-test-token")


class StaticToken:
    """A credential that hands out one fixed bearer token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)


CRED = StaticToken()
# An IP address never passes the SDK's challenge-resource check: turn it off.
OPTS = dict(connection_verify=CA, verify_challenge_resource=False)


def b64u_int(data):
    return int.from_bytes(data, "big")


def public_key(jwk):
    if jwk.crv != KeyCurveName.p_256:
        raise AssertionError(f"curve {jwk.crv}")
    numbers = ec.EllipticCurvePublicNumbers(b64u_int(jwk.x), b64u_int(jwk.y), ec.SECP256R1())
    return numbers.public_key()


def main(argv):
    keys = KeyClient(URL, CRED, **OPTS)
    cmd, args = argv[0], argv[1:]
    if cmd == "create-ec":
        name, out = args
        key = keys.create_ec_key(name, curve=KeyCurveName.p_256)
        pem = public_key(key.key).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with open(out, "wb") as f:
            f.write(pem)
    elif cmd == "show":
        (name,) = args
        names = [p.name for p in keys.list_properties_of_keys()]
        if name not in names:
            raise AssertionError(f"{name} not in {names}")
        print("listed", name)
    elif cmd == "sign":
        name, digest_hex, out = args
        digest = bytes.fromhex(digest_hex)
        key = keys.get_key(name)
        crypto = CryptographyClient(key, CRED, **OPTS)
        result = crypto.sign(SignatureAlgorithm.es256, digest)
        if result.key_id != key.id:
            raise AssertionError(f"signed by {result.key_id}, not {key.id}")
        sig = result.signature
        if len(sig) != 64:
            raise AssertionError(f"signature of {len(sig)} bytes")
        der = encode_dss_signature(b64u_int(sig[:32]), b64u_int(sig[32:]))
        # Raises InvalidSignature unless it verifies against the key's JWK.
        public_key(key.key).verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        with open(out, "wb") as f:
            f.write(der)
        print("verified", name)
    elif cmd == "deleted":
        (name,) = args
        names = [k.name for k in keys.list_deleted_keys()]
        if name not in names:
            raise AssertionError(f"{name} not in the deleted keys {names}")
        print("deleted", name)
    elif cmd == "recover":
        (name,) = args
        recovered = keys.begin_recover_deleted_key(name).result()
        if recovered.name != name:
            raise AssertionError(f"recovered {recovered.name}")
        keys.get_key(name)
        print("recovered", name)
    else:
        raise SystemExit(f"unknown command {cmd}")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
