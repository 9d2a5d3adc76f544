"""The media library in an S3-compatible bucket (moto's server as the local stand-in): a
campaign's image is put in the bucket, not on the agent, and the delivered mail shows it from
the bucket's public address; the bucket's keys are in the keyring, not the database."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from sqlalchemy import Engine, select

from mailfleet.desktop.agents import media_publish, upload
from mailfleet.desktop.db.models import Workspace
from mailfleet.desktop.services import campaigns, media, media_storage
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.media_storage import Bucket
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import media_pb2
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.desktop.media_images import picture
from tests.peers.agent import AgentProcess
from tests.peers.s3 import s3_server
from tests.peers.smtp import SmtpSink

KEY_ID, SECRET = "media-key-id", "media-secret-key"
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::news-media/media/*",
        }
    ],
}


def _campaign(engine: Engine, ws: int, list_id: int, agent_id: int, image_id: int) -> int:
    html = (
        f'<p>Hi</p><img src="{media.ref(image_id)}" alt="Spring">'
        "<a href='{{ unsubscribe_url }}'>Unsubscribe</a>"
    )
    draft = Draft(
        name="Spring", audience=Audience(lists=(list_id,)), subject="Hi", html=html,
        from_address="news@shop.example.com", agents=((agent_id, 1),),
    )  # fmt: skip
    return campaigns.create(engine, ws, draft)


def test_a_campaigns_image_is_published_in_the_workspaces_bucket(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    content = picture()
    with s3_server(tmp_path) as endpoint:
        admin = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        )  # fmt: skip
        admin.create_bucket(Bucket="news-media")
        # Recipients read the objects: the bucket's policy says so, as docs/media.md asks.
        admin.put_bucket_policy(Bucket="news-media", Policy=json.dumps(PUBLIC_READ))
        admin.close()
        with engine.begin() as conn:
            ws = ensure_workspace(conn)
            image_id = media.add(conn, ws, "spring.png", content)
            chosen = Bucket("news-media", f"{endpoint}/news-media", endpoint, "us-east-1")
            media_storage.set_bucket(conn, ws, chosen)
        media_storage.store_keys(ws, KEY_ID, SECRET)
        list_id = seed_contacts(engine, ws, 1)
        with engine.connect() as conn:
            row = conn.execute(select(Workspace.__table__).where(Workspace.id == ws)).one()
            assert media_storage.bucket(conn, ws) == chosen
        assert "news-media" in row and not {KEY_ID, SECRET} & {str(v) for v in row}
        kept = secure_keyring.path.read_text()  # the keys are in the keyring instead
        assert KEY_ID in kept and SECRET in kept

        with SmtpSink() as sink:
            proc = agent_factory(relay_config(sink))
            record = pair(engine, ws, proc, "one")
            upload.upload_campaign(engine, ws, _campaign(engine, ws, list_id, record.id, image_id))
            sink.wait_for(1, timeout=60)

        sha256 = hashlib.sha256(content).hexdigest()
        url = f"{endpoint}/news-media/media/{sha256}.png"
        message = email.message_from_bytes(sink.received[0].data, policy=email.policy.default)
        body = message.get_body(("html",))
        assert body is not None
        assert re.findall(r'<img src="([^"]+)" alt="Spring">', str(body.get_content())) == [url]
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - moto on loopback
            assert reply.status == 200
            assert reply.headers["Content-Type"] == "image/png"
            assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert reply.read() == content
        # the bucket took it instead of the agent
        found = proc.stubs().media.FindMedia(media_pb2.FindMediaRequest(sha256=[sha256]))
        assert list(found.media) == []

        # a bucket that is not there stops the send, saying so
        with engine.begin() as conn:
            media_storage.set_bucket(
                conn, ws, Bucket("gone-media", f"{endpoint}/gone-media", endpoint, "us-east-1")
            )
        second = _campaign(engine, ws, list_id, record.id, image_id)
        with pytest.raises(media_publish.PublishError) as stopped:
            upload.upload_campaign(engine, ws, second)
        assert str(stopped.value) == (
            "There is no media bucket gone-media: check its name in the workspace's settings."
        )


def test_a_bucket_setting_is_checked_before_it_is_kept(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        for chosen, problem in [
            (Bucket("My_Bucket", "https://cdn.example"),
             "My_Bucket is not a bucket name: 3 to 63 lowercase letters, digits, dots and "
             "hyphens."),
            (Bucket("media", "cdn.example"),
             "The public address must be a web address starting with https://."),
            (Bucket("media", "https://cdn.example", "s3.example:9000"),
             "The S3 address must be a web address starting with https://."),
        ]:  # fmt: skip
            with pytest.raises(ValueError) as refused:
                media_storage.set_bucket(conn, ws, chosen)
            assert str(refused.value) == problem
        assert media_storage.bucket(conn, ws) is None
