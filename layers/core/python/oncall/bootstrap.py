"""Create the first admin API key of a deployment.

Local stack: called by ``make run`` (``TOCSIN_API_KEY`` or a generated key). AWS: run once after
``cdk deploy`` with credentials for the account::

    python -m oncall.bootstrap --table <TableName output>    # prints the new admin key
"""

from __future__ import annotations

import argparse
from itertools import chain, count

from oncall import ids
from oncall.clock import SYSTEM_CLOCK
from oncall.directory import User
from oncall.ports import Store
from oncall.services import api_keys
from oncall.store.dynamodb import DynamoStore

ADMIN_USER_ID = "UADMIN"


def ensure_admin(store: Store) -> User:
    """The deployment's first user: an admin named "admin" (usernames are unique: should another user hold that
    name, once the first admin was deleted, "admin-2", "admin-3"...)."""
    admin = store.users.get(ADMIN_USER_ID)
    if admin is None:
        names = chain(["admin"], (f"admin-{i}" for i in count(2)))
        username = next(n for n in names if store.users.holder(n) is None)
        admin = User(id=ADMIN_USER_ID, username=username, role="admin")
        store.users.put(admin)
    return admin


def ensure_admin_api_key(table_name: str, endpoint: str | None = None, key: str | None = None) -> str:
    """Store ``key`` (or a new one) as a key of the admin user; idempotent for the same key. Returns the key."""
    client = None
    if endpoint:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=endpoint)
    store = DynamoStore(table_name, client=client)
    ensure_admin(store)
    if key:
        existing = store.api_keys.by_hash(ids.secret_hash(key))
        if existing is not None:
            return key
    made = api_keys.issue(store, user_id=ADMIN_USER_ID, name="bootstrap admin", now=SYSTEM_CLOCK.now(), secret=key)
    return made.secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="the deployment's DynamoDB table")
    parser.add_argument("--endpoint", help="DynamoDB endpoint (local stack)")
    args = parser.parse_args()
    print(ensure_admin_api_key(args.table, args.endpoint))


if __name__ == "__main__":
    main()
