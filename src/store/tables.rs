//! Every table licd keeps. No table name is spelled anywhere else.
//!
//! Record tables hold values through `codec` (`RecTable<K, V>` knows `V`); small index
//! tables use redb's own key and value types.
use super::StoreError;
use super::codec;
use redb::{Key, MultimapTableDefinition, ReadableTable, Table, TableDefinition};
use serde::{Serialize, de::DeserializeOwned};
use std::borrow::Borrow;
use std::marker::PhantomData;

use crate::domain::seats::Holder;
use crate::domain::{AuditEntry, Distributor, LoginFailures, StaffPrefs, StaffSession};
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
pub const OUTBOX: RecTable<u64, Mail> = RecTable::new("outbox");

/// SHA-256 (hex) of a web UI session cookie's secret → the session.
pub const STAFF_SESSIONS: RecTable<&str, StaffSession> = RecTable::new("staff_sessions");
/// Login → its recent failed sign-ins.
pub const LOGIN_FAILURES: RecTable<&str, LoginFailures> = RecTable::new("login_failures");
/// Login → the staff member's UI preferences.
pub const STAFF_PREFS: RecTable<&str, StaffPrefs> = RecTable::new("staff_prefs");
/// Sequence number → one staff change.
pub const AUDIT: RecTable<u64, AuditEntry> = RecTable::new("audit");
/// Distributor code → the distributor.
pub const DISTRIBUTORS: RecTable<&str, Distributor> = RecTable::new("distributors");

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

/// Opens (creating if needed) every table, so readers never meet a missing one.
pub fn create_all(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(META)?;
    tx.open_table(PRODUCTS.def)?;
    tx.open_table(PRODUCT_CODES)?;
    tx.open_table(FEATURES)?;
    tx.open_table(CLIENTS.def)?;
    tx.open_multimap_table(CLIENT_EMAILS)?;
    tx.open_multimap_table(CLIENT_CRM1)?;
    tx.open_multimap_table(CLIENT_CRM2)?;
    tx.open_multimap_table(CLIENT_MANAGERS)?;
    tx.open_multimap_table(CLIENT_DISTRIBUTORS)?;
    tx.open_multimap_table(CLIENT_KEYS)?;
    tx.open_table(KEYS.def)?;
    tx.open_table(COUPONS.def)?;
    tx.open_table(TRIAL_HOSTS)?;
    tx.open_table(HOLDERS.def)?;
    tx.open_table(SEAT_COUNTS)?;
    tx.open_table(LEASE_INDEX)?;
    tx.open_table(DENIALS.def)?;
    tx.open_table(DENIAL_DAYS)?;
    tx.open_table(USAGE)?;
    tx.open_table(USAGE_DAILY)?;
    tx.open_table(DENIAL_TIMES)?;
    tx.open_table(DENIAL_FEATURE_TIMES)?;
    tx.open_table(DENIAL_CLIENT_DAYS)?;
    tx.open_table(TOKENS.def)?;
    tx.open_table(USERS.def)?;
    tx.open_table(OUTBOX.def)?;
    tx.open_table(STAFF_SESSIONS.def)?;
    tx.open_table(LOGIN_FAILURES.def)?;
    tx.open_table(STAFF_PREFS.def)?;
    tx.open_table(AUDIT.def)?;
    tx.open_table(DISTRIBUTORS.def)?;
    tx.open_table(CABINET_PASSWORDS.def)?;
    tx.open_table(CABINET_CODES.def)?;
    tx.open_table(CABINET_LINKS.def)?;
    tx.open_table(CABINET_SESSIONS.def)?;
    tx.open_table(CABINET_FAILURES.def)?;
    tx.open_table(CLIENT_PREFS.def)?;
    tx.open_table(SELF_SERVICE)?;
    tx.open_table(PRODUCT_OPTIONS.def)?;
    Ok(())
}
