//! Integration tests against the real server (one test binary, several modules).
mod admin_api;
mod kit;
mod process;
mod protected_api;
mod upgrade;
