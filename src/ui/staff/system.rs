//! The System page (admin only): seed 002's account page read as the appliance's own —
//! build and uptime, storage, load, staff, mail against its daily quota, backups (their
//! settings, list, download, "back up now"), the TLS certificate (replaceable without a
//! restart), SMTP with a test mail, the public URL.
//!
//! What the configuration (file, `LICD_*`, flags) sets wins: such a field is shown
//! locked with where it comes from; the rest is kept in the database from here.
use super::forms::bad;
use crate::domain::Role;
use crate::domain::mailing::{SmtpParts, SmtpSecurity};
use crate::service::backups::{self, Source, StoredPolicy};
use crate::service::system;
use crate::web::components::bytes;
use crate::web::components::when_t;
use crate::web::{FieldErrors, csrf_field, field, page, select, t};
use crate::web::{Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h {m} min")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {} s", s % 60)
    }
}

fn source_note(l: crate::i18n::Lang, s: Source) -> Markup {
    html! {
        @match s {
            Source::Config => small.muted { (t(l, "set in the configuration (wins; change it there)", "задано в конфигурации (имеет приоритет; меняется там)")) },
            Source::Page => small.muted { (t(l, "set here", "задано здесь")) },
            Source::Default => small.muted { (t(l, "default", "по умолчанию")) },
        }
    }
}

/// A settings field: editable unless the configuration sets it.
fn setting(
    l: crate::i18n::Lang,
    label: &str,
    name: &str,
    value: &str,
    src: Source,
    errors: &FieldErrors,
) -> Markup {
    html! {
        @if src == Source::Config {
            label.field {
                span.label { (label) }
                input type="text" value=(value) disabled;
                (source_note(l, src))
            }
        } @else {
            div {
                (field(label, name, "text", value, errors))
                (source_note(l, src))
            }
        }
    }
}

struct View {
    errors: FieldErrors,
    flash: Option<String>,
    /// Values typed into the backup settings form that were refused.
    typed: Option<StoredPolicy>,
    /// Values typed into the SMTP form that were refused (never the password).
    smtp_typed: Option<SmtpParts>,
}

fn security_options(l: crate::i18n::Lang) -> Vec<(String, String)> {
    vec![
        (
            SmtpSecurity::StartTls.as_str().into(),
            t(
                l,
                "STARTTLS, required (port 587)",
                "STARTTLS, обязательно (порт 587)",
            )
            .into(),
        ),
        (
            SmtpSecurity::Tls.as_str().into(),
            t(
                l,
                "TLS from the start, smtps (port 465)",
                "TLS сразу, smtps (порт 465)",
            )
            .into(),
        ),
        (
            SmtpSecurity::None.as_str().into(),
            t(
                l,
                "none (a relay on this network, port 25)",
                "без шифрования (релей в этой сети, порт 25)",
            )
            .into(),
        ),
    ]
}

/// The SMTP server: from the configuration (shown, locked) or set here, as fields; the
/// stored password is never shown.
fn smtp_form(
    ctx: &crate::web::Ctx,
    config_url: Option<&str>,
    stored_url: &str,
    typed: Option<SmtpParts>,
    errors: &FieldErrors,
) -> Markup {
    let l = ctx.lang;
    let locked = config_url.is_some();
    let current = config_url.unwrap_or(stored_url);
    let parsed = SmtpParts::of_url(current);
    let has_password = parsed.as_ref().is_some_and(|p| !p.password.is_empty());
    let shown = typed.or(parsed).unwrap_or_default();
    let port = shown.port.map(|p| p.to_string()).unwrap_or_default();
    html! {
        h3 { (t(l, "SMTP server", "SMTP-сервер")) }
        @if locked {
            p.muted { (t(l, "Set by --smtp or the configuration file, which wins over this page: change it there.", "Задан флагом --smtp или файлом конфигурации, они имеют приоритет над этой страницей: меняйте там.")) }
        } @else if SmtpParts::of_url(stored_url).is_none() {
            p.muted { (t(l, "The stored URL is kept until these fields are saved:", "Сохранённый адрес действует, пока эти поля не сохранены:")) " " code { (crate::config::redact(stored_url)) } }
        }
        form.grid method="post" action="/system/smtp" {
            (csrf_field(ctx))
            fieldset.fields.wide disabled[locked] {
                legend { (t(l, "Empty host: no SMTP server (mail waits in the outbox)", "Пустой сервер — SMTP нет (письма ждут в очереди)")) }
                (field(t(l, "Host", "Сервер"), "host", "text", &shown.host, errors))
                (field(t(l, "Port (empty: the usual one)", "Порт (пусто — обычный)"), "port", "number", &port, errors))
                (select(t(l, "Security", "Шифрование"), "security", shown.security.as_str(), &security_options(l)))
                (field(t(l, "User (empty: no sign-in)", "Пользователь (пусто — без входа)"), "user", "text", &shown.user, errors))
                label.field.invalid[errors.contains_key("password")] {
                    span.label { (t(l, "Password", "Пароль")) }
                    input type="password" name="password" autocomplete="new-password"
                        placeholder=(if has_password { t(l, "stored; empty keeps it", "сохранён; пусто — не менять") } else { "" });
                    @if let Some(e) = errors.get("password") { span.error { (e) } }
                }
                @if has_password && !locked {
                    label.field.check { input type="checkbox" name="forget_password" value="1"; (t(l, "remove the stored password", "удалить сохранённый пароль")) }
                }
            }
            @if !locked {
                div.actions { button type="submit" { (t(l, "Save SMTP settings", "Сохранить настройки SMTP")) } }
            }
        }
    }
}

fn render(me: &Me, v: View) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let app = &me.app;
    let ctx = me.ctx("system", v.flash);
    let now = app.now();
    let policy = backups::policy(app).map_err(|e| me.err(e))?;
    let tx = app.store.read().map_err(|e| me.err(e))?;
    let status = backups::status(&tx).map_err(|e| me.err(e))?;
    let staff = system::staff_counts(&tx).map_err(|e| me.err(e))?;
    let outbox = system::outbox_len(&tx).map_err(|e| me.err(e))?;
    let leases = system::leases_len(&tx).map_err(|e| me.err(e))?;
    let sent = system::mail_hours(&tx)
        .map_err(|e| me.err(e))?
        .last_24h(now);
    drop(tx);
    let db = app.store.file_size();
    let wal = std::fs::metadata(app.config.db_path().with_extension("wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    let disk = system::disk_space(&app.config.data_dir);
    let list = backups::list(&policy.dir);
    let cert = app.tls.get().and_then(|live| {
        live.chain()
            .first()
            .and_then(|c| crate::http::tls::cert_info(c))
    });
    let live = app.tls.get();
    let [s_window, s_tz, s_keep, s_dir, s_comp, s_ops, s_quota] = policy.sources;
    let typed = v.typed.unwrap_or_default();
    let window_text = typed
        .window
        .clone()
        .unwrap_or_else(|| policy.window.map_or_else(|| "off".to_owned(), |w| w.text()));
    let tz_text = typed
        .timezone
        .clone()
        .unwrap_or_else(|| policy.timezone.clone());
    let keep_text = typed.keep.unwrap_or(policy.keep).to_string();
    let dir_text = typed
        .dir
        .clone()
        .unwrap_or_else(|| policy.dir.display().to_string());
    let ops_text = typed
        .ops_email
        .clone()
        .unwrap_or_else(|| policy.ops_email.join(", "));
    let quota_text = typed
        .mail_daily_quota
        .unwrap_or(policy.mail_daily_quota)
        .to_string();
    let stored_smtp =
        crate::service::mail::smtp_settings(&app.store.read().map_err(|e| me.err(e))?)
            .map_err(|e| me.err(e))?
            .url;
    let errors = &v.errors;
    let uptime = (now - app.started_at).whole_seconds();
    let body = html! {
        h1 { (t(l, "System", "Система")) }
        p.muted { (t(l,
            "Settings set in the configuration file, LICD_* variables or command-line flags win over this page and are shown locked; the rest is set here and kept in the database.",
            "Параметры из файла конфигурации, переменных LICD_* и флагов командной строки имеют приоритет над этой страницей и показаны заблокированными; остальные задаются здесь и хранятся в базе."
        )) }
        section.card {
            h2 { (t(l, "Server", "Сервер")) }
            dl.props {
                dt { (t(l, "Version", "Версия")) } dd { "licd " (env!("CARGO_PKG_VERSION")) }
                dt { (t(l, "Build", "Сборка")) } dd { code { (system::GIT_REVISION) } " · " (system::build_time().map(when_t).unwrap_or_default()) }
                dt { (t(l, "Up for", "Работает")) } dd { (duration(uptime)) " · " (t(l, "since", "с")) " " (when_t(app.started_at)) }
                dt { (t(l, "Public URL", "Публичный адрес")) } dd { code { (app.config.public_url) } " " small.muted { "(--public-url)" } }
                dt { (t(l, "Listening on", "Слушает")) } dd { code { (app.config.listen) } }
                dt { (t(l, "Data directory", "Каталог данных")) } dd { code { (app.config.data_dir.display()) } }
            }
        }
        section.card {
            h2 { (t(l, "Storage and load", "Хранилище и нагрузка")) }
            dl.props {
                dt { (t(l, "Database", "База данных")) } dd { (bytes(db)) }
                dt { (t(l, "Redo log", "Журнал повторов")) } dd { (bytes(wal)) }
                dt { (t(l, "Disk free", "Свободно на диске")) } dd {
                    @if let Some((free, total)) = disk {
                        (bytes(free)) " / " (bytes(total))
                        @if free < 1024 * 1024 * 1024 { " " strong.badge.warn { (t(l, "low", "мало")) } }
                    } @else { "—" }
                }
                dt { (t(l, "CPU (this process)", "ЦП (этот процесс)")) } dd { (format!("{:.1} %", app.load.cpu_percent())) }
                @if let Some(la) = system::load_average() {
                    dt { (t(l, "Load average (1 min)", "Средняя нагрузка (1 мин)")) } dd { (format!("{la:.2}")) }
                }
                dt { (t(l, "Requests per second", "Запросов в секунду")) } dd { (format!("{:.1}", app.load.rps())) " " small.muted { (format!("({} s)", system::LOAD_PERIOD_S)) } }
                dt { (t(l, "Live leases", "Активные аренды")) } dd { (leases) }
                dt { (t(l, "Staff users", "Сотрудники")) } dd {
                    (staff[0]) " " (t(l, "admins", "админ.")) ", " (staff[1]) " " (t(l, "managers", "менедж.")) ", " (staff[2]) " " (t(l, "distributors", "дистриб."))
                }
            }
        }
        section.card id="mail" {
            h2 { (t(l, "Mail", "Почта")) }
            dl.props {
                dt { "SMTP" } dd { @match (&app.config.smtp, stored_smtp.trim()) {
                    (Some(u), _) => { code { (crate::config::redact(u)) } " " (source_note(l, Source::Config)) },
                    (None, "") => { strong.badge.warn { (t(l, "not configured: mail waits in the outbox", "не настроен: письма ждут в очереди")) } },
                    (None, u) => { code { (crate::config::redact(u)) } " " (source_note(l, Source::Page)) },
                } }
                dt { (t(l, "Sender", "Отправитель")) } dd { code { (crate::jobs::outbox::mail_from(app)) } " " a href="/settings" { (t(l, "vendor settings", "настройки вендора")) } }
                dt { (t(l, "Sent in 24 h", "Отправлено за 24 ч")) } dd {
                    (sent) " / " (policy.mail_daily_quota)
                    @if sent >= policy.mail_daily_quota { " " strong.badge.warn { (t(l, "quota reached: mail waits", "квота исчерпана: письма ждут")) } }
                }
                dt { (t(l, "Waiting in the outbox", "В очереди")) } dd { (outbox) " " a href="/outbox" { (t(l, "Outbox", "Исходящая почта")) " →" } }
            }
            (smtp_form(&ctx, app.config.smtp.as_deref(), &stored_smtp, v.smtp_typed.clone(), errors))
            h3 { (t(l, "Test mail", "Тестовое письмо")) }
            form.grid method="post" action="/system/test-mail" {
                (csrf_field(&ctx))
                (field(t(l, "Send a test mail to", "Отправить тестовое письмо на"), "to", "email", "", errors))
                div.actions { button type="submit" { (t(l, "Send now", "Отправить")) } }
            }
        }
        section.card id="signing" {
            h2 { (t(l, "Signing key", "Ключ подписи")) }
            p.muted { (t(l, "Every protected-app answer is signed with the current key (Licd-Signature). After a rotation the previous key keeps signing beside it (Licd-Signature-Previous) until the date shown, so apps that pinned it keep verifying until they update.",
                         "Каждый ответ защищаемым программам подписан текущим ключом (Licd-Signature). После смены ключа прежний ещё подписывает рядом с ним (Licd-Signature-Previous) до указанной даты, так что программы, запомнившие его, продолжают проверять подпись, пока их не обновят.")) }
            table {
                thead { tr {
                    th { (t(l, "Key", "Ключ")) }
                    th { (t(l, "Public key (base64)", "Открытый ключ (base64)")) }
                    th { (t(l, "Signs", "Подписывает")) }
                } }
                tbody { @for k in app.signer.keys(now) { tr {
                    td.mono { (k.key_id) " " @if k.status == "current" { span.badge.ok { (t(l, "current", "текущий")) } } @else { span.badge { (t(l, "previous", "прежний")) } } }
                    td.mono { (k.public_key) }
                    td { @if let Some(u) = &k.valid_until { (t(l, "until ", "до ")) (u) } @else if let Some(f) = &k.valid_from { (t(l, "since ", "с ")) (f) } @else { "—" } }
                } } }
            }
            form method="post" action="/system/signing-rotate" {
                (csrf_field(&ctx))
                label.check {
                    input type="checkbox" name="confirm" value="yes" required;
                    " " (t(l, "I have told the developers of our apps: a new key replaces the current one, which keeps signing for 90 days.",
                           "Разработчики наших программ предупреждены: новый ключ заменит текущий, тот ещё 90 дней подписывает рядом."))
                }
                @if let Some(e) = errors.get("confirm") { span.error { (e) } }
                div.actions { button type="submit" { (t(l, "Rotate the signing key", "Сменить ключ подписи")) } }
            }
        }
        section.card id="backups" {
            h2 { (t(l, "Backups", "Резервные копии")) }
            dl.props {
                dt { (t(l, "Last backup", "Последняя копия")) } dd {
                    @if let Some(at) = status.last_success_at {
                        (when_t(at)) " · " code { (status.last_file) } " · " (bytes(status.last_bytes)) " · " (status.last_rows) " " (t(l, "rows", "строк")) " · " (format!("{:.1} s", status.last_seconds))
                    } @else { (t(l, "none yet", "пока нет")) }
                }
                @if let Some(at) = status.last_failure_at {
                    @if status.last_success_at.is_none_or(|s| s < at) {
                        dt { (t(l, "Last failure", "Последняя ошибка")) } dd { strong.badge.warn { (when_t(at)) ": " (status.last_error) } }
                    }
                }
            }
            form method="post" action="/system/backup" {
                (csrf_field(&ctx))
                button type="submit" { (t(l, "Back up now", "Создать копию сейчас")) }
            }
            @if list.is_empty() {
                p.muted { (t(l, "No backups in the folder yet.", "В папке пока нет копий.")) }
            } @else {
                table {
                    thead { tr { th { (t(l, "File", "Файл")) } th { (t(l, "Size", "Размер")) } th { (t(l, "Taken", "Создана")) } } }
                    tbody { @for b in &list { tr {
                        td { a href=(format!("/system/backups/{}", b.name)) download { (b.name) } }
                        td { (bytes(b.bytes)) }
                        td { (b.modified.map(when_t).unwrap_or_default()) }
                    } } }
                }
            }
            h3 { (t(l, "Backup settings", "Настройки резервного копирования")) }
            form.grid method="post" action="/system/backup-settings" {
                (csrf_field(&ctx))
                (setting(l, t(l, "Daily window (local time, HH:MM-HH:MM or off)", "Ежедневный период (местное время, ЧЧ:ММ-ЧЧ:ММ или off)"), "window", &window_text, s_window, errors))
                (setting(l, t(l, "Time zone (e.g. Europe/Moscow; empty: the system's)", "Часовой пояс (например Europe/Moscow; пусто — системный)"), "timezone", &tz_text, s_tz, errors))
                (setting(l, t(l, "Keep the newest", "Хранить последних"), "keep", &keep_text, s_keep, errors))
                (setting(l, t(l, "Folder", "Папка"), "dir", &dir_text, s_dir, errors))
                @if s_comp == Source::Config {
                    (setting(l, t(l, "Compression", "Сжатие"), "compression", policy.compression.as_str(), s_comp, errors))
                } @else {
                    div {
                        (select(t(l, "Compression", "Сжатие"), "compression", typed.compression.unwrap_or(policy.compression).as_str(),
                            &[("none".into(), t(l, "none", "нет").into()), ("gzip".into(), "gzip".into()), ("zstd".into(), "zstd".into())]))
                        (source_note(l, s_comp))
                    }
                }
                (setting(l, t(l, "Mail a failed backup to (comma-separated)", "Сообщать о сбое копирования (через запятую)"), "ops_email", &ops_text, s_ops, errors))
                (setting(l, t(l, "Mails per 24 hours at most", "Писем за 24 часа, не более"), "mail_daily_quota", &quota_text, s_quota, errors))
                div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
            }
        }
        section.card id="tls" {
            h2 { (t(l, "TLS certificate", "Сертификат TLS")) }
            @if let Some(c) = &cert {
                @let left = (c.not_after - now).whole_days();
                dl.props {
                    dt { (t(l, "Subject", "Субъект")) } dd { code { (c.subject) } }
                    dt { (t(l, "Issuer", "Издатель")) } dd { code { (c.issuer) } }
                    dt { (t(l, "Names", "Имена")) } dd { (c.names.join(", ")) }
                    dt { (t(l, "Valid", "Действует")) } dd { (when_t(c.not_before)) " — " (when_t(c.not_after)) }
                    dt { (t(l, "Days left", "Осталось дней")) } dd {
                        @if left < 30 { strong.badge.warn { (left) } } @else { (left) }
                    }
                }
            }
            @match live {
                Some(live) if live.in_data_dir => {
                    form.grid method="post" action="/system/tls" {
                        (csrf_field(&ctx))
                        label.field.wide.invalid[errors.contains_key("cert")] {
                            span.label { (t(l, "Certificate chain (PEM, leaf first)", "Цепочка сертификатов (PEM, начиная с конечного)")) }
                            textarea name="cert" rows="6" {}
                            @if let Some(e) = errors.get("cert") { span.error { (e) } }
                        }
                        label.field.wide {
                            span.label { (t(l, "Private key (PEM)", "Закрытый ключ (PEM)")) }
                            textarea name="key" rows="4" {}
                        }
                        div.actions { button type="submit" { (t(l, "Replace the certificate (no restart)", "Заменить сертификат (без перезапуска)")) } }
                    }
                }
                Some(live) => {
                    p.muted { (t(l, "The certificate is given by the configuration (--cert / --key), which wins: replace the files there and restart.", "Сертификат задан конфигурацией (--cert / --key), она имеет приоритет: замените файлы и перезапустите.")) " " code { (live.cert_path.display()) } }
                }
                None => {}
            }
        }
    };
    Ok(page(&ctx, t(l, "System", "Система"), body))
}

pub async fn show(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let flash = super::forms::done(me.lang, &q);
    let m = render(
        &me,
        View {
            errors: FieldErrors::new(),
            flash,
            typed: None,
            smtp_typed: None,
        },
    )?;
    Ok(html_page(StatusCode::OK, m))
}

fn with_flash(me: &Me, flash: String) -> UiResult {
    let m = render(
        me,
        View {
            errors: FieldErrors::new(),
            flash: Some(flash),
            typed: None,
            smtp_typed: None,
        },
    )?;
    Ok(html_page(StatusCode::OK, m))
}

/// The page again with a form's errors (400), keeping what was typed.
fn refused(me: &Me, errors: FieldErrors, typed: Option<StoredPolicy>) -> UiResult {
    let m = render(
        me,
        View {
            errors,
            flash: None,
            typed,
            smtp_typed: None,
        },
    )?;
    Ok(html_page(StatusCode::BAD_REQUEST, m))
}

async fn audit(me: &Me, action: &str, target: &str, detail: &str) {
    if let Err(e) =
        crate::service::audit::record(&me.app, &me.user.login, action, target, detail).await
    {
        tracing::warn!("audit record failed: {e}");
    }
}

pub async fn back_up_now(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    match backups::take(&me.app, backups::Why::Manual).await {
        Ok(b) => {
            audit(me, "backup", &b.name, "manual").await;
            with_flash(
                me,
                format!(
                    "{} {} ({})",
                    t(
                        l,
                        "Backup taken and verified:",
                        "Копия создана и проверена:"
                    ),
                    b.name,
                    bytes(b.bytes)
                ),
            )
        }
        Err(e) => with_flash(
            me,
            format!(
                "{} {}",
                t(l, "The backup failed:", "Копирование не удалось:"),
                e.message(l)
            ),
        ),
    }
}

pub async fn save_settings(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let f = &p.form;
    let mut errors = FieldErrors::new();
    let text = |k: &str| Some(f.get(k).trim().to_owned());
    let number = |k: &str, errors: &mut FieldErrors| -> Option<u32> {
        let s = f.get(k).trim();
        match s.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.insert(
                    k.into(),
                    t(l, "A whole number above 0", "Целое число больше 0").into(),
                );
                None
            }
        }
    };
    let page = StoredPolicy {
        window: text("window"),
        timezone: text("timezone"),
        keep: number("keep", &mut errors),
        dir: text("dir").filter(|d| !d.is_empty()),
        compression: crate::ops::archive::Compression::parse(f.get("compression")),
        ops_email: text("ops_email"),
        mail_daily_quota: number("mail_daily_quota", &mut errors),
    };
    if let Some(w) = &page.window
        && let Err(e) = backups::Window::parse(w)
    {
        errors.insert("window".into(), e);
    }
    if let Some(z) = &page.timezone
        && let Err(e) = backups::zone(z)
    {
        errors.insert("timezone".into(), e);
    }
    if let Some(list) = &page.ops_email
        && list
            .split([',', ';', ' '])
            .map(str::trim)
            .any(|a| !a.is_empty() && !crate::service::clients::valid_email(a))
    {
        errors.insert("ops_email".into(), super::auth::field_msg(l, "email"));
    }
    // What the configuration sets is not the page's to keep.
    let old =
        backups::stored(&me.app.store.read().map_err(|e| me.err(e))?).map_err(|e| me.err(e))?;
    let ops = &me.app.config.ops;
    let keep_cfg =
        |cfg: bool, new: Option<String>, old: Option<String>| if cfg { old } else { new };
    let page = StoredPolicy {
        window: keep_cfg(ops.backup_window.is_some(), page.window, old.window.clone()),
        timezone: keep_cfg(
            ops.backup_timezone.is_some(),
            page.timezone,
            old.timezone.clone(),
        ),
        keep: if ops.backup_keep.is_some() {
            old.keep
        } else {
            page.keep
        },
        dir: keep_cfg(ops.backup_dir.is_some(), page.dir, old.dir.clone()),
        compression: if ops.backup_compression.is_some() {
            old.compression
        } else {
            page.compression
        },
        ops_email: keep_cfg(
            ops.ops_email.is_some(),
            page.ops_email,
            old.ops_email.clone(),
        ),
        mail_daily_quota: if ops.mail_daily_quota.is_some() {
            old.mail_daily_quota
        } else {
            page.mail_daily_quota
        },
    };
    if !errors.is_empty() {
        return refused(me, errors, Some(page));
    }
    let detail = format!("{page:?}");
    if let Err(e) = backups::save_policy(&me.app, page.clone()).await {
        let errors = bad(l, &e).ok_or_else(|| me.err(e))?;
        return refused(me, errors, Some(page));
    }
    audit(me, "backup_settings", "system", &detail).await;
    Ok(see_other("/system?done=saved#backups"))
}

pub async fn save_smtp(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let f = &p.form;
    let mut errors = FieldErrors::new();
    let port = match f.get("port").trim() {
        "" => None,
        s => match s.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.insert("port".into(), t(l, "1 to 65535", "От 1 до 65535").into());
                None
            }
        },
    };
    let parts = SmtpParts {
        host: f.get("host").trim().to_owned(),
        port,
        security: SmtpSecurity::parse(f.get("security")).unwrap_or(SmtpSecurity::StartTls),
        user: f.get("user").trim().to_owned(),
        // A password is taken as typed, spaces and all.
        password: f.get("password").to_owned(),
    };
    let typed = SmtpParts {
        password: String::new(),
        ..parts.clone()
    };
    if errors.is_empty() {
        let change = crate::service::mail::SmtpChange {
            parts,
            forget_password: f.has("forget_password"),
        };
        match crate::service::mail::save_smtp(&me.app, change, &me.user.login).await {
            Ok(_) => return Ok(see_other("/system?done=saved#mail")),
            Err(e @ crate::error::AppError::Malformed(_)) => {
                errors = bad(l, &e).unwrap_or_default()
            }
            // The configuration sets the server (the form is locked).
            Err(e) => return Err(me.err(e)),
        }
    }
    let m = render(
        me,
        View {
            errors,
            flash: None,
            typed: None,
            smtp_typed: Some(typed),
        },
    )?;
    Ok(html_page(StatusCode::BAD_REQUEST, m))
}

pub async fn test_mail(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let to = p.form.get("to").trim().to_owned();
    if !crate::service::clients::valid_email(&to) {
        let mut errors = FieldErrors::new();
        errors.insert("to".into(), super::auth::field_msg(l, "email"));
        return refused(me, errors, None);
    }
    let flash = match crate::jobs::outbox::send_test(&me.app, &to).await {
        Ok(answer) => format!(
            "{} {to}. {} {answer}",
            t(l, "Test mail sent to", "Тестовое письмо отправлено на"),
            t(l, "The SMTP server answered:", "Ответ SMTP-сервера:")
        ),
        Err(e) => format!(
            "{} {to}: {e}",
            t(
                l,
                "The test mail could not be sent to",
                "Не удалось отправить тестовое письмо на"
            )
        ),
    };
    audit(me, "mail_test", &to, "").await;
    with_flash(me, flash)
}

/// Rotates the signing key (admin; the form's box must be ticked).
pub async fn rotate_signing(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    if p.form.get("confirm") != "yes" {
        let mut errors = FieldErrors::new();
        errors.insert(
            "confirm".into(),
            t(l, "Tick the box to confirm", "Отметьте, чтобы подтвердить").to_owned(),
        );
        return refused(me, errors, None);
    }
    crate::service::signing::rotate_audited(
        &me.app,
        &me.user.login,
        crate::service::signing::DEFAULT_OVERLAP,
    )
    .await
    .map_err(|e| me.err(e))?;
    Ok(see_other("/system?done=saved#signing"))
}

pub async fn replace_cert(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let Some(live) = me.app.tls.get().filter(|c| c.in_data_dir) else {
        return Err(me.err(crate::error::AppError::Forbidden));
    };
    match live.replace_pem(p.form.get("cert"), p.form.get("key")) {
        Ok(()) => {
            let subject = live
                .chain()
                .first()
                .and_then(|c| crate::http::tls::cert_info(c))
                .map(|c| c.subject)
                .unwrap_or_default();
            audit(me, "tls_replace", "certificate", &subject).await;
            Ok(see_other("/system?done=saved#tls"))
        }
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.insert(
                "cert".into(),
                format!(
                    "{} ({e})",
                    t(
                        l,
                        "Not a certificate chain with its matching private key",
                        "Это не цепочка сертификатов с подходящим закрытым ключом"
                    )
                ),
            );
            refused(me, errors, None)
        }
    }
}

/// Downloads a backup from the folder (admin only; names outside the folder's pattern
/// are not found).
pub async fn download(
    me: Me,
    name: web::Path<String>,
) -> Result<HttpResponse, crate::web::UiError> {
    me.require(Role::Admin)?;
    let name = name.into_inner();
    let dir = backups::policy(&me.app).map_err(|e| me.err(e))?.dir;
    if !backups::is_backup_name(&name) || !backups::list(&dir).iter().any(|b| b.name == name) {
        return Err(me.err(crate::error::AppError::NotFound { what: "backup" }));
    }
    let path = dir.join(&name);
    let len = std::fs::metadata(&path)
        .map(|m| m.len())
        .map_err(|e| me.err(crate::error::AppError::internal(e)))?;
    let body = crate::http::files::body(path)
        .await
        .map_err(|e| me.err(crate::error::AppError::internal(e)))?;
    audit(&me, "backup_download", &name, "").await;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .no_chunking(len)
        .streaming(body))
}
