//! Releases of a product (program distributions): channels and how they nest, version
//! order, and who may download — rules with no I/O.
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use time::OffsetDateTime;

/// A release channel. `rc` includes `stable`, `beta` includes `rc`, `alpha` includes
/// `beta` (Keygen's nesting); `dev` stands alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Stable,
    Rc,
    Beta,
    Alpha,
    Dev,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Stable,
        Channel::Rc,
        Channel::Beta,
        Channel::Alpha,
        Channel::Dev,
    ];

    pub fn parse(s: &str) -> Option<Channel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "stable" => Some(Channel::Stable),
            "rc" => Some(Channel::Rc),
            "beta" => Some(Channel::Beta),
            "alpha" => Some(Channel::Alpha),
            "dev" => Some(Channel::Dev),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Rc => "rc",
            Channel::Beta => "beta",
            Channel::Alpha => "alpha",
            Channel::Dev => "dev",
        }
    }

    /// Whether a client following `self` is offered releases of `other`.
    pub fn includes(self, other: Channel) -> bool {
        fn rank(c: Channel) -> Option<u8> {
            match c {
                Channel::Stable => Some(0),
                Channel::Rc => Some(1),
                Channel::Beta => Some(2),
                Channel::Alpha => Some(3),
                Channel::Dev => None,
            }
        }
        match (rank(self), rank(other)) {
            (Some(a), Some(b)) => b <= a,
            (None, None) => true,
            _ => false,
        }
    }
}

/// One published file of a product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: u64,
    /// The product's code.
    pub product: String,
    pub version: String,
    pub channel: Channel,
    /// Markdown, rendered to safe HTML where shown.
    pub changelog: String,
    /// The file's name as downloaded.
    pub filename: String,
    /// The stored file under `DATA/releases/`.
    pub stored: String,
    pub size: u64,
    pub sha256: String,
    pub published_at: OffsetDateTime,
    pub published_by: String,
    /// Hidden from update checks and new downloads, kept for audit.
    pub yanked_at: Option<OffsetDateTime>,
    /// Only keys holding this feature (of any product) may download.
    pub requires_feature: Option<u32>,
    /// Only keys holding at least this many live seats of the product may download.
    pub min_seats: u32,
    pub downloads: u64,
}

impl Release {
    pub fn visible(&self) -> bool {
        self.yanked_at.is_none()
    }
}

/// Orders versions: semver where both parse (a leading "v" allowed, so 1.10 > 1.9),
/// else numeric dot-separated parts, else text; ties go to the later publication.
pub fn compare(a: &Release, b: &Release) -> Ordering {
    compare_versions(&a.version, &b.version).then(a.published_at.cmp(&b.published_at))
}

/// Compares two version strings as `compare` does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (semver_of(a), semver_of(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let parts = |s: &str| -> Option<Vec<u64>> {
                s.trim()
                    .trim_start_matches(['v', 'V'])
                    .split('.')
                    .map(|p| p.parse::<u64>().ok())
                    .collect()
            };
            match (parts(a), parts(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => a.cmp(b),
            }
        }
    }
}

/// A version as semver, also "1.2" (→ 1.2.0) and "v1.2.3".
pub fn semver_of(v: &str) -> Option<semver::Version> {
    let v = v.trim().trim_start_matches(['v', 'V']);
    if let Ok(s) = semver::Version::parse(v) {
        return Some(s);
    }
    let (core, rest) = match v.find(['-', '+']) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let n = core.split('.').count();
    if (1..3).contains(&n) && core.split('.').all(|p| p.parse::<u64>().is_ok()) {
        let padded = format!("{core}{}{rest}", ".0".repeat(3 - n));
        return semver::Version::parse(&padded).ok();
    }
    None
}

/// A version string a vendor may publish: 1 to 64 of letters, digits and `.+-_`.
pub fn valid_version(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-_".contains(c))
}

/// A download file name: the last path part of what was uploaded, without control
/// characters or quotes, at most 200 characters ("file" when nothing is left).
pub fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !"\"<>|:*?".contains(*c))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_nest_and_dev_stands_alone() {
        use Channel::*;
        assert!(Stable.includes(Stable) && !Stable.includes(Rc));
        assert!(Rc.includes(Stable) && Rc.includes(Rc) && !Rc.includes(Beta));
        assert!(Beta.includes(Stable) && Beta.includes(Rc) && !Beta.includes(Alpha));
        assert!(Alpha.includes(Beta) && Alpha.includes(Stable));
        assert!(Dev.includes(Dev) && !Dev.includes(Stable) && !Alpha.includes(Dev));
        assert_eq!(Channel::parse(""), Some(Stable));
        assert_eq!(Channel::parse(" BETA "), Some(Beta));
        assert_eq!(Channel::parse("nightly"), None);
    }

    #[test]
    fn versions_order_as_semver() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("v2.0.0", "1.99.99"), Greater);
        assert_eq!(compare_versions("2.0.0-rc.1", "2.0.0"), Less);
        assert_eq!(compare_versions("2.0.0-rc.2", "2.0.0-rc.10"), Less);
        assert_eq!(compare_versions("1.2", "1.2.0"), Equal);
        assert_eq!(compare_versions("2024.1.15.3", "2024.1.9.7"), Greater);
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(clean_filename("C:\\x\\setup \"1\".exe"), "setup 1.exe");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("..."), "file");
        assert!(valid_version("1.2.3-beta+7") && !valid_version("1 2") && !valid_version(""));
    }
}
