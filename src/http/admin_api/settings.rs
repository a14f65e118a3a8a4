//! Vendor settings, the database backup and the signing-key rotation.
use super::prelude::*;

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub vendor_name: String,
    pub regnum_prefix: String,
    pub offline_license_days: u32,
    pub extra_fields: Vec<String>,
    /// Days before a grant's expiry when its client is reminded, largest first.
    pub expiry_days: Vec<u32>,
    /// The language of mail to clients who chose none: "ru" or "en".
    pub mail_lang: String,
}

impl From<Settings> for SettingsView {
    fn from(s: Settings) -> Self {
        SettingsView {
            vendor_name: s.vendor_name,
            regnum_prefix: s.regnum_prefix,
            offline_license_days: s.offline_license_days,
            extra_fields: s.extra_fields,
            expiry_days: s.expiry_days,
            mail_lang: s.mail_lang,
        }
    }
}

/// Vendor settings.
#[utoipa::path(get, path = "/api/admin/v1/settings", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 401)))]
pub async fn get_settings(app: web::Data<App>, _staff: Staff) -> AppResult<HttpResponse> {
    let tx = app.store.read()?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings::read(&tx)?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SettingsPatch {
    pub vendor_name: Option<String>,
    /// 1–12 Latin letters or digits; new keys and coupons use it.
    pub regnum_prefix: Option<String>,
    pub offline_license_days: Option<u32>,
    pub extra_fields: Option<Vec<String>>,
    /// 1 to 5 days, each 1–365 (stored largest first, duplicates merged).
    pub expiry_days: Option<Vec<u32>>,
    /// "ru" or "en".
    pub mail_lang: Option<String>,
}

/// Change vendor settings (admin).
#[utoipa::path(patch, path = "/api/admin/v1/settings", tag = "admin", security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, body = SettingsView), (status = 400), (status = 401), (status = 403)))]
pub async fn patch_settings(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<SettingsPatch>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let p = body.0;
    if let Some(prefix) = &p.regnum_prefix
        && !crate::domain::number::valid_prefix(prefix.trim())
    {
        return Err(AppError::malformed(
            "regnum_prefix",
            "1 to 12 Latin letters or digits",
        ));
    }
    if p.offline_license_days.is_some_and(|d| d == 0 || d > 366) {
        return Err(AppError::malformed("offline_license_days", "1 to 366"));
    }
    if p.vendor_name.as_ref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::malformed("vendor_name", "must not be empty"));
    }
    // The API takes at most five entries (the Settings page also merges repeats).
    if p.expiry_days.as_ref().is_some_and(|d| d.len() > 5) {
        return Err(AppError::malformed("expiry_days", "at most 5 days"));
    }
    let expiry_days = match p.expiry_days.clone() {
        Some(d) => Some(
            crate::domain::mailing::expiry_days(d)
                .map_err(|why| AppError::malformed("expiry_days", why))?,
        ),
        None => None,
    };
    let mail_lang = match p.mail_lang.as_deref().map(str::trim) {
        None => None,
        Some(l @ ("ru" | "en")) => Some(l.to_owned()),
        Some(_) => return Err(AppError::malformed("mail_lang", "ru or en")),
    };
    let s = app
        .store
        .write(move |tx| {
            let mut s = settings::read(tx)?;
            if let Some(v) = &p.vendor_name {
                s.vendor_name = v.trim().to_owned();
            }
            if let Some(v) = &p.regnum_prefix {
                s.regnum_prefix = v.trim().to_ascii_uppercase();
            }
            if let Some(v) = p.offline_license_days {
                s.offline_license_days = v;
            }
            if let Some(v) = &p.extra_fields {
                s.extra_fields = v
                    .iter()
                    .map(|f| f.trim().to_owned())
                    .filter(|f| !f.is_empty())
                    .collect();
            }
            if let Some(v) = &expiry_days {
                s.expiry_days = v.clone();
            }
            if let Some(v) = &mail_lang {
                s.mail_lang = v.clone();
            }
            settings::write(tx, &s)?;
            Ok(s)
        })
        .await?;
    let detail = format!(
        "prefix {} expiry days {:?} mail {}",
        s.regnum_prefix, s.expiry_days, s.mail_lang
    );
    audited(&app, &staff, "settings_change", "settings", &detail).await;
    Ok(HttpResponse::Ok().json(SettingsView::from(s)))
}

/// A consistent copy of the database, taken while the server keeps serving (admin): a
/// complete redb file with every write acknowledged before the call, verified before it
/// is sent. `Licd-Backup-Sha256` and `Licd-Backup-Rows` let the receiver check it; it
/// also carries the signing key, so keep it as private as the data directory.
#[utoipa::path(get, path = "/api/admin/v1/backup", tag = "admin", security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>,
        headers(("Licd-Backup-Sha256" = String, description = "SHA-256 of the body, hex"),
                ("Licd-Backup-Rows" = u64, description = "rows in the copy"))),
        (status = 401), (status = 403)))]
pub async fn get_backup(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let app = app.into_inner();
    let dir = crate::service::backups::policy(&app)?.dir;
    let tmp = dir.join(format!(
        ".online-{}.redb.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let copied =
        crate::service::backups::snapshot_to(&app, tmp, crate::service::backups::busy(&app))
            .await?;
    audited(
        &app,
        &staff,
        "backup",
        "database",
        &format!("{} rows", copied.rows),
    )
    .await;
    let stamp = app
        .now()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let body = crate::http::files::delete_after(copied.path.clone())
        .await
        .map_err(|e| AppError::internal(format!("backup file: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"licd-{stamp}.redb\""),
        ))
        .insert_header(("Licd-Backup-Sha256", copied.sha256.clone()))
        .insert_header(("Licd-Backup-Rows", copied.rows.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .no_chunking(copied.bytes)
        .streaming(body))
}

/// What `POST /signing-key/rotate` takes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// Days the replaced key keeps signing beside the new one (`Licd-Signature-Previous`),
    /// 1 to 3650 [default: 90].
    #[schema(minimum = 1, maximum = 3650)]
    pub overlap_days: Option<u32>,
}

/// Make a new signing key (admin). Answers are signed with it at once; the replaced key
/// keeps signing `Licd-Signature-Previous` and stays listed by `GET /api/v1/signing-key`
/// for the overlap, so apps that pinned it keep verifying until they update.
#[utoipa::path(post, path = "/api/admin/v1/signing-key/rotate", tag = "admin", security(("bearer" = [])),
    request_body = RotateInput,
    responses((status = 200, body = crate::service::signing::PublicKeyInfo), (status = 400), (status = 401), (status = 403)))]
pub async fn rotate_signing_key(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<RotateInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let days = body.0.overlap_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(AppError::malformed("overlap_days", "1 to 3650"));
    }
    let info = crate::service::signing::rotate_audited(
        &app,
        &format!("api:{}", staff.token.name),
        time::Duration::days(i64::from(days)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(info))
}
