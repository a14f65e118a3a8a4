//! Per-address limits on the guessable things: trial registration, coupon activation,
//! lookups of unknown registration numbers. Token buckets in memory; a protected app's
//! heartbeats and captures on a known key never touch them.
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Guess {
    Trial,
    Coupon,
    UnknownKey,
    Login,
    /// Cabinet sign-ins.
    CabinetLogin,
    /// Cabinet one-time codes and password links asked for.
    CabinetMail,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    per_minute: f64,
    buckets: DashMap<(IpAddr, Guess), Bucket>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: DashMap::new(),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let rate = self.per_minute / 60.0;
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(self.per_minute);
        b.at = now;
    }

    fn retry_after(&self, b: &Bucket) -> u64 {
        let rate = self.per_minute / 60.0;
        ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64
    }

    /// Whether `ip` may try `what` now; `Err(retry_after_s)` when it must wait.
    pub fn check(&self, ip: IpAddr, what: Guess) -> Result<(), u64> {
        let now = Instant::now();
        match self.buckets.get_mut(&(ip, what)) {
            None => Ok(()),
            Some(mut b) => {
                self.refill(&mut b, now);
                if b.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(self.retry_after(&b))
                }
            }
        }
    }

    /// Spends one try of `what` by `ip`.
    pub fn charge(&self, ip: IpAddr, what: Guess) {
        let now = Instant::now();
        let mut b = self.buckets.entry((ip, what)).or_insert(Bucket {
            tokens: self.per_minute,
            at: now,
        });
        self.refill(&mut b, now);
        b.tokens = (b.tokens - 1.0).max(-1.0);
    }

    /// Forgets buckets that are full again (called now and then).
    pub fn sweep(&self) {
        let now = Instant::now();
        let full = self.per_minute;
        let rate = self.per_minute / 60.0;
        self.buckets
            .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_hits_the_limit_per_address() {
        let l = Limiter::new(10);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..10 {
            assert!(l.check(a, Guess::Coupon).is_ok());
            l.charge(a, Guess::Coupon);
        }
        let wait = l.check(a, Guess::Coupon).expect_err("limited");
        assert!((1..=60).contains(&wait));
        assert!(l.check(b, Guess::Coupon).is_ok());
        assert!(l.check(a, Guess::Trial).is_ok());
    }
}
