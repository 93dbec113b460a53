"""Drives a running mhsm server with the official Azure SDK for Python.

Environment: MHSM_URL (vault URL), MHSM_CA (CA certificate), MHSM_VERIFY_RESOURCE (1 to keep
the SDK's challenge-resource check on). Exits non-zero on the first failure.

The SDK's CryptographyClient performs RSA verify, encrypt and wrap locally after fetching the
key; those are also called through the SDK's generated REST client so the server does them.
"""

import base64
import hashlib
import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import KeyClient, KeyType, KeyCurveName
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)

URL = os.environ["MHSM_URL"]
CA = os.environ["MHSM_CA"]
VERIFY_RESOURCE = os.environ.get("MHSM_VERIFY_RESOURCE") == "1"
PREFIX = os.environ.get("MHSM_PREFIX", "py")


class StaticToken:
    """A credential that hands out one fixed bearer token (mhsm accepts any)."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("static-test-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("static-test-token", int(time.time()) + 3600)


CRED = StaticToken()
OPTS = dict(connection_verify=CA, verify_challenge_resource=VERIFY_RESOURCE)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    keys = KeyClient(URL, CRED, **OPTS)
    rsa_name, ec_name, oct_name = f"{PREFIX}-rsa", f"{PREFIX}-ec", f"{PREFIX}-oct"

    rsa = keys.create_rsa_key(rsa_name, size=2048, tags={"team": "a"})
    check(rsa.key_type == KeyType.rsa_hsm and rsa.properties.tags == {"team": "a"}, "create RSA with tags")
    ec = keys.create_ec_key(ec_name, curve=KeyCurveName.p_256)
    check(ec.key.crv == KeyCurveName.p_256, "create EC P-256")
    oct_key = keys.create_oct_key(oct_name, size=256, hardware_protected=True)
    check(oct_key.key_type == KeyType.oct_hsm, "create oct-HSM")

    got = keys.get_key(rsa_name)
    check(got.id == rsa.id and got.key.n == rsa.key.n, "get latest")
    check(keys.get_key(rsa_name, rsa.properties.version).id == rsa.id, "get version")
    names = {p.name for p in keys.list_properties_of_keys()}
    check({rsa_name, ec_name, oct_name} <= names, "list keys")

    expires = int(time.time()) + 86400
    import datetime

    updated = keys.update_key_properties(
        ec_name,
        enabled=False,
        tags={"state": "off"},
        expires_on=datetime.datetime.fromtimestamp(expires, tz=datetime.timezone.utc),
    )
    check(not updated.properties.enabled and updated.properties.tags == {"state": "off"}, "update: disable, tags")
    check(int(updated.properties.expires_on.timestamp()) == expires, "update: expiry")
    keys.update_key_properties(ec_name, enabled=True)

    digest = hashlib.sha256(b"message").digest()
    for name, alg in [
        (rsa_name, SignatureAlgorithm.rs256),
        (rsa_name, SignatureAlgorithm.ps256),
        (ec_name, SignatureAlgorithm.es256),
    ]:
        crypto = CryptographyClient(keys.get_key(name), CRED, **OPTS)
        signed = crypto.sign(alg, digest)
        check(crypto.verify(alg, digest, signed.signature).is_valid, f"sign+verify {alg}")
        # The server's own verify, through the SDK's generated client.
        remote = keys._client.verify(
            name, "", {"alg": alg.value, "digest": b64u(digest), "value": b64u(signed.signature)}
        )
        check(remote.value is True, f"server verify {alg}")
        bad = keys._client.verify(
            name, "", {"alg": alg.value, "digest": b64u(hashlib.sha256(b"other").digest()), "value": b64u(signed.signature)}
        )
        check(bad.value is False, f"server refuses a wrong digest {alg}")

    rsa_crypto = CryptographyClient(keys.get_key(rsa_name), CRED, **OPTS)
    enc = rsa_crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"secret")
    check(rsa_crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, enc.ciphertext).plaintext == b"secret", "RSA-OAEP-256")
    remote = keys._client.encrypt(rsa_name, "", {"alg": "RSA-OAEP-256", "value": b64u(b"server side")})
    check(rsa_crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, remote.result).plaintext == b"server side", "server RSA-OAEP-256 encrypt")

    oct_crypto = CryptographyClient(oct_key.id, CRED, **OPTS)
    enc = oct_crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"gcm data", additional_authenticated_data=b"aad")
    check(len(enc.iv) == 12 and len(enc.tag) == 16, "A256GCM iv and tag")
    dec = oct_crypto.decrypt(
        EncryptionAlgorithm.a256_gcm,
        enc.ciphertext,
        iv=enc.iv,
        authentication_tag=enc.tag,
        additional_authenticated_data=b"aad",
    )
    check(dec.plaintext == b"gcm data", "A256GCM")
    # A256CBC, as the service does it: a partial block is zero-padded, and decryption
    # returns the padded plaintext.
    iv = os.urandom(16)
    cbc = oct_crypto.encrypt(EncryptionAlgorithm.a256_cbc, b"five!", iv=iv)
    check(len(cbc.ciphertext) == 16, "A256CBC zero-pads a partial block")
    dec = oct_crypto.decrypt(EncryptionAlgorithm.a256_cbc, cbc.ciphertext, iv=iv)
    check(dec.plaintext == b"five!" + bytes(11), "A256CBC decrypts to the padded plaintext")

    cek = os.urandom(32)
    wrapped = rsa_crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, cek)
    check(rsa_crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == cek, "wrap RSA-OAEP-256")
    remote = keys._client.wrap_key(oct_name, "", {"alg": "A256KW", "value": b64u(cek)})
    unwrapped = keys._client.unwrap_key(oct_name, "", {"alg": "A256KW", "value": b64u(remote.result)})
    check(unwrapped.result == cek and len(remote.result) == 40, "wrap A256KW on the server")

    rnd = keys.get_random_bytes(32) if hasattr(keys, "get_random_bytes") else None
    check(rnd is not None and len(rnd) == 32, "random bytes")

    poller = keys.begin_delete_key(ec_name)
    deleted = poller.result()
    poller.wait()
    check(deleted.recovery_id.endswith(f"/deletedkeys/{ec_name}"), "delete")
    check(ec_name in {d.name for d in keys.list_deleted_keys()}, "list deleted")
    recovered = keys.begin_recover_deleted_key(ec_name).result()
    check(recovered.name == ec_name and keys.get_key(ec_name).id == recovered.id, "recover")

    keys.begin_delete_key(oct_name).wait()
    keys.purge_deleted_key(oct_name)
    try:
        keys.get_deleted_key(oct_name)
        check(False, "purged key is gone")
    except ResourceNotFoundError:
        check(True, "purge")

    backup = keys.backup_key(rsa_name)
    keys.begin_delete_key(rsa_name).wait()
    keys.purge_deleted_key(rsa_name)
    restored = keys.restore_key_backup(backup)
    check(restored.name == rsa_name and restored.key.n == rsa.key.n, "backup, purge, restore")

    rotated = keys.rotate_key(rsa_name)
    check(rotated.properties.version != rsa.properties.version, "rotate")
    versions = list(keys.list_properties_of_key_versions(rsa_name))
    check(len(versions) == 2, "list versions")

    from cryptography.hazmat.primitives.asymmetric import ec as cec

    local = cec.generate_private_key(cec.SECP256R1())
    nums = local.private_numbers()
    from azure.keyvault.keys import JsonWebKey

    jwk = JsonWebKey(
        kty=KeyType.ec_hsm,
        crv=KeyCurveName.p_256,
        d=nums.private_value.to_bytes(32, "big"),
        x=nums.public_numbers.x.to_bytes(32, "big"),
        y=nums.public_numbers.y.to_bytes(32, "big"),
        key_ops=["sign", "verify"],
    )
    imported = keys.import_key(f"{PREFIX}-imported", jwk)
    check(imported.key.x == jwk.x, "import a local EC key")

    try:
        keys.get_key(f"{PREFIX}-missing")
        check(False, "unknown key")
    except ResourceNotFoundError:
        check(True, "unknown key is ResourceNotFoundError")
    try:
        CryptographyClient(keys.get_key(ec_name), CRED, **OPTS).sign("ES999", digest)
        check(False, "unknown algorithm")
    except (HttpResponseError, ValueError) as e:
        status = getattr(e, "status_code", None)
        check(status in (400, None), f"unknown algorithm refused ({type(e).__name__} {status})")
    print("all SDK checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        print("FAILED:", type(e).__name__, e, file=sys.stderr)
        raise
