import Foundation
import SmarketingCore

/// The PostgreSQL schema and its migrations.
///
/// The tables, columns and indexes are the SQLite store's (the same names and representations:
/// times as epoch milliseconds, so one bundle codec and one set of reporting views serve both);
/// PostgreSQL's history starts at the schema SQLite reached with its migration v13. Migrations
/// run in one transaction under an advisory lock, so several instances starting at once migrate
/// exactly once and the others wait and find nothing to do.
enum PostgresSchema {
    /// The advisory lock key of migrations (any constant other code does not use).
    static let migrationLock: Int64 = 0x736D_6B5F_6D69_6772  // "smk_migr"

    // Every text column compares bytewise (COLLATE "C"), as SQLite does: list pages, cursors and
    // exports order alike on both backends, whatever the cluster's locale, and indexes serve them.
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (1, "workspace (SQLite v1-v13)", v1),
        (2, "score history in write order; events counted per dirty contact", v2),
        (3, "handovers for several instances: one open handover per contact, stage moves waiting for their reaction, delivery leases", v3),
        (4, "KPI change triggers (PL/pgSQL)", v4),
        (5, "reporting views of the KPI facts", v5),
        (6, "month roll-ups indexed by cut and month (the dashboard read)", v6),
        (7, "touchpoints partitioned by month; event ids unique across partitions", v7),
        (8, "month roll-ups read from the index alone (the dashboard read)", v8),
        (9, "a bulk load registers touchpoint ids a chunk at a time", v9),
        (10, "trigram indexes for the text search of contacts and accounts (pg_trgm)", v10),
        (11, "meetings and action items (the weekly sync)", PostgresStore.ritualSchema),
        (12, "lead ratings, campaign reviews, owners, KPI files", PostgresStore.ritualSchema2),
        (13, "erasures: tombstones and the contacts created with an erased address", PostgresStore.privacySchema),
        (14, "consent: each contact's subscription status, set by unsubscribe/subscribe touches", PostgresStore.consentSchema),
    ]

    static var count: Int { migrations.count }

    /// Applies the migrations this database lacks; returns the names of those applied.
    @discardableResult
    static func migrate(_ store: PostgresStore) async throws -> [String] {
        // At start a busy server is waited for longer than a request would be.
        try await store.write(lease: .seconds(60)) { c in
            try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(migrationLock)])
            try await c.script(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            let done = Set(try await c.rows("SELECT version FROM schema_migrations").compactMap { $0.int(0) })
            var applied: [String] = []
            for m in migrations where !done.contains(Int64(m.version)) {
                try await c.script(m.sql)
                try await c.execute("INSERT INTO schema_migrations(version, name) VALUES (?, ?)", [.int(Int64(m.version)), .text(m.name)])
                applied.append(m.name)
            }
            return applied
        }
    }

    /// Score history points of one contact at one time keep the order they were written in
    /// (SQLite orders them by rowid).
    /// A dashboard reads every metric of one or two cuts over a few months: by cut and month it
    /// is one index range per cut instead of one probe per metric and cut.
    static let v6 = """
        CREATE INDEX kpi_months_dim_month ON kpi_months(dim, month, metric);
        CREATE INDEX kpi_month_samples_dim_month ON kpi_month_samples(dim, month, metric);
        """

    /// The dashboard read sums about a thousand month roll-up rows scattered over as many heap
    /// pages; with the columns it reads in the index it is an index-only scan (measured at 1M
    /// leads: 8.7 ms to 2.5 ms for the whole report statement). Past months are rarely written,
    /// so their pages stay all-visible; the table is vacuumed often enough to keep them so.
    static let v8 = """
        DROP INDEX kpi_months_dim_month;
        CREATE INDEX kpi_months_dim_month ON kpi_months(dim, month, metric) INCLUDE (key, label, n, total);
        ALTER TABLE kpi_months SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
        """

    /// The text search (`q=`, the lead search) is a substring match: a scan of every contact
    /// (0.7 s at 1M leads) unless a trigram index narrows it. `pg_trgm` ships with PostgreSQL
    /// (contrib) and is a trusted extension, so the database owner may create it; where it is
    /// not available the search keeps scanning (a notice says so) and `PostgresSearch.document`
    /// is still the narrowing condition, only unindexed. One index covers a contact's name and
    /// email (`PostgresSearch.document`); the exact per-field conditions then decide.
    static let v10 = """
        DO $$
        BEGIN
          CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN OTHERS THEN
          RAISE NOTICE 'pg_trgm is not available (%): text search scans', SQLERRM;
        END $$;
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            EXECUTE $i$CREATE INDEX contacts_search ON contacts USING gin (\(PostgresSearch.document()) gin_trgm_ops)$i$;
            EXECUTE $i$CREATE INDEX accounts_search ON accounts USING gin (name gin_trgm_ops)$i$;
            -- The planner's statistics of the indexed expression (how many rows a text finds).
            ANALYZE contacts;
            ANALYZE accounts;
          END IF;
        END $$;
        """

    /// A bulk load (a bundle import writing a chunk nobody has seen) registers the chunk's ids
    /// with one set-based insert instead of one insert per row in the trigger
    /// (`smarketing.ids_bulk`, set for the chunk's COPY alone; a duplicate id then breaks the
    /// registry's key and the chunk is written again row by row).
    static let v9 = """
        CREATE OR REPLACE FUNCTION touchpoint_id_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('smarketing.ids_bulk', true), '') = 'on' THEN RETURN NEW; END IF;
          IF coalesce(current_setting('smarketing.moving', true), '') = 'on' THEN RETURN NEW; END IF;
          INSERT INTO touchpoint_ids VALUES (NEW.id) ON CONFLICT DO NOTHING;
          IF NOT FOUND THEN RETURN NULL; END IF;
          RETURN NEW;
        END $$;
        """

    /// Touchpoints partitioned by the month (UTC) they occurred in, so old months stay cheap and
    /// can be detached. A partitioned table cannot have a unique index on `id` alone (the key must
    /// include the partition key), so `touchpoint_ids` holds every id once: a row whose id is
    /// already there is skipped by a trigger, which gives every insert `ON CONFLICT DO NOTHING`
    /// semantics (an insert's `RETURNING` names only the rows stored). Months without a partition
    /// go to `touchpoints_default`; housekeeping moves them into month partitions and makes
    /// the next months' (`touchpoint_months_due`, then `touchpoint_month_partition` one month per
    /// transaction: after imports, on start and hourly in `serve`, and `smarketing db housekeeping`). Moving a row between partitions fires the id triggers in the
    /// order delete-then-insert, so an update across months keeps its id.
    ///
    /// The touchpoint fact table has no database-level foreign keys: PostgreSQL checks deferred
    /// keys one row at a time at the commit (9.8 s of a 35 s import of a million touchpoints),
    /// and a key on a partitioned table makes every new month's partition lock the tables it
    /// names. The store holds the references itself: every write path checks them, locking the
    /// named rows `FOR KEY SHARE` (records, events) or holding the import lock a delete of a
    /// named record waits for (bundle imports); deletes find the touchpoints that name a record.
    static let v7 = """
        ALTER TABLE touchpoints RENAME TO touchpoints_unpartitioned;
        ALTER TABLE touchpoints_unpartitioned RENAME CONSTRAINT touchpoints_pkey TO touchpoints_unpartitioned_pkey;
        ALTER INDEX touchpoints_contact_time RENAME TO touchpoints_unpartitioned_contact_time;
        DROP TRIGGER kpi_touchpoints_change ON touchpoints_unpartitioned;
        CREATE TABLE touchpoint_ids (id TEXT COLLATE "C" PRIMARY KEY NOT NULL);
        CREATE TABLE touchpoints (
            id TEXT COLLATE "C" NOT NULL, contact_id TEXT COLLATE "C" NOT NULL, occurred_at BIGINT NOT NULL,
            type TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C", campaign_id TEXT COLLATE "C",
            content_id TEXT COLLATE "C", actor_id TEXT COLLATE "C", properties TEXT COLLATE "C",
            PRIMARY KEY (id, occurred_at)
        ) PARTITION BY RANGE (occurred_at);
        CREATE TABLE touchpoints_default PARTITION OF touchpoints DEFAULT;
        CREATE INDEX touchpoints_contact_time ON touchpoints(contact_id, occurred_at);

        -- The partition of one month (first day 00:00 UTC to the next), rows of that month moved
        -- out of the default partition into it. Returns whether it was made. Attaching locks the
        -- default partition for the rest of the transaction: one month per short transaction.
        CREATE FUNCTION touchpoint_month_partition(month_start timestamp) RETURNS boolean LANGUAGE plpgsql AS $$
        DECLARE
          lo bigint := (extract(epoch FROM month_start) * 1000)::bigint;
          hi bigint := (extract(epoch FROM month_start + interval '1 month') * 1000)::bigint;
          name text := 'touchpoints_' || to_char(month_start, 'YYYY_MM');
        BEGIN
          -- Instances doing their housekeeping at once make each month once.
          PERFORM pg_advisory_xact_lock(7236561640718202739);
          IF to_regclass(name) IS NOT NULL THEN RETURN false; END IF;
          PERFORM set_config('smarketing.moving', 'on', true);
          EXECUTE format('CREATE TABLE %I (LIKE touchpoints INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
          EXECUTE format('INSERT INTO %I SELECT * FROM touchpoints_default WHERE occurred_at >= %s AND occurred_at < %s', name, lo, hi);
          EXECUTE format('DELETE FROM touchpoints_default WHERE occurred_at >= %s AND occurred_at < %s', lo, hi);
          EXECUTE format('ALTER TABLE touchpoints ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', name, lo, hi);
          PERFORM set_config('smarketing.moving', '', true);
          RETURN true;
        END $$;

        -- The months that need a partition: every month the default partition holds, and this
        -- month and the next two (empty until their events come).
        CREATE FUNCTION touchpoint_months_due(now_ms bigint) RETURNS SETOF timestamp LANGUAGE sql STABLE AS $$
          SELECT m FROM (
            SELECT DISTINCT date_trunc('month', to_timestamp(occurred_at / 1000.0) AT TIME ZONE 'UTC') AS m FROM touchpoints_default
            UNION SELECT date_trunc('month', to_timestamp(now_ms / 1000.0) AT TIME ZONE 'UTC') + n * interval '1 month' FROM generate_series(0, 2) n
          ) months
          -- A partition name needs a four-digit year; rows outside stay in the default partition.
          WHERE m >= timestamp '1000-01-01' AND m < timestamp '9999-12-01'
            AND to_regclass('touchpoints_' || to_char(m, 'YYYY_MM')) IS NULL
          ORDER BY m
        $$;

        CREATE FUNCTION touchpoint_id_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('smarketing.moving', true), '') = 'on' THEN RETURN NEW; END IF;
          INSERT INTO touchpoint_ids VALUES (NEW.id) ON CONFLICT DO NOTHING;
          IF NOT FOUND THEN RETURN NULL; END IF;
          RETURN NEW;
        END $$;
        CREATE FUNCTION touchpoint_id_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('smarketing.moving', true), '') = 'on' THEN RETURN OLD; END IF;
          DELETE FROM touchpoint_ids WHERE id = OLD.id;
          RETURN OLD;
        END $$;
        -- The KPI notes of a touchpoint change (kpi_note names tables, and a partition's trigger
        -- sees the partition's name).
        CREATE FUNCTION kpi_note_touchpoint() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('smarketing.kpi_bulk', true), '') = 'on' THEN RETURN NULL; END IF;
          IF coalesce(current_setting('smarketing.moving', true), '') = 'on' THEN RETURN NULL; END IF;
          INSERT INTO kpi_dirty VALUES ('c', OLD.contact_id);
          INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = OLD.contact_id;
          IF TG_OP = 'UPDATE' THEN
            INSERT INTO kpi_dirty VALUES ('c', NEW.contact_id);
            INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = NEW.contact_id;
          END IF;
          RETURN NULL;
        END $$;

        INSERT INTO touchpoint_ids SELECT id FROM touchpoints_unpartitioned;
        SELECT touchpoint_month_partition(m) FROM (
          SELECT DISTINCT date_trunc('month', to_timestamp(occurred_at / 1000.0) AT TIME ZONE 'UTC') AS m FROM touchpoints_unpartitioned
        ) months WHERE m >= timestamp '1000-01-01' AND m < timestamp '9999-12-01';
        INSERT INTO touchpoints SELECT * FROM touchpoints_unpartitioned;
        DROP TABLE touchpoints_unpartitioned;
        CREATE TRIGGER touchpoint_id_insert BEFORE INSERT ON touchpoints FOR EACH ROW EXECUTE FUNCTION touchpoint_id_insert();
        CREATE TRIGGER touchpoint_id_delete BEFORE DELETE ON touchpoints FOR EACH ROW EXECUTE FUNCTION touchpoint_id_delete();
        CREATE TRIGGER kpi_touchpoints_change AFTER UPDATE OR DELETE ON touchpoints FOR EACH ROW EXECUTE FUNCTION kpi_note_touchpoint();
        """

    static let v2 = """
        ALTER TABLE score_history ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY;
        DROP INDEX score_history_contact;
        CREATE INDEX score_history_contact ON score_history(contact_id, at, seq);
        ALTER TABLE scoring_dirty ADD COLUMN events BIGINT NOT NULL DEFAULT 0;
        """

    static let v3 = """
        DROP INDEX handovers_open_contact;
        CREATE UNIQUE INDEX handovers_open_contact ON handovers(contact_id) WHERE status IN ('queued', 'assigned', 'accepted');
        CREATE TABLE transition_pending (seq BIGINT PRIMARY KEY);
        ALTER TABLE webhook_deliveries ADD COLUMN claimed_until BIGINT;
        """

    /// The KPI change triggers: the SQLite store's, as PL/pgSQL. They note every record whose KPI
    /// facts may have changed in `kpi_dirty`, in the transaction of the change; the store
    /// refreshes the aggregates from that list before the transaction commits. A bulk load sets
    /// `smarketing.kpi_bulk` for its transaction and rebuilds instead.
    /// The per-record KPI facts as columns, for BI tools (the same values `smarketing export
    /// facts` writes): instants as `timestamptz`, days as `date`, money in cents.
    static let v5 = """
        CREATE FUNCTION reporting_field(facts text, n int) RETURNS text LANGUAGE sql IMMUTABLE AS
          $$SELECT nullif(split_part(facts, chr(31), n), '')$$;
        CREATE FUNCTION reporting_instant(facts text, n int) RETURNS timestamptz LANGUAGE sql STABLE AS
          $$SELECT to_timestamp(nullif(split_part(facts, chr(31), n), '')::bigint / 1000.0)$$;
        CREATE VIEW reporting_contact_facts AS
        SELECT id AS contact_id, reporting_instant(facts, 1) AS created_at, reporting_field(facts, 2) AS stage,
               reporting_instant(facts, 3) AS lead_at, reporting_instant(facts, 4) AS mql_at, reporting_instant(facts, 5) AS sal_at,
               reporting_instant(facts, 16) AS sql_at, reporting_instant(facts, 6) AS opportunity_at, reporting_instant(facts, 17) AS customer_at,
               reporting_instant(facts, 7) AS assigned_at, reporting_instant(facts, 8) AS responded_at,
               reporting_field(facts, 9)::bigint AS response_business_ms, reporting_instant(facts, 18) AS exit_at,
               reporting_field(facts, 19) AS exit_reason, reporting_instant(facts, 20) AS last_sales_at,
               reporting_field(facts, 10) AS channel, reporting_field(facts, 11) AS campaign, reporting_field(facts, 12) AS persona,
               reporting_field(facts, 13) AS segment, reporting_field(facts, 14) AS owner, reporting_field(facts, 15) AS team
        FROM kpi_facts WHERE kind = 'c';
        CREATE VIEW reporting_opportunity_facts AS
        SELECT id AS opportunity_id, reporting_instant(facts, 1) AS created_at, reporting_instant(facts, 2) AS closed_at,
               (reporting_field(facts, 3) = '1') AS is_won, reporting_field(facts, 4)::bigint AS amount_cents,
               (DATE '1970-01-01' + reporting_field(facts, 5)::int) AS expected_close_date,
               reporting_field(facts, 6)::int AS probability_percent, reporting_field(facts, 7) AS lost_reason,
               reporting_instant(facts, 8) AS first_marketing_touch_at,
               reporting_field(facts, 9) AS channel, reporting_field(facts, 10) AS campaign, reporting_field(facts, 11) AS persona,
               reporting_field(facts, 12) AS segment, reporting_field(facts, 13) AS owner, reporting_field(facts, 14) AS team
        FROM kpi_facts WHERE kind = 'd';
        CREATE VIEW reporting_cost_facts AS
        SELECT id AS cost_id, (DATE '1970-01-01' + reporting_field(facts, 1)::int) AS day, reporting_field(facts, 2) AS category,
               reporting_field(facts, 3)::bigint AS amount_cents, reporting_field(facts, 4) AS campaign, reporting_field(facts, 5) AS channel
        FROM kpi_facts WHERE kind = 'k';
        """

    static let v4 = """
        CREATE INDEX kpi_dirty_kind ON kpi_dirty(kind, id);
        CREATE FUNCTION kpi_note() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('smarketing.kpi_bulk', true), '') = 'on' THEN RETURN NULL; END IF;
          IF TG_TABLE_NAME = 'contacts' THEN
            IF TG_OP <> 'DELETE' THEN INSERT INTO kpi_dirty VALUES ('c', NEW.id); END IF;
            IF TG_OP <> 'INSERT' THEN INSERT INTO kpi_dirty VALUES ('c', OLD.id); END IF;
          ELSIF TG_TABLE_NAME = 'touchpoints' THEN
            INSERT INTO kpi_dirty VALUES ('c', OLD.contact_id);
            INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = OLD.contact_id;
            IF TG_OP = 'UPDATE' THEN
              INSERT INTO kpi_dirty VALUES ('c', NEW.contact_id);
              INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = NEW.contact_id;
            END IF;
          ELSIF TG_TABLE_NAME = 'opportunities' THEN
            IF TG_OP <> 'DELETE' THEN
              INSERT INTO kpi_dirty VALUES ('d', NEW.id), ('a', NEW.account_id);
              INSERT INTO kpi_dirty SELECT 'c', NEW.primary_contact_id WHERE NEW.primary_contact_id IS NOT NULL;
              INSERT INTO kpi_dirty SELECT 'c', contact_id FROM opportunity_contacts WHERE opportunity_id = NEW.id;
            END IF;
            IF TG_OP <> 'INSERT' THEN
              INSERT INTO kpi_dirty VALUES ('d', OLD.id), ('a', OLD.account_id);
              INSERT INTO kpi_dirty SELECT 'c', OLD.primary_contact_id WHERE OLD.primary_contact_id IS NOT NULL;
              INSERT INTO kpi_dirty SELECT 'c', contact_id FROM opportunity_contacts WHERE opportunity_id = OLD.id;
              INSERT INTO kpi_dirty SELECT 'c', contact_id FROM kpi_deal_contacts WHERE opportunity_id = OLD.id;
            END IF;
          ELSIF TG_TABLE_NAME = 'opportunity_contacts' THEN
            IF TG_OP <> 'DELETE' THEN INSERT INTO kpi_dirty VALUES ('d', NEW.opportunity_id), ('c', NEW.contact_id); END IF;
            IF TG_OP <> 'INSERT' THEN INSERT INTO kpi_dirty VALUES ('d', OLD.opportunity_id), ('c', OLD.contact_id); END IF;
          ELSIF TG_TABLE_NAME = 'costs' THEN
            IF TG_OP <> 'DELETE' THEN INSERT INTO kpi_dirty VALUES ('k', NEW.id); END IF;
            IF TG_OP <> 'INSERT' THEN INSERT INTO kpi_dirty VALUES ('k', OLD.id); END IF;
          ELSIF TG_TABLE_NAME = 'campaigns' THEN
            INSERT INTO kpi_dirty SELECT 'k', id FROM costs WHERE campaign_id = NEW.id;
          ELSIF TG_TABLE_NAME = 'handovers' THEN
            INSERT INTO kpi_dirty VALUES ('c', NEW.contact_id);
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER kpi_contacts_insert AFTER INSERT OR DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_contacts_update AFTER UPDATE OF created_at, lifecycle_stage, became_lead_at, became_mql_at,
            became_sal_at, became_sql_at, became_opportunity_at, became_customer_at, recycled_at, recycle_reason, assigned_at,
            source_channel, source_campaign_id, persona_id, owner_id ON contacts FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_touchpoints_change AFTER UPDATE OR DELETE ON touchpoints FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_opportunities_change AFTER INSERT OR UPDATE OR DELETE ON opportunities FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_opportunity_contacts_change AFTER INSERT OR UPDATE OR DELETE ON opportunity_contacts FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_costs_change AFTER INSERT OR UPDATE OR DELETE ON costs FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_campaigns_channel AFTER UPDATE OF channel ON campaigns FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_handovers_insert AFTER INSERT ON handovers FOR EACH ROW EXECUTE FUNCTION kpi_note();
        CREATE TRIGGER kpi_handovers_segment AFTER UPDATE OF segment ON handovers FOR EACH ROW EXECUTE FUNCTION kpi_note();
        """

    static let v1 = """
        CREATE TABLE users (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, email TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C", team TEXT COLLATE "C", role TEXT COLLATE "C", manager_id TEXT COLLATE "C" REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, capacity BIGINT, timezone TEXT COLLATE "C", access_role TEXT COLLATE "C", email_key TEXT COLLATE "C" NOT NULL, password_hash TEXT COLLATE "C");
        CREATE TABLE personas (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, name TEXT COLLATE "C" NOT NULL, description TEXT COLLATE "C", rules TEXT COLLATE "C");
        CREATE TABLE accounts (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, name TEXT COLLATE "C" NOT NULL, domain TEXT COLLATE "C", industry TEXT COLLATE "C", employees BIGINT, annual_revenue DOUBLE PRECISION, country TEXT COLLATE "C", owner_id TEXT COLLATE "C" REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, created_at BIGINT, source TEXT COLLATE "C", external_id TEXT COLLATE "C");
        CREATE TABLE campaigns (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, name TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C", start_date TEXT COLLATE "C", end_date TEXT COLLATE "C", budget DOUBLE PRECISION);
        CREATE TABLE content (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, title TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C" NOT NULL, funnel_stage TEXT COLLATE "C", persona_ids TEXT COLLATE "C", url TEXT COLLATE "C");
        CREATE TABLE contacts (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, email TEXT COLLATE "C" NOT NULL, first_name TEXT COLLATE "C", last_name TEXT COLLATE "C", title TEXT COLLATE "C", phone TEXT COLLATE "C", account_id TEXT COLLATE "C" REFERENCES accounts(id) DEFERRABLE INITIALLY DEFERRED, country TEXT COLLATE "C", persona_id TEXT COLLATE "C" REFERENCES personas(id) DEFERRABLE INITIALLY DEFERRED, owner_id TEXT COLLATE "C" REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, source_channel TEXT COLLATE "C", source_campaign_id TEXT COLLATE "C" REFERENCES campaigns(id) DEFERRABLE INITIALLY DEFERRED, created_at BIGINT NOT NULL, lifecycle_stage TEXT COLLATE "C", became_lead_at BIGINT, became_mql_at BIGINT, became_sal_at BIGINT, became_sql_at BIGINT, became_opportunity_at BIGINT, became_customer_at BIGINT, recycled_at BIGINT, recycle_reason TEXT COLLATE "C", assigned_at BIGINT, source TEXT COLLATE "C", external_id TEXT COLLATE "C", email_key TEXT COLLATE "C" NOT NULL);
        CREATE TABLE costs (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, date TEXT COLLATE "C" NOT NULL, category TEXT COLLATE "C" NOT NULL, amount DOUBLE PRECISION NOT NULL, campaign_id TEXT COLLATE "C" REFERENCES campaigns(id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TABLE touchpoints (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, contact_id TEXT COLLATE "C" NOT NULL REFERENCES contacts(id) DEFERRABLE INITIALLY DEFERRED, occurred_at BIGINT NOT NULL, type TEXT COLLATE "C" NOT NULL, channel TEXT COLLATE "C", campaign_id TEXT COLLATE "C" REFERENCES campaigns(id) DEFERRABLE INITIALLY DEFERRED, content_id TEXT COLLATE "C" REFERENCES content(id) DEFERRABLE INITIALLY DEFERRED, actor_id TEXT COLLATE "C" REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, properties TEXT COLLATE "C");
        CREATE TABLE opportunities (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) DEFERRABLE INITIALLY DEFERRED, created_at BIGINT NOT NULL, name TEXT COLLATE "C", amount DOUBLE PRECISION, stage TEXT COLLATE "C", owner_id TEXT COLLATE "C" REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, primary_contact_id TEXT COLLATE "C" REFERENCES contacts(id) DEFERRABLE INITIALLY DEFERRED, expected_close_date TEXT COLLATE "C", closed_at BIGINT, is_won BIGINT, lost_reason TEXT COLLATE "C", source TEXT COLLATE "C", external_id TEXT COLLATE "C");
        CREATE TABLE opportunity_contacts (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, opportunity_id TEXT COLLATE "C" NOT NULL REFERENCES opportunities(id) DEFERRABLE INITIALLY DEFERRED, contact_id TEXT COLLATE "C" NOT NULL REFERENCES contacts(id) DEFERRABLE INITIALLY DEFERRED, role TEXT COLLATE "C");
        CREATE TABLE targets (id TEXT COLLATE "C" PRIMARY KEY NOT NULL, period TEXT COLLATE "C" NOT NULL, metric TEXT COLLATE "C" NOT NULL, value DOUBLE PRECISION NOT NULL, segment TEXT COLLATE "C");
        CREATE UNIQUE INDEX users_email ON users(email_key);
        CREATE INDEX contacts_email ON contacts(email_key, created_at);
        CREATE INDEX contacts_account ON contacts(account_id);
        CREATE INDEX contacts_created ON contacts(created_at);
        CREATE UNIQUE INDEX contacts_external ON contacts(source, external_id) WHERE external_id IS NOT NULL;
        CREATE INDEX accounts_domain ON accounts(domain, created_at);
        CREATE UNIQUE INDEX accounts_external ON accounts(source, external_id) WHERE external_id IS NOT NULL;
        CREATE UNIQUE INDEX opportunities_external ON opportunities(source, external_id) WHERE external_id IS NOT NULL;
        CREATE INDEX opportunities_account ON opportunities(account_id);
        CREATE INDEX opportunity_contacts_contact ON opportunity_contacts(contact_id);
        CREATE INDEX touchpoints_contact_time ON touchpoints(contact_id, occurred_at);
        CREATE TABLE contact_merges (
            removed_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, kept_id TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, actor TEXT COLLATE "C" NOT NULL);
        CREATE TABLE api_tokens (
            id TEXT COLLATE "C" PRIMARY KEY NOT NULL, user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
            role TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
            created_at BIGINT NOT NULL, revoked_at BIGINT);
        CREATE TABLE audit_log (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, actor TEXT COLLATE "C" NOT NULL,
            action TEXT COLLATE "C" NOT NULL, resource TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL, detail TEXT COLLATE "C" NOT NULL);
        CREATE TABLE settings (key TEXT COLLATE "C" PRIMARY KEY NOT NULL, value TEXT COLLATE "C" NOT NULL);
        CREATE INDEX contacts_stage ON contacts(lifecycle_stage, id);
        CREATE INDEX contacts_owner ON contacts(owner_id, id);
        CREATE TABLE scoring_models (
            version BIGINT PRIMARY KEY, status TEXT COLLATE "C" NOT NULL, author TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL,
            applied_at BIGINT, comment TEXT COLLATE "C" NOT NULL, diff TEXT COLLATE "C" NOT NULL, text TEXT COLLATE "C" NOT NULL);
        CREATE TABLE contact_scores (
            contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, version BIGINT NOT NULL, fit DOUBLE PRECISION NOT NULL, grade TEXT COLLATE "C" NOT NULL,
            engagement DOUBLE PRECISION NOT NULL, latest BIGINT, persona_id TEXT COLLATE "C", state BYTEA NOT NULL);
        CREATE INDEX contact_scores_grade ON contact_scores(grade, contact_id);
        CREATE TABLE score_staging (
            contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, version BIGINT NOT NULL, fit DOUBLE PRECISION NOT NULL, grade TEXT COLLATE "C" NOT NULL,
            engagement DOUBLE PRECISION NOT NULL, latest BIGINT, persona_id TEXT COLLATE "C", state BYTEA NOT NULL,
            qualifies BIGINT NOT NULL, persona_automatic BIGINT NOT NULL);
        CREATE TABLE scoring_dirty (contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL);
        CREATE TABLE score_history (
            contact_id TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, version BIGINT NOT NULL, fit DOUBLE PRECISION NOT NULL,
            grade TEXT COLLATE "C" NOT NULL, engagement DOUBLE PRECISION NOT NULL, event TEXT COLLATE "C" NOT NULL);
        CREATE INDEX score_history_contact ON score_history(contact_id, at);
        CREATE TABLE lifecycle_transitions (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, contact_id TEXT COLLATE "C" NOT NULL, from_stage TEXT COLLATE "C", to_stage TEXT COLLATE "C" NOT NULL,
            at BIGINT NOT NULL, actor TEXT COLLATE "C" NOT NULL, reason TEXT COLLATE "C", model_version BIGINT);
        CREATE INDEX lifecycle_transitions_contact ON lifecycle_transitions(contact_id, at);
        CREATE TABLE handover_configs (
            version BIGINT PRIMARY KEY, text TEXT COLLATE "C" NOT NULL, applied_at BIGINT NOT NULL, author TEXT COLLATE "C" NOT NULL,
            comment TEXT COLLATE "C" NOT NULL, active BIGINT NOT NULL DEFAULT 0);
        CREATE TABLE handovers (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, contact_id TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL, owner_id TEXT COLLATE "C" NOT NULL,
            queue TEXT COLLATE "C", team TEXT COLLATE "C", segment TEXT COLLATE "C", policy TEXT COLLATE "C", grade TEXT COLLATE "C", channel TEXT COLLATE "C", campaign_id TEXT COLLATE "C",
            rule TEXT COLLATE "C" NOT NULL, routing TEXT COLLATE "C" NOT NULL, config_version BIGINT NOT NULL, created_at BIGINT NOT NULL,
            assigned_at BIGINT, answered_at BIGINT, first_touch_at BIGINT, closed_at BIGINT, reason TEXT COLLATE "C", note TEXT COLLATE "C");
        CREATE INDEX handovers_open_contact ON handovers(contact_id) WHERE status IN ('queued', 'assigned', 'accepted');
        CREATE INDEX handovers_owner ON handovers(owner_id, status);
        CREATE INDEX handovers_created ON handovers(created_at);
        CREATE TABLE sla_clocks (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, handover_id BIGINT NOT NULL REFERENCES handovers(id),
            kind TEXT COLLATE "C" NOT NULL, owner_id TEXT COLLATE "C", status TEXT COLLATE "C" NOT NULL, due_at BIGINT NOT NULL, next_at BIGINT,
            state TEXT COLLATE "C" NOT NULL);
        CREATE INDEX sla_clocks_next ON sla_clocks(next_at) WHERE next_at IS NOT NULL;
        CREATE INDEX sla_clocks_handover ON sla_clocks(handover_id);
        CREATE TABLE handover_log (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, handover_id BIGINT NOT NULL, at BIGINT NOT NULL,
            actor TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL, detail TEXT COLLATE "C" NOT NULL);
        CREATE INDEX handover_log_handover ON handover_log(handover_id, seq);
        CREATE TABLE routing_counters (
            pool TEXT COLLATE "C" NOT NULL, user_id TEXT COLLATE "C" NOT NULL, assigned BIGINT NOT NULL, PRIMARY KEY (pool, user_id));
        CREATE TABLE transition_cursor (id BIGINT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
        CREATE TABLE outbox (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, type TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, subject TEXT COLLATE "C" NOT NULL,
            payload TEXT COLLATE "C" NOT NULL);
        CREATE TABLE webhook_subscriptions (
            id TEXT COLLATE "C" PRIMARY KEY NOT NULL, url TEXT COLLATE "C" NOT NULL, events TEXT COLLATE "C" NOT NULL, secret TEXT COLLATE "C" NOT NULL,
            format TEXT COLLATE "C" NOT NULL, active BIGINT NOT NULL, created_at BIGINT NOT NULL);
        CREATE TABLE webhook_deliveries (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, subscription_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_subscriptions(id),
            outbox_seq BIGINT NOT NULL REFERENCES outbox(seq), status TEXT COLLATE "C" NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at BIGINT, last_status BIGINT, last_error TEXT COLLATE "C", delivered_at BIGINT);
        CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(subscription_id, id) WHERE status = 'pending';
        CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);
        CREATE TABLE kpi_dirty (kind TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL);
        CREATE TABLE kpi_facts (
            kind TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, facts TEXT COLLATE "C" NOT NULL, responded_at BIGINT, idle_until BIGINT,
            PRIMARY KEY (kind, id));
        CREATE TABLE kpi_deal_contacts (
            contact_id TEXT COLLATE "C" NOT NULL, opportunity_id TEXT COLLATE "C" NOT NULL, won_closed_at BIGINT,
            PRIMARY KEY (contact_id, opportunity_id));
        CREATE INDEX kpi_deal_contacts_deal ON kpi_deal_contacts(opportunity_id);
        CREATE TABLE kpi_cells (
            metric TEXT COLLATE "C" NOT NULL, dim TEXT COLLATE "C" NOT NULL, day BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, label TEXT COLLATE "C" NOT NULL,
            value BIGINT NOT NULL, n BIGINT NOT NULL, total BIGINT NOT NULL,
            PRIMARY KEY (metric, dim, day, key, label, value));
        CREATE TABLE kpi_state (id BIGINT PRIMARY KEY CHECK (id = 1), built_with TEXT COLLATE "C", version BIGINT NOT NULL DEFAULT 0);
        CREATE INDEX opportunity_contacts_opportunity ON opportunity_contacts(opportunity_id);
        CREATE INDEX opportunities_primary ON opportunities(primary_contact_id);
        CREATE INDEX handovers_contact ON handovers(contact_id, id);
        CREATE INDEX costs_campaign ON costs(campaign_id);
        CREATE VIEW reporting_kpi_cells AS
        SELECT metric, dim AS cut, key AS cut_value, (DATE '1970-01-01' + day::int) AS day, label,
               value AS sample_value, n AS count, total
        FROM kpi_cells WHERE metric <> 'open_opportunities';
        CREATE VIEW reporting_open_pipeline AS
        SELECT dim AS cut, key AS cut_value, n AS open_opportunities, total AS amount_cents
        FROM kpi_cells WHERE metric = 'open_opportunities';
        CREATE TABLE kpi_months (
            metric TEXT COLLATE "C" NOT NULL, dim TEXT COLLATE "C" NOT NULL, month BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, label TEXT COLLATE "C" NOT NULL,
            n BIGINT NOT NULL, total BIGINT NOT NULL,
            PRIMARY KEY (metric, dim, month, key, label));
        CREATE TABLE kpi_month_samples (
            metric TEXT COLLATE "C" NOT NULL, dim TEXT COLLATE "C" NOT NULL, month BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL,
            n BIGINT NOT NULL, total BIGINT NOT NULL, samples BYTEA NOT NULL,
            PRIMARY KEY (metric, dim, month, key));
        CREATE TABLE web_sessions (
            id_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL, user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT COLLATE "C" NOT NULL, csrf TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
        CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
        CREATE INDEX kpi_facts_idle ON kpi_facts(idle_until) WHERE idle_until IS NOT NULL;
        CREATE TABLE login_failures (key TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX login_failures_key ON login_failures(key, at);
        CREATE TABLE connections (
            name TEXT COLLATE "C" PRIMARY KEY NOT NULL, vendor TEXT COLLATE "C" NOT NULL, base_url TEXT COLLATE "C", sealed_secrets BYTEA NOT NULL,
            settings TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, status TEXT COLLATE "C" NOT NULL,
            last_sync_at BIGINT, last_error TEXT COLLATE "C", counts TEXT COLLATE "C" NOT NULL DEFAULT '{}');
        CREATE TABLE sync_links (
            connection TEXT COLLATE "C" NOT NULL, object TEXT COLLATE "C" NOT NULL, external_id TEXT COLLATE "C" NOT NULL, resource TEXT COLLATE "C" NOT NULL,
            record_id TEXT COLLATE "C" NOT NULL, synced_at BIGINT NOT NULL, PRIMARY KEY (connection, object, external_id));
        CREATE INDEX sync_links_record ON sync_links(resource, record_id);
        CREATE INDEX contact_merges_kept ON contact_merges(kept_id);
        CREATE TABLE sync_cursors (
            connection TEXT COLLATE "C" NOT NULL, object TEXT COLLATE "C" NOT NULL, cursor TEXT COLLATE "C", watermark TEXT COLLATE "C", complete BIGINT NOT NULL,
            updated_at BIGINT NOT NULL, PRIMARY KEY (connection, object));
        CREATE TABLE sync_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, connection TEXT COLLATE "C" NOT NULL, started_at BIGINT NOT NULL,
            finished_at BIGINT, status TEXT COLLATE "C" NOT NULL, "full" BIGINT NOT NULL, counts TEXT COLLATE "C" NOT NULL DEFAULT '{}', error TEXT COLLATE "C");
        CREATE INDEX sync_runs_connection ON sync_runs(connection, id);
        CREATE TABLE sync_skips (
            run_id BIGINT NOT NULL, connection TEXT COLLATE "C" NOT NULL, object TEXT COLLATE "C" NOT NULL, external_id TEXT COLLATE "C" NOT NULL,
            reason TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX sync_skips_run ON sync_skips(run_id);
        CREATE TABLE writeback_state (
            connection TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL, field TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C",
            PRIMARY KEY (connection, record_id, field));
        CREATE TABLE writeback_outbox (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, connection TEXT COLLATE "C" NOT NULL, record_id TEXT COLLATE "C" NOT NULL,
            object TEXT COLLATE "C" NOT NULL, external_id TEXT COLLATE "C" NOT NULL, field TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C",
            status TEXT COLLATE "C" NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_attempt_at BIGINT,
            last_error TEXT COLLATE "C", created_at BIGINT NOT NULL, delivered_at BIGINT);
        CREATE INDEX writeback_outbox_pending ON writeback_outbox(connection, seq) WHERE status = 'pending';
        CREATE TABLE inbound_receipts (
            connection TEXT COLLATE "C" NOT NULL, event_id TEXT COLLATE "C" NOT NULL, received_at BIGINT NOT NULL,
            PRIMARY KEY (connection, event_id));
        CREATE TABLE connection_configs (
            version BIGINT PRIMARY KEY, text TEXT COLLATE "C" NOT NULL, applied_at BIGINT NOT NULL, author TEXT COLLATE "C" NOT NULL,
            comment TEXT COLLATE "C" NOT NULL, active BIGINT NOT NULL DEFAULT 0);
        CREATE INDEX sync_links_external ON sync_links(connection, external_id, resource);
        INSERT INTO transition_cursor(id, seq) VALUES (1, 0);
        INSERT INTO kpi_state(id, built_with) VALUES (1, NULL);
        """
}
