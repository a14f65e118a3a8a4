//! Every template rendered in both languages: a subject naming what happened and for
//! which key, the values in the text, and every user-typed value escaped in the HTML.
use super::*;

const EVIL: &str = "<script>alert(1)</script>";

fn at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
}

fn line() -> SeatLine {
    SeatLine {
        product: format!("Tele{EVIL}"),
        feature: 43,
        feature_name: "Update & <b>telephony</b>".into(),
        seats: 5,
        expires_at: Some(at()),
    }
}

/// One event of every kind, with user-typed values that need escaping.
fn catalogue() -> Vec<Event> {
    vec![
        Event::Trial {
            regnum: "LIC-1111-2222".into(),
            product: format!("Prod{EVIL}"),
            until: Some(at()),
        },
        Event::EmailTaken {
            regnums: vec!["LIC-1111-2222".into(), "LIC-3333-4444".into()],
        },
        Event::CouponActivated {
            code: "CPN-ABCD".into(),
            regnum: "LIC-1111-2222".into(),
            lines: vec![line()],
        },
        Event::GrantAdded {
            regnum: "LIC-1111-2222".into(),
            lines: vec![line()],
        },
        Event::Expiring {
            regnum: "LIC-1111-2222".into(),
            days: 7,
            lines: vec![line()],
        },
        Event::Expired {
            regnum: "LIC-1111-2222".into(),
            lines: vec![line()],
        },
        Event::Denial {
            regnum: "LIC-1111-2222".into(),
            feature: 43,
            feature_name: format!("F{EVIL}"),
            code: 1030,
            host: format!("host{EVIL}"),
            user: "ivan".into(),
            at: at(),
        },
        Event::DenialSummary {
            from: at(),
            to: at() + time::Duration::hours(1),
            keys: vec![KeyDenials {
                regnum: "LIC-1111-2222".into(),
                company: format!("Acme{EVIL}"),
                rows: vec![
                    (43, "Telephony".into(), 1030, 17),
                    (44, String::new(), 1032, 2),
                ],
            }],
        },
        Event::SeatsNearlyFull {
            regnum: "LIC-1111-2222".into(),
            feature: 43,
            feature_name: format!("F{EVIL}"),
            used: 9,
            seats: 10,
        },
        Event::Release {
            regnum: "LIC-1111-2222".into(),
            product: format!("Prod{EVIL}"),
            version: "2.1.0".into(),
            channel: "beta".into(),
        },
        Event::CabinetCode {
            regnum: "LIC-1111-2222".into(),
            code: "12345678".into(),
        },
        Event::CabinetLink {
            regnum: "LIC-1111-2222".into(),
            url: "https://lic.example/cabinet/password/abc".into(),
        },
        Event::StaffLink {
            login: "anna".into(),
            url: "https://lic.example/password/abc".into(),
        },
        Event::Digest {
            name: format!("Anna{EVIL}"),
            rows: vec![DigestRow {
                company: format!("Acme{EVIL}"),
                regnum: "LIC-1111-2222".into(),
                line: line(),
            }],
        },
        Event::BackupFailed {
            at: at(),
            error: format!("disk full {EVIL}"),
            dir: "/var/backups/licd".into(),
        },
    ]
}

fn ctx(lang: Lang) -> Ctx<'static> {
    Ctx {
        vendor: "Vendor <Soft> & Co",
        public_url: "https://lic.example",
        lang,
    }
}

#[test]
fn every_event_renders_in_both_languages_with_html_escaped() {
    let mut names = Vec::new();
    for e in catalogue() {
        names.push(e.name());
        let en = e.render(&ctx(Lang::En));
        let ru = e.render(&ctx(Lang::Ru));
        for (lang, r) in [("en", &en), ("ru", &ru)] {
            assert!(!r.subject.is_empty(), "{} {lang}: subject", e.name());
            assert!(
                !r.subject.contains('\n'),
                "{} {lang}: one-line subject",
                e.name()
            );
            assert!(
                r.text.contains("Vendor <Soft> & Co"),
                "{} {lang}: vendor in text",
                e.name()
            );
            assert!(
                r.html.contains("Vendor &lt;Soft&gt; &amp; Co"),
                "{} {lang}: vendor escaped in HTML",
                e.name()
            );
            assert!(
                !r.html.contains("<script>"),
                "{} {lang}: {}",
                e.name(),
                r.html
            );
            assert!(!r.html.contains("<b>"), "{} {lang}: raw <b>", e.name());
            assert!(r.html.starts_with("<!DOCTYPE html>"), "{} {lang}", e.name());
            assert!(
                r.html.contains(&format!("lang=\"{lang}\"")),
                "{} {lang}",
                e.name()
            );
        }
        // The languages differ (a Russian letter is in Cyrillic).
        assert_ne!(en.subject, ru.subject, "{}", e.name());
        assert!(
            ru.text.chars().any(|c| ('а'..='я').contains(&c)),
            "{}: Russian text",
            e.name()
        );
        assert!(
            !en.text.chars().any(|c| ('а'..='я').contains(&c)),
            "{}: English text has no Cyrillic: {}",
            e.name(),
            en.text
        );
    }
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
}

#[test]
fn subjects_name_the_key_and_what_happened() {
    let by = |name: &str, lang: Lang| {
        catalogue()
            .into_iter()
            .find(|e| e.name() == name)
            .expect("event")
            .render(&ctx(lang))
            .subject
    };
    assert_eq!(
        by("expiring", Lang::En),
        "Licenses of key LIC-1111-2222 expire in 7 days"
    );
    assert_eq!(
        by("expiring", Lang::Ru),
        "Лицензии ключа LIC-1111-2222 истекают через 7 дней"
    );
    assert_eq!(
        by("coupon", Lang::En),
        "Coupon CPN-ABCD activated on key LIC-1111-2222"
    );
    assert!(by("denial", Lang::Ru).contains("LIC-1111-2222"));
    assert!(by("denials", Lang::En).starts_with("19 license refusals on key LIC-1111-2222"));
    assert!(by("seats", Lang::En).contains("9 of 10 seats"));
    assert_eq!(
        by("cabinet_code", Lang::En),
        "Vendor <Soft> & Co: your one-time code 12345678"
    );
}

#[test]
fn text_carries_the_values_and_links() {
    let e = Event::DenialSummary {
        from: at(),
        to: at() + time::Duration::hours(1),
        keys: vec![KeyDenials {
            regnum: "LIC-1111-2222".into(),
            company: "Acme".into(),
            rows: vec![(43, "Telephony".into(), 1030, 17)],
        }],
    };
    let r = e.render(&ctx(Lang::En));
    assert!(r.text.contains("43 Telephony"), "{}", r.text);
    assert!(r.text.contains("17"), "{}", r.text);
    assert!(
        r.text.contains("https://lic.example/cabinet/problems"),
        "{}",
        r.text
    );
    assert!(
        r.html
            .contains("href=\"https://lic.example/cabinet/problems\"")
    );
    let code = Event::CabinetCode {
        regnum: "LIC-1111-2222".into(),
        code: "12345678".into(),
    }
    .render(&ctx(Lang::Ru));
    assert!(code.text.contains("12345678") && code.html.contains("12345678"));
}

#[test]
fn russian_day_words() {
    let w: Vec<&str> = [1, 2, 5, 11, 21, 22, 30]
        .iter()
        .map(|&n| client::ru_days(n))
        .collect();
    assert_eq!(w, ["день", "дня", "дней", "дней", "день", "дня", "дней"]);
}
