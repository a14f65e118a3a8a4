//! Seat counting: who holds a seat of one feature on one key, and whether another
//! capture fits. Pure; the store keeps one `SeatBook` per (key, feature) and changes it
//! only inside the single writer, so the count can never be raced past.
use super::model::Unit;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One lease on a seat: a running instance of a protected app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaseSlot {
    pub id: String,
    pub session: String,
    pub app: String,
    pub version: String,
    pub since: OffsetDateTime,
    /// Expiry as last made durable (at capture). Heartbeats extend it in memory.
    pub expires_at: OffsetDateTime,
}

/// A seat in use: the unit (user, host, database or session) that holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub unit_key: String,
    pub host: String,
    pub database: String,
    pub user: String,
    pub since: OffsetDateTime,
    /// A host binding: the seat stays taken after its leases end, until unbound.
    pub bound: bool,
    pub leases: Vec<LeaseSlot>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatBook {
    pub holders: Vec<Holder>,
}

/// Who asks for a seat.
#[derive(Clone, Debug, Default)]
pub struct Claimant<'a> {
    pub host: &'a str,
    pub database: &'a str,
    pub user: &'a str,
    pub session: &'a str,
}

/// The field a capture must name for a feature counted by `unit`, if it is missing.
pub fn unit_key(unit: Unit, c: &Claimant, lease_id: &str) -> Result<String, &'static str> {
    let need = |v: &str, field: &'static str| {
        if v.is_empty() {
            Err(field)
        } else {
            Ok(v.to_owned())
        }
    };
    match unit {
        Unit::User => need(c.user, "user"),
        Unit::Host => need(c.host, "host"),
        Unit::Database => need(c.database, "database"),
        // With no session id every capture is its own seat.
        Unit::Session if c.session.is_empty() => Ok(format!("lease:{lease_id}")),
        Unit::Session => Ok(c.session.to_owned()),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The unit already holds a seat: the new lease shares it.
    Reuse(usize),
    /// A free seat is taken.
    NewSeat,
    /// Every seat is taken.
    Full,
}

impl SeatBook {
    /// Seats in use (call `prune` first).
    pub fn used(&self) -> u32 {
        self.holders.len() as u32
    }

    /// Drops lapsed leases (and the holders left with none, unless bound to a host).
    /// Returns the ids of the leases dropped.
    pub fn prune(
        &mut self,
        now: OffsetDateTime,
        expiry: impl Fn(&LeaseSlot) -> OffsetDateTime,
    ) -> Vec<String> {
        let mut gone = Vec::new();
        for h in &mut self.holders {
            h.leases.retain(|l| {
                let live = expiry(l) > now;
                if !live {
                    gone.push(l.id.clone());
                }
                live
            });
        }
        self.holders.retain(|h| h.bound || !h.leases.is_empty());
        gone
    }

    pub fn decide(&self, unit_key: &str, total: u32) -> Decision {
        if let Some(i) = self.holders.iter().position(|h| h.unit_key == unit_key) {
            Decision::Reuse(i)
        } else if self.used() < total {
            Decision::NewSeat
        } else {
            Decision::Full
        }
    }

    /// Applies a capture the `decide` step allowed.
    pub fn take(
        &mut self,
        decision: &Decision,
        unit: Unit,
        unit_key: String,
        c: &Claimant,
        slot: LeaseSlot,
    ) {
        match decision {
            Decision::Reuse(i) => {
                let h = &mut self.holders[*i];
                // The latest capture says where the unit is now.
                h.host = c.host.to_owned();
                h.database = c.database.to_owned();
                h.user = c.user.to_owned();
                h.bound |= unit == Unit::Host;
                h.leases.push(slot);
            }
            Decision::NewSeat => self.holders.push(Holder {
                unit_key,
                host: c.host.to_owned(),
                database: c.database.to_owned(),
                user: c.user.to_owned(),
                since: slot.since,
                bound: unit == Unit::Host,
                leases: vec![slot],
            }),
            Decision::Full => {}
        }
    }

    /// Ends one lease; the seat is freed unless other leases or a host binding keep it.
    pub fn release(&mut self, lease_id: &str) -> bool {
        let mut found = false;
        for h in &mut self.holders {
            let before = h.leases.len();
            h.leases.retain(|l| l.id != lease_id);
            found |= h.leases.len() != before;
        }
        self.holders.retain(|h| h.bound || !h.leases.is_empty());
        found
    }

    /// Removes every seat held from `host` (bindings and their leases). Returns the
    /// removed holders.
    pub fn unbind_host(&mut self, host: &str) -> Vec<Holder> {
        let (gone, keep): (Vec<Holder>, Vec<Holder>) = std::mem::take(&mut self.holders)
            .into_iter()
            .partition(|h| h.host.eq_ignore_ascii_case(host));
        self.holders = keep;
        gone
    }

    pub fn find_lease(&self, lease_id: &str) -> Option<(&Holder, &LeaseSlot)> {
        self.holders
            .iter()
            .find_map(|h| h.leases.iter().find(|l| l.id == lease_id).map(|l| (h, l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn slot(id: &str, exp: OffsetDateTime) -> LeaseSlot {
        LeaseSlot {
            id: id.into(),
            session: String::new(),
            app: String::new(),
            version: String::new(),
            since: datetime!(2026-01-01 0:00 UTC),
            expires_at: exp,
        }
    }

    fn capture(book: &mut SeatBook, unit: Unit, c: &Claimant, id: &str, total: u32) -> Decision {
        let key = unit_key(unit, c, id).unwrap_or_default();
        let d = book.decide(&key, total);
        book.take(&d, unit, key, c, slot(id, datetime!(2026-01-01 0:03 UTC)));
        d
    }

    #[test]
    fn one_user_two_sessions_one_seat() {
        let mut b = SeatBook::default();
        let a = Claimant {
            host: "h1",
            user: "ivan",
            session: "1",
            ..Default::default()
        };
        let a2 = Claimant {
            host: "h2",
            user: "ivan",
            session: "2",
            ..Default::default()
        };
        let p = Claimant {
            host: "h1",
            user: "petr",
            ..Default::default()
        };
        assert_eq!(capture(&mut b, Unit::User, &a, "l1", 1), Decision::NewSeat);
        assert_eq!(
            capture(&mut b, Unit::User, &a2, "l2", 1),
            Decision::Reuse(0)
        );
        assert_eq!(capture(&mut b, Unit::User, &p, "l3", 1), Decision::Full);
        assert_eq!(b.used(), 1);
        assert!(b.release("l1"));
        assert_eq!(b.used(), 1, "second session still holds the seat");
        assert!(b.release("l2"));
        assert_eq!(b.used(), 0);
        assert!(!b.release("l2"));
    }

    #[test]
    fn host_binding_outlives_release_until_unbound() {
        let mut b = SeatBook::default();
        let h = Claimant {
            host: "srv1",
            ..Default::default()
        };
        let other = Claimant {
            host: "srv2",
            ..Default::default()
        };
        capture(&mut b, Unit::Host, &h, "l1", 1);
        b.release("l1");
        assert_eq!(b.used(), 1);
        assert_eq!(capture(&mut b, Unit::Host, &other, "l2", 1), Decision::Full);
        assert_eq!(capture(&mut b, Unit::Host, &h, "l3", 1), Decision::Reuse(0));
        assert_eq!(b.unbind_host("SRV1").len(), 1);
        assert_eq!(
            capture(&mut b, Unit::Host, &other, "l4", 1),
            Decision::NewSeat
        );
    }

    #[test]
    fn lapsed_leases_free_their_seat() {
        let mut b = SeatBook::default();
        let s = Claimant {
            host: "h",
            ..Default::default()
        };
        capture(&mut b, Unit::Session, &s, "l1", 2);
        capture(&mut b, Unit::Session, &s, "l2", 2);
        assert_eq!(capture(&mut b, Unit::Session, &s, "l3", 2), Decision::Full);
        let gone = b.prune(datetime!(2026-01-01 0:04 UTC), |l| l.expires_at);
        assert_eq!(gone.len(), 2);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn missing_unit_field_is_named() {
        let c = Claimant {
            host: "h",
            ..Default::default()
        };
        assert_eq!(unit_key(Unit::User, &c, "x"), Err("user"));
        assert_eq!(unit_key(Unit::Database, &c, "x"), Err("database"));
        assert_eq!(unit_key(Unit::Host, &c, "x").as_deref(), Ok("h"));
    }
}
