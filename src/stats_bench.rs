//! `licd stats-bench`: times the staff statistics and problems queries on a stopped
//! server's data directory (fill one with `licd seed --days N` first). Each query runs
//! once to warm the cache, then `--runs` times; min / median / max are printed.
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::days::DayRange;
use crate::service::stats::{self, DenialFilter, Page, SeriesFilter};
use crate::service::{App, clients};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug, Clone)]
pub struct StatsBenchArgs {
    /// Data directory (the server must be stopped).
    #[arg(long, env = "LICD_DATA")]
    pub data: Option<PathBuf>,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 20)]
    pub runs: u32,
    /// Days the statistics queries cover, ending today.
    #[arg(long, default_value_t = 365)]
    pub days: i32,
}

pub fn run(args: StatsBenchArgs) -> anyhow::Result<()> {
    let config = Config::resolve(&crate::config::ServeArgs {
        data: args.data.clone(),
        ..Default::default()
    })?;
    let app = App::open(config, Clock::system())?;
    let range = DayRange::last(args.days, stats::today(&app));
    let tx = app.store.read()?;
    let features = stats::features(&tx)?;
    let (f1, f2) = (
        features.first().map_or(0, |f| f.number),
        features.get(1).map_or(0, |f| f.number),
    );
    let distributor = crate::service::distributors::list(&tx)?
        .into_iter()
        .next()
        .map(|d| d.code);
    let client = top_client(&tx, range)?;
    let client_keys = client.map(|c| clients::keys_of(&tx, c)).transpose()?;
    drop(tx);
    println!(
        "{} days ending {}; features {f1}, {f2}; distributor {distributor:?}; client {client:?}",
        range.len(),
        range.to
    );
    println!(
        "{:<52} {:>9} {:>9} {:>9} {:>6}",
        "query", "min ms", "median", "max ms", "rows"
    );
    let time = |name: &str, q: &dyn Fn() -> anyhow::Result<usize>| -> anyhow::Result<()> {
        let rows = q()?;
        let mut ms = Vec::new();
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            q()?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<52} {:>9.2} {:>9.2} {:>9.2} {rows:>6}",
            ms[0],
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
        Ok(())
    };
    let page = Page::default();
    let all = |f: DenialFilter| {
        let app = &app;
        move || -> anyhow::Result<usize> {
            let tx = app.store.read()?;
            Ok(stats::all_denials(&tx, &f, page)?.rows.len())
        }
    };
    time("global series, all features", &|| {
        let tx = app.store.read()?;
        Ok(stats::global_series(&tx, range, &SeriesFilter::default())?
            .rows
            .len())
    })?;
    time("global series, product seed", &|| {
        let tx = app.store.read()?;
        let f = SeriesFilter {
            product: Some("seed".into()),
            feature: None,
        };
        Ok(stats::global_series(&tx, range, &f)?.rows.len())
    })?;
    time("top 20 clients by denials", &|| {
        let tx = app.store.read()?;
        Ok(stats::top_clients(&tx, range, 20)?.len())
    })?;
    time("newest denials, page 1 (50)", &all(DenialFilter::default()))?;
    time("newest denials, page 2 (cursor)", &|| {
        let tx = app.store.read()?;
        let p1 = stats::all_denials(&tx, &DenialFilter::default(), page)?;
        let p2 = Page {
            before: p1.next,
            ..page
        };
        Ok(stats::all_denials(&tx, &DenialFilter::default(), p2)?
            .rows
            .len())
    })?;
    time(
        &format!("newest denials, feature {f1}"),
        &all(DenialFilter {
            feature: Some(f1),
            ..Default::default()
        }),
    )?;
    time(
        &format!("newest denials, feature {f2} (none)"),
        &all(DenialFilter {
            feature: Some(f2),
            ..Default::default()
        }),
    )?;
    time(
        "newest denials, code 1021",
        &all(DenialFilter {
            code: Some(1021),
            ..Default::default()
        }),
    )?;
    if let Some(d) = &distributor {
        time(
            &format!("newest denials, distributor {d}"),
            &all(DenialFilter {
                distributor: Some(d.clone()),
                ..Default::default()
            }),
        )?;
        time(
            &format!("newest denials, distributor {d}, code 1021"),
            &all(DenialFilter {
                distributor: Some(d.clone()),
                code: Some(1021),
                ..Default::default()
            }),
        )?;
    }
    if let (Some(c), Some(keys)) = (client, &client_keys) {
        time(
            &format!("newest denials, client {c}"),
            &all(DenialFilter {
                client: Some(c),
                ..Default::default()
            }),
        )?;
        time(&format!("client {c} series ({} keys)", keys.len()), &|| {
            let tx = app.store.read()?;
            Ok(stats::client_series(&tx, c, range)?.rows.len())
        })?;
    }
    Ok(())
}

fn top_client(tx: &redb::ReadTransaction, range: DayRange) -> anyhow::Result<Option<u64>> {
    Ok(stats::top_clients(tx, range, 1)?
        .first()
        .map(|t| t.client_id))
}
