"""Where a workspace publishes its media library's images: on each sending agent (the default)
or in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...).

The bucket's address, name, region and public URL are workspace settings in the database; its
access key id and secret key are in the OS keyring (``services.secrets``), never in the
database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlalchemy import Connection, select, update

from mailfleet.desktop.db.models import Workspace
from mailfleet.desktop.services import secrets

# S3's bucket naming rules (lowercase letters, digits, dots and hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Bucket:
    """An S3-compatible bucket that recipients can read from."""

    bucket: str
    # Where recipients fetch an object: the bucket's public address or a CDN in front of it.
    public_url: str
    # The S3 API's address; "" for AWS itself.
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    def object_url(self, key: str) -> str:
        """Where recipients fetch object ``key``."""
        return f"{self.public_url.rstrip('/')}/{key}"


def _ref(workspace_id: int, what: str) -> str:
    return f"media-bucket-{what}:{workspace_id}"


def _web_address(text: str, what: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"The {what} must be a web address starting with https://.")
    return text.strip()


def bucket(conn: Connection, workspace_id: int) -> Bucket | None:
    """The workspace's bucket without its keys, or None: images go on the agents."""
    row = conn.execute(
        select(
            Workspace.media_s3_bucket,
            Workspace.media_s3_public_url,
            Workspace.media_s3_endpoint,
            Workspace.media_s3_region,
        ).where(Workspace.id == workspace_id)
    ).one()
    return Bucket(*row) if row[0] else None


def set_bucket(conn: Connection, workspace_id: int, chosen: Bucket | None) -> None:
    """Publish images in ``chosen`` from now on (checked; None: on the agents again). The keys
    are kept with :func:`store_keys`."""
    values = {"bucket": "", "public_url": "", "endpoint_url": "", "region": ""}
    if chosen is not None:
        if not _BUCKET.match(chosen.bucket):
            raise ValueError(
                f"{chosen.bucket} is not a bucket name: 3 to 63 lowercase letters, digits, dots "
                "and hyphens."
            )
        values = {
            "bucket": chosen.bucket,
            "public_url": _web_address(chosen.public_url, "public address"),
            "endpoint_url": _web_address(chosen.endpoint_url, "S3 address")
            if chosen.endpoint_url.strip()
            else "",
            "region": chosen.region.strip(),
        }
    conn.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(
            media_s3_bucket=values["bucket"],
            media_s3_public_url=values["public_url"],
            media_s3_endpoint=values["endpoint_url"],
            media_s3_region=values["region"],
        )
    )


def store_keys(workspace_id: int, access_key_id: str, secret_access_key: str) -> None:
    """Keep the bucket's keys in the OS keyring."""
    secrets.store_key(_ref(workspace_id, "key-id"), access_key_id.strip())
    secrets.store_key(_ref(workspace_id, "secret"), secret_access_key)


def with_keys(chosen: Bucket, workspace_id: int) -> Bucket:
    """``chosen`` with its keys from the keyring; :class:`secrets.KeyringUnavailable` when they
    are not there."""
    backend = secrets.check_backend()
    key_id = backend.get_password(secrets.SERVICE, _ref(workspace_id, "key-id"))
    secret = backend.get_password(secrets.SERVICE, _ref(workspace_id, "secret"))
    if key_id is None or secret is None:
        raise secrets.KeyringUnavailable(
            "The media bucket's keys are not in this computer's password store: enter them "
            "again in the workspace's media settings."
        )
    return replace(chosen, access_key_id=str(key_id), secret_access_key=str(secret))
