"""Keyset paging gives the same rows as one big ordered query, from any starting point."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.db.models import Contact
from mailfleet.desktop.services.contacts import ContactFilter, ContactPager


@pytest.fixture
def many(engine: Engine, workspace: int) -> tuple[Engine, int]:
    rng = random.Random(3)
    rows = [
        {"workspace_id": workspace, "email": f"u{i:04d}@x.org",
         "first_name": rng.choice(["Ann", "Bob", "Cy"]), "last_name": f"L{rng.randint(0, 9)}",
         "status": rng.choice(["subscribed", "unsubscribed"])}
        for i in range(1234)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Contact), rows)
    return engine, workspace


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("email", False), ("first_name", True), ("created", True), ("last_name", False)],
)
def test_random_access_matches_a_full_query(
    many: tuple[Engine, int], sort: str, descending: bool
) -> None:
    engine, ws = many
    pager = ContactPager(engine, ws, ContactFilter(search="u0"), sort, descending, page_size=50,
                         max_pages=3)  # fmt: skip
    total = pager.refresh()
    column = Contact.id if sort == "created" else getattr(Contact, sort)
    order = [column, Contact.id] if not descending else [column.desc(), Contact.id.desc()]
    with engine.connect() as conn:
        expected = list(conn.scalars(select(Contact.id).where(Contact.email.like("u0%"))
                                     .order_by(*order)))  # fmt: skip
    assert total == len(expected) == 1000
    rng = random.Random(5)
    indexes = [0, total - 1, 500, 501, 499, 999, 950, 3, *rng.sample(range(total), 40)]
    for index in indexes:
        row = pager.row(index)
        assert row is not None and row.id == expected[index], index
    assert pager.row(total) is None
