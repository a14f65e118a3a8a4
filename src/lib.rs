//! licd — a self-hosted software license server in one binary.
//!
//! Layout (see STYLE.md): `domain` holds rules without I/O, `store` the redb tables and
//! the single group-committing writer, `service` the use cases (one write transaction
//! each), `http` the API surfaces, `jobs` the background workers, `cli` the commands.
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diag;
pub mod domain;
pub mod error;
pub mod http;
pub mod i18n;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod ops;
pub mod seed;
pub mod server;
pub mod service;
pub mod stats_bench;
pub mod store;
pub mod ui;
pub mod web;
pub mod winsvc;
