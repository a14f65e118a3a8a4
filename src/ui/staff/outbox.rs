//! The Outbox (admin only): every mail licd queued, newest first, with its state, filters
//! by state and recipient; one mail's text and HTML (in a sandboxed frame, never in the
//! page); "retry now" and "drop".
use crate::domain::mailing::StateKind;
use crate::domain::{Mail, MailState, Role};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::outbox::{self, Filter};
use crate::web::{Ctx, csrf_field, page, t, urlencode, when_t};
use crate::web::{Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::web;
use maud::{Markup, html};

/// A mail's page shows its HTML in a sandboxed `srcdoc` frame, which inherits the
/// page's policy: the mail's inline styles need `style-src 'unsafe-inline'` here (the
/// page itself holds no markup anyone typed), and nothing else is loosened.
pub const MAIL_PAGE_CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn state_name(l: Lang, k: StateKind) -> &'static str {
    match k {
        StateKind::Queued => t(l, "queued", "в очереди"),
        StateKind::Sending => t(l, "sending", "отправляется"),
        StateKind::Sent => t(l, "sent", "отправлено"),
        StateKind::Failed => t(l, "failed", "не отправлено"),
        StateKind::Dropped => t(l, "dropped", "отменено"),
    }
}

fn state_badge(l: Lang, s: &MailState) -> Markup {
    let k = s.kind();
    html! {
        @match k {
            StateKind::Sent => span.badge.ok { (state_name(l, k)) },
            StateKind::Failed => span.badge.bad { (state_name(l, k)) },
            StateKind::Sending => span.badge.warn title=(sending_note(l)) { (state_name(l, k)) },
            _ => span.badge { (state_name(l, k)) },
        }
    }
}

fn sending_note(l: Lang) -> &'static str {
    t(
        l,
        "Handed to the SMTP server with no answer recorded: it may have been delivered, and is not retried by itself.",
        "Передано SMTP-серверу, ответ не записан: письмо могло дойти, само оно повторно не отправляется.",
    )
}

fn get<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
    q.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.trim())
}

fn list_href(f: &Filter, before: Option<u64>) -> String {
    let mut q = Vec::new();
    if let Some(s) = f.state {
        q.push(format!("state={}", s.as_str()));
    }
    if !f.recipient.trim().is_empty() {
        q.push(format!("to={}", urlencode(f.recipient.trim())));
    }
    if let Some(b) = before {
        q.push(format!("before={b}"));
    }
    if q.is_empty() {
        "/outbox".to_owned()
    } else {
        format!("/outbox?{}", q.join("&"))
    }
}

/// The "retry now" and "drop" buttons a mail's state allows.
fn actions(ctx: &Ctx, m: &Mail) -> Markup {
    let l = ctx.lang;
    html! {
        @if m.state.retryable() {
            form.inline method="post" action=(format!("/outbox/{}/retry", m.id)) {
                (csrf_field(ctx))
                button.small type="submit" { (t(l, "Retry now", "Отправить сейчас")) }
            }
        }
        @if m.state.droppable() {
            form.inline method="post" action=(format!("/outbox/{}/drop", m.id)) {
                (csrf_field(ctx))
                button.small.danger type="submit" { (t(l, "Drop", "Отменить")) }
            }
        }
    }
}

fn recipients(m: &Mail) -> Markup {
    html! {
        (m.to.join(", "))
        @if !m.cc.is_empty() { br; span.muted { "Cc: " (m.cc.join(", ")) } }
    }
}

pub async fn list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let l = me.lang;
    let filter = Filter {
        state: StateKind::parse(get(&q, "state")),
        recipient: get(&q, "to").to_owned(),
    };
    let before: Option<u64> = get(&q, "before").parse().ok();
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let p = outbox::list(&tx, &filter, before, outbox::PAGE).map_err(|e| me.err(e))?;
    let counts = outbox::counts(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("outbox", None);
    let count_of = |k: StateKind| {
        let n = counts.of(k);
        if counts.complete || k == StateKind::Queued {
            n.to_string()
        } else {
            format!("{n}+")
        }
    };
    let body = html! {
        h1 { (t(l, "Outbox", "Исходящая почта")) }
        p.muted {
            (t(l, "Every mail licd queued, newest first. It goes out through the SMTP server set on the System page; a mail that cannot go yet is retried with growing waits until it is given up.",
                  "Все письма, которые licd поставил в очередь, новые сверху. Они уходят через SMTP-сервер со страницы «Система»; письмо, которое пока не уходит, повторяется со всё большими паузами, пока не истечёт срок."))
            " " a href="/system#mail" { (t(l, "SMTP settings", "Настройки SMTP")) }
        }
        p {
            @for k in StateKind::ALL {
                a.button.ghost.small.current[filter.state == Some(k)] href=(list_href(&Filter { state: Some(k), ..filter.clone() }, None)) {
                    (state_name(l, k)) " " span.badge { (count_of(k)) }
                }
                " "
            }
            @if !counts.complete {
                small.muted { (t(l, "counted over the newest", "подсчитано по последним")) " " (outbox::COUNT_SCAN) " " (t(l, "of", "из")) " " (counts.total) }
            }
        }
        form.toolbar.card method="get" action="/outbox" role="search" {
            label.field {
                span.label { (t(l, "State", "Состояние")) }
                select name="state" {
                    option value="" { (t(l, "any", "любое")) }
                    @for k in StateKind::ALL {
                        option value=(k.as_str()) selected[filter.state == Some(k)] { (state_name(l, k)) }
                    }
                }
            }
            label.field.grow {
                span.label { (t(l, "Recipient (a part of To or Cc)", "Получатель (часть адреса To или Cc)")) }
                input type="search" name="to" value=(filter.recipient);
            }
            button type="submit" { (t(l, "Show", "Показать")) }
        }
        div.table-wrap { table {
            thead { tr {
                th { "#" }
                th { (t(l, "Created (UTC)", "Создано (UTC)")) }
                th { (t(l, "State", "Состояние")) }
                th { (t(l, "Event", "Событие")) }
                th { (t(l, "Recipients", "Получатели")) }
                th { (t(l, "Subject", "Тема")) }
                th.num { (t(l, "Attempts", "Попыток")) }
                th { (t(l, "Next attempt / done", "Следующая попытка / итог")) }
                th.hide-sm { (t(l, "Last error or server's answer", "Последняя ошибка или ответ сервера")) }
                th {}
            } }
            tbody { @for m in &p.mails { tr {
                td { a href=(format!("/outbox/{}", m.id)) { (m.id) } }
                td { (when_t(m.created_at)) }
                td { (state_badge(l, &m.state)) }
                td.mono { (m.event) }
                td { (recipients(m)) }
                td { a href=(format!("/outbox/{}", m.id)) { (m.shown().subject) } }
                td.num { (m.attempts) }
                td { @match m.state {
                    MailState::Queued => { (when_t(m.next_attempt_at)) },
                    ref s => { @if let Some(at) = s.at() { (when_t(at)) } },
                } }
                td.hide-sm.muted { (m.last_error) }
                td { (actions(&ctx, m)) }
            } } }
        }
        @if p.mails.is_empty() { p.empty { (t(l, "No mail matches.", "Подходящих писем нет.")) } } }
        @if p.scan_stopped {
            p.muted { (t(l, "Only the newest mails were searched for this page.", "Для этой страницы просмотрены только последние письма.")) }
        }
        nav.pager {
            span.count { (p.mails.len()) " " (t(l, "shown", "показано")) }
            @if before.is_some() {
                a.button.ghost href=(list_href(&filter, None)) rel="first" { "← " (t(l, "Newest", "Новые")) }
            }
            @if let Some(older) = p.older {
                a.button.ghost href=(list_href(&filter, Some(older))) rel="next" {
                    @if p.scan_stopped { (t(l, "Search further back", "Искать дальше")) } @else { (t(l, "Older", "Старше")) } " →"
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Outbox", "Исходящая почта"), body),
    ))
}

fn done_text(l: Lang, v: &str) -> Option<String> {
    match v {
        "retried" => Some(t(
            l,
            "Queued to go now.",
            "Письмо поставлено на отправку сейчас.",
        )),
        "dropped" => Some(t(
            l,
            "Dropped: it will not be sent.",
            "Отменено: письмо не будет отправлено.",
        )),
        _ => None,
    }
    .map(str::to_owned)
}

pub async fn show(me: Me, path: web::Path<u64>, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let l = me.lang;
    let id = path.into_inner();
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let m = outbox::get(&tx, id)
        .map_err(|e| me.err(e))?
        .ok_or_else(|| me.not_found())?
        .shown();
    drop(tx);
    let ctx = me.ctx("outbox", done_text(l, get(&q, "done")));
    let body = html! {
        p { a href="/outbox" { "← " (t(l, "Outbox", "Исходящая почта")) } }
        div.head-row {
            h1 { (m.subject) }
            div.actions { (actions(&ctx, &m)) }
        }
        section.card {
            dl.props {
                dt { (t(l, "State", "Состояние")) } dd {
                    (state_badge(l, &m.state))
                    @if let Some(at) = m.state.at() { " " (when_t(at)) }
                    @if let MailState::Sending(_) = m.state { br; small.muted { (sending_note(l)) } }
                }
                dt { (t(l, "Event", "Событие")) } dd.mono { (m.event) " · " (m.key) }
                dt { "To" } dd { (m.to.join(", ")) }
                @if !m.cc.is_empty() { dt { "Cc" } dd { (m.cc.join(", ")) } }
                @if let Some(c) = m.client_id {
                    dt { (t(l, "Client", "Клиент")) } dd { a href=(format!("/clients/{c}")) { (t(l, "card", "карточка")) " #" (c) } }
                }
                dt { (t(l, "Created (UTC)", "Создано (UTC)")) } dd { (when_t(m.created_at)) }
                dt { (t(l, "Attempts", "Попыток")) } dd { (m.attempts) }
                @if m.state == MailState::Queued {
                    dt { (t(l, "Next attempt", "Следующая попытка")) } dd { (when_t(m.next_attempt_at)) }
                }
                dt { (t(l, "Given up after", "Попытки до")) } dd { (when_t(m.give_up_at)) }
                @if !m.last_error.is_empty() {
                    dt { (t(l, "Last error or server's answer", "Последняя ошибка или ответ сервера")) } dd.mono { (m.last_error) }
                }
            }
        }
        section.card {
            h2 { (t(l, "Text", "Текст")) }
            pre.mail-text { (m.text) }
        }
        @if !m.html.is_empty() {
            section.card {
                h2 { "HTML" }
                // Sandboxed with no permissions: no scripts, no forms, an opaque origin.
                iframe.mail-html sandbox="" referrerpolicy="no-referrer" title=(t(l, "The mail as HTML", "Письмо в HTML")) srcdoc=(m.html) {}
                details.more {
                    summary { (t(l, "HTML source", "Исходный код HTML")) }
                    pre.mail-text { (m.html) }
                }
            }
        }
    };
    let mut res = html_page(StatusCode::OK, page(&ctx, &m.subject, body));
    res.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MAIL_PAGE_CSP),
    );
    Ok(res)
}

pub async fn retry(p: Post, path: web::Path<u64>) -> UiResult {
    act(p, path.into_inner(), true).await
}

pub async fn drop_mail(p: Post, path: web::Path<u64>) -> UiResult {
    act(p, path.into_inner(), false).await
}

async fn act(p: Post, id: u64, retry: bool) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let r = if retry {
        outbox::retry(&me.app, id, &me.user.login).await
    } else {
        outbox::drop_mail(&me.app, id, &me.user.login).await
    };
    match r {
        Ok(()) => Ok(see_other(&format!(
            "/outbox/{id}?done={}",
            if retry { "retried" } else { "dropped" }
        ))),
        Err(AppError::NotFound { .. }) => Err(me.not_found()),
        Err(e) => Err(me.err(e)),
    }
}
