//! What a denial code means in words, and what the client can do about it (seed 003's
//! advice), in both languages. Pure text, shown beside every denial on the Problems
//! screens.
use crate::i18n::Lang;

/// The codes a Problems screen explains: the refusals recorded as denials (1021, 1030,
/// 1031, 1032) and the client-side failures `licd diag` reports (1011–1014).
pub const CODES: [u32; 8] = [1021, 1030, 1031, 1032, 1011, 1012, 1013, 1014];

/// The reason of a denial code, in words.
pub fn reason(code: u32, lang: Lang) -> &'static str {
    let (en, ru) = match code {
        1021 => (
            "The license key is blocked.",
            "Лицензионный ключ заблокирован.",
        ),
        1030 => (
            "No free seat: every seat of this feature was in use.",
            "Нет свободного места: все места этой функции были заняты.",
        ),
        1031 => ("The key has no such feature.", "В ключе нет такой функции."),
        1032 => (
            "The license for this feature has expired.",
            "Срок лицензии на эту функцию истёк.",
        ),
        1011 => (
            "The license server's name could not be resolved.",
            "Не удалось определить адрес сервера лицензий по имени.",
        ),
        1012 => (
            "The license server refused the connection or could not be reached.",
            "Сервер лицензий отказал в соединении или недоступен.",
        ),
        1013 => (
            "The secure connection (TLS) to the license server failed.",
            "Не удалось установить защищённое соединение (TLS) с сервером лицензий.",
        ),
        1014 => (
            "The connection to the license server timed out.",
            "Истекло время ожидания соединения с сервером лицензий.",
        ),
        _ => ("The capture was refused.", "Место не выдано."),
    };
    lang.pick(en, ru)
}

/// What to do about a denial code.
pub fn advice(code: u32, lang: Lang) -> &'static str {
    let (en, ru) = match code {
        1021 => (
            "Call the vendor: only the vendor can unblock the key.",
            "Позвоните поставщику: снять блокировку ключа может только он.",
        ),
        1030 => (
            "Buy more seats, or free one: end a stuck session or unbind a host in the session monitor.",
            "Купите дополнительные места или освободите место: завершите зависший сеанс или отвяжите компьютер в мониторе сеансов.",
        ),
        1031 => (
            "Buy this feature, or check that the program asks for the right feature number.",
            "Купите эту функцию или проверьте, что программа запрашивает правильный номер функции.",
        ),
        1032 => (
            "Renew the license for this feature.",
            "Продлите лицензию на эту функцию.",
        ),
        1011..=1014 => (
            "Check the network at the client's site: open the firewall to this server's address on port 443 and turn off the proxy for it.",
            "Проверьте сеть у клиента: откройте в межсетевом экране доступ к адресу этого сервера на порт 443 и отключите для него прокси-сервер.",
        ),
        _ => (
            "Run licd diag on the computer that was refused to see what stands in the way.",
            "Запустите licd diag на компьютере, которому отказано, чтобы увидеть причину.",
        ),
    };
    lang.pick(en, ru)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_words_in_both_languages() {
        let fallback_reason = reason(0, Lang::En);
        for code in CODES {
            for lang in [Lang::En, Lang::Ru] {
                assert!(!reason(code, lang).is_empty());
                assert!(!advice(code, lang).is_empty());
            }
            assert_ne!(reason(code, Lang::En), fallback_reason, "{code}");
            assert_ne!(reason(code, Lang::En), reason(code, Lang::Ru), "{code}");
            assert_ne!(advice(code, Lang::En), advice(code, Lang::Ru), "{code}");
        }
        assert!(advice(1013, Lang::En).contains("443"));
        assert!(advice(1030, Lang::Ru).contains("монитор"));
    }
}
