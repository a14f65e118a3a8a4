//! The screens, rendered on the server with maud, one module per screen, for each
//! audience in its own folder: `staff` (the vendor's back office) and `cabinet` (each
//! client's self-service cabinet, seed 000), and `report`, the views of one client's
//! holdings, statistics and problems that both show. All are built on `crate::web`.
pub mod cabinet;
pub mod report;
pub mod staff;
