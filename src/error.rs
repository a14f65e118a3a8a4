//! The one error type that leaves a handler, with the contract's stable codes.
//!
//! Inner layers use their own `thiserror` enums (`store::StoreError`, …); they become an
//! `AppError` at the service edge. An internal failure is logged once, with an incident
//! id, and the client sees only that id.
use crate::i18n::Lang;
use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who holds a seat: shown in 1030 and in diagnostics.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct HolderView {
    pub host: String,
    pub database: Option<String>,
    pub user: Option<String>,
    pub since: String,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request")]
    Malformed(BTreeMap<String, String>),
    #[error("too many requests")]
    TooManyRequests { retry_after_s: u64 },
    #[error("not a well-formed registration number or coupon")]
    BadNumber { field: String },
    #[error("request body too large")]
    TooLarge { limit: usize },
    #[error("unknown registration number")]
    UnknownRegnum,
    #[error("key blocked")]
    Blocked,
    #[error("no free seat")]
    NoFreeSeat {
        total: u32,
        used: u32,
        holders: Vec<HolderView>,
    },
    #[error("no such feature")]
    NoFeature { feature: u32 },
    #[error("expired")]
    Expired { expired_at: String },
    #[error("unknown lease")]
    UnknownLease,
    #[error("unknown coupon")]
    UnknownCoupon,
    #[error("coupon already activated")]
    CouponUsed { activated_at: String },
    #[error("unknown product")]
    UnknownProduct { product: String },
    #[error("e-mail already registered")]
    EmailTaken,
    #[error("host already registered a trial")]
    HostTrialUsed,
    #[error("trial already taken")]
    TrialUsed,
    /// 1070: no (visible) release of this product on this channel.
    #[error("no release")]
    NoRelease { product: String, channel: String },
    /// 1071: the key may not download this product's releases (no live grant, or the
    /// release needs a feature or more seats the key does not hold).
    #[error("not entitled to the release")]
    NotEntitled {
        product: String,
        feature: Option<u32>,
        min_seats: Option<u32>,
    },
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound { what: &'static str },
    /// 2005: the path exists, the method does not (`Allow` lists the ones that do).
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<&'static str> },
    #[error("conflict")]
    Conflict {
        reason: &'static str,
        details: Value,
    },
    #[error("internal error {incident}")]
    Internal { incident: String },
}

impl AppError {
    /// Logs an internal failure under a fresh incident id and returns the error that
    /// carries only that id.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        let incident = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        tracing::error!(incident = %incident, "internal error: {cause}");
        AppError::Internal { incident }
    }

    pub fn malformed(field: &str, why: &str) -> AppError {
        let mut m = BTreeMap::new();
        m.insert(field.to_owned(), why.to_owned());
        AppError::Malformed(m)
    }

    pub fn code(&self) -> u32 {
        use AppError::*;
        match self {
            Malformed(_) => 1001,
            TooManyRequests { .. } => 1002,
            BadNumber { .. } => 1003,
            TooLarge { .. } => 1004,
            UnknownRegnum => 1020,
            Blocked => 1021,
            NoFreeSeat { .. } => 1030,
            NoFeature { .. } => 1031,
            Expired { .. } => 1032,
            UnknownLease => 1034,
            UnknownCoupon => 1040,
            CouponUsed { .. } => 1041,
            UnknownProduct { .. } => 1050,
            EmailTaken => 1058,
            HostTrialUsed => 1059,
            TrialUsed => 1060,
            NoRelease { .. } => 1070,
            NotEntitled { .. } => 1071,
            Internal { .. } => 1500,
            Unauthorized => 2001,
            Forbidden => 2003,
            NotFound { .. } => 2004,
            MethodNotAllowed { .. } => 2005,
            Conflict { .. } => 2009,
        }
    }

    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            Malformed(_) | BadNumber { .. } => StatusCode::BAD_REQUEST,
            TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownRegnum
            | NoFeature { .. }
            | UnknownLease
            | UnknownCoupon
            | UnknownProduct { .. }
            | NoRelease { .. }
            | NotFound { .. } => StatusCode::NOT_FOUND,
            Blocked | Expired { .. } | Forbidden | NotEntitled { .. } => StatusCode::FORBIDDEN,
            NoFreeSeat { .. }
            | CouponUsed { .. }
            | EmailTaken
            | HostTrialUsed
            | TrialUsed
            | Conflict { .. } => StatusCode::CONFLICT,
            Unauthorized => StatusCode::UNAUTHORIZED,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        use AppError::*;
        let s = match self {
            Malformed(m) => {
                let fields: Vec<&str> = m.keys().map(String::as_str).collect();
                return match lang {
                    Lang::En => format!("Malformed request: check {}", fields.join(", ")),
                    Lang::Ru => format!("Некорректный запрос: проверьте {}", fields.join(", ")),
                };
            }
            TooManyRequests { retry_after_s } => {
                return match lang {
                    Lang::En => format!("Too many requests from this address; retry in {retry_after_s} s"),
                    Lang::Ru => format!("Слишком много запросов с этого адреса; повторите через {retry_after_s} с"),
                };
            }
            BadNumber { .. } => lang.pick(
                "Not a well-formed registration number or coupon",
                "Неверный формат регистрационного номера или купона",
            ),
            TooLarge { limit } => {
                return match lang {
                    Lang::En => format!("Request body too large (limit {limit} bytes)"),
                    Lang::Ru => format!("Слишком большое тело запроса (не более {limit} байт)"),
                };
            }
            UnknownRegnum => lang.pick("Unknown registration number", "Неизвестный регистрационный номер"),
            Blocked => lang.pick("The license key is blocked", "Лицензионный ключ заблокирован"),
            NoFreeSeat { total, used, .. } => {
                return match lang {
                    Lang::En => format!("No free seat: {used} of {total} in use"),
                    Lang::Ru => format!("Нет свободной лицензии: занято {used} из {total}"),
                };
            }
            NoFeature { feature } => {
                return match lang {
                    Lang::En => format!("The key has no license for feature {feature}"),
                    Lang::Ru => format!("В ключе нет лицензии на фичу {feature}"),
                };
            }
            Expired { expired_at } => {
                return match lang {
                    Lang::En => format!("The license for this feature expired on {expired_at}"),
                    Lang::Ru => format!("Срок действия лицензии на эту фичу истёк {expired_at}"),
                };
            }
            UnknownLease => lang.pick(
                "Unknown or lapsed lease; capture the seat again",
                "Неизвестная или истёкшая аренда; захватите лицензию заново",
            ),
            UnknownCoupon => lang.pick("Unknown coupon", "Неизвестный купон"),
            CouponUsed { activated_at } => {
                return match lang {
                    Lang::En => format!("The coupon was already activated on {activated_at}"),
                    Lang::Ru => format!("Купон уже активирован {activated_at}"),
                };
            }
            UnknownProduct { product } => {
                return match lang {
                    Lang::En => format!("Unknown product {product}"),
                    Lang::Ru => format!("Неизвестный продукт {product}"),
                };
            }
            EmailTaken => lang.pick(
                "This e-mail is already registered; the registration number has been mailed to it again",
                "Этот e-mail уже зарегистрирован; регистрационный номер повторно отправлен на него",
            ),
            HostTrialUsed => lang.pick(
                "A trial was already registered from this host",
                "С этого хоста уже регистрировались",
            ),
            TrialUsed => lang.pick(
                "This key already had a trial of this product",
                "Этот ключ уже получал пробную лицензию на этот продукт",
            ),
            NoRelease { product, channel } => {
                return match lang {
                    Lang::En => format!("No release of {product} on the {channel} channel"),
                    Lang::Ru => format!("Нет релизов {product} в канале {channel}"),
                };
            }
            NotEntitled {
                product,
                feature,
                min_seats,
            } => {
                return match (lang, feature, min_seats) {
                    (Lang::En, Some(f), _) => format!(
                        "This release of {product} needs feature {f}, which the key does not hold"
                    ),
                    (Lang::Ru, Some(f), _) => format!(
                        "Для этого релиза {product} нужна функция {f}, которой нет в ключе"
                    ),
                    (Lang::En, None, Some(n)) => format!(
                        "This release of {product} needs at least {n} seat(s) of the product on the key"
                    ),
                    (Lang::Ru, None, Some(n)) => format!(
                        "Для этого релиза {product} в ключе нужно не меньше {n} мест продукта"
                    ),
                    (Lang::En, None, None) => format!(
                        "The key holds no live license of {product}, so it may not download its releases"
                    ),
                    (Lang::Ru, None, None) => format!(
                        "В ключе нет действующей лицензии на {product}, поэтому его релизы недоступны"
                    ),
                };
            }
            Internal { incident } => {
                return match lang {
                    Lang::En => format!("Internal error; incident {incident} is logged"),
                    Lang::Ru => format!("Внутренняя ошибка; инцидент {incident} записан в журнал"),
                };
            }
            Unauthorized => lang.pick(
                "A valid API token is required (Authorization: Bearer …)",
                "Нужен действующий API-токен (Authorization: Bearer …)",
            ),
            Forbidden => lang.pick("Your role does not allow this", "Ваша роль не позволяет это действие"),
            NotFound { what } => {
                return match lang {
                    Lang::En => format!("Not found: {what}"),
                    Lang::Ru => format!("Не найдено: {}", ru_noun(what)),
                };
            }
            Conflict { reason, .. } => return conflict_message(reason, lang),
            MethodNotAllowed { allow } => {
                return match lang {
                    Lang::En => format!("This address does not take that method; it takes {}", allow.join(", ")),
                    Lang::Ru => format!("Этот адрес не принимает такой метод; допустимы {}", allow.join(", ")),
                };
            }
        };
        s.to_owned()
    }

    pub fn details(&self) -> Value {
        use AppError::*;
        match self {
            Malformed(m) => json!(m),
            TooManyRequests { retry_after_s } => json!({ "retry_after_s": retry_after_s }),
            BadNumber { field } => json!({ "field": field }),
            TooLarge { limit } => json!({ "limit": limit }),
            NoFreeSeat {
                total,
                used,
                holders,
            } => json!({ "total": total, "used": used, "holders": holders }),
            NoFeature { feature } => json!({ "feature": feature }),
            Expired { expired_at } => json!({ "expired_at": expired_at }),
            CouponUsed { activated_at } => json!({ "activated_at": activated_at }),
            UnknownProduct { product } => json!({ "product": product }),
            NoRelease { product, channel } => json!({ "product": product, "channel": channel }),
            NotEntitled {
                product,
                feature,
                min_seats,
            } => {
                let mut d = json!({ "product": product });
                if let Some(f) = feature {
                    d["feature"] = json!(f);
                }
                if let Some(n) = min_seats {
                    d["min_seats"] = json!(n);
                }
                d
            }
            Internal { incident } => json!({ "incident": incident }),
            NotFound { what } => json!({ "what": what }),
            MethodNotAllowed { allow } => json!({ "allow": allow }),
            Conflict { reason, details } => {
                let mut d = details.clone();
                if let Value::Object(m) = &mut d {
                    m.insert("reason".into(), json!(reason));
                    d
                } else {
                    json!({ "reason": reason })
                }
            }
            _ => json!({}),
        }
    }

    /// The contract's error body, in `lang`.
    pub fn body(&self, lang: Lang) -> Value {
        json!({ "error": { "code": self.code(), "message": self.message(lang), "details": self.details() } })
    }
}

fn ru_noun(what: &str) -> &'static str {
    match what {
        "client" => "клиент",
        "key" => "ключ",
        "product" => "продукт",
        "lease" => "аренда",
        "token" => "токен",
        "distributor" => "дистрибьютор",
        "user" => "пользователь",
        "item" => "позиция",
        "release" => "релиз",
        "password link" => "ссылка для пароля",
        "mail" => "письмо",
        "backup" => "резервная копия",
        "route" => "адрес",
        _ => "объект",
    }
}

fn conflict_message(reason: &str, lang: Lang) -> String {
    let (en, ru) = match reason {
        "client_has_keys" => (
            "The client still has keys with items; move or empty them first",
            "У клиента есть ключи с лицензиями; сначала перенесите или очистите их",
        ),
        "product_code_taken" => (
            "A product with this code already exists",
            "Продукт с таким кодом уже есть",
        ),
        "feature_number_taken" => (
            "A feature with this number already exists",
            "Фича с таким номером уже есть",
        ),
        "login_taken" => ("This login is taken", "Этот логин занят"),
        "product_in_use" => (
            "Keys hold this product; remove their items first",
            "Этот продукт есть в ключах; сначала удалите их позиции",
        ),
        "feature_in_use" => (
            "A key holds this feature (an item, or a seat held or bound): its counting unit cannot change",
            "Эта функция есть в ключе (позиция, занятое или привязанное место): способ учёта менять нельзя",
        ),
        "distributor_code_taken" => (
            "A distributor with this code already exists",
            "Дистрибьютор с таким кодом уже есть",
        ),
        "distributor_has_clients" => (
            "Clients are assigned to this distributor; assign them elsewhere first",
            "За этим дистрибьютором закреплены клиенты; сначала передайте их другому",
        ),
        "distributor_has_users" => (
            "Staff users act for this distributor; change or remove them first",
            "От имени этого дистрибьютора работают пользователи; сначала измените их",
        ),
        "self_service_limit" => (
            "The limit of unbinds for this feature in 30 days is reached; ask the vendor, or wait until one frees",
            "Лимит отвязок этой фичи за 30 дней исчерпан; обратитесь к поставщику или дождитесь, пока он освободится",
        ),
        "merge_into_itself" => (
            "A client cannot be merged into itself",
            "Клиента нельзя объединить с самим собой",
        ),
        "release_exists" => (
            "This product already has a release of this version on this channel",
            "У продукта уже есть релиз этой версии в этом канале",
        ),
        "smtp_set_by_config" => (
            "The SMTP server is set by the configuration (--smtp); change it there",
            "SMTP-сервер задан в конфигурации (--smtp); измените его там",
        ),
        "mail_not_retryable" => (
            "This mail is already sent or dropped",
            "Это письмо уже отправлено или отменено",
        ),
        "mail_not_droppable" => (
            "This mail is already sent, being sent or dropped",
            "Это письмо уже отправлено, отправляется или отменено",
        ),
        "last_admin" => (
            "The last administrator cannot be removed or demoted",
            "Последнего администратора нельзя удалить или понизить",
        ),
        "staff_exists" => (
            "Staff users exist already: the setup link is no longer offered",
            "Сотрудники уже заведены: ссылка первоначальной настройки больше не выдаётся",
        ),
        _ => ("Conflict", "Конфликт"),
    };
    lang.pick(en, ru).to_owned()
}

/// Carried in a response's extensions so the API envelope can render the body in the
/// request's language (an actix `ResponseError` never sees the request).
#[derive(Clone)]
pub struct ErrorCarrier(pub Arc<AppError>);

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status());
        match self {
            AppError::TooManyRequests { retry_after_s } => {
                resp.insert_header(("Retry-After", retry_after_s.to_string()));
            }
            AppError::Unauthorized => {
                resp.insert_header(("WWW-Authenticate", "Bearer"));
            }
            AppError::MethodNotAllowed { allow } => {
                resp.insert_header(("Allow", allow.join(", ")));
            }
            _ => {}
        }
        let mut resp = resp.json(self.body(Lang::En));
        resp.extensions_mut()
            .insert(ErrorCarrier(Arc::new(self.clone())));
        resp
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        AppError::internal(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_carry_only_an_incident() {
        let e = AppError::internal("redb: page 42 checksum mismatch at /var/lib/licd/licd.redb");
        let body = e.body(Lang::En).to_string();
        assert!(
            !body.contains("redb") && !body.contains("/var/lib"),
            "{body}"
        );
        let AppError::Internal { incident } = &e else {
            panic!("not internal")
        };
        assert_eq!(incident.len(), 12);
        assert!(body.contains(incident.as_str()));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code(), 1500);
        assert!(e.message(Lang::Ru).contains("инцидент"));
    }
}
