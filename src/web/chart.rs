//! Charts as server-rendered SVG (no JavaScript): one series per line, or series stacked
//! as bars, over a run of days. Every chart carries a `<title>` and a `<desc>` for screen
//! readers, a legend, and labelled axes; the page shows the same numbers as a table.
//! Colours are SVG presentation attributes, which the UI's CSP (no inline styles) allows.
use maud::{Markup, html};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A line through the day's values.
    Line,
    /// A dashed line (e.g. seats owned, against the solid line of seats in use).
    Dashed,
    /// Bars, stacked on the bars of the series before it.
    Bar,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// One value per label of the chart's x axis.
    pub values: Vec<u64>,
    pub mark: Mark,
    /// Index into `PALETTE` (series of one thing drawn two ways share a colour).
    pub color: usize,
}

#[derive(Clone, Debug)]
pub struct Chart {
    /// Unique on the page: the ids of the title and description derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// One label per point (e.g. `2026-11-02`).
    pub x: Vec<String>,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// Distinct colours that read on white and for the common colour-vision deficiencies
/// (Okabe–Ito), in the order series get them.
pub const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
];

const W: f64 = 800.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
/// Room above the plot for each row of the legend.
const LEGEND_ROW: f64 = 18.0;
const BOTTOM: f64 = 46.0;

/// A round step for about `ticks` grid lines up to `max` (1, 2 or 5 × 10ⁿ).
pub fn nice_step(max: u64, ticks: u64) -> u64 {
    let raw = (max.max(1)).div_ceil(ticks.max(1));
    let mut p = 1u64;
    while p.saturating_mul(10) <= raw {
        p *= 10;
    }
    for m in [1, 2, 5, 10] {
        if p.saturating_mul(m) >= raw {
            return p.saturating_mul(m);
        }
    }
    p.saturating_mul(10)
}

/// The chart as an inline `<svg>`.
/// Where each legend entry goes: (x, row), rows wrapping at the chart's width.
fn legend_layout(c: &Chart) -> (Vec<(f64, usize)>, usize) {
    let mut out = Vec::new();
    let (mut x, mut row) = (LEFT, 0);
    for s in &c.series {
        let w = 30.0 + 6.5 * s.name.chars().count() as f64;
        if x > LEFT && x + w > W - RIGHT {
            x = LEFT;
            row += 1;
        }
        out.push((x, row));
        x += w;
    }
    (out, if c.series.is_empty() { 0 } else { row + 1 })
}

pub fn render(c: &Chart) -> Markup {
    let (legend, rows) = legend_layout(c);
    let top_m: f64 = 16.0 + LEGEND_ROW * rows.max(1) as f64;
    let height: f64 = 246.0 + top_m;
    let n = c.x.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = height - top_m - BOTTOM;
    // The top of the y axis: the highest line point or the highest stack of bars.
    let mut top = 0u64;
    for s in c.series.iter().filter(|s| s.mark != Mark::Bar) {
        top = top.max(s.values.iter().copied().max().unwrap_or(0));
    }
    for i in 0..n {
        let stack: u64 = c
            .series
            .iter()
            .filter(|s| s.mark == Mark::Bar)
            .map(|s| s.values.get(i).copied().unwrap_or(0))
            .sum();
        top = top.max(stack);
    }
    let step = nice_step(top, 4);
    let y_max = (top.div_ceil(step).max(1)) * step;
    let y = |v: u64| top_m + plot_h - (v as f64 / y_max as f64) * plot_h;
    let slot = plot_w / n as f64;
    let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let label_every = n.div_ceil(7).max(1);
    let title_id = format!("{}-title", c.id);
    let desc_id = format!("{}-desc", c.id);
    let bars: Vec<(usize, &Series)> = c
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.mark == Mark::Bar)
        .collect();
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {height}"))
            role="img" aria-labelledby=(format!("{title_id} {desc_id}")) id=(c.id)
            font-family="sans-serif" font-size="11" {
            title id=(title_id) { (c.title) }
            desc id=(desc_id) { (c.desc) }
            // Grid and y axis.
            @for k in 0..=(y_max / step) {
                @let v = k * step;
                line x1=(LEFT) x2=(W - RIGHT) y1=(fmt(y(v))) y2=(fmt(y(v))) stroke="#dde2e8" stroke-width="1" {}
                text x=(LEFT - 6.0) y=(fmt(y(v) + 4.0)) text-anchor="end" fill="#555" { (v) }
            }
            line x1=(LEFT) x2=(LEFT) y1=(top_m) y2=(top_m + plot_h) stroke="#888" {}
            line x1=(LEFT) x2=(W - RIGHT) y1=(top_m + plot_h) y2=(top_m + plot_h) stroke="#888" {}
            text x="14" y=(fmt(top_m + plot_h / 2.0)) text-anchor="middle" fill="#333"
                transform=(format!("rotate(-90 14 {})", fmt(top_m + plot_h / 2.0))) { (c.y_label) }
            text x=(fmt(LEFT + plot_w / 2.0)) y=(height - 6.0) text-anchor="middle" fill="#333" { (c.x_label) }
            // X labels, about seven of them.
            @for (i, label) in c.x.iter().enumerate() {
                @if (i % label_every == 0 && n - 1 - i > label_every / 2) || i + 1 == n {
                    line x1=(fmt(x_mid(i))) x2=(fmt(x_mid(i))) y1=(top_m + plot_h) y2=(top_m + plot_h + 4.0) stroke="#888" {}
                    text x=(fmt(x_mid(i))) y=(top_m + plot_h + 16.0)
                        text-anchor=(if n > 1 && i + 1 == n { "end" } else if n > 1 && i == 0 { "start" } else { "middle" })
                        fill="#555" { (label) }
                }
            }
            // Stacked bars.
            @for i in 0..n {
                @let mut base = 0u64;
                @for (_, s) in &bars {
                    @let v = s.values.get(i).copied().unwrap_or(0);
                    @if v > 0 {
                        @let y0 = y(base);
                        @let y1 = y(base + v);
                        rect x=(fmt(x_mid(i) - slot * 0.4)) width=(fmt((slot * 0.8).max(0.8)))
                            y=(fmt(y1)) height=(fmt(y0 - y1)) fill=(PALETTE[s.color % PALETTE.len()]) {
                            title { (label_of(c, i)) ": " (s.name) " " (v) }
                        }
                        ({ base += v; "" })
                    }
                }
            }
            // Lines.
            @for s in c.series.iter() {
                @if s.mark != Mark::Bar && !s.values.is_empty() {
                    @let pts: Vec<String> = s.values.iter().enumerate()
                        .map(|(i, v)| format!("{},{}", fmt(x_mid(i)), fmt(y(*v)))).collect();
                    polyline points=(pts.join(" ")) fill="none" stroke=(PALETTE[s.color % PALETTE.len()])
                        stroke-width="2" stroke-dasharray=[(s.mark == Mark::Dashed).then_some("6 4")] {}
                    @if n <= 31 {
                        @for (i, v) in s.values.iter().enumerate() {
                            circle cx=(fmt(x_mid(i))) cy=(fmt(y(*v))) r="2.5" fill=(PALETTE[s.color % PALETTE.len()]) {
                                title { (label_of(c, i)) ": " (s.name) " " (v) }
                            }
                        }
                    }
                }
            }
            // Legend along the top, wrapping.
            @for (s, (lx, row)) in c.series.iter().zip(&legend) {
                @let ly = 10.0 + LEGEND_ROW * *row as f64;
                g.legend {
                    @match s.mark {
                        Mark::Bar => { rect x=(fmt(*lx)) y=(fmt(ly)) width="12" height="12" fill=(PALETTE[s.color % PALETTE.len()]) {} }
                        _ => { line x1=(fmt(*lx)) x2=(fmt(lx + 14.0)) y1=(fmt(ly + 6.0)) y2=(fmt(ly + 6.0)) stroke=(PALETTE[s.color % PALETTE.len()]) stroke-width="3"
                                stroke-dasharray=[(s.mark == Mark::Dashed).then_some("4 3")] {} }
                    }
                    text x=(fmt(lx + 18.0)) y=(fmt(ly + 10.0)) fill="#222" { (s.name) }
                }
            }
        }
    }
}

fn label_of(c: &Chart, i: usize) -> &str {
    c.x.get(i).map_or("", String::as_str)
}

/// Coordinates with one decimal, so the SVG stays small.
fn fmt(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0, 4), 1);
        assert_eq!(nice_step(7, 4), 2);
        assert_eq!(nice_step(40, 4), 10);
        assert_eq!(nice_step(41, 4), 20);
        assert_eq!(nice_step(900, 4), 500);
        assert_eq!(nice_step(1_000_000, 4), 500_000);
    }

    #[test]
    fn chart_has_title_desc_legend_axes_and_escapes_names() {
        let c = Chart {
            id: "usage".into(),
            title: "Captures per day".into(),
            desc: "Feature 48: 3, 5".into(),
            x: vec!["2026-11-01".into(), "2026-11-02".into()],
            x_label: "Day".into(),
            y_label: "Captures".into(),
            series: vec![
                Series {
                    name: "48 <PROF>".into(),
                    values: vec![3, 5],
                    mark: Mark::Line,
                    color: 0,
                },
                Series {
                    name: "denied".into(),
                    values: vec![1, 0],
                    mark: Mark::Bar,
                    color: 1,
                },
            ],
        };
        let s = render(&c).into_string();
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.contains(r#"aria-labelledby="usage-title usage-desc""#));
        assert!(s.contains("<title id=\"usage-title\">Captures per day</title>"));
        assert!(s.contains("<desc id=\"usage-desc\">Feature 48: 3, 5</desc>"));
        assert!(s.contains("48 &lt;PROF&gt;"), "names are escaped");
        assert!(!s.contains("<PROF>"));
        assert!(s.contains(">Day</text>") && s.contains(">Captures</text>"));
        assert!(s.contains("<polyline"));
        assert_eq!(
            s.matches("<rect").count(),
            1 + 1,
            "one bar and one legend box"
        );
        assert!(s.contains(">2026-11-02</text>"));
    }

    #[test]
    fn empty_chart_renders() {
        let c = Chart {
            id: "e".into(),
            title: "t".into(),
            desc: "d".into(),
            x: vec![],
            x_label: String::new(),
            y_label: String::new(),
            series: vec![],
        };
        assert!(render(&c).into_string().contains("</svg>"));
    }
}
