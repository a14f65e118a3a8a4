//! The screens, rendered on the server with maud, one module per screen, for each
//! audience in its own folder: `staff` (the vendor's back office) and `cabinet` (each
//! client's self-service cabinet, seed 000). Both are built on the kit in `crate::web`.
pub mod staff;
