//! Mail to the vendor's own people: a new user's password link, the weekly expiry
//! digest of managers and distributors, a failed backup.
use super::layout::Letter;
use super::{Ctx, DigestRow, Rendered, date, moment};
use crate::i18n::Lang;
use time::OffsetDateTime;

pub fn link(ctx: &Ctx, login: &str, url: &str) -> Rendered {
    Letter::new(match ctx.lang {
        Lang::En => format!("{}: set your password for the license server ({login})", ctx.vendor),
        Lang::Ru => format!("{}: задайте пароль для сервера лицензий ({login})", ctx.vendor),
    })
    .p(match ctx.lang {
        Lang::En => format!(
            "An account \"{login}\" was made for you on the license server. Open the link to set its password:"
        ),
        Lang::Ru => format!(
            "Для вас заведена учётная запись «{login}» на сервере лицензий. Откройте ссылку, чтобы задать пароль:"
        ),
    })
    .link(ctx.t("Set the password", "Задать пароль"), url)
    .p(ctx.t(
        "The link works once, for 24 hours.",
        "Ссылка действует один раз, 24 часа.",
    ))
    .render(ctx)
}

pub fn digest(ctx: &Ctx, name: &str, rows: &[DigestRow]) -> Rendered {
    let mut table = vec![vec![
        ctx.t("Client", "Клиент").to_owned(),
        ctx.t("Key", "Ключ").to_owned(),
        ctx.t("Product", "Продукт").to_owned(),
        ctx.t("Feature", "Функция").to_owned(),
        ctx.t("Seats", "Мест").to_owned(),
        ctx.t("Expires", "Истекает").to_owned(),
    ]];
    for r in rows {
        table.push(vec![
            r.company.clone(),
            r.regnum.clone(),
            r.line.product.clone(),
            if r.line.feature_name.is_empty() {
                r.line.feature.to_string()
            } else {
                format!("{} {}", r.line.feature, r.line.feature_name)
            },
            r.line.seats.to_string(),
            r.line.expires_at.map(date).unwrap_or_default(),
        ]);
    }
    let keys = {
        let mut k: Vec<&str> = rows.iter().map(|r| r.regnum.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k.len()
    };
    Letter::new(match ctx.lang {
        Lang::En => format!("Weekly digest: licenses of {keys} key(s) of your clients expire within 30 days"),
        Lang::Ru => format!("Еженедельная сводка: у ваших клиентов истекают лицензии в течение 30 дней (ключей: {keys})"),
    })
    .p(match ctx.lang {
        Lang::En => format!("{name}, these licenses of your clients end within the next 30 days:"),
        Lang::Ru => format!("{name}, эти лицензии ваших клиентов заканчиваются в ближайшие 30 дней:"),
    })
    .table(table)
    .link(
        ctx.t("Open the back office", "Открыть рабочее место"),
        ctx.url("/clients"),
    )
    .render(ctx)
}

pub fn backup_failed(ctx: &Ctx, at: OffsetDateTime, error: &str, dir: &str) -> Rendered {
    Letter::new(match ctx.lang {
        Lang::En => format!("licd: a backup failed on {}", ctx.public_url),
        Lang::Ru => format!(
            "licd: резервное копирование не удалось на {}",
            ctx.public_url
        ),
    })
    .p(match ctx.lang {
        Lang::En => format!("The backup licd tried at {} failed:", moment(at)),
        Lang::Ru => format!(
            "Резервное копирование, начатое в {}, не удалось:",
            moment(at)
        ),
    })
    .code(error)
    .p(match ctx.lang {
        Lang::En => {
            format!("Backups go to {dir}. The System page shows the backups and their settings.")
        }
        Lang::Ru => format!(
            "Копии сохраняются в {dir}. Страница «Система» показывает копии и их настройки."
        ),
    })
    .link(
        ctx.t("System page", "Страница «Система»"),
        ctx.url("/system"),
    )
    .render(ctx)
}
