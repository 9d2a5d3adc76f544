"""The committed stubs match the .proto files, and the domain enums match the contract."""

from __future__ import annotations

import importlib.util
from enum import IntEnum
from pathlib import Path

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from mailfleet.agent.model import CampaignState, EventType, Lane, MessageState
from mailfleet.v1 import campaigns_pb2, events_pb2, messages_pb2

ROOT = Path(__file__).resolve().parents[2]


def test_regenerating_the_stubs_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "protos" / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    fresh = generate.generate(tmp_path)
    assert fresh, "the generator wrote nothing"
    committed_dir = ROOT / "protos" / "mailfleet" / "v1"
    committed = sorted(p.name for p in committed_dir.glob("*_pb2*"))
    assert [p.name for p in fresh] == committed
    stale = [p.name for p in fresh if p.read_bytes() != (committed_dir / p.name).read_bytes()]
    assert not stale, f"stale stubs, run `make protos`: {stale}"


@pytest.mark.parametrize(
    ("ours", "theirs", "prefix"),
    [
        (MessageState, messages_pb2.MessageState, "MESSAGE_STATE_"),
        (Lane, messages_pb2.Lane, "LANE_"),
        (CampaignState, campaigns_pb2.CampaignState, "CAMPAIGN_STATE_"),
        (EventType, events_pb2.EventType, "EVENT_TYPE_"),
    ],
)
def test_domain_enums_carry_the_contract_numbers(
    ours: type[IntEnum], theirs: EnumTypeWrapper, prefix: str
) -> None:
    contract = {name.removeprefix(prefix): value for name, value in theirs.items() if value}
    assert {m.name: m.value for m in ours} == contract
