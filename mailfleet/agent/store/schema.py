"""Versioned schema migrations, applied at start-up.

Each entry moves ``PRAGMA user_version`` up by one inside a single transaction, so an
interrupted migration leaves the previous version intact and simply runs again. An entry is
an SQL script, or a function for the rare step that needs Python to read old data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store.payload_migration import payloads_to_blobs

# The states of the partial indexes, written into their SQL as the queue's queries write them.
_DEFERRED = int(MessageState.DEFERRED)
_QUEUED = int(MessageState.QUEUED)
_IN_FLIGHT = int(MessageState.IN_FLIGHT)
# signups.state of a pending and an expired signup (mailfleet.agent.store.signups.SignupState)
_PENDING_SIGNUP = 1
_EXPIRED_SIGNUP = 3
# enrolments.state of an enrolment still walking (mailfleet.agent.store.automations)
_ACTIVE_ENROLMENT = 1
_OPENED = int(EventType.MESSAGE_OPENED)
_CLICKED = int(EventType.MESSAGE_CLICKED)

Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: tenants, keys, campaigns, messages, events
    """
    CREATE TABLE agent_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        admin INTEGER NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        idempotency_key TEXT NOT NULL,
        name TEXT NOT NULL,
        state INTEGER NOT NULL,
        spec TEXT NOT NULL,
        throttle_per_minute INTEGER NOT NULL,
        start_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (tenant_id, idempotency_key)
    );
    CREATE TABLE field_sets (
        id INTEGER PRIMARY KEY,
        names TEXT NOT NULL UNIQUE
    );
    CREATE TABLE contents (
        id INTEGER PRIMARY KEY,
        spec TEXT NOT NULL,
        raw_mime BLOB
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        campaign_id INTEGER REFERENCES campaigns(id),
        content_id INTEGER REFERENCES contents(id),
        lane INTEGER NOT NULL,
        state INTEGER NOT NULL,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL,
        field_set_id INTEGER REFERENCES field_sets(id),
        -- the recipient with its merge fields: a serialised mailfleet.v1.Recipient, base64
        -- (until version 5)
        payload TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL,
        lease_until REAL,
        last_reply TEXT NOT NULL DEFAULT '',
        idempotency_key TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX messages_campaign_email ON messages (campaign_id, email_norm)
        WHERE campaign_id IS NOT NULL;
    CREATE INDEX messages_campaign_state ON messages (campaign_id, state);
    CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        time REAL NOT NULL,
        type INTEGER NOT NULL,
        campaign_id INTEGER,
        message_id INTEGER,
        email TEXT NOT NULL DEFAULT '',
        attrs TEXT
    );
    CREATE INDEX events_tenant_seq ON events (tenant_id, seq);
    """,
    # 2: delivery: due deferrals, leases, the capture mailbox
    f"""
    ALTER TABLE messages ADD COLUMN last_host TEXT NOT NULL DEFAULT '';
    CREATE INDEX messages_deferred ON messages (next_at) WHERE state = {_DEFERRED};
    CREATE INDEX messages_leased ON messages (lease_until) WHERE state = {_IN_FLIGHT};
    CREATE TABLE captured (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        time REAL NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX captured_tenant ON captured (tenant_id, id);
    """,
    # 3: the SMTP intake: its users, the tenants' sending domains, mail for the bounce domain
    """
    CREATE TABLE smtp_users (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        username TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE UNIQUE INDEX smtp_users_active ON smtp_users (username) WHERE revoked_at IS NULL;
    CREATE TABLE sending_domains (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        domain TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (tenant_id, domain)
    );
    CREATE TABLE inbound_mail (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        peer TEXT NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        data BLOB NOT NULL
    );
    """,
    # 4: feedback: suppression list, soft-bounce score, per-domain counts, inbound counters
    """
    CREATE TABLE suppressions (
        tenant_id INTEGER NOT NULL,
        -- the normalised address with ASCII letters lower-case
        email_key TEXT NOT NULL,
        -- '' for every message, else a tag the entry is limited to
        scope TEXT NOT NULL,
        email TEXT NOT NULL,
        reason INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (tenant_id, email_key, scope)
    ) WITHOUT ROWID;
    CREATE TABLE soft_bounces (
        tenant_id INTEGER NOT NULL,
        email_key TEXT NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX soft_bounces_address ON soft_bounces (tenant_id, email_key, time);
    CREATE TABLE domain_feedback (
        tenant_id INTEGER NOT NULL,
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        delivered INTEGER NOT NULL,
        complaints INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, domain, day)
    ) WITHOUT ROWID;
    CREATE TABLE feedback_counters (
        name TEXT PRIMARY KEY,
        count INTEGER NOT NULL
    );
    -- inbound feedback mail whose processing failed unexpectedly, kept for a person to see
    CREATE TABLE feedback_shunt (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        rcpt_to TEXT NOT NULL,
        mail_from TEXT NOT NULL,
        data BLOB NOT NULL,
        error TEXT NOT NULL
    );
    """,
    # 5: messages.payload holds mailfleet.agent.model.payload bytes (a BLOB), no longer protobuf in
    # base64
    payloads_to_blobs,
    # 6: strikes: how many times in a row a worker died with the message under way
    "ALTER TABLE messages ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;",
    # 7: per-campaign, per-day totals of the final messages retention deleted
    """
    CREATE TABLE message_totals (
        -- 0 for transactional messages
        campaign_id INTEGER NOT NULL,
        tenant_id INTEGER NOT NULL,
        -- days since the epoch of the message's last change (its final state)
        day INTEGER NOT NULL,
        state INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, tenant_id, day, state)
    ) WITHOUT ROWID;
    CREATE INDEX message_totals_tenant ON message_totals (tenant_id);
    """,
    # 8: event webhooks: each endpoint's cursor in the events log is its durable queue
    """
    CREATE TABLE webhook_endpoints (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        url TEXT NOT NULL,
        -- EventType numbers, comma-separated; '' for every type
        event_types TEXT NOT NULL,
        description TEXT NOT NULL,
        -- the signing secret (whsec_...): the store file is 0600
        secret TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        -- every event up to this seq has been delivered (or is of a type not sent)
        after_seq INTEGER NOT NULL,
        -- the batch under way, the events up to this seq: resent as it was until answered
        batch_through INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL,
        failing_since REAL,
        last_error TEXT NOT NULL DEFAULT '',
        disabled_reason TEXT NOT NULL DEFAULT '',
        delivered INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);
    """,
    # 9: signup forms, signups and their consent records, the signup changes log
    f"""
    CREATE TABLE signup_forms (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        -- the desktop's id, the hosted page's path: unique on the agent
        public_id TEXT NOT NULL UNIQUE,
        -- mailfleet.agent.signup.forms.Form as JSON
        definition TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE signup_daily (
        form_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (form_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE signups (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        form_id INTEGER NOT NULL REFERENCES signup_forms(id),
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        fields TEXT NOT NULL,
        lists TEXT NOT NULL,
        language TEXT NOT NULL,
        state INTEGER NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL
    );
    CREATE INDEX signups_pending ON signups (expires_at) WHERE state = {_PENDING_SIGNUP};
    CREATE TABLE consents (
        signup_id INTEGER PRIMARY KEY REFERENCES signups(id),
        time REAL NOT NULL,
        ip TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        text TEXT NOT NULL,
        version TEXT NOT NULL,
        confirmed_at REAL,
        confirm_ip TEXT NOT NULL DEFAULT '',
        confirm_user_agent TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE signup_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        time REAL NOT NULL,
        kind INTEGER NOT NULL,
        signup_id INTEGER NOT NULL
    );
    CREATE INDEX signup_changes_tenant ON signup_changes (tenant_id, seq);
    """,
    # 10: queue tools: the route of a message's last try; destinations and routes on hold
    """
    ALTER TABLE messages ADD COLUMN last_route TEXT NOT NULL DEFAULT '';
    CREATE TABLE suspensions (
        -- 0: every tenant's mail (an admin's suspension)
        tenant_id INTEGER NOT NULL,
        -- 'domain' (a recipient domain) or 'route'
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        -- when it lifts by itself; NULL: when resumed
        until REAL,
        PRIMARY KEY (tenant_id, kind, name)
    ) WITHOUT ROWID;
    """,
    # 11: signups made over the API carry the caller's idempotency key
    """
    ALTER TABLE signups ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX signups_idempotency ON signups (tenant_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    """,
    # 12: a form's signups by address, for the one confirmation mail per address and hour
    "CREATE INDEX signups_address ON signups (form_id, email_key, created_at);",
    # 13: retention deletes expired signups, oldest link first, with their changes
    f"""
    CREATE INDEX signups_expired ON signups (expires_at) WHERE state = {_EXPIRED_SIGNUP};
    CREATE INDEX signup_changes_signup ON signup_changes (signup_id);
    """,
    # 14: automations: versioned definitions, enrolments and the steps they ran, the contacts
    # date triggers read; opens and clicks by message, for branches and per-step stats
    f"""
    CREATE TABLE automations (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        -- mailfleet.agent.store.automations.AutomationState
        state INTEGER NOT NULL,
        -- the newest version, the one new enrolments take
        version INTEGER NOT NULL,
        -- the newest version's trigger: 'signup', 'event:NAME' or 'date'
        trigger TEXT NOT NULL,
        -- a date trigger's last day scanned (days since the epoch)
        scanned_day INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (tenant_id, name)
    );
    CREATE INDEX automations_trigger ON automations (tenant_id, trigger);
    CREATE TABLE automation_versions (
        automation_id INTEGER NOT NULL REFERENCES automations(id),
        version INTEGER NOT NULL,
        -- mailfleet.agent.automations.definition.Definition as JSON
        definition TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (automation_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE enrolments (
        id INTEGER PRIMARY KEY,
        automation_id INTEGER NOT NULL REFERENCES automations(id),
        version INTEGER NOT NULL,
        tenant_id INTEGER NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        -- '' when a contact enters once; else the event's key or the anniversary's year
        entry_key TEXT NOT NULL,
        fields TEXT NOT NULL,
        -- while active, the next step to run; once ended, the step it ended at
        step INTEGER NOT NULL,
        -- mailfleet.agent.store.automations.EnrolmentState
        state INTEGER NOT NULL,
        next_at REAL NOT NULL,
        entered_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (automation_id, email_key, entry_key)
    );
    CREATE INDEX enrolments_due ON enrolments (next_at) WHERE state = {_ACTIVE_ENROLMENT};
    CREATE TABLE enrolment_steps (
        enrolment_id INTEGER NOT NULL,
        step INTEGER NOT NULL,
        automation_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        time REAL NOT NULL,
        -- the message a send step queued
        message_id INTEGER,
        PRIMARY KEY (enrolment_id, step)
    ) WITHOUT ROWID;
    CREATE INDEX enrolment_steps_stats ON enrolment_steps (automation_id, version, step);
    CREATE TABLE automation_contacts (
        tenant_id INTEGER NOT NULL,
        email_key TEXT NOT NULL,
        email TEXT NOT NULL,
        fields TEXT NOT NULL,
        -- a JSON array of tags and list:<id> names that tag steps set
        tags TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (tenant_id, email_key)
    ) WITHOUT ROWID;
    CREATE INDEX events_engagement ON events (message_id)
        WHERE type IN ({_OPENED}, {_CLICKED});
    """,
    # 15: API keys have a scope (mailfleet.agent.identity.scopes.Scope), an optional expiry and
    # the person they were made for; the keys made before keep what they could do
    """
    ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'tenant';
    UPDATE api_keys SET scope = 'admin' WHERE admin != 0;
    ALTER TABLE api_keys DROP COLUMN admin;
    ALTER TABLE api_keys ADD COLUMN expires_at REAL;
    ALTER TABLE api_keys ADD COLUMN person TEXT NOT NULL DEFAULT '';
    """,
    # 16: the Audience API's changes of an address (signup_id 0): its fields or an unsubscribe,
    # with the caller's idempotency key
    """
    ALTER TABLE signup_changes ADD COLUMN email TEXT NOT NULL DEFAULT '';
    ALTER TABLE signup_changes ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE signup_changes ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    ALTER TABLE signup_changes ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX signup_changes_idempotency ON signup_changes (tenant_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX signup_changes_address ON signup_changes (tenant_id, email_key)
        WHERE email_key <> '';
    CREATE INDEX signups_tenant_address ON signups (tenant_id, email_key);
    """,
    # 17: A/B tests: which variant a message sends, the test share, and each test's winner
    f"""
    -- the A/B variant the message sends; NULL: its campaign's content (or, in a test's
    -- remainder, the winner once it is picked)
    ALTER TABLE messages ADD COLUMN variant INTEGER;
    -- 1: one of an A/B test's test share
    ALTER TABLE messages ADD COLUMN ab_sample INTEGER NOT NULL DEFAULT 0;
    -- the test share still to send, claimed while the remainder waits for the winner
    CREATE INDEX messages_ab_sample ON messages (campaign_id, id)
        WHERE state = {_QUEUED} AND ab_sample = 1;
    CREATE TABLE ab_tests (
        campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id),
        -- when the rule picks the winner; NULL: the manual rule
        decide_at REAL,
        winner INTEGER,
        decided_at REAL
    );
    CREATE INDEX ab_tests_due ON ab_tests (decide_at) WHERE winner IS NULL;
    """,
    # 18: the audit log: who changed what over the API or the command line, when, from where
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        -- the caller's tenant (its key's)
        tenant_id INTEGER NOT NULL,
        -- '' for the command line
        key_id TEXT NOT NULL,
        key_name TEXT NOT NULL,
        person TEXT NOT NULL,
        -- the peer's address, or 'local' for the command line
        peer TEXT NOT NULL,
        -- the RPC (or command) and a short summary of the change: never secrets or bodies
        action TEXT NOT NULL,
        summary TEXT NOT NULL,
        -- 'ok', or the status the call ended with ('permission denied', ...)
        outcome TEXT NOT NULL,
        -- calls this entry stands for: more than 1 for a summary of transactional sends
        calls INTEGER NOT NULL
    );
    CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
    CREATE INDEX audit_log_time ON audit_log (time);
    """,
    # 19: images the desktop publishes for messages, content-addressed (served at /m/<sha256>)
    """
    CREATE TABLE media (
        -- the SHA-256 of content, lowercase hex: the public URL's name, so content never changes
        sha256 TEXT PRIMARY KEY,
        -- read from the bytes (image/png, image/jpeg, image/gif, image/webp)
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        content BLOB NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    # 20: a form the desktop deleted is taken down (its page answers 404) and kept, with the
    # signups and consent records that name it
    """
    ALTER TABLE signup_forms ADD COLUMN deleted_at REAL;
    """,
    # 21: each tenant's look for its public pages (mailfleet.agent.pages.document.Look as JSON)
    """
    CREATE TABLE tenant_looks (
        tenant_id INTEGER PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
)


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database file."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, number: int, migration: Migration) -> None:
    if isinstance(migration, str):
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{migration}\nPRAGMA user_version = {number};\nCOMMIT;"
        )
    else:
        conn.execute("BEGIN IMMEDIATE")
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every pending migration; return the resulting version.

    A migration that fails part-way is rolled back before the error is raised, so the store
    stays at the version before it (a crash or kill has the same effect through SQLite's
    journal).
    """
    version = current_version(conn)
    if version > len(migrations):
        raise RuntimeError(
            f"the store is at schema version {version}, newer than this agent knows "
            f"({len(migrations)}); upgrade the agent"
        )
    for number, migration in enumerate(migrations[version:], start=version + 1):
        try:
            _apply(conn, number, migration)
        except Exception:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return current_version(conn)
