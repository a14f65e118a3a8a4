//! Read-only views of the leases: the lease list, the session monitor's rows, and the
//! diagnosis of why a capture would be refused.
use super::*;

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct LeaseView {
    pub lease: String,
    pub regnum: String,
    pub feature: u32,
    pub host: String,
    pub database: String,
    pub user: String,
    pub session: String,
    pub app: String,
    pub version: String,
    pub since: String,
    pub expires_at: String,
    /// The seat stays bound to the host after the lease ends.
    pub bound: bool,
}

/// Live leases, of one key or of all, in key order, at most `limit`.
pub fn list(app: &App, regnum: Option<&str>, limit: usize) -> AppResult<Vec<LeaseView>> {
    walk(app, regnum, limit, true)
}

/// The session monitor's rows (see `holder_rows`) of one key or all, in key order, at
/// most `limit`.
pub fn monitor_rows(app: &App, regnum: Option<&str>, limit: usize) -> AppResult<Vec<LeaseView>> {
    walk(app, regnum, limit, false)
}

/// `holder_rows` of every holder, at most `limit`; `leases_only` leaves out the idle
/// host bindings.
fn walk(
    app: &App,
    regnum: Option<&str>,
    limit: usize,
    leases_only: bool,
) -> AppResult<Vec<LeaseView>> {
    let regnum = regnum.map(keys::parse_regnum).transpose()?;
    let tx = app.store.read()?;
    let now = app.now();
    let mut out = Vec::new();
    rows::each(&tx, regnum.as_deref(), |r, f, h| {
        for v in holder_rows(app, r, f, &h, now) {
            if out.len() >= limit {
                return false;
            }
            if !(leases_only && v.lease.is_empty()) {
                out.push(v);
            }
        }
        true
    })?;
    Ok(out)
}

/// The session monitor's rows of one holder: its live leases, or — for a host binding
/// whose leases all ended — the binding itself (a row with no lease id).
pub fn holder_rows(
    app: &App,
    regnum: &str,
    feature: u32,
    h: &crate::domain::seats::Holder,
    now: OffsetDateTime,
) -> Vec<LeaseView> {
    let term_s = app.catalog.term_s(feature);
    let mut out: Vec<LeaseView> = h
        .leases
        .iter()
        .filter_map(|l| {
            let exp = app.leases.expiry(l, term_s);
            (exp > now).then(|| LeaseView {
                lease: l.id.clone(),
                regnum: regnum.to_owned(),
                feature,
                host: h.host.clone(),
                database: h.database.clone(),
                user: h.user.clone(),
                session: l.session.clone(),
                app: l.app.clone(),
                version: l.version.clone(),
                since: rfc3339(l.since),
                expires_at: rfc3339(exp),
                bound: h.bound,
            })
        })
        .collect();
    if out.is_empty() && h.bound {
        out.push(LeaseView {
            lease: String::new(),
            regnum: regnum.to_owned(),
            feature,
            host: h.host.clone(),
            database: h.database.clone(),
            user: h.user.clone(),
            session: String::new(),
            app: String::new(),
            version: String::new(),
            since: rfc3339(h.since),
            expires_at: String::new(),
            bound: true,
        });
    }
    out
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Diagnosis {
    pub ok: bool,
    /// 0 when a seat can be had, else the error code a capture would get.
    pub code: u32,
    pub message: String,
    pub feature: u32,
    pub total: u32,
    pub used: u32,
    pub holders: Vec<HolderView>,
}

/// What a capture of `feature` on the key would meet now, without taking anything.
pub fn diagnose(
    app: &App,
    regnum: &str,
    feature: u32,
    lang: crate::i18n::Lang,
) -> AppResult<Diagnosis> {
    let regnum = keys::parse_regnum(regnum)?;
    let tx = app.store.read()?;
    let now = app.now();
    let Some(key) = keys::load(&tx, &regnum)? else {
        return Err(AppError::UnknownRegnum);
    };
    let (product, _, term_s) = feature_info(app, feature);
    let known = product
        .as_ref()
        .is_some_and(|p| p.feature(feature).is_some());
    let mut book = rows::book(&tx, &regnum, feature)?;
    book.prune(now, |l| app.leases.expiry(l, term_s));
    let used = book.used();
    let holders = holder_views(&book);
    let total = key
        .feature_grant(feature, now)
        .filter(|_| known)
        .map_or(0, |g| g.seats);
    let verdict = grant_verdict(&key, feature, known, now).and_then(|t| {
        if used >= t {
            Err(AppError::NoFreeSeat {
                total: t,
                used,
                holders: holders.clone(),
            })
        } else {
            Ok(())
        }
    });
    Ok(match verdict {
        Ok(()) => Diagnosis {
            ok: true,
            code: 0,
            message: match lang {
                crate::i18n::Lang::En => format!(
                    "A seat of feature {feature} can be had: {} of {} free",
                    total.saturating_sub(used),
                    total
                ),
                crate::i18n::Lang::Ru => format!(
                    "Лицензию на фичу {feature} можно получить: свободно {} из {}",
                    total.saturating_sub(used),
                    total
                ),
            },
            feature,
            total,
            used,
            holders,
        },
        Err(e) => Diagnosis {
            ok: false,
            code: e.code(),
            message: e.message(lang),
            feature,
            total,
            used,
            holders,
        },
    })
}
