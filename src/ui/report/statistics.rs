//! Statistics (seed 000): captures per day per feature, peak seats in use against seats
//! owned, and denials per day, for a chosen range — as SVG charts, as a table with the
//! same numbers, and as a CSV download.
use crate::domain::days::{Day, DayRange, Preset};
use crate::i18n::Lang;
use crate::service::stats::{FeatureInfo, Series};
use crate::web::chart::{self, Chart, Mark};
use crate::web::{t, urlencode};
use maud::{Markup, html};

/// The range a statistics page was asked for: `?range=7|30|90|365` or `?from=&to=`
/// (default: the last 30 days). A bad range falls back to the default and says so.
pub fn range_of(q: &[(String, String)], today: Day) -> (DayRange, Option<String>) {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let Some(p) = get("range").and_then(Preset::parse)
        && get("from").is_none()
    {
        return (p.range(today), None);
    }
    match DayRange::parse(get("from"), get("to"), today, 30) {
        Ok(r) => (r, None),
        Err(e) => (
            Preset::D30.range(today),
            Some(format!("{}: {}", e.field, e.why)),
        ),
    }
}

/// The query naming `range` (for links: CSV, presets).
pub fn range_query(range: DayRange) -> String {
    format!("from={}&to={}", range.from, range.to)
}

fn feature_label(f: &FeatureInfo) -> String {
    if f.name.is_empty() {
        f.number.to_string()
    } else {
        format!("{} {}", f.number, f.name)
    }
}

/// The range picker: presets as links, dates as a GET form.
pub fn picker(l: Lang, path: &str, range: DayRange, today: Day, extra: &str) -> Markup {
    let current = range.preset(today);
    html! {
        form.toolbar.card method="get" action=(path) aria-label=(t(l, "Range", "Период")) {
            nav.presets {
                @for p in Preset::ALL {
                    a.button.ghost.current[current == Some(p)] href=(format!("{path}?range={}{extra}", p.days())) {
                        (p.days()) " " (t(l, "days", "дн."))
                    }
                }
            }
            label.field { span.label { (t(l, "From", "С")) } input type="date" name="from" value=(range.from.to_string()); }
            label.field { span.label { (t(l, "To", "По")) } input type="date" name="to" value=(range.to.to_string()); }
            button type="submit" { (t(l, "Show", "Показать")) }
        }
    }
}

/// The three charts, the table and the CSV link of `s`. `csv` is the download's path
/// (the range query is added); `seats` says whether seats owned are known.
pub fn view(l: Lang, s: &Series, csv: &str, id: &str) -> Markup {
    let days: Vec<String> = s.range.days().map(|d| d.to_string()).collect();
    let per_feature = |f: u32, pick: &dyn Fn(&crate::domain::series::SeriesRow) -> u64| {
        s.of_feature(f).map(pick).collect::<Vec<u64>>()
    };
    let range_words = format!("{} — {}", s.range.from, s.range.to);
    let mut usage = Chart {
        id: format!("{id}-captures"),
        title: format!(
            "{} ({range_words})",
            t(l, "Captures per day", "Захваты по дням")
        ),
        desc: String::new(),
        x: days.clone(),
        x_label: t(l, "Day", "День").into(),
        y_label: t(l, "Captures", "Захваты").into(),
        series: Vec::new(),
    };
    let mut seats = Chart {
        id: format!("{id}-seats"),
        title: format!(
            "{} ({range_words})",
            t(
                l,
                "Peak seats in use and seats owned",
                "Пик занятых мест и мест в ключах"
            )
        ),
        desc: String::new(),
        x: days.clone(),
        x_label: t(l, "Day", "День").into(),
        y_label: t(l, "Seats", "Места").into(),
        series: Vec::new(),
    };
    let mut denials = Chart {
        id: format!("{id}-denials"),
        title: format!(
            "{} ({range_words})",
            t(l, "Denials per day", "Отказы по дням")
        ),
        desc: String::new(),
        x: days,
        x_label: t(l, "Day", "День").into(),
        y_label: t(l, "Denials", "Отказы").into(),
        series: Vec::new(),
    };
    let mut descs = (Vec::new(), Vec::new(), Vec::new());
    for (color, f) in s.features.iter().enumerate() {
        let name = feature_label(f);
        let caps = per_feature(f.number, &|r| r.captures);
        let peak = per_feature(f.number, &|r| r.peak);
        let owned: Vec<Option<u64>> = s.of_feature(f.number).map(|r| r.seats_owned).collect();
        let dens = per_feature(f.number, &|r| r.denials);
        descs.0.push(format!(
            "{name}: {} {}, {} {}",
            caps.iter().sum::<u64>(),
            t(l, "in all", "всего"),
            t(l, "most in a day", "больше всего за день"),
            caps.iter().max().copied().unwrap_or(0)
        ));
        descs.1.push(format!(
            "{name}: {} {}",
            t(l, "highest peak", "наибольший пик"),
            peak.iter().max().copied().unwrap_or(0)
        ));
        descs.2.push(format!(
            "{name}: {} {}",
            dens.iter().sum::<u64>(),
            t(l, "denials", "отказов")
        ));
        usage.series.push(chart::Series {
            name: name.clone(),
            values: caps,
            mark: Mark::Line,
            color,
        });
        seats.series.push(chart::Series {
            name: format!("{name} · {}", t(l, "peak", "пик")),
            values: peak,
            mark: Mark::Line,
            color,
        });
        if owned.iter().any(Option::is_some) {
            seats.series.push(chart::Series {
                name: format!("{name} · {}", t(l, "owned", "в ключах")),
                values: owned.iter().map(|o| o.unwrap_or(0)).collect(),
                mark: Mark::Dashed,
                color,
            });
        }
        denials.series.push(chart::Series {
            name,
            values: dens,
            mark: Mark::Bar,
            color,
        });
    }
    let none = t(
        l,
        "No activity in this range.",
        "За этот период ничего не было.",
    );
    usage.desc = if descs.0.is_empty() {
        none.into()
    } else {
        descs.0.join("; ")
    };
    seats.desc = if descs.1.is_empty() {
        none.into()
    } else {
        descs.1.join("; ")
    };
    denials.desc = if descs.2.is_empty() {
        none.into()
    } else {
        descs.2.join("; ")
    };
    let names: std::collections::HashMap<u32, String> = s
        .features
        .iter()
        .map(|f| (f.number, feature_label(f)))
        .collect();
    let active: Vec<&crate::domain::series::SeriesRow> = s
        .rows
        .iter()
        .filter(|r| r.captures > 0 || r.denials > 0 || r.peak > 0)
        .collect();
    html! {
        @if s.features.is_empty() {
            p.muted { (none) }
        }
        figure.card.chart {
            (chart::render(&usage))
            figcaption { (t(l, "How many captures of each feature were granted each day.", "Сколько раз в день захватывалась каждая фича.")) }
        }
        figure.card.chart {
            (chart::render(&seats))
            figcaption { (t(l, "Most seats in use at once each day (solid) against the seats the keys held (dashed).", "Наибольшее число одновременно занятых мест за день (сплошная) и места в ключах (пунктир).")) }
        }
        figure.card.chart {
            (chart::render(&denials))
            figcaption { (t(l, "Refused captures each day: when licensing said no.", "Отказы в захвате по дням: когда система лицензирования отказывала.")) }
        }
        p {
            a.button.ghost href=(format!("{csv}?{}", range_query(s.range))) download {
                (t(l, "Download CSV", "Скачать CSV"))
            }
        }
        details.card {
            summary { (t(l, "The numbers as a table", "Те же числа таблицей")) " (" (active.len()) ")" }
            div.table-wrap { table.data.numbers {
                thead { tr {
                    th { (t(l, "Day", "День")) }
                    th { (t(l, "Feature", "Фича")) }
                    th.num { (t(l, "Captures", "Захваты")) }
                    th.num { (t(l, "Denials", "Отказы")) }
                    th.num { (t(l, "Peak in use", "Пик занятых")) }
                    th.num { (t(l, "Seats owned", "Мест в ключах")) }
                } }
                tbody {
                    @for r in &active {
                        tr {
                            td { (r.day.to_string()) }
                            td { (names.get(&r.feature).cloned().unwrap_or_else(|| r.feature.to_string())) }
                            td.num { (r.captures) }
                            td.num { (r.denials) }
                            td.num { (r.peak) }
                            td.num { @match r.seats_owned { Some(n) => { (n) } None => { "—" } } }
                        }
                    }
                }
            } }
        }
    }
}

/// Extra query for links that keep a filter (`&feature=…`), already encoded.
pub fn keep(name: &str, value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("&{name}={}", urlencode(value))
    }
}
