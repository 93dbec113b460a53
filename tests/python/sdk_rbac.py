"""Drives mhsm's local RBAC with the official Azure SDK for Python (KeyVaultAccessControlClient).

Environment: MHSM_URL (vault URL), MHSM_CA (CA certificate), MHSM_VERIFY_RESOURCE (1 to keep
the SDK's challenge-resource check on), MHSM_TOKEN (the bearer token to present; a fixed
string by default, which an open pool accepts). Exits non-zero on the first failure.
"""

import os
import sys
import time
import uuid

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.administration import (
    KeyVaultAccessControlClient,
    KeyVaultDataAction,
    KeyVaultPermission,
    KeyVaultRoleScope,
)

URL = os.environ["MHSM_URL"]
CA = os.environ["MHSM_CA"]
VERIFY_RESOURCE = os.environ.get("MHSM_VERIFY_RESOURCE") == "1"
TOKEN = os.environ.get("MHSM_TOKEN", "static-test-token")


class StaticToken:
    """A credential that hands out one fixed bearer token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)


OPTS = dict(connection_verify=CA, verify_challenge_resource=VERIFY_RESOURCE)
DEFINITION_ID_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def main():
    client = KeyVaultAccessControlClient(URL, StaticToken(), **OPTS)

    definitions = list(client.list_role_definitions(KeyVaultRoleScope.GLOBAL))
    by_name = {d.role_name: d for d in definitions}
    user = by_name.get("Managed HSM Crypto User")
    check(user is not None, "list role definitions: Managed HSM Crypto User is there")
    check(user.name == "21dbd100-6940-42c2-9190-5d6cb909625b", "Crypto User has Azure's id")
    check(user.id == DEFINITION_ID_PREFIX + user.name, "role definition id as Azure shows it")
    check(user.role_type == "AKVBuiltInRole" and user.assignable_scopes == ["/"], "built-in type and scopes")
    check(
        KeyVaultDataAction.SIGN_HSM_KEY in user.permissions[0].data_actions,
        "Crypto User may sign",
    )
    check(
        {"Managed HSM Administrator", "Managed HSM Crypto Officer", "Managed HSM Crypto Auditor"} <= set(by_name),
        "the other built-in roles are listed",
    )
    check(
        len(list(client.list_role_definitions(KeyVaultRoleScope.KEYS))) == len(definitions),
        "definitions listed at /keys too",
    )

    # A custom role definition: set, get, update, delete.
    custom_name = str(uuid.uuid4())
    permissions = [
        KeyVaultPermission(
            data_actions=[KeyVaultDataAction.READ_HSM_KEY, KeyVaultDataAction.ENCRYPT_HSM_KEY],
            not_data_actions=[KeyVaultDataAction.DECRYPT_HSM_KEY],
        )
    ]
    custom = client.set_role_definition(
        KeyVaultRoleScope.GLOBAL,
        name=custom_name,
        role_name="mhsm sdk role",
        description="made by sdk_rbac.py",
        permissions=permissions,
    )
    check(custom.name == custom_name and custom.role_type == "CustomRole", "set a custom role definition")
    got = client.get_role_definition(KeyVaultRoleScope.GLOBAL, custom_name)
    check(
        got.role_name == "mhsm sdk role"
        and got.description == "made by sdk_rbac.py"
        and got.permissions[0].data_actions == [KeyVaultDataAction.READ_HSM_KEY, KeyVaultDataAction.ENCRYPT_HSM_KEY]
        and got.permissions[0].not_data_actions == [KeyVaultDataAction.DECRYPT_HSM_KEY],
        "get the custom role definition",
    )
    updated = client.set_role_definition(
        KeyVaultRoleScope.GLOBAL, name=custom_name, role_name="mhsm sdk role, renamed", permissions=permissions
    )
    check(updated.role_name == "mhsm sdk role, renamed", "update the custom role definition")
    check(custom_name in {d.name for d in client.list_role_definitions(KeyVaultRoleScope.GLOBAL)}, "custom role listed")

    # Role assignments at / and /keys: create, get, list, delete.
    principal = str(uuid.uuid4())
    made = {}
    for scope, definition in [(KeyVaultRoleScope.GLOBAL, user), (KeyVaultRoleScope.KEYS, got)]:
        assignment = client.create_role_assignment(scope, definition.id, principal)
        props = assignment.properties
        check(
            props.scope == scope.value and props.principal_id == principal and props.role_definition_id == definition.id,
            f"create a role assignment at {scope.value}",
        )
        prefix = "" if scope == KeyVaultRoleScope.GLOBAL else scope.value
        check(
            assignment.role_assignment_id == f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{assignment.name}",
            f"assignment id at {scope.value}",
        )
        fetched = client.get_role_assignment(scope, assignment.name)
        check(fetched.name == assignment.name and fetched.properties.scope == scope.value, f"get it at {scope.value}")
        made[scope] = assignment
    listed = {a.name for a in client.list_role_assignments(KeyVaultRoleScope.GLOBAL)}
    check(all(a.name in listed for a in made.values()), "list role assignments at / shows both")
    at_keys = {a.name for a in client.list_role_assignments(KeyVaultRoleScope.KEYS)}
    check(made[KeyVaultRoleScope.KEYS].name in at_keys, "list at /keys")

    # An assigned definition cannot be deleted (409), until its assignment goes.
    try:
        client.delete_role_definition(KeyVaultRoleScope.GLOBAL, custom_name)
        check(False, "deleting an assigned role definition")
    except HttpResponseError as e:
        check(e.status_code == 409, f"deleting an assigned role definition is refused ({e.status_code})")

    for scope, assignment in made.items():
        client.delete_role_assignment(scope, assignment.name)
        try:
            client.get_role_assignment(scope, assignment.name)
            check(False, f"deleted assignment at {scope.value}")
        except ResourceNotFoundError:
            check(True, f"delete the role assignment at {scope.value}")
    check(
        not {a.name for a in made.values()} & {a.name for a in client.list_role_assignments(KeyVaultRoleScope.GLOBAL)},
        "deleted assignments are not listed",
    )

    client.delete_role_definition(KeyVaultRoleScope.GLOBAL, custom_name)
    try:
        client.get_role_definition(KeyVaultRoleScope.GLOBAL, custom_name)
        check(False, "deleted role definition")
    except ResourceNotFoundError:
        check(True, "delete the custom role definition")

    # Built-in roles cannot be overwritten; a bad GUID is refused.
    try:
        client.set_role_definition(KeyVaultRoleScope.GLOBAL, name=user.name, role_name="mine now")
        check(False, "overwriting a built-in role")
    except HttpResponseError as e:
        check(e.status_code == 400, "a built-in role cannot be overwritten")
    try:
        client.get_role_assignment(KeyVaultRoleScope.GLOBAL, "not-a-guid")
        check(False, "a bad assignment name")
    except HttpResponseError as e:
        check(e.status_code == 400, "a bad assignment name is a 400")
    print("all SDK RBAC checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        print("FAILED:", type(e).__name__, e, file=sys.stderr)
        raise
