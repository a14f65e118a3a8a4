//! The session monitor: every live lease and host binding, filtered by client, key,
//! feature, host or user; unbind a host's seat or end it.
use crate::domain::Role;
use crate::service::{clients, keys, leases};
use crate::web::{Me, Post, UiResult, html_page, see_other};
use crate::web::{page, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;
use std::collections::HashMap;

/// Rows per page of the monitor.
const PAGE: usize = 200;
/// Clients a name filter may stand for (beyond, the filter asks for more words).
const NAME_MATCHES: usize = 1000;

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
    let offset: usize = get("offset").parse().unwrap_or(0);
    let app = &me.app;
    let tx = app.store.read().map_err(|e| me.err(e))?;
    // Which keys to walk: one, a client's (by id or name), a distributor's, or all.
    let clients_wanted: Option<Vec<u64>> = if !client.is_empty() {
        Some(match client.parse::<u64>() {
            Ok(id) => vec![id],
            Err(_) => app.search.find(&client, 0, NAME_MATCHES).0,
        })
    } else if me.user.role == Role::Distributor {
        Some(clients::ids_by_distributor(&tx, &me.user.distributor).map_err(|e| me.err(e))?)
    } else {
        None
    };
    let regnums: Option<Vec<String>> = if !regnum.is_empty() {
        Some(
            keys::parse_regnum(&regnum)
                .map(|r| vec![r])
                .unwrap_or_default(),
        )
    } else if let Some(ids) = &clients_wanted {
        let mut v = Vec::new();
        for id in ids {
            v.extend(clients::keys_of(&tx, *id).map_err(|e| me.err(e))?);
        }
        v.sort();
        Some(v)
    } else {
        None
    };
    // Who owns each key: to show the client and to keep distributors to their own.
    let mut owner: HashMap<String, Option<(u64, String, String)>> = HashMap::new();
    let mut owner_of = |r: &str| -> crate::error::AppResult<Option<(u64, String, String)>> {
        if let Some(o) = owner.get(r) {
            return Ok(o.clone());
        }
        let o = match keys::load(&tx, r)? {
            Some(k) => clients::load(&tx, k.client_id)?.map(|c| (c.id, c.company, c.distributor)),
            None => None,
        };
        owner.insert(r.to_owned(), o.clone());
        Ok(o)
    };
    let client_id = client.parse::<u64>().ok();
    let (host_q, user_q) = (crate::domain::fold(&host), crate::domain::fold(&user));
    let now = app.now();
    let mut rows: Vec<leases::LeaseView> = Vec::new();
    let mut names: HashMap<String, (u64, String)> = HashMap::new();
    let mut skipped = 0usize;
    let more = std::cell::Cell::new(false);
    let mut failure: Option<crate::error::AppError> = None;
    let mut visit = |r: &str, f: u32, h: crate::domain::seats::Holder| -> bool {
        if (!feature.is_empty() && f.to_string() != feature)
            || (!host.is_empty() && !crate::domain::fold(&h.host).contains(&host_q))
            || (!user.is_empty() && !crate::domain::fold(&h.user).contains(&user_q))
        {
            return true;
        }
        let o = match owner_of(r) {
            Ok(o) => o,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        let dist = o.as_ref().map_or("", |o| o.2.as_str());
        if !super::clients::can_see(&me.user, dist)
            || client_id.is_some_and(|id| o.as_ref().is_none_or(|o| o.0 != id))
        {
            return true;
        }
        for v in leases::holder_rows(app, r, f, &h, now) {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if rows.len() == PAGE {
                more.set(true);
                return false;
            }
            if let Some(o) = &o {
                names.insert(r.to_owned(), (o.0, o.1.clone()));
            }
            rows.push(v);
        }
        true
    };
    let walked = match &regnums {
        None => leases::rows::each(&tx, None, &mut visit),
        Some(list) => list.iter().try_for_each(|r| {
            if more.get() {
                return Ok(());
            }
            leases::rows::each(&tx, Some(r), &mut visit)
        }),
    };
    walked.map_err(|e| me.err(crate::error::AppError::from(e)))?;
    if let Some(e) = failure {
        return Err(me.err(e));
    }
    let page_link = |to: usize| {
        let mut s = format!("/sessions?offset={to}");
        for (k, v) in [
            ("client", &client),
            ("regnum", &regnum),
            ("feature", &feature),
            ("host", &host),
            ("user", &user),
        ] {
            if !v.is_empty() {
                s.push_str(&format!("&{k}={}", crate::web::urlencode(v)));
            }
        }
        s
    };
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
        // The total is known once the walk reached the end.
        p.muted {
            (t(l, "Leases and bindings: ", "Захватов и привязок: ")) (offset + rows.len())
            @if more.get() { "+" }
        }
        (super::keys::lease_table(&ctx, &rows, &names))
        @if offset > 0 || more.get() {
            (crate::web::pager(l, offset, rows.len(), None, more.get(), PAGE, &page_link))
        }
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
    let lease = p.form.get("lease");
    if unbound.is_empty() && !lease.is_empty() {
        // The lease must be one of the key checked above: a lease id of a key this
        // user may not see ends nothing.
        let on = leases::key_of(&me.app, lease).map_err(|e| me.err(e))?;
        match on {
            Some(k) if k == regnum => {
                leases::release(&me.app(), lease)
                    .await
                    .map_err(|e| me.err(e))?;
            }
            Some(_) => return Err(me.forbidden()),
            None => {} // already gone
        }
    }
    me.audit(
        "unbind",
        &regnum,
        &format!("host {host} feature {}", p.form.get("feature")),
    )
    .await?;
    Ok(see_other("/sessions?done=unbound"))
}
