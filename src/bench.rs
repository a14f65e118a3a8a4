//! `licd bench`: a load generator in the binary (like redis-benchmark or pgbench).
//!
//! Against a running server it makes a throw-away product, client and key, then drives
//! N keep-alive HTTPS/1.1 connections for a set time per phase through a chosen mix of
//! operations (capture, heartbeat, release, key read, and `noop` — `/healthz`, the
//! server's cheapest endpoint, as the baseline), and prints throughput and latency
//! percentiles per operation. It cleans up what it made.
use clap::Args;
use hdrhistogram::Histogram;
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The server to load.
    #[arg(long, env = "LICD_SERVER", default_value = "https://127.0.0.1:8443")]
    pub server: String,
    /// An admin-API token (admin role: the bench makes and removes a product).
    #[arg(long, env = "LICD_TOKEN")]
    pub token: String,
    /// Trust this certificate (PEM).
    #[arg(long, conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Keep-alive connections (one request in flight on each).
    #[arg(short, long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds per phase.
    #[arg(short, long, default_value_t = 10)]
    pub duration: u64,
    /// Phases, comma-separated; each a mix of operations joined by `+` with optional
    /// weights, e.g. `capture=3+heartbeat=1`. Operations: noop (/healthz), ping (the
    /// signed API no-op), capture, heartbeat, release, read, search (admin quick search).
    #[arg(long, default_value = "noop,ping,capture,heartbeat,read,release")]
    pub phases: String,
    /// Total requests per second to aim at (all connections together); default: as fast as possible.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Throw-away keys the captures spread over (like many clients' apps).
    #[arg(long, default_value_t = 2000)]
    pub keys: usize,
    /// Seats on each throw-away key (keys × seats must exceed the captures of a phase,
    /// or the rest are refused with 1030: 1,000,000 by default).
    #[arg(long, default_value_t = 500)]
    pub seats: u32,
    /// Print the results as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Keep the throw-away product, client and key (for inspection).
    #[arg(long)]
    pub keep: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Noop,
    Capture,
    Heartbeat,
    Release,
    Read,
    /// Admin-API quick search over clients (one random word).
    Search,
    /// `GET /api/v1/signing-key`: the protected-app API's no-op (signed, like every
    /// `/api/v1` answer), the baseline for the API's own operations.
    Ping,
}

const OPS: [Op; 7] = [
    Op::Ping,
    Op::Noop,
    Op::Capture,
    Op::Heartbeat,
    Op::Release,
    Op::Read,
    Op::Search,
];
const SEARCH_WORDS: &[&str] = &[
    "ромашка",
    "лютик",
    "альфа",
    "север",
    "acme",
    "globex",
    "stark",
    "hooli",
    "контакт 12",
    "495 00",
];

impl Op {
    fn parse(s: &str) -> Option<Op> {
        OPS.into_iter().find(|o| o.name() == s)
    }
    fn name(self) -> &'static str {
        match self {
            Op::Noop => "noop",
            Op::Capture => "capture",
            Op::Heartbeat => "heartbeat",
            Op::Release => "release",
            Op::Read => "read",
            Op::Search => "search",
            Op::Ping => "ping",
        }
    }
    fn index(self) -> usize {
        OPS.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// One phase: operations with weights.
#[derive(Clone, Debug)]
pub struct Mix {
    pub name: String,
    pub ops: Vec<(Op, u32)>,
}

pub fn parse_phases(s: &str) -> Result<Vec<Mix>, String> {
    let mut out = Vec::new();
    for phase in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut ops = Vec::new();
        for part in phase.split('+') {
            let (name, w) = match part.split_once('=') {
                Some((n, w)) => (
                    n.trim(),
                    w.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("bad weight in {part:?}"))?,
                ),
                None => (part.trim(), 1),
            };
            let op = Op::parse(name).ok_or_else(|| format!("unknown operation {name:?}"))?;
            if w > 0 {
                ops.push((op, w));
            }
        }
        if ops.is_empty() {
            return Err(format!("phase {phase:?} has no operation"));
        }
        out.push(Mix {
            name: phase.to_owned(),
            ops,
        });
    }
    if out.is_empty() {
        return Err("no phases".into());
    }
    Ok(out)
}

#[derive(Serialize, Debug, Clone)]
pub struct OpResult {
    pub op: Op,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize, Debug, Clone)]
pub struct PhaseResult {
    pub phase: String,
    pub seconds: f64,
    pub total_rps: f64,
    pub ops: Vec<OpResult>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub server: String,
    pub connections: usize,
    pub duration_s: u64,
    pub rate: Option<u64>,
    pub phases: Vec<PhaseResult>,
}

struct Target {
    base: String,
    token: String,
    regnums: Vec<String>,
    feature: u32,
}

struct Worker {
    id: usize,
    http: reqwest::Client,
    leases: VecDeque<String>,
    seq: u64,
    /// Which key this connection's next capture or read goes to.
    next_key: usize,
    hist: Vec<Histogram<u64>>,
    errors: Vec<u64>,
}

fn new_hist() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

impl Worker {
    async fn one(&mut self, t: &Target, op: Op) -> (Op, bool) {
        let op = match op {
            Op::Heartbeat | Op::Release if self.leases.is_empty() => Op::Capture,
            o => o,
        };
        let r = match op {
            Op::Noop => self.http.get(format!("{}/healthz", t.base)).send().await,
            Op::Ping => {
                self.http
                    .get(format!("{}/api/v1/signing-key", t.base))
                    .send()
                    .await
            }
            Op::Search => {
                let w = SEARCH_WORDS[rand::thread_rng().gen_range(0..SEARCH_WORDS.len())];
                self.http
                    .get(format!("{}/api/admin/v1/clients", t.base))
                    .query(&[("q", w), ("limit", "100")])
                    .bearer_auth(&t.token)
                    .send()
                    .await
            }
            Op::Read => {
                self.next_key = (self.next_key + 1) % t.regnums.len();
                self.http
                    .get(format!(
                        "{}/api/v1/keys/{}",
                        t.base, t.regnums[self.next_key]
                    ))
                    .send()
                    .await
            }
            Op::Capture => {
                self.seq += 1;
                self.next_key = (self.next_key + 1) % t.regnums.len();
                // The body is formatted directly: the load generator shares the machine,
                // so its own cost per request is kept small.
                let body = format!(
                    r#"{{"regnum":"{}","feature":{},"host":"bench-{}","session":"{}-{}","app":"licd-bench"}}"#,
                    t.regnums[self.next_key], t.feature, self.id, self.id, self.seq
                );
                self.http
                    .post(format!("{}/api/v1/leases", t.base))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
            }
            Op::Heartbeat => {
                let l = self.leases.pop_front().unwrap_or_default();
                let r = self
                    .http
                    .post(format!("{}/api/v1/leases/{l}/heartbeat", t.base))
                    .send()
                    .await;
                self.leases.push_back(l);
                r
            }
            Op::Release => {
                let l = self.leases.pop_back().unwrap_or_default();
                self.http
                    .delete(format!("{}/api/v1/leases/{l}", t.base))
                    .send()
                    .await
            }
        };
        let ok = match r {
            Ok(resp) => {
                let st = resp.status();
                if op == Op::Capture && st.as_u16() == 201 {
                    #[derive(serde::Deserialize)]
                    struct Lease<'a> {
                        lease: &'a str,
                    }
                    match resp.bytes().await {
                        Ok(b) => match serde_json::from_slice::<Lease>(&b) {
                            Ok(l) => {
                                self.leases.push_back(l.lease.to_owned());
                                true
                            }
                            Err(_) => false,
                        },
                        Err(_) => false,
                    }
                } else {
                    let ok = st.is_success();
                    let _ = resp.bytes().await;
                    ok
                }
            }
            Err(_) => false,
        };
        (op, ok)
    }
}

/// An HTTPS client keeping at most `idle` connections open between requests.
fn client(args: &BenchArgs, idle: usize) -> Result<reqwest::Client, String> {
    let mut tls = crate::http::tls::client_config(args.ca.as_deref(), args.insecure)
        .map_err(|e| e.to_string())?;
    // HTTP/1.1 keep-alive connections, as protected apps use: offered alone in ALPN (with
    // h2 offered too the server would pick it, whatever `http1_only` says).
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .http1_only()
        .pool_max_idle_per_host(idle)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

async fn admin(
    http: &reqwest::Client,
    args: &BenchArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut rb = http
        .request(
            method,
            format!("{}/api/admin/v1{path}", args.server.trim_end_matches('/')),
        )
        .bearer_auth(&args.token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.map_err(|e| format!("{path}: {e}"))?;
    let st = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if st.is_success() {
        Ok(v)
    } else {
        Err(format!("{path}: {st} {v}"))
    }
}

fn percentile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn run_phase(
    args: &BenchArgs,
    target: &Arc<Target>,
    workers: Vec<Worker>,
    mix: &Mix,
) -> (Vec<Worker>, PhaseResult) {
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let per_conn_interval = args
        .rate
        .filter(|r| *r > 0)
        .map(|r| Duration::from_secs_f64(args.connections as f64 / r as f64));
    let total_w: u32 = mix.ops.iter().map(|(_, w)| w).sum();
    let mut handles = Vec::new();
    for mut w in workers {
        let target = target.clone();
        let done = done.clone();
        let mix = mix.clone();
        handles.push(tokio::spawn(async move {
            for h in &mut w.hist {
                h.reset();
            }
            w.errors.iter_mut().for_each(|e| *e = 0);
            let mut next =
                Instant::now() + Duration::from_millis(rand::thread_rng().gen_range(0..20));
            while Instant::now() < deadline {
                if let Some(iv) = per_conn_interval {
                    let now = Instant::now();
                    if next > now {
                        tokio::time::sleep(next - now).await;
                    }
                    next += iv;
                }
                let mut pick = rand::thread_rng().gen_range(0..total_w);
                let mut op = mix.ops[0].0;
                for (o, wt) in &mix.ops {
                    if pick < *wt {
                        op = *o;
                        break;
                    }
                    pick -= wt;
                }
                let t0 = Instant::now();
                let (op, ok) = w.one(&target, op).await;
                let us = t0.elapsed().as_micros().max(1) as u64;
                if ok {
                    let _ = w.hist[op.index()].record(us.min(60_000_000));
                } else {
                    w.errors[op.index()] += 1;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            w
        }));
    }
    let progress = {
        let done = done.clone();
        let name = mix.name.clone();
        let secs = args.duration;
        tokio::spawn(async move {
            let mut last = 0;
            for s in 1..=secs {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = done.load(Ordering::Relaxed);
                eprint!(
                    "\r[{name}] {s}/{secs} s: {} req/s, {now} requests   ",
                    now - last
                );
                last = now;
            }
            eprintln!();
        })
    };
    let mut workers = Vec::new();
    for h in handles {
        if let Ok(w) = h.await {
            workers.push(w);
        }
    }
    let _ = progress.await;
    let seconds = started.elapsed().as_secs_f64();
    let mut ops = Vec::new();
    let mut total = 0;
    for op in OPS {
        let mut h = new_hist();
        let mut errors = 0;
        for w in &workers {
            let _ = h.add(&w.hist[op.index()]);
            errors += w.errors[op.index()];
        }
        if h.is_empty() && errors == 0 {
            continue;
        }
        total += h.len() + errors;
        ops.push(OpResult {
            op,
            requests: h.len(),
            errors,
            rps: h.len() as f64 / seconds,
            p50_ms: percentile_ms(&h, 0.50),
            p90_ms: percentile_ms(&h, 0.90),
            p95_ms: percentile_ms(&h, 0.95),
            p99_ms: percentile_ms(&h, 0.99),
            max_ms: h.max() as f64 / 1000.0,
        });
    }
    (
        workers,
        PhaseResult {
            phase: mix.name.clone(),
            seconds,
            total_rps: total as f64 / seconds,
            ops,
        },
    )
}

pub async fn run(args: BenchArgs) -> Result<Report, String> {
    let phases = parse_phases(&args.phases)?;
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let admin_http = client(&args, 32)?;
    let tag: u32 = rand::thread_rng().gen_range(0..1_000_000);
    let feature = 2_000_000_000 + tag;
    let code = format!("licd-bench-{tag}");
    admin(
        &admin_http,
        &args,
        reqwest::Method::POST,
        "/products",
        Some(json!({
        "code": code, "name": "licd bench (throw-away)", "heartbeat_s": 600,
        "features": [{"number": feature, "name": "bench seat", "unit": "session"}]})),
    )
    .await?;
    let client_v = admin(&admin_http, &args, reqwest::Method::POST, "/clients", Some(json!({"company": format!("licd bench {tag}"), "comment": "throw-away, made by licd bench"}))).await?;
    let client_id = client_v["id"].as_u64().ok_or("no client id")?;
    let mut regnums = Vec::new();
    eprintln!(
        "making {} throw-away keys of {} seats …",
        args.keys.max(1),
        args.seats
    );
    // 32 admin calls in flight: a key and its item each (the server groups the writes).
    let make_key = || async {
        let key = admin(
            &admin_http,
            &args,
            reqwest::Method::POST,
            &format!("/clients/{client_id}/keys"),
            None,
        )
        .await?;
        let regnum = key["regnum"].as_str().ok_or("no regnum")?.to_owned();
        admin(
            &admin_http,
            &args,
            reqwest::Method::POST,
            &format!("/keys/{regnum}/items"),
            Some(json!({"product": code, "feature": feature, "seats": args.seats})),
        )
        .await?;
        Ok::<String, String>(regnum)
    };
    {
        use futures_util::StreamExt;
        let mut made = futures_util::stream::iter(0..args.keys.max(1))
            .map(|_| make_key())
            .buffer_unordered(32);
        while let Some(r) = made.next().await {
            regnums.push(r?);
        }
    }
    let target = Arc::new(Target {
        base: args.server.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
        regnums: regnums.clone(),
        feature,
    });
    let mut workers = Vec::new();
    for id in 0..args.connections {
        workers.push(Worker {
            id,
            http: client(&args, 1)?,
            leases: VecDeque::new(),
            seq: 0,
            next_key: id * 7919 % args.keys.max(1),
            hist: OPS.iter().map(|_| new_hist()).collect(),
            errors: vec![0; OPS.len()],
        });
    }
    let mut results = Vec::new();
    let mut outcome = Ok(());
    for mix in &phases {
        let (w, r) = run_phase(&args, &target, workers, mix).await;
        workers = w;
        if workers.len() != args.connections {
            outcome = Err("a connection task failed".to_owned());
            break;
        }
        results.push(r);
    }
    if !args.keep {
        eprintln!("cleaning up {} keys and product {code} …", regnums.len());
        let cleanup = async {
            let remove_items = |regnum: &String| {
                let (http, args) = (&admin_http, &args);
                let regnum = regnum.clone();
                async move {
                    let k = admin(
                        http,
                        args,
                        reqwest::Method::GET,
                        &format!("/keys/{regnum}"),
                        None,
                    )
                    .await?;
                    for g in k["grants"].as_array().cloned().unwrap_or_default() {
                        if let Some(id) = g["id"].as_u64() {
                            admin(
                                http,
                                args,
                                reqwest::Method::DELETE,
                                &format!("/keys/{regnum}/items/{id}"),
                                None,
                            )
                            .await?;
                        }
                    }
                    Ok::<(), String>(())
                }
            };
            {
                use futures_util::StreamExt;
                let mut done = futures_util::stream::iter(regnums.iter())
                    .map(remove_items)
                    .buffer_unordered(32);
                while let Some(r) = done.next().await {
                    r?;
                }
            }
            admin(
                &admin_http,
                &args,
                reqwest::Method::DELETE,
                &format!("/clients/{client_id}"),
                None,
            )
            .await?;
            admin(
                &admin_http,
                &args,
                reqwest::Method::DELETE,
                &format!("/products/{code}"),
                None,
            )
            .await?;
            Ok::<(), String>(())
        };
        if let Err(e) = cleanup.await {
            eprintln!("cleanup incomplete: {e}");
        }
    }
    outcome?;
    Ok(Report {
        server: args.server.clone(),
        connections: args.connections,
        duration_s: args.duration,
        rate: args.rate,
        phases: results,
    })
}

pub fn print_table(r: &Report) {
    println!(
        "licd bench: {} — {} connections, {} s per phase{}",
        r.server,
        r.connections,
        r.duration_s,
        r.rate
            .map(|x| format!(", aiming at {x} req/s"))
            .unwrap_or_default()
    );
    println!(
        "{:<28} {:<10} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "phase",
        "op",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors"
    );
    for p in &r.phases {
        for o in &p.ops {
            println!(
                "{:<28} {:<10} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7}",
                p.phase,
                o.op.name(),
                o.requests,
                o.rps,
                o.p50_ms,
                o.p90_ms,
                o.p95_ms,
                o.p99_ms,
                o.max_ms,
                o.errors
            );
        }
    }
}

pub fn main(args: BenchArgs) -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("licd bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json_out = args.json;
    match rt.block_on(run(args)) {
        Ok(r) => {
            if json_out {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                print_table(&r);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("licd bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse() {
        let p = parse_phases("noop, capture=3+heartbeat").expect("parse");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].ops, vec![(Op::Capture, 3), (Op::Heartbeat, 1)]);
        assert!(parse_phases("fly").is_err());
        assert!(parse_phases("capture=x").is_err());
        assert!(parse_phases("").is_err());
    }
}
