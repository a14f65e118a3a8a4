//! The rules of licensing, with no I/O: formats of numbers, the records licd keeps,
//! how a seat is counted, how grants add up to an item.
pub mod cabinet;
pub mod days;
pub mod mailing;
pub mod model;
pub mod number;
pub mod problems;
pub mod release;
pub mod seats;
pub mod series;

pub use model::*;
pub use number::{NumberKind, generate_number, normalize_number};
