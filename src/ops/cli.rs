//! `licd backup`, `licd restore`, `licd check`.
use super::{check, restore};
use crate::store::backup::{self, CopyOptions};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use redb::ReadableDatabase;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["data", "server"])))]
pub struct BackupArgs {
    /// The backup file to write (refused if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// A stopped server's data directory.
    #[arg(long, env = "LICD_DATA")]
    pub data: Option<PathBuf>,
    /// A running server's address, e.g. https://licd.example.com:8443 (with --token).
    #[arg(long, requires = "token")]
    pub server: Option<String>,
    /// An admin-API token of an admin.
    #[arg(long, env = "LICD_TOKEN")]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for --server.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Do not check --server's certificate (a self-signed one).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The stopped server's data directory to restore into (created if missing).
    #[arg(long, env = "LICD_DATA")]
    pub data: PathBuf,
    /// The backup file (plain, .gz or .zst).
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The stopped server's data directory.
    #[arg(long, env = "LICD_DATA")]
    pub data: PathBuf,
}

/// A progress bar on stderr; `counts` is indicatif's template for the numbers.
fn progress(total: u64, what: &str, counts: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    if let Ok(style) = ProgressStyle::with_template(&format!("{what} [{{bar:32}}] {counts}")) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

fn bar(total: u64, what: &str) -> ProgressBar {
    progress(total, what, "{pos}/{len} {msg} ({elapsed})")
}

fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    progress(
        total,
        what,
        "{bytes}/{total_bytes} {bytes_per_sec} ({elapsed})",
    )
}

pub fn backup_main(args: BackupArgs) -> ExitCode {
    let result = match (&args.data, &args.server) {
        (Some(data), _) => backup_stopped(data, &args.out),
        (None, Some(server)) => backup_online(server, &args),
        (None, None) => Err(anyhow::anyhow!("give --data DIR or --server URL --token T")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licd backup: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn backup_stopped(data: &Path, out: &Path) -> anyhow::Result<()> {
    let db_path = data.join("licd.redb");
    let total = {
        let db = backup::open_exclusive(&db_path)?;
        backup::count_rows(&db.begin_read()?)?
    };
    let pb = bar(total, "rows");
    let copied = backup::backup_stopped(
        &db_path,
        out,
        &mut CopyOptions {
            busy: 1.0,
            progress: &mut |n| pb.set_position(n),
        },
    )?;
    pb.finish_and_clear();
    report_copy(&copied);
    Ok(())
}

fn report_copy(c: &backup::Copied) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "licd: backup written to {} and verified: {} rows in {} tables, schema {}, {} bytes{}",
        c.path.display(),
        c.rows,
        c.tables,
        c.schema,
        c.bytes,
        if c.replayed > 0 {
            format!(", {} redo-log changes applied", c.replayed)
        } else {
            String::new()
        }
    );
    let _ = writeln!(err, "  sha256 {}", c.sha256);
    let _ = writeln!(
        err,
        "  it holds the signing key: keep it as private as the data directory"
    );
}

fn backup_online(server: &str, args: &BackupArgs) -> anyhow::Result<()> {
    let token = args.token.clone().unwrap_or_default();
    let mut url =
        reqwest::Url::parse(server).map_err(|e| anyhow::anyhow!("--server {server:?}: {e}"))?;
    url.set_path("/api/admin/v1/backup");
    if args.out.exists() {
        anyhow::bail!("{} already exists; choose another file", args.out.display());
    }
    let tls = crate::http::tls::client_config(args.ca.as_deref(), args.insecure)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let partial = {
        let mut n = args.out.file_name().unwrap_or_default().to_os_string();
        n.push(".partial");
        args.out.with_file_name(n)
    };
    let result = rt.block_on(async {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        let spinner = ProgressBar::new_spinner();
        spinner.set_message("the server is taking a snapshot…");
        spinner.enable_steady_tick(Duration::from_millis(200));
        let mut resp = client.get(url.clone()).bearer_auth(&token).send().await?;
        spinner.finish_and_clear();
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(body);
            anyhow::bail!("the server answered {status}: {message}");
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let sha = header("licd-backup-sha256");
        let rows: Option<u64> = header("licd-backup-rows").and_then(|v| v.parse().ok());
        let total = resp.content_length().unwrap_or(0);
        let pb = bytes_bar(total, "download");
        let mut file = tokio::fs::File::create(&partial).await?;
        let mut got = 0u64;
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = resp.chunk().await? {
            file.write_all(&chunk).await?;
            got += chunk.len() as u64;
            pb.set_position(got);
        }
        file.sync_all().await?;
        drop(file);
        pb.finish_and_clear();
        if total > 0 && got != total {
            anyhow::bail!("the download ended after {got} of {total} bytes");
        }
        Ok((sha, rows))
    });
    let (sha, rows) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    // Verify: the digest the server computed, and the file opens with its rows.
    let verified = (|| {
        let (bytes, digest) = backup::hash_file(&partial)?;
        if let Some(sha) = &sha
            && !sha.eq_ignore_ascii_case(&digest)
        {
            anyhow::bail!("the file's SHA-256 {digest} differs from the server's {sha}");
        }
        let db = backup::open_read_only(&partial)?;
        let counted = backup::count_rows(&db.begin_read()?)?;
        if let Some(rows) = rows
            && rows != counted
        {
            anyhow::bail!("the file holds {counted} rows, the server sent {rows}");
        }
        Ok((bytes, digest, counted))
    })();
    match verified {
        Ok((bytes, digest, counted)) => {
            std::fs::rename(&partial, &args.out)?;
            backup::sync_dir(&args.out);
            eprintln!(
                "licd: backup of {server} written to {} and verified: {counted} rows, {bytes} bytes\n  sha256 {digest}\n  it holds the signing key: keep it as private as the data directory",
                args.out.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

pub fn restore_main(args: RestoreArgs) -> ExitCode {
    let total = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let pb = bytes_bar(total, "restore");
    let result = restore::restore(
        &args.data,
        &args.file,
        &mut |n| pb.set_position(n),
        time::OffsetDateTime::now_utc(),
    );
    pb.finish_and_clear();
    match result {
        Ok(r) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "licd: restored {} rows into {} (schema {}{})",
                r.rows,
                args.data.display(),
                r.schema_after,
                if r.schema_before != r.schema_after {
                    format!(", migrated from {}", r.schema_before)
                } else {
                    String::new()
                }
            );
            for p in &r.kept_aside {
                let _ = writeln!(err, "  kept aside: {}", p.display());
            }
            for c in &r.carried {
                let _ = writeln!(err, "  restored file: {c}");
            }
            let _ = write!(err, "{}", r.check.render());
            if r.check.sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("licd restore: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn check_main(args: CheckArgs) -> ExitCode {
    match check::check(&args.data.join("licd.redb")) {
        Ok(report) => {
            print!("{}", report.render());
            if report.sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("licd check: {e}");
            ExitCode::from(2)
        }
    }
}
