//! Mail to a client's alert e-mail: refused captures, seats running out, new releases.
use super::layout::Letter;
use super::{Ctx, KeyDenials, Rendered, moment};
use crate::domain::problems;
use crate::i18n::Lang;
use time::OffsetDateTime;

fn alert_footer(ctx: &Ctx) -> String {
    match ctx.lang {
        Lang::En => format!(
            "License alerts can be turned off in the client cabinet's settings: {}",
            ctx.url("/cabinet/settings")
        ),
        Lang::Ru => format!(
            "Оповещения о проблемах с лицензиями можно отключить в настройках личного кабинета: {}",
            ctx.url("/cabinet/settings")
        ),
    }
}

fn feature_label(feature: u32, name: &str) -> String {
    if name.is_empty() {
        feature.to_string()
    } else {
        format!("{feature} {name}")
    }
}

#[allow(clippy::too_many_arguments)]
pub fn denial(
    ctx: &Ctx,
    regnum: &str,
    feature: u32,
    feature_name: &str,
    code: u32,
    host: &str,
    user: &str,
    at: OffsetDateTime,
) -> Rendered {
    let f = feature_label(feature, feature_name);
    let mut rows = vec![
        (ctx.t("Key", "Ключ").to_owned(), regnum.to_owned()),
        (ctx.t("Feature", "Функция").to_owned(), f.clone()),
        (ctx.t("When", "Когда").to_owned(), moment(at)),
        (ctx.t("Code", "Код").to_owned(), code.to_string()),
    ];
    if !host.is_empty() {
        rows.push((ctx.t("Host", "Компьютер").to_owned(), host.to_owned()));
    }
    if !user.is_empty() {
        rows.push((ctx.t("User", "Пользователь").to_owned(), user.to_owned()));
    }
    Letter::new(match ctx.lang {
        Lang::En => format!("License refused on key {regnum}: feature {f}"),
        Lang::Ru => format!("Отказ в лицензии по ключу {regnum}: функция {f}"),
    })
    .p(problems::reason(code, ctx.lang))
    .facts(rows)
    .p(problems::advice(code, ctx.lang))
    .p(ctx.t(
        "Further refusals of this key within the hour come in one summary.",
        "О следующих отказах по этому ключу в течение часа придёт одна сводка.",
    ))
    .link(
        ctx.t(
            "Problems in the client cabinet",
            "Проблемы в личном кабинете",
        ),
        ctx.url("/cabinet/problems"),
    )
    .footer(alert_footer(ctx))
    .render(ctx)
}

pub fn summary(
    ctx: &Ctx,
    from: OffsetDateTime,
    to: OffsetDateTime,
    keys: &[KeyDenials],
) -> Rendered {
    let total: u32 = keys.iter().flat_map(|k| &k.rows).map(|r| r.3).sum();
    let subject = match (ctx.lang, keys) {
        (Lang::En, [k]) => format!(
            "{total} license refusals on key {} in the last hour",
            k.regnum
        ),
        (Lang::Ru, [k]) => format!("Отказов в лицензии по ключу {} за час: {total}", k.regnum),
        (Lang::En, _) => format!(
            "{total} license refusals on {} keys in the last hour",
            keys.len()
        ),
        (Lang::Ru, _) => format!(
            "Отказов в лицензии за час: {total} (ключей: {})",
            keys.len()
        ),
    };
    let mut l = Letter::new(subject).p(match ctx.lang {
        Lang::En => format!("Refused captures from {} to {}:", moment(from), moment(to)),
        Lang::Ru => format!("Отказы с {} по {}:", moment(from), moment(to)),
    });
    let mut rows = vec![vec![
        ctx.t("Key", "Ключ").to_owned(),
        ctx.t("Client", "Клиент").to_owned(),
        ctx.t("Feature", "Функция").to_owned(),
        ctx.t("Reason", "Причина").to_owned(),
        ctx.t("Refusals", "Отказов").to_owned(),
    ]];
    let mut codes: Vec<u32> = Vec::new();
    for k in keys {
        for (feature, name, code, n) in &k.rows {
            rows.push(vec![
                k.regnum.clone(),
                k.company.clone(),
                feature_label(*feature, name),
                format!("{code}: {}", problems::reason(*code, ctx.lang)),
                n.to_string(),
            ]);
            if !codes.contains(code) {
                codes.push(*code);
            }
        }
    }
    l = l.table(rows);
    codes.sort_unstable();
    for c in codes {
        l = l.p(format!("{c}: {}", problems::advice(c, ctx.lang)));
    }
    l.link(
        ctx.t(
            "Problems in the client cabinet",
            "Проблемы в личном кабинете",
        ),
        ctx.url("/cabinet/problems"),
    )
    .footer(alert_footer(ctx))
    .render(ctx)
}

pub fn seats(
    ctx: &Ctx,
    regnum: &str,
    feature: u32,
    feature_name: &str,
    used: u32,
    seats: u32,
) -> Rendered {
    let f = feature_label(feature, feature_name);
    Letter::new(match ctx.lang {
        Lang::En => format!("Key {regnum}: {used} of {seats} seats of feature {f} in use"),
        Lang::Ru => format!("Ключ {regnum}: занято {used} из {seats} мест функции {f}"),
    })
    .p(match ctx.lang {
        Lang::En => format!(
            "Your key {regnum} has {used} of its {seats} seats of feature {f} in use at once. When every seat is taken, the next user is refused; add seats in time or free the ones not needed."
        ),
        Lang::Ru => format!(
            "На вашем ключе {regnum} одновременно занято {used} из {seats} мест функции {f}. Когда все места заняты, следующему пользователю будет отказано: добавьте места заранее или освободите ненужные."
        ),
    })
    .link(
        ctx.t("Sessions in the client cabinet", "Сеансы в личном кабинете"),
        ctx.url("/cabinet/sessions"),
    )
    .footer(alert_footer(ctx))
    .render(ctx)
}

pub fn release(ctx: &Ctx, regnum: &str, product: &str, version: &str, channel: &str) -> Rendered {
    let ch = if channel.is_empty() || channel == "stable" {
        String::new()
    } else {
        format!(" ({channel})")
    };
    Letter::new(match ctx.lang {
        Lang::En => format!("{product} {version}{ch} is out"),
        Lang::Ru => format!("Вышла новая версия {product} {version}{ch}"),
    })
    .p(match ctx.lang {
        Lang::En => format!(
            "A new release of {product}, version {version}{ch}, is available to your key {regnum}. The changelog and the download are in the client cabinet."
        ),
        Lang::Ru => format!(
            "Для вашего ключа {regnum} доступна новая версия {product} {version}{ch}. Список изменений и файл для загрузки — в личном кабинете."
        ),
    })
    .link(
        ctx.t("Distributions in the client cabinet", "Дистрибутивы в личном кабинете"),
        ctx.url("/cabinet/distributions"),
    )
    .footer(match ctx.lang {
        Lang::En => format!(
            "Release news can be turned off in the client cabinet's settings: {}",
            ctx.url("/cabinet/settings")
        ),
        Lang::Ru => format!(
            "Сообщения о новых версиях можно отключить в настройках личного кабинета: {}",
            ctx.url("/cabinet/settings")
        ),
    })
    .render(ctx)
}
