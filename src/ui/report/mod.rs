//! What one client holds and meets, shown the same to the client (cabinet) and to staff
//! (the client's card), so both sides look at one truth: License keys, License summary,
//! Statistics, Problems. Each view takes the data and the path its links start from
//! (`/cabinet` or `/clients/{id}`).
pub mod keys;
pub mod problems;
pub mod releases;
pub mod statistics;
pub mod summary;
