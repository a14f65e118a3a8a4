//! Integration tests against the real server (one test binary, several modules).
mod acme;
mod admin_api;
mod backup;
mod kit;
mod mail;
mod metrics;
mod process;
mod protected_api;
mod releases;
mod secrets;
mod signing;
mod soak;
mod staff;
mod tls;
mod upgrade;
