"""Drives a running mhsm server's administration API with the official Azure SDK for Python:
settings, full backup, full restore, selective key restore, key rotation policies.

Environment: MHSM_URL, MHSM_CA, MHSM_VERIFY_RESOURCE (as sdk_keys.py).
"""

import os
import sys
import time

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.keyvault.administration import (
    KeyVaultBackupClient,
    KeyVaultSetting,
    KeyVaultSettingsClient,
)
from azure.keyvault.keys import (
    KeyClient,
    KeyRotationLifetimeAction,
    KeyRotationPolicy,
    KeyRotationPolicyAction,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

URL = os.environ["MHSM_URL"]
CA = os.environ["MHSM_CA"]
VERIFY_RESOURCE = os.environ.get("MHSM_VERIFY_RESOURCE") == "1"


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("static-test-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        return AccessTokenInfo("static-test-token", int(time.time()) + 3600)


CRED = StaticToken()
OPTS = dict(connection_verify=CA, verify_challenge_resource=VERIFY_RESOURCE)
STORAGE = "https://mhsmtest.blob.core.windows.net/backups"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def main():
    settings = KeyVaultSettingsClient(URL, CRED, **OPTS)
    names = {s.name: s for s in settings.list_settings()}
    check("AllowKeyManagementOperationsThroughARM" in names, "list settings")
    updated = settings.update_setting(KeyVaultSetting(name="AllowKeyManagementOperationsThroughARM", value=True))
    check(updated.getboolean() is True, "update a setting")
    check(settings.get_setting("AllowKeyManagementOperationsThroughARM").getboolean() is True, "get a setting")

    keys = KeyClient(URL, CRED, **OPTS)
    keys.create_ec_key("adm-a")
    keys.create_rsa_key("adm-b", size=2048)
    policy = KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P30D")],
        expires_in="P90D",
    )
    set_policy = keys.update_key_rotation_policy("adm-a", policy)
    check(set_policy.expires_in == "P90D", "set a rotation policy")
    got = keys.get_key_rotation_policy("adm-a")
    action = got.lifetime_actions[0]
    check(action.action == KeyRotationPolicyAction.rotate and action.time_after_create == "P30D", "get the rotation policy")
    default = keys.get_key_rotation_policy("adm-b")
    check(default.lifetime_actions[0].action == KeyRotationPolicyAction.notify, "default rotation policy")
    try:
        keys.update_key_rotation_policy(
            "adm-a",
            KeyRotationPolicy(lifetime_actions=[KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P1D")]),
        )
        check(False, "a too-early rotation is refused")
    except HttpResponseError as e:
        check(e.status_code == 400, "a too-early rotation is refused")

    backup = KeyVaultBackupClient(URL, CRED, **OPTS)
    poller = backup.begin_backup(STORAGE, sas_token="sv=anything")
    result = poller.result()
    check(result.folder_url.startswith(STORAGE + "/mhsm-"), f"full backup ({result.folder_url})")

    original = keys.get_key("adm-a")
    keys.begin_delete_key("adm-a").wait()
    keys.purge_deleted_key("adm-a")
    keys.create_ec_key("adm-after")
    backup.begin_restore(result.folder_url, sas_token="sv=anything").wait()
    check(keys.get_key("adm-a").id == original.id, "full restore brings a purged key back")
    try:
        keys.get_key("adm-after")
        check(False, "full restore removes keys made after the backup")
    except ResourceNotFoundError:
        check(True, "full restore removes keys made after the backup")

    keys.begin_delete_key("adm-b").wait()
    keys.purge_deleted_key("adm-b")
    backup.begin_restore(result.folder_url, sas_token="sv=anything", key_name="adm-b").wait()
    check(keys.get_key("adm-b").name == "adm-b", "selective key restore")

    # As the SDK's own live test: a key that still exists, restored selectively from a
    # full backup (the service replaces it with the backup's versions), then deleted. The
    # second backup's poller is resumed from its continuation token, which needs the job
    # still running at the first poll; two backups get two folders.
    live = keys.create_rsa_key("adm-live")
    started = backup.begin_backup(STORAGE, sas_token="sv=anything")
    token = started.continuation_token()
    resumed = backup.begin_backup(STORAGE, sas_token="sv=anything", continuation_token=token)
    live_backup = resumed.result()
    check(live_backup.folder_url != result.folder_url, "two backups, two folders")
    rotated = keys.rotate_key("adm-live")
    check(rotated.properties.version != live.properties.version, "rotated after the backup")
    backup.begin_restore(live_backup.folder_url, sas_token="sv=anything", key_name="adm-live").wait()
    check(keys.get_key("adm-live").properties.version == live.properties.version, "selective restore of a live key")
    keys.begin_delete_key("adm-live").wait()

    try:
        backup.begin_restore(STORAGE + "/no-such-folder", sas_token="x").result()
        check(False, "restoring a missing folder fails")
    except HttpResponseError as e:
        check("no backup" in str(e) or e.status_code in (400, None), "restoring a missing folder fails")
    print("all admin SDK checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print("FAILED:", type(e).__name__, e, file=sys.stderr)
        raise
