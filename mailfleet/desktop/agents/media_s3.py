"""Putting library images in a workspace's S3-compatible bucket (boto3), where recipients fetch
them instead of from the agents.

Objects are named ``media/<sha256>.<extension>``, like the agents' URLs: a name always holds the
same bytes, so an object already there is not sent again, and each is stored with its type and
a year-long immutable ``Cache-Control`` that the bucket (or a CDN in front of it) hands to
recipients. Making the objects readable is the bucket's policy, not an ACL on each: many
S3-compatible stores have ACLs turned off. Blocking: run it off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mailfleet.desktop.services.media import EXTENSIONS, Stored
from mailfleet.desktop.services.media_storage import Bucket

CACHE_CONTROL = "public, max-age=31536000, immutable"
_TIMEOUTS = Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3})


class BucketError(Exception):
    """The bucket could not take the images; the message says why, for the marketer."""


def object_key(image: Stored) -> str:
    """The object an image is stored as."""
    return f"media/{image.sha256}.{EXTENSIONS[image.content_type]}"


def publish(bucket: Bucket, images: Iterable[Stored]) -> dict[str, str]:
    """Put each image in ``bucket`` unless it is there; their public URLs by digest."""
    client = boto3.client(
        "s3",
        endpoint_url=bucket.endpoint_url or None,
        region_name=bucket.region or None,
        aws_access_key_id=bucket.access_key_id,
        aws_secret_access_key=bucket.secret_access_key,
        config=_TIMEOUTS,
    )
    urls = {}
    try:
        for image in images:
            key = object_key(image)
            if not _exists(client, bucket.bucket, key):
                client.put_object(
                    Bucket=bucket.bucket,
                    Key=key,
                    Body=image.content,
                    ContentType=image.content_type,
                    CacheControl=CACHE_CONTROL,
                )
            urls[image.sha256] = bucket.object_url(key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise BucketError(_refusal(bucket.bucket, str(code))) from exc
    except BotoCoreError as exc:
        raise BucketError(
            f"The media bucket {bucket.bucket} could not be reached: check its S3 address."
        ) from exc
    finally:
        client.close()
    return urls


def _exists(client: object, name: str, key: str) -> bool:
    try:
        client.head_object(Bucket=name, Key=key)  # type: ignore[attr-defined]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _refusal(name: str, code: str) -> str:
    if code in ("NoSuchBucket",):
        return f"There is no media bucket {name}: check its name in the workspace's settings."
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
        return (
            f"The media bucket {name} refused the images: check its keys and that they may "
            "write to it."
        )
    return f"The media bucket {name} refused the images: try again, or check its settings."
