//! What the admin screens' forms share: the flash after a redirect, and a service error
//! turned into field errors.
use crate::error::AppError;
use crate::i18n::Lang;
use crate::web::{FieldErrors, t};

/// The flash of a page reached by a redirect after a change (`?done=…`).
pub fn done(l: Lang, q: &[(String, String)]) -> Option<String> {
    q.iter().find(|(k, _)| k == "done").map(|(_, v)| {
        match v.as_str() {
            "deleted" => t(l, "Deleted.", "Удалено."),
            _ => t(l, "Saved.", "Сохранено."),
        }
        .to_owned()
    })
}

/// Field errors for a refused change, or `None` when it is no form error.
pub fn bad(l: Lang, e: &AppError) -> Option<FieldErrors> {
    match e {
        AppError::Malformed(m) => Some(
            m.iter()
                .map(|(k, v)| {
                    let key = k.split(['[', '.']).next().unwrap_or(k).to_owned();
                    (key, format!("{} ({v})", super::auth::field_msg(l, k)))
                })
                .collect(),
        ),
        AppError::Conflict { reason, .. } => {
            let (k, en, ru) = match *reason {
                "product_code_taken" => ("code", "This code is taken", "Этот код уже занят"),
                "feature_number_taken" => (
                    "features",
                    "A feature number is taken by another product",
                    "Номер функции занят другим продуктом",
                ),
                "login_taken" => ("login", "This login is taken", "Этот логин уже занят"),
                "distributor_code_taken" => ("code", "This code is taken", "Этот код уже занят"),
                "release_exists" => (
                    "version",
                    "This version is already published on this channel",
                    "Эта версия уже опубликована в этом канале",
                ),
                "last_admin" => (
                    "role",
                    "The last administrator must stay",
                    "Последний администратор должен остаться",
                ),
                _ => ("form", "Conflict", "Конфликт"),
            };
            Some(
                [(k.to_owned(), t(l, en, ru).to_owned())]
                    .into_iter()
                    .collect(),
            )
        }
        // A reference to something that does not exist, in a form that names it.
        AppError::NotFound {
            what: "distributor",
        } => Some(
            [(
                "distributor".to_owned(),
                t(
                    l,
                    "No distributor has this code",
                    "Нет дистрибьютора с этим кодом",
                )
                .to_owned(),
            )]
            .into_iter()
            .collect(),
        ),
        AppError::NotFound { what: "feature" } => Some(
            [(
                "requires_feature".to_owned(),
                t(
                    l,
                    "No product has this feature",
                    "Ни у одного продукта нет этой функции",
                )
                .to_owned(),
            )]
            .into_iter()
            .collect(),
        ),
        _ => None,
    }
}
