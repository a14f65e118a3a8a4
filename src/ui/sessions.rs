//! The session monitor: every live lease and host binding, filtered by client, key,
//! feature, host or user; unbind a host's seat or end it.
use super::{page, t};
use crate::domain::Role;
use crate::http::ui::{Me, Post, UiResult, html_page, see_other};
use crate::service::{clients, keys, leases};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;
use std::collections::HashMap;

const LIMIT: usize = 2000;

/// Live leases plus host bindings that outlived their leases (a `host` seat stays bound
/// until unbound), of one key or all, at most `limit` rows.
pub fn rows(
    app: &crate::service::App,
    regnum: Option<&str>,
    limit: usize,
) -> crate::error::AppResult<Vec<leases::LeaseView>> {
    let mut out = leases::list(app, regnum, limit)?;
    let room = limit.saturating_sub(out.len());
    out.extend(leases::idle_bindings(app, regnum, room)?);
    Ok(out)
}

pub async fn monitor(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (client, regnum, feature, host, user) = (
        get("client"),
        get("regnum"),
        get("feature"),
        get("host"),
        get("user"),
    );
    let key_filter = (!regnum.is_empty())
        .then(|| keys::parse_regnum(&regnum).ok())
        .flatten();
    let mut rows = if !regnum.is_empty() && key_filter.is_none() {
        Vec::new()
    } else {
        rows(&me.app, key_filter.as_deref(), LIMIT).map_err(|e| me.err(e))?
    };
    // Who owns each key, to filter by client and to keep distributors to their own.
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let mut owner: HashMap<String, (u64, String, String)> = HashMap::new();
    for r in rows
        .iter()
        .map(|r| r.regnum.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if let Some(k) = keys::load(&tx, &r).map_err(|e| me.err(e))?
            && let Some(c) = clients::load(&tx, k.client_id).map_err(|e| me.err(e))?
        {
            owner.insert(r, (c.id, c.company, c.distributor));
        }
    }
    drop(tx);
    let client_q = crate::domain::fold(&client);
    let (host_q, user_q) = (crate::domain::fold(&host), crate::domain::fold(&user));
    rows.retain(|s| {
        let o = owner.get(&s.regnum);
        let dist = o.map_or("", |o| o.2.as_str());
        super::clients::can_see(&me.user, dist)
            && (client.is_empty()
                || o.is_some_and(|o| {
                    o.0.to_string() == client || crate::domain::fold(&o.1).contains(&client_q)
                }))
            && (feature.is_empty() || s.feature.to_string() == feature)
            && (host.is_empty() || crate::domain::fold(&s.host).contains(&host_q))
            && (user.is_empty() || crate::domain::fold(&s.user).contains(&user_q))
    });
    let names: HashMap<String, (u64, String)> = owner
        .iter()
        .map(|(r, o)| (r.clone(), (o.0, o.1.clone())))
        .collect();
    let flash = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|_| t(l, "Unbound.", "Привязка снята.").to_owned());
    let ctx = me.ctx("sessions", flash);
    let body = html! {
        h1 { (t(l, "Session monitor", "Монитор сеансов")) }
        form.toolbar.card method="get" action="/sessions" {
            label.field { span.label { (t(l, "Client (id or name)", "Клиент (ид или название)")) } input type="search" name="client" value=(client); }
            label.field { span.label { (t(l, "Key", "Ключ")) } input type="search" name="regnum" value=(regnum); }
            label.field { span.label { (t(l, "Feature", "Функция")) } input type="search" name="feature" value=(feature); }
            label.field { span.label { (t(l, "Host", "Компьютер")) } input type="search" name="host" value=(host); }
            label.field { span.label { (t(l, "User", "Пользователь")) } input type="search" name="user" value=(user); }
            button type="submit" { (t(l, "Filter", "Отобрать")) }
        }
        p.muted { (t(l, "Leases and bindings: ", "Захватов и привязок: ")) (rows.len()) }
        (super::keys::lease_table(&ctx, &rows, &names))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Session monitor", "Монитор сеансов"), body),
    ))
}

/// Unbinds a host's seat of a feature (bound seats), or ends a lease.
pub async fn end(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Distributor)?;
    let regnum = super::keys::check_visible(me, p.form.get("regnum"))?;
    let host = p.form.get("host");
    let feature = p.form.get("feature").parse::<u32>().ok();
    let unbound = leases::unbind(&me.app(), &regnum, host, feature)
        .await
        .map_err(|e| me.err(e))?;
    if unbound.is_empty() && !p.form.get("lease").is_empty() {
        leases::release(&me.app(), p.form.get("lease"))
            .await
            .map_err(|e| me.err(e))?;
    }
    me.audit(
        "unbind",
        &regnum,
        &format!("host {host} feature {}", p.form.get("feature")),
    )
    .await?;
    Ok(see_other("/sessions?done=unbound"))
}
