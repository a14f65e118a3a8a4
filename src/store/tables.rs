//! Every table licd keeps. No table name is spelled anywhere else.
//!
//! Record tables hold values through `codec` (`RecTable<K, V>` knows `V`); small index
//! tables use redb's own key and value types.
use super::StoreError;
use super::codec;
use redb::{Key, MultimapTableDefinition, ReadableTable, Table, TableDefinition, Value};
use serde::{Serialize, de::DeserializeOwned};
use std::borrow::Borrow;
use std::marker::PhantomData;

use crate::domain::seats::Holder;
use crate::domain::{AuditEntry, Distributor, LoginFailures, StaffLink, StaffPrefs, StaffSession};
use crate::domain::{Client, Coupon, Denial, Key as LicenseKey, Mail, Product, Token, User};

/// A table of records of type `V`, encoded by `codec`.
pub struct RecTable<K: Key + 'static, V> {
    pub def: TableDefinition<'static, K, &'static [u8]>,
    _v: PhantomData<fn() -> V>,
}

impl<K: Key + 'static, V: Serialize + DeserializeOwned> RecTable<K, V> {
    pub const fn new(name: &'static str) -> Self {
        RecTable {
            def: TableDefinition::new(name),
            _v: PhantomData,
        }
    }

    pub fn get<'a>(
        &self,
        t: &impl ReadableTable<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'a>>,
    ) -> Result<Option<V>, StoreError> {
        match t.get(key)? {
            Some(v) => Ok(Some(codec::decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn put<'a>(
        &self,
        t: &mut Table<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'a>>,
        value: &V,
    ) -> Result<(), StoreError> {
        let bytes = codec::encode(value)?;
        t.insert(key, bytes.as_slice())?;
        Ok(())
    }
}

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub const PRODUCTS: RecTable<u64, Product> = RecTable::new("products");
/// Lower-cased product code → product id.
pub const PRODUCT_CODES: TableDefinition<&str, u64> = TableDefinition::new("product_codes");
/// Feature number → product id (feature numbers are unique across products).
pub const FEATURES: TableDefinition<u32, u64> = TableDefinition::new("features");

pub const CLIENTS: RecTable<u64, Client> = RecTable::new("clients");
/// Lower-cased e-mail → client ids.
pub const CLIENT_EMAILS: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("client_emails");
pub const CLIENT_CRM1: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("client_crm1");
/// Responsible manager's login → client ids (schema 2).
pub const CLIENT_MANAGERS: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("client_managers");
/// Distributor → client ids (schema 2).
pub const CLIENT_DISTRIBUTORS: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("client_distributors");
pub const CLIENT_CRM2: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("client_crm2");
/// Client id → its keys' registration numbers.
pub const CLIENT_KEYS: MultimapTableDefinition<u64, &str> =
    MultimapTableDefinition::new("client_keys");

pub const KEYS: RecTable<&str, LicenseKey> = RecTable::new("keys");
/// (expiry unix s, registration number, grant id) → (): every grant that expires, in
/// expiry order, so reminders read the next 30 days without scanning every key
/// (schema 5; kept by `service::keys::save`).
pub const GRANT_EXPIRY: TableDefinition<(i64, &str, u64), ()> =
    TableDefinition::new("grant_expiry");
pub const COUPONS: RecTable<&str, Coupon> = RecTable::new("coupons");
/// Lower-cased host → the registration number its first trial made.
pub const TRIAL_HOSTS: TableDefinition<&str, &str> = TableDefinition::new("trial_hosts");

/// (registration number, feature, unit key) → the holder of one seat and its leases.
/// A capture reads and writes only its own unit's row, whatever the key's size.
pub const HOLDERS: RecTable<(&str, u32, &str), Holder> = RecTable::new("holders");
/// (registration number, feature) → how many `HOLDERS` rows it has: the seats taken
/// (holders whose leases all lapsed count until they are pruned).
pub const SEAT_COUNTS: TableDefinition<(&str, u32), u32> = TableDefinition::new("seat_counts");
/// Lease id → (registration number, feature, unit key, heartbeat_s, durable expiry in
/// unix s). Lease ids begin with their creation time, so new rows go to the table's end.
pub const LEASE_INDEX: TableDefinition<&str, (&str, u32, &str, u32, i64)> =
    TableDefinition::new("lease_index");

/// Schema 2's seat books, one per (key, feature); moved to `HOLDERS` by schema 3.
pub const LEGACY_SEATS: RecTable<(&str, u32), crate::domain::seats::SeatBook> =
    RecTable::new("seats");
/// Schema 2's lease index; `LEASE_INDEX` since schema 3.
pub const LEGACY_LEASES: TableDefinition<&str, (&str, u32, u32, i64)> =
    TableDefinition::new("leases");

/// (registration number, unix ms, sequence) → a refused capture.
pub const DENIALS: RecTable<(&str, i64, u64), Denial> = RecTable::new("denials");
/// (day number, registration number) → (): which keys had denials on which day, so
/// old denials are pruned by day without scanning every key.
pub const DENIAL_DAYS: TableDefinition<(i32, &str), ()> = TableDefinition::new("denial_days");
/// (registration number, feature, day number) → (captures, denials, peak seats).
pub const USAGE: TableDefinition<(&str, u32, i32), (u32, u32, u32)> = TableDefinition::new("usage");
/// (day number, feature) → (captures, denials, sum of the keys' peaks) over every key:
/// the rollup of `USAGE` the staff statistics read (schema 4; kept by `usage::flush`).
pub const USAGE_DAILY: TableDefinition<(i32, u32), (u64, u64, u64)> =
    TableDefinition::new("usage_daily");
/// (unix ms, sequence) → (registration number, feature, code): every denial in time
/// order, so the back office reads the newest across all keys without a scan (schema 4).
/// The sequence is the one in the denial's `DENIALS` key.
pub const DENIAL_TIMES: TableDefinition<(i64, u64), (&str, u32, u32)> =
    TableDefinition::new("denial_times");
/// (feature, unix ms, sequence) → (registration number, code): the same per feature.
pub const DENIAL_FEATURE_TIMES: TableDefinition<(u32, i64, u64), (&str, u32)> =
    TableDefinition::new("denial_feature_times");
/// (day number, client id / 1024) → denials per client of that block on that day,
/// packed (see `service::stats::blocks`): top clients by denials over a year read
/// ~365 × (clients / 1024) small rows instead of one row per key and day (schema 4).
pub const DENIAL_CLIENT_DAYS: TableDefinition<(i32, u64), &[u8]> =
    TableDefinition::new("denial_client_days");

/// SHA-256 (hex) of a token's secret → the token.
pub const TOKENS: RecTable<&str, Token> = RecTable::new("tokens");
pub const USERS: RecTable<&str, User> = RecTable::new("users");
/// Mail id → the mail, queued, being sent, sent or given up (pruned after 90 days).
pub const OUTBOX: RecTable<u64, Mail> = RecTable::new("outbox");
/// A mail's idempotency key (`Mail::key`) → (mail id, unix s queued): a second queueing
/// of the same event about the same thing finds it and queues nothing (schema 5).
pub const MAIL_KEYS: TableDefinition<&str, (u64, i64)> = TableDefinition::new("mail_keys");
/// Mail id → unix s of its next attempt, for every mail `Queued`: the sender reads this
/// instead of the whole outbox (schema 5).
pub const MAIL_PENDING: TableDefinition<u64, i64> = TableDefinition::new("mail_pending");

/// SHA-256 (hex) of a web UI session cookie's secret → the session.
pub const STAFF_SESSIONS: RecTable<&str, StaffSession> = RecTable::new("staff_sessions");
/// Login → its recent failed sign-ins.
pub const LOGIN_FAILURES: RecTable<&str, LoginFailures> = RecTable::new("login_failures");
/// Login → the staff member's UI preferences.
pub const STAFF_PREFS: RecTable<&str, StaffPrefs> = RecTable::new("staff_prefs");
/// SHA-256 (hex) of a mailed password link's token → the link (a staff user made
/// without a password sets one through it).
pub const STAFF_LINKS: RecTable<&str, StaffLink> = RecTable::new("staff_links");
/// Sequence number → one staff change.
pub const AUDIT: RecTable<u64, AuditEntry> = RecTable::new("audit");
/// Distributor code → the distributor.
pub const DISTRIBUTORS: RecTable<&str, Distributor> = RecTable::new("distributors");

/// Release id → the release (schema 5 adds it; a new table, no migration).
pub const RELEASES: RecTable<u64, crate::domain::release::Release> = RecTable::new("releases");
/// (lower-cased product code, channel, lower-cased version) → release id: one release
/// per product, channel and version.
pub const RELEASE_VERSIONS: TableDefinition<(&str, &str, &str), u64> =
    TableDefinition::new("release_versions");
/// (release id, client id; 0 for staff) → downloads.
pub const RELEASE_DOWNLOADS: TableDefinition<(u64, u64), u64> =
    TableDefinition::new("release_downloads");

/// Registration number → the key's cabinet password.
pub const CABINET_PASSWORDS: RecTable<&str, crate::domain::cabinet::CabinetPassword> =
    RecTable::new("cabinet_passwords");
/// Registration number → its newest one-time sign-in code.
pub const CABINET_CODES: RecTable<&str, crate::domain::cabinet::OneTimeCode> =
    RecTable::new("cabinet_codes");
/// SHA-256 (hex) of a password link's token → the link.
pub const CABINET_LINKS: RecTable<&str, crate::domain::cabinet::PasswordLink> =
    RecTable::new("cabinet_links");
/// SHA-256 (hex) of a cabinet cookie's secret → the session.
pub const CABINET_SESSIONS: RecTable<&str, crate::domain::cabinet::CabinetSession> =
    RecTable::new("cabinet_sessions");
/// Upper-cased cabinet login (registration number or coupon) → its recent failures.
pub const CABINET_FAILURES: RecTable<&str, LoginFailures> = RecTable::new("cabinet_failures");
/// Client id → the client's preferences.
pub const CLIENT_PREFS: RecTable<u64, crate::domain::cabinet::ClientPrefs> =
    RecTable::new("client_prefs");
/// (registration number, feature, unix ms, sequence) → 1 unbind / 2 ended session: the
/// client's own self-service actions, counted against the product's limit.
pub const SELF_SERVICE: TableDefinition<(&str, u32, i64, u64), u8> =
    TableDefinition::new("self_service");
/// Product id → its options beyond the product record.
pub const PRODUCT_OPTIONS: RecTable<u64, crate::domain::cabinet::ProductOptions> =
    RecTable::new("product_options");

/// Checks that `bytes` decode as a record (see `Visit::table`).
pub type Decodes = fn(&[u8]) -> Result<(), StoreError>;

impl<K: Key + 'static, V: Serialize + DeserializeOwned> RecTable<K, V> {
    fn decodes(bytes: &[u8]) -> Result<(), StoreError> {
        codec::decode::<V>(bytes).map(drop)
    }

    /// The decode check of this table's records.
    pub fn check_of(&self) -> Decodes {
        Self::decodes
    }
}

/// Something done to every table in turn (`visit_all`): creating them, copying them into
/// a backup, checking them. Generic over the tables' key and value types, so each table
/// is handled with its own types and no table is listed twice.
pub trait Visit {
    /// A table; `decodes` checks a value when it holds codec records; `legacy` marks the
    /// tables an older schema had (present only in a database not migrated yet).
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        decodes: Option<Decodes>,
        legacy: bool,
    ) -> Result<(), StoreError>;
    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        def: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StoreError>;
}

/// Visits every table licd has ever kept, current ones first.
pub fn visit_all(v: &mut impl Visit) -> Result<(), StoreError> {
    v.table(META, None, false)?;
    v.table(PRODUCTS.def, Some(PRODUCTS.check_of()), false)?;
    v.table(PRODUCT_CODES, None, false)?;
    v.table(FEATURES, None, false)?;
    v.table(CLIENTS.def, Some(CLIENTS.check_of()), false)?;
    v.multimap(CLIENT_EMAILS)?;
    v.multimap(CLIENT_CRM1)?;
    v.multimap(CLIENT_CRM2)?;
    v.multimap(CLIENT_MANAGERS)?;
    v.multimap(CLIENT_DISTRIBUTORS)?;
    v.multimap(CLIENT_KEYS)?;
    v.table(KEYS.def, Some(KEYS.check_of()), false)?;
    v.table(GRANT_EXPIRY, None, false)?;
    v.table(COUPONS.def, Some(COUPONS.check_of()), false)?;
    v.table(TRIAL_HOSTS, None, false)?;
    v.table(HOLDERS.def, Some(HOLDERS.check_of()), false)?;
    v.table(SEAT_COUNTS, None, false)?;
    v.table(LEASE_INDEX, None, false)?;
    v.table(DENIALS.def, Some(DENIALS.check_of()), false)?;
    v.table(DENIAL_DAYS, None, false)?;
    v.table(USAGE, None, false)?;
    v.table(USAGE_DAILY, None, false)?;
    v.table(DENIAL_TIMES, None, false)?;
    v.table(DENIAL_FEATURE_TIMES, None, false)?;
    v.table(DENIAL_CLIENT_DAYS, None, false)?;
    v.table(TOKENS.def, Some(TOKENS.check_of()), false)?;
    v.table(USERS.def, Some(USERS.check_of()), false)?;
    v.table(OUTBOX.def, Some(OUTBOX.check_of()), false)?;
    v.table(MAIL_KEYS, None, false)?;
    v.table(MAIL_PENDING, None, false)?;
    v.table(STAFF_SESSIONS.def, Some(STAFF_SESSIONS.check_of()), false)?;
    v.table(LOGIN_FAILURES.def, Some(LOGIN_FAILURES.check_of()), false)?;
    v.table(STAFF_PREFS.def, Some(STAFF_PREFS.check_of()), false)?;
    v.table(STAFF_LINKS.def, Some(STAFF_LINKS.check_of()), false)?;
    v.table(AUDIT.def, Some(AUDIT.check_of()), false)?;
    v.table(DISTRIBUTORS.def, Some(DISTRIBUTORS.check_of()), false)?;
    v.table(
        CABINET_PASSWORDS.def,
        Some(CABINET_PASSWORDS.check_of()),
        false,
    )?;
    v.table(CABINET_CODES.def, Some(CABINET_CODES.check_of()), false)?;
    v.table(CABINET_LINKS.def, Some(CABINET_LINKS.check_of()), false)?;
    v.table(
        CABINET_SESSIONS.def,
        Some(CABINET_SESSIONS.check_of()),
        false,
    )?;
    v.table(
        CABINET_FAILURES.def,
        Some(CABINET_FAILURES.check_of()),
        false,
    )?;
    v.table(CLIENT_PREFS.def, Some(CLIENT_PREFS.check_of()), false)?;
    v.table(SELF_SERVICE, None, false)?;
    v.table(PRODUCT_OPTIONS.def, Some(PRODUCT_OPTIONS.check_of()), false)?;
    v.table(RELEASES.def, Some(RELEASES.check_of()), false)?;
    v.table(RELEASE_VERSIONS, None, false)?;
    v.table(RELEASE_DOWNLOADS, None, false)?;
    v.table(LEGACY_SEATS.def, Some(LEGACY_SEATS.check_of()), true)?;
    v.table(LEGACY_LEASES, None, true)?;
    Ok(())
}

/// Opens (creating if needed) every current table, so readers never meet a missing one.
pub fn create_all(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    struct Create<'a>(&'a redb::WriteTransaction);
    impl Visit for Create<'_> {
        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            def: TableDefinition<'static, K, V>,
            _decodes: Option<Decodes>,
            legacy: bool,
        ) -> Result<(), StoreError> {
            if !legacy {
                self.0.open_table(def)?;
            }
            Ok(())
        }
        fn multimap<K: Key + 'static, V: Key + 'static>(
            &mut self,
            def: MultimapTableDefinition<'static, K, V>,
        ) -> Result<(), StoreError> {
            self.0.open_multimap_table(def)?;
            Ok(())
        }
    }
    visit_all(&mut Create(tx))
}
