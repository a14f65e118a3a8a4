//! Mail to a client's buyer: registration, activations, grants, expiry, cabinet access.
use super::layout::Letter;
use super::{Ctx, Rendered, SeatLine, date, seat_table};
use time::OffsetDateTime;

fn cabinet(ctx: &Ctx, l: Letter) -> Letter {
    l.link(
        ctx.t("Open the client cabinet", "Открыть личный кабинет"),
        ctx.url("/cabinet"),
    )
}

pub fn trial(ctx: &Ctx, regnum: &str, product: &str, until: Option<OffsetDateTime>) -> Rendered {
    let l = Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("{product}: your registration number {regnum}"),
        crate::i18n::Lang::Ru => format!("{product}: ваш регистрационный номер {regnum}"),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => {
            format!("Thank you for trying {product}. Your registration number:")
        }
        crate::i18n::Lang::Ru => {
            format!("Спасибо, что попробовали {product}. Ваш регистрационный номер:")
        }
    })
    .code(regnum);
    let l = match until {
        Some(u) => l.p(match ctx.lang {
            crate::i18n::Lang::En => format!("The trial lasts until {}.", date(u)),
            crate::i18n::Lang::Ru => format!("Пробный период действует до {}.", date(u)),
        }),
        None => l,
    };
    cabinet(
        ctx,
        l.p(ctx.t(
            "Keep this number: the program asks for it to take a trial of another product or to activate a coupon.",
            "Сохраните этот номер: программа спросит его, чтобы взять пробный период другого продукта или активировать купон.",
        )),
    )
    .render(ctx)
}

pub fn email_taken(ctx: &Ctx, regnums: &[String]) -> Rendered {
    let mut l = Letter::new(
        ctx.t(
            "Your registration number (the e-mail is already registered)",
            "Ваш регистрационный номер (e-mail уже зарегистрирован)",
        )
        .to_owned(),
    )
    .p(ctx.t(
        "This e-mail is already registered. Your registration number(s):",
        "Этот e-mail уже зарегистрирован. Ваши регистрационные номера:",
    ));
    for r in regnums {
        l = l.code(r);
    }
    cabinet(
        ctx,
        l.p(ctx.t(
            "Enter it in the program to take a trial of another product; no new registration is needed.",
            "Введите его в программе, чтобы взять пробный период другого продукта; новая регистрация не нужна.",
        )),
    )
    .render(ctx)
}

pub fn coupon(ctx: &Ctx, code: &str, regnum: &str, lines: &[SeatLine]) -> Rendered {
    let l = Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("Coupon {code} activated on key {regnum}"),
        crate::i18n::Lang::Ru => format!("Купон {code} активирован на ключе {regnum}"),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => {
            format!("Coupon {code} was activated on your key {regnum}. Added:")
        }
        crate::i18n::Lang::Ru => {
            format!("Купон {code} активирован на вашем ключе {regnum}. Добавлено:")
        }
    })
    .table(seat_table(ctx, lines));
    cabinet(ctx, l).render(ctx)
}

pub fn grant(ctx: &Ctx, regnum: &str, lines: &[SeatLine]) -> Rendered {
    let l = Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("Licenses added to key {regnum}"),
        crate::i18n::Lang::Ru => format!("На ключ {regnum} добавлены лицензии"),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => format!("These licenses were added to your key {regnum}:"),
        crate::i18n::Lang::Ru => format!("На ваш ключ {regnum} добавлены лицензии:"),
    })
    .table(seat_table(ctx, lines));
    cabinet(ctx, l).render(ctx)
}

fn expiry_footer(ctx: &Ctx) -> String {
    match ctx.lang {
        crate::i18n::Lang::En => format!(
            "Expiry reminders can be turned off in the client cabinet's settings: {}",
            ctx.url("/cabinet/settings")
        ),
        crate::i18n::Lang::Ru => format!(
            "Напоминания об окончании срока можно отключить в настройках личного кабинета: {}",
            ctx.url("/cabinet/settings")
        ),
    }
}

pub fn expiring(ctx: &Ctx, regnum: &str, days: u32, lines: &[SeatLine]) -> Rendered {
    let l = Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!(
            "Licenses of key {regnum} expire in {days} day{}",
            if days == 1 { "" } else { "s" }
        ),
        crate::i18n::Lang::Ru => format!(
            "Лицензии ключа {regnum} истекают через {days} {}",
            ru_days(days)
        ),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => format!(
            "These licenses of your key {regnum} end within {days} day(s). To keep using them, renew them in time:"
        ),
        crate::i18n::Lang::Ru => format!(
            "Эти лицензии вашего ключа {regnum} заканчиваются в течение {days} {}. Чтобы продолжить работу, продлите их вовремя:",
            ru_days(days)
        ),
    })
    .table(seat_table(ctx, lines))
    .footer(expiry_footer(ctx));
    cabinet(ctx, l).render(ctx)
}

pub fn expired(ctx: &Ctx, regnum: &str, lines: &[SeatLine]) -> Rendered {
    let l = Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("Licenses of key {regnum} have expired"),
        crate::i18n::Lang::Ru => format!("Лицензии ключа {regnum} истекли"),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => format!(
            "These licenses of your key {regnum} have ended; the program can no longer take their seats:"
        ),
        crate::i18n::Lang::Ru => format!(
            "Эти лицензии вашего ключа {regnum} закончились; программа больше не может занимать их места:"
        ),
    })
    .table(seat_table(ctx, lines))
    .footer(expiry_footer(ctx));
    cabinet(ctx, l).render(ctx)
}

pub fn cabinet_code(ctx: &Ctx, regnum: &str, code: &str) -> Rendered {
    Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("{}: your one-time code {code}", ctx.vendor),
        crate::i18n::Lang::Ru => format!("{}: одноразовый код {code}", ctx.vendor),
    })
    .p(ctx.t(
        "Your one-time code for the client cabinet:",
        "Ваш одноразовый код для входа в личный кабинет:",
    ))
    .code(code)
    .p(match ctx.lang {
        crate::i18n::Lang::En => format!("Registration number: {regnum}"),
        crate::i18n::Lang::Ru => format!("Регистрационный номер: {regnum}"),
    })
    .p(ctx.t(
        "The code works once, for 15 minutes. If you did not ask for it, ignore this letter.",
        "Код действует один раз, 15 минут. Если вы его не запрашивали, просто не обращайте внимания на это письмо.",
    ))
    .render(ctx)
}

pub fn cabinet_link(ctx: &Ctx, regnum: &str, url: &str) -> Rendered {
    Letter::new(match ctx.lang {
        crate::i18n::Lang::En => format!("{}: set your cabinet password for key {regnum}", ctx.vendor),
        crate::i18n::Lang::Ru => format!("{}: пароль личного кабинета для ключа {regnum}", ctx.vendor),
    })
    .p(match ctx.lang {
        crate::i18n::Lang::En => format!(
            "To set the password of the client cabinet for the key {regnum}, open the link:"
        ),
        crate::i18n::Lang::Ru => format!(
            "Чтобы задать пароль личного кабинета для ключа {regnum}, откройте ссылку:"
        ),
    })
    .link(ctx.t("Set the password", "Задать пароль"), url)
    .p(ctx.t(
        "The link works once, for 24 hours. If you did not ask for it, ignore this letter.",
        "Ссылка действует один раз, 24 часа. Если вы её не запрашивали, просто не обращайте внимания на это письмо.",
    ))
    .render(ctx)
}

/// "день", "дня" or "дней" after a number.
pub fn ru_days(n: u32) -> &'static str {
    let (d10, d100) = (n % 10, n % 100);
    if d10 == 1 && d100 != 11 {
        "день"
    } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
        "дня"
    } else {
        "дней"
    }
}
