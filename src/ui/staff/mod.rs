//! The vendor's back office: one module per screen.
pub mod audit;
pub mod auth;
pub mod client_reports;
pub mod clients;
pub mod coupons;
pub mod distributors;
pub mod forms;
pub mod keys;
pub mod outbox;
pub mod problems;
pub mod products;
pub mod sessions;
pub mod settings;
pub mod statistics;
pub mod system;
pub mod tokens;
pub mod users;
