"""The RPC → scope table covers every RPC of every service in the contract, and nothing else."""

from __future__ import annotations

import importlib
import pkgutil

import mailfleet.v1
from mailfleet.agent.api import rpc_rules


def _contract_methods() -> set[str]:
    """Every RPC of every service in every ``mailfleet.v1`` proto, as full method names."""
    found: set[str] = set()
    for module in pkgutil.iter_modules(mailfleet.v1.__path__):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(f"mailfleet.v1.{module.name}").DESCRIPTOR
        for service in descriptor.services_by_name.values():
            found.update(f"/{service.full_name}/{m.name}" for m in service.methods)
    return found


def test_every_rpc_of_every_service_has_a_scope_rule() -> None:
    missing = sorted(_contract_methods() - rpc_rules.RULES.keys())
    assert not missing, (
        "add these RPCs to _BY_SERVICE in mailfleet/agent/api/rpc_rules.py (with the Need "
        "each has), or every key is refused them: " + ", ".join(missing)
    )


def test_the_table_names_no_rpc_the_contract_lacks() -> None:
    stale = sorted(rpc_rules.RULES.keys() - _contract_methods())
    assert not stale, "rpc_rules.py names RPCs no proto has: " + ", ".join(stale)


def test_every_audited_rpc_answers_once() -> None:
    # The interceptor audits unary answers only; a streamed answer must be a read.
    streamed = []
    for module in pkgutil.iter_modules(mailfleet.v1.__path__):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(f"mailfleet.v1.{module.name}").DESCRIPTOR
        for service in descriptor.services_by_name.values():
            for m in service.methods:
                rule = rpc_rules.RULES.get(f"/{service.full_name}/{m.name}")
                if m.server_streaming and rule and rule.audit is not rpc_rules.Audit.NONE:
                    streamed.append(m.name)
    assert not streamed, "audited RPCs with streamed answers: " + ", ".join(streamed)
