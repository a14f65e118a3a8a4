//! Registration numbers `PREFIX-XXXXX-XXXXX-XXXXX-XXXXX` and coupon codes
//! `PREFIXUPD-XXXXX-…`.
//!
//! Four groups of five characters from a 32-letter alphabet without look-alikes
//! (no 0/O, 1/I): 20 × 5 = 100 bits from the operating system's CSPRNG.
use rand::Rng;

pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const GROUPS: usize = 4;
pub const GROUP_LEN: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Regnum,
    Coupon,
}

/// Is `prefix` usable as a vendor prefix (1–12 Latin letters or digits)?
pub fn valid_prefix(prefix: &str) -> bool {
    (1..=12).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A fresh, unguessable number under `prefix` (upper-cased).
pub fn generate_number(prefix: &str, kind: NumberKind) -> String {
    let mut rng = rand::rngs::OsRng;
    let mut s = prefix.to_ascii_uppercase();
    if kind == NumberKind::Coupon {
        s.push_str("UPD");
    }
    for _ in 0..GROUPS {
        s.push('-');
        for _ in 0..GROUP_LEN {
            s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
        }
    }
    s
}

/// Trims and upper-cases a number and checks its shape: a prefix of letters and digits,
/// then four groups of five letters or digits. Returns `None` when it is not well formed.
/// Any prefix is accepted, so keys made under an earlier prefix keep working.
pub fn normalize_number(input: &str) -> Option<String> {
    let s = input.trim().to_ascii_uppercase();
    let mut parts = s.split('-');
    let prefix = parts.next()?;
    if prefix.is_empty() || prefix.len() > 16 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let mut groups = 0;
    for g in parts {
        if g.len() != GROUP_LEN || !g.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        groups += 1;
    }
    (groups == GROUPS).then_some(s)
}

/// Whether a well-formed number looks like a coupon (its prefix ends in `UPD`).
pub fn looks_like_coupon(normalized: &str) -> bool {
    normalized
        .split('-')
        .next()
        .is_some_and(|p| p.len() > 3 && p.ends_with("UPD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_are_well_formed_and_distinct() {
        let a = generate_number("LIC", NumberKind::Regnum);
        let b = generate_number("lic", NumberKind::Regnum);
        assert_ne!(a, b);
        assert!(a.starts_with("LIC-"));
        assert_eq!(a.len(), 3 + 4 * 6);
        assert_eq!(normalize_number(&a).as_deref(), Some(a.as_str()));
        let c = generate_number("MIKO", NumberKind::Coupon);
        assert!(c.starts_with("MIKOUPD-"));
        assert!(looks_like_coupon(&c));
        assert!(!looks_like_coupon(&a));
        for ch in a[4..].chars().filter(|c| *c != '-') {
            assert!(!"01OI".contains(ch), "look-alike {ch} in {a}");
        }
    }

    #[test]
    fn normalizes_case_and_spaces() {
        assert_eq!(
            normalize_number("  miko-abcde-fghjk-mnpqr-stuvw \n").as_deref(),
            Some("MIKO-ABCDE-FGHJK-MNPQR-STUVW")
        );
        assert_eq!(normalize_number("MIKO-ABCDE-FGHJK-MNPQR"), None);
        assert_eq!(normalize_number("MIKO-ABCDE-FGHJK-MNPQR-STUVWX"), None);
        assert_eq!(normalize_number("-ABCDE-FGHJK-MNPQR-STUVW"), None);
        assert_eq!(normalize_number("MI KO-ABCDE-FGHJK-MNPQR-STUVW"), None);
        assert_eq!(normalize_number("МИКО-ABCDE-FGHJK-MNPQR-STUVW"), None);
        assert_eq!(normalize_number(""), None);
    }
}
