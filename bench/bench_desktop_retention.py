"""The desktop database's size over simulated days of steady sending, pruned as the app does.

Each simulated day sends ``PER_DAY`` recipients as ``CAMPAIGNS`` campaigns (saved by
``services.campaigns.create`` from lists, as the window does), marks them delivered with one
recipient in five opening (an engagement event and a flag each) and one in fifty bouncing,
charts their minutes, completes them, then runs ``services.retention`` step by step (one
transaction a step, as the window's pass does) at the day's end. Time is compressed: the
workspace keeps details ``DAYS_KEPT`` days instead of 90, and a day is 1/100 of 6 M
recipients by default, so the database should level off after ``DAYS_KEPT`` + 1 days at a
size that scales with rate times days kept. Prints the size at the end of each day and the
pruning rate.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select, text, update

from mailfleet.desktop.db.engine import open_database
from mailfleet.desktop.db.models import (
    Agent,
    Campaign,
    CampaignRecipient,
    CampaignState,
    CampaignTimeline,
    Contact,
    EngagementEvent,
    ListMembership,
    RecipientStatus,
)
from mailfleet.desktop.services import campaigns, retention
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace

PER_DAY = int(os.environ.get("BENCH_DESKTOP_RETENTION_PER_DAY", "60000"))
CAMPAIGNS = 12
DAYS_KEPT = 3
DAYS = 10
START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def _seed(engine: Engine, ws: int) -> tuple[int, list[int]]:
    """One agent and ``CAMPAIGNS`` lists that together hold a day's recipients."""
    per_list = PER_DAY // CAMPAIGNS
    with engine.begin() as conn:
        agent_id = conn.scalar(
            insert(Agent)
            .values(workspace_id=ws, name="Paris", host="127.0.0.1", port=1, fingerprint="0",
                    key_ref="k")
            .returning(Agent.id)
        )  # fmt: skip
        assert agent_id is not None
        domains = ("gmail.com", "outlook.com", "orange.fr", "web.de", "yahoo.com")
        conn.execute(
            insert(Contact),
            [{"workspace_id": ws, "email": f"user{i}@{domains[i % 5]}"} for i in range(PER_DAY)],
        )
        ids = list(conn.scalars(select(Contact.id).order_by(Contact.id)))
        lists = []
        for n in range(CAMPAIGNS):
            list_id = create_list(conn, ws, f"Segment {n}")
            chunk = ids[n * per_list : (n + 1) * per_list]
            conn.execute(insert(ListMembership), [{"contact_id": c, "list_id": list_id}
                                                  for c in chunk])  # fmt: skip
            lists.append(list_id)
    return int(agent_id), lists


def _send_day(engine: Engine, ws: int, agent_id: int, lists: list[int], day: datetime) -> None:
    for n, list_id in enumerate(lists):
        draft = Draft(name=f"{day:%d %b} #{n}", audience=Audience(lists=(list_id,)),
                      subject="News", text="Hello", from_address="news@shop.example.com",
                      agents=((agent_id, 1),))  # fmt: skip
        campaign_id = campaigns.create(engine, ws, draft)
        sent = day + timedelta(minutes=40 * n)
        r = CampaignRecipient
        with engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.campaign_id == campaign_id)
                .values(status=RecipientStatus.DELIVERED.value, opened=r.id % 5 == 0)
            )
            conn.execute(
                update(r)
                .where(r.campaign_id == campaign_id, r.id % 50 == 1)
                .values(status=RecipientStatus.BOUNCED.value, reason="550 5.1.1 user unknown")
            )
            openers = conn.scalars(
                select(r.contact_id).where(r.campaign_id == campaign_id, r.opened)
            ).all()
            conn.execute(insert(EngagementEvent), [
                {"workspace_id": ws, "contact_id": c, "campaign_id": campaign_id,
                 "kind": "opened", "occurred_at": sent + timedelta(minutes=30)}
                for c in openers
            ])  # fmt: skip
            conn.execute(insert(CampaignTimeline), [
                {"campaign_id": campaign_id, "minute": sent + timedelta(minutes=m), "kind": k,
                 "count": 100}
                for m in range(30) for k in ("delivered", "opened")
            ])  # fmt: skip
            conn.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(state=CampaignState.COMPLETED.value, created_at=sent)
            )


def _prune(engine: Engine, ws: int, now: datetime) -> tuple[int, float]:
    folded, started = 0, time.perf_counter()
    while True:
        with engine.begin() as conn:
            step = retention.prune_step(conn, ws, now)
        if step.done:
            return folded, time.perf_counter() - started
        folded += step.recipients


def _size(engine: Engine, path: Path) -> int:
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    """Print the database's size at the end of each simulated day."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "desktop.sqlite3"
        engine = open_database(f"sqlite:///{path}")
        with engine.begin() as conn:
            ws = ensure_workspace(conn, "Bench")
            retention.set_retention_days(conn, ws, DAYS_KEPT)
        agent_id, lists = _seed(engine, ws)
        print(f"{PER_DAY:,} recipients a day in {CAMPAIGNS} campaigns (1/{6_000_000 // PER_DAY}"
              f" of 6 M); details kept {DAYS_KEPT} days; SQLite")  # fmt: skip
        sizes, rates = [], []
        for n in range(DAYS):
            day = START + timedelta(days=n)
            _send_day(engine, ws, agent_id, lists, day)
            folded, seconds = _prune(engine, ws, day + timedelta(hours=23))
            sizes.append(_size(engine, path))
            with engine.connect() as conn:
                held = conn.scalar(text("SELECT count(*) FROM campaign_recipients"))
            if folded:
                rates.append(folded / seconds)
            print(f"  day {n + 1:2}: {sizes[-1] / 1e6:7.1f} MB, {held:,} recipient rows held, "
                  f"{folded:,} pruned in {seconds:.1f} s", flush=True)  # fmt: skip
        engine.dispose()
    steady = sizes[DAYS_KEPT + 1 :]
    growth = (max(steady) - min(steady)) / min(steady)
    print(f"  days {DAYS_KEPT + 2}-{DAYS}: size varies by {growth:.1%}; pruning "
          f"{min(rates):,.0f}-{max(rates):,.0f} recipients/s")  # fmt: skip
    # What one more day of recipients added before any was pruned: rows, flags, events, indexes.
    per_row = (sizes[1] - sizes[0]) / PER_DAY
    print(
        f"  {per_row:,.0f} bytes per recipient held: at 6 M a day kept 90 days, about "
        f"{per_row * 6e6 * 91 / 1e9:,.0f} GB; kept 7 days, {per_row * 6e6 * 8 / 1e9:,.1f} GB"
    )


if __name__ == "__main__":
    main()
