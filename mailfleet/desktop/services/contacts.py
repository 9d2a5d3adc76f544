"""Contacts: filtered queries, keyset pages, editing and bulk actions.

Pages are fetched by keyset (``WHERE (sort, id) > (last sort, last id) LIMIT n``), which costs
the same at row 10 as at row 1,000,000; ``ContactPager`` turns that into random row access for a
table view without ever loading the whole table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import (
    Contact,
    ContactStatus,
    ListMembership,
    MailingList,
    SuppressionReason,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import segments, suppression, workspaces
from mailfleet.desktop.services.emails import check_address, header_unsafe
from mailfleet.desktop.services.segments import Rules

SORT_COLUMNS: dict[str, Any] = {
    "email": Contact.email,
    "first_name": Contact.first_name,
    "last_name": Contact.last_name,
    "status": Contact.status,
    "created": Contact.id,  # ids grow with creation time, and id is indexed
}


# A status as people read it, where its stored value is not the word for it.
_STATUS_WORDS = {ContactStatus.UNCONFIRMED: "pending confirmation"}


def status_text(status: str) -> str:
    """A contact status in words, lower case: "pending confirmation" for ``unconfirmed``."""
    return _STATUS_WORDS.get(ContactStatus(status), status)


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """What the contacts view shows: a search text, a list, a segment's rules, a status."""

    search: str = ""
    list_id: int | None = None
    rules: Rules | None = None
    status: ContactStatus | None = None


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One row of the contacts view."""

    id: int
    email: str
    first_name: str
    last_name: str
    status: str
    created_at: datetime


def condition(conn: Connection, workspace_id: int, flt: ContactFilter) -> ColumnElement[bool]:
    """The SQL condition for the filter, always within the workspace."""
    parts: list[ColumnElement[bool]] = [Contact.workspace_id == workspace_id]
    if flt.search.strip():
        text = flt.search.strip()
        parts.append(
            or_(
                Contact.email.icontains(text, autoescape=True),
                Contact.first_name.icontains(text, autoescape=True),
                Contact.last_name.icontains(text, autoescape=True),
            )
        )
    if flt.list_id is not None:
        parts.append(
            exists().where(
                ListMembership.contact_id == Contact.id, ListMembership.list_id == flt.list_id
            )
        )
    if flt.rules is not None:
        parts.append(segments.compile_rules(flt.rules, segments.field_kinds(conn, workspace_id)))
    if flt.status is not None:
        parts.append(Contact.status == flt.status.value)
    return and_(*parts)


def count(conn: Connection, workspace_id: int, flt: ContactFilter) -> int:
    """How many contacts the filter matches."""
    where = condition(conn, workspace_id, flt)
    return int(conn.scalar(select(func.count()).select_from(Contact).where(where)) or 0)


_ROW_COLUMNS = (
    Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.status,
    Contact.created_at,
)  # fmt: skip
Key = tuple[Any, int]


def _key(row: ContactRow, sort: str) -> Key:
    return (getattr(row, "id" if sort == "created" else sort), row.id)


def page(
    conn: Connection,
    where: ColumnElement[bool],
    sort: str,
    *,
    descending: bool = False,
    after: Key | None = None,
    before: Key | None = None,
    inclusive: bool = False,
    limit: int = 200,
) -> list[ContactRow]:
    """Up to ``limit`` rows in view order, following ``after`` or ending just before
    ``before`` (keyset); neither means the first page, ``before=(None, 0)`` the last."""
    column = SORT_COLUMNS[sort]
    keys = tuple_(column, Contact.id) if sort != "created" else Contact.id
    backwards = before is not None
    query = select(*_ROW_COLUMNS).where(where)
    bound = after if after is not None else before
    if bound is not None and bound[0] is not None:
        value: Any = tuple_(*bound) if sort != "created" else bound[1]
        # Reading backwards is reading the opposite order and reversing the page.
        greater = descending == backwards
        if greater:
            query = query.where(keys >= value if inclusive else keys > value)
        else:
            query = query.where(keys <= value if inclusive else keys < value)
    ascending = descending == backwards
    order = [column, Contact.id] if sort != "created" else [Contact.id]
    query = query.order_by(*(c.asc() if ascending else c.desc() for c in order)).limit(limit)
    rows = [ContactRow(*r) for r in conn.execute(query)]
    return rows[::-1] if backwards else rows


def key_at(
    conn: Connection, where: ColumnElement[bool], sort: str, descending: bool, offset: int
) -> Key | None:
    """The sort key of the row at ``offset``: an index-only scan used once for a far jump,
    after which paging continues by keyset."""
    column = SORT_COLUMNS[sort]
    order = [column, Contact.id] if sort != "created" else [Contact.id]
    query = (
        select(column, Contact.id)
        .where(where)
        .order_by(*(c.desc() if descending else c.asc() for c in order))
        .offset(offset)
        .limit(1)
    )
    found = conn.execute(query).first()
    return None if found is None else (found[0], found[1])


@dataclass
class ContactPager:
    """Random access to the rows of a filtered, sorted contact table, a page at a time.

    A page is fetched from a neighbouring cached page by keyset, from the end for the last
    pages, or after one index-only offset lookup for a far jump. Only ``max_pages`` pages are
    kept.
    """

    engine: Engine
    workspace_id: int
    flt: ContactFilter = field(default_factory=ContactFilter)
    sort: str = "email"
    descending: bool = False
    page_size: int = 200
    max_pages: int = 50
    total: int = 0
    _pages: OrderedDict[int, list[ContactRow]] = field(default_factory=OrderedDict)
    _where: ColumnElement[bool] | None = None

    def refresh(self) -> int:
        """Forget cached pages and recount; returns the number of rows."""
        with self.engine.connect() as conn:
            self._where = condition(conn, self.workspace_id, self.flt)
            self.total = int(
                conn.scalar(select(func.count()).select_from(Contact).where(self._where)) or 0
            )
        self._pages.clear()
        return self.total

    def row(self, index: int) -> ContactRow | None:
        """The row at ``index`` in view order (None past the end)."""
        if not 0 <= index < self.total:
            return None
        number, offset = divmod(index, self.page_size)
        rows = self._page(number)
        return rows[offset] if offset < len(rows) else None

    def _page(self, number: int) -> list[ContactRow]:
        cached = self._pages.get(number)
        if cached is not None:
            self._pages.move_to_end(number)
            return cached
        rows = self.reader(number)()
        self.store(number, rows)
        return rows

    def cached_row(self, index: int) -> ContactRow | None:
        """The row at ``index`` if its page is cached; None when it is not (or past the end).
        Never reads the database."""
        if not 0 <= index < self.total:
            return None
        number, offset = divmod(index, self.page_size)
        rows = self._pages.get(number)
        return rows[offset] if rows is not None and offset < len(rows) else None

    def has_page(self, index: int) -> bool:
        """Whether the page holding ``index`` is cached."""
        return index // self.page_size in self._pages

    def reader(self, number: int) -> Callable[[], list[ContactRow]]:
        """A read of page ``number``, set up from the cached pages now; the read itself only
        uses what it captured, so it may run on another thread (``store`` its result on the
        owner's)."""
        if self._where is None:
            self.refresh()
        assert self._where is not None
        where, size, sort, engine = self._where, self.page_size, self.sort, self.engine
        last_number = max(self.total - 1, 0) // size
        args: dict[str, Any] = {"descending": self.descending, "limit": size}
        if number == 0:
            bound: dict[str, Any] = {}
        elif number - 1 in self._pages:
            bound = {"after": _key(self._pages[number - 1][-1], sort)}
        elif number + 1 in self._pages:
            bound = {"before": _key(self._pages[number + 1][0], sort)}
        elif number == last_number:
            args["limit"] = self.total - number * size
            bound = {"before": (None, 0)}
        else:
            return lambda: self.fetch_far(number)

        def read() -> list[ContactRow]:
            with engine.connect() as conn:
                return page(conn, where, sort, **bound, **args)

        return read

    def fetch_far(self, number: int) -> list[ContactRow]:
        """Read page ``number`` after an index-only offset look-up. Only reads the pager's
        settings, so it may run on another thread; ``store`` the result on the owner's."""
        assert self._where is not None, "refresh() first"
        with self.engine.connect() as conn:
            anchor = key_at(conn, self._where, self.sort, self.descending,
                            number * self.page_size)  # fmt: skip
            if anchor is None:
                return []
            return page(conn, self._where, self.sort, descending=self.descending,
                        after=anchor, inclusive=True, limit=self.page_size)  # fmt: skip

    def store(self, number: int, rows: list[ContactRow]) -> None:
        """Cache page ``number``, forgetting the least recently used pages beyond the limit."""
        self._pages[number] = rows
        self._pages.move_to_end(number)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)


MANUAL_SOURCE = "added in the desktop"


class ExistingContact(ValueError):
    """The address is a spelling of a mailbox that is already a contact (``contact_id``)."""

    def __init__(self, contact_id: int, email: str) -> None:
        super().__init__(f"{email} is already a contact")
        self.contact_id = contact_id
        self.email = email


def get_contact(conn: Connection, workspace_id: int, contact_id: int) -> dict[str, Any]:
    """One contact's editable values, with the ids of the lists it is on."""
    row = conn.execute(
        select(Contact).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
    ).one_or_none()
    if row is None:
        raise LookupError("that contact no longer exists")
    lists = conn.scalars(
        select(ListMembership.list_id).where(ListMembership.contact_id == contact_id)
    )
    return {
        "email": row.email, "first_name": row.first_name, "last_name": row.last_name,
        "status": row.status, "fields": dict(row.fields or {}), "lists": sorted(lists),
    }  # fmt: skip


def find_mailbox(conn: Connection, workspace_id: int, email: str) -> int | None:
    """The id of the contact for this mailbox (any spelling of it), if there is one."""
    return conn.scalar(
        select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.email_key == mailbox_key(email)
        )
    )


def _check_values(
    conn: Connection, workspace_id: int, email: str, names: tuple[str, str], status: ContactStatus
) -> None:
    if any(header_unsafe(name) for name in names):
        raise ValueError("a name contains a control character (a line break or similar)")
    lookup = suppression.load_lookup(conn, workspace_id)
    if status is ContactStatus.SUBSCRIBED and lookup.reason(email) is not None:
        raise ValueError(f"{email} is on the suppression list; remove it there first")


def _set_lists(conn: Connection, workspace_id: int, contact_id: int, list_ids: list[int]) -> None:
    """Put the contact on exactly these lists (of the workspace)."""
    wanted = set(list_ids)
    owned = set(
        conn.scalars(
            select(MailingList.id).where(
                MailingList.workspace_id == workspace_id, MailingList.id.in_(wanted)
            )
        )
    )
    if owned != wanted:
        raise ValueError("a chosen list no longer exists")
    conn.execute(
        delete(ListMembership).where(
            ListMembership.contact_id == contact_id, ListMembership.list_id.not_in(wanted)
        )
    )
    for list_id in sorted(wanted):
        workspaces.add_members(conn, list_id, [contact_id])


def create_contact(
    conn: Connection,
    workspace_id: int,
    *,
    email: str,
    first_name: str,
    last_name: str,
    status: ContactStatus,
    fields: dict[str, Any],
    lists: list[int],
) -> int:
    """Add one contact typed in by hand; returns its id. The address is checked and normalised
    as an import does; a mailbox that is already a contact raises ``ExistingContact``."""
    checked = check_address(email)
    if checked.email is None:
        raise ValueError(checked.error or "not an email address")
    existing = find_mailbox(conn, workspace_id, checked.email)
    if existing is not None:
        raise ExistingContact(existing, checked.email)
    _check_values(conn, workspace_id, checked.email, (first_name, last_name), status)
    now = utcnow()
    new_id = conn.scalar(
        insert(Contact)
        .values(workspace_id=workspace_id, email=checked.email, first_name=first_name,
                last_name=last_name, status=status.value, fields=fields,
                consent_source=MANUAL_SOURCE, consent_at=now, created_at=now, updated_at=now)
        .returning(Contact.id)
    )  # fmt: skip
    assert new_id is not None
    _set_lists(conn, workspace_id, int(new_id), lists)
    return int(new_id)


def update_contact(
    conn: Connection,
    workspace_id: int,
    contact_id: int,
    *,
    first_name: str,
    last_name: str,
    status: ContactStatus,
    fields: dict[str, Any],
    lists: list[int] | None = None,
) -> None:
    """Save an edited contact (and, given ``lists``, the lists it is on). Resubscribing a
    suppressed address is refused."""
    email = conn.scalar(
        select(Contact.email).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
    )
    if email is None:
        raise LookupError("that contact no longer exists")
    _check_values(conn, workspace_id, email, (first_name, last_name), status)
    conn.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(first_name=first_name, last_name=last_name, status=status.value,
                fields=fields, updated_at=utcnow())
    )  # fmt: skip
    if lists is not None:
        _set_lists(conn, workspace_id, contact_id, lists)


def _own(conn: Connection, workspace_id: int, ids: list[int]) -> list[int]:
    """The ids among ``ids`` that belong to the workspace (a guard against foreign ids)."""
    if not ids:
        return []
    return list(
        conn.scalars(
            select(Contact.id).where(Contact.workspace_id == workspace_id, Contact.id.in_(ids))
        )
    )


def add_to_list(conn: Connection, workspace_id: int, ids: list[int], list_id: int) -> int:
    """Add the contacts to a list of the same workspace; returns how many were given."""
    if not workspaces.list_in_workspace(conn, workspace_id, list_id):
        raise ValueError("that list is not in this workspace")
    own = _own(conn, workspace_id, ids)
    workspaces.add_members(conn, list_id, own)
    return len(own)


def remove_from_list(conn: Connection, workspace_id: int, ids: list[int], list_id: int) -> int:
    """Take the contacts off a list."""
    own = _own(conn, workspace_id, ids)
    workspaces.remove_members(conn, list_id, own)
    return len(own)


def unsubscribe(conn: Connection, workspace_id: int, ids: list[int], source: str) -> int:
    """Unsubscribe the contacts and put their addresses on the suppression list."""
    own = _own(conn, workspace_id, ids)
    for email in conn.scalars(select(Contact.email).where(Contact.id.in_(own))):
        suppression.add(conn, workspace_id, email, SuppressionReason.UNSUBSCRIBED, source)
    conn.execute(
        update(Contact)
        .where(Contact.id.in_(own))
        .values(status=ContactStatus.UNSUBSCRIBED.value, updated_at=utcnow())
    )
    return len(own)


def delete_contacts(conn: Connection, workspace_id: int, ids: list[int]) -> int:
    """Delete the contacts (their list memberships go with them)."""
    own = _own(conn, workspace_id, ids)
    conn.execute(delete(Contact).where(Contact.id.in_(own)))
    return len(own)
