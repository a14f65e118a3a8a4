//! The two languages licd speaks, and how a request picks one.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    /// Picks ru or en from an `Accept-Language` value, honouring q-weights; English
    /// when neither is asked for.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "ru" => Lang::Ru,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    pub fn pick<'a>(self, en: &'a str, ru: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_weight() {
        assert_eq!(
            Lang::from_accept_language(Some("ru-RU,ru;q=0.9,en;q=0.8")),
            Lang::Ru
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,ru;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de, ru;q=0.3")), Lang::Ru);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.2, ru;q=0.7")),
            Lang::Ru
        );
    }
}
