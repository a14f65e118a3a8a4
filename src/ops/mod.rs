//! Operating a data directory: backups, restore, integrity check.
pub mod archive;
pub mod check;
pub mod cli;
pub mod perms;
pub mod restore;
