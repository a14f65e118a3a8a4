//! The command line: `licd serve | init | token | user | diag | backup | restore`.
use crate::clock::Clock;
use crate::config::{Config, ServeArgs};
use crate::domain::Role;
use crate::service::{App, auth};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "licd",
    version,
    about = "licd — a self-hosted software license server in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines on stderr look: `text` for people, `json` for log shippers (one
    /// JSON object a line). `LICD_LOG` sets what is logged (e.g. `debug` for the
    /// access log).
    #[arg(long, global = true, env = "LICD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run everything: the HTTPS API, the jobs.
    Serve(ServeArgs),
    /// Prepare a data directory (database, signing key, certificate) and exit.
    Init(ServeArgs),
    /// Admin-API tokens (with the server stopped; the UI makes them while it runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Staff users (with the server stopped).
    #[command(subcommand)]
    User(UserCommand),
    /// What stands between a key and a seat of a feature (the seeds' licdiag).
    Diag(crate::diag::DiagArgs),
    /// Load a running server and report throughput and latency per operation.
    Bench(crate::bench::BenchArgs),
    /// Fill a stopped server's data directory with many clients, keys and live leases (for benchmarks).
    Seed(crate::seed::SeedArgs),
    /// Time the staff statistics and problems queries on a stopped server's data directory.
    StatsBench(crate::stats_bench::StatsBenchArgs),
    /// A consistent, verified copy of the database: from a running server (--server) or a stopped one's directory (--data).
    Backup(crate::ops::cli::BackupArgs),
    /// Put a backup into a stopped server's data directory (the replaced database is kept aside).
    Restore(crate::ops::cli::RestoreArgs),
    /// Mail: `licd mail test --to ADDR` sends one test mail now through the configured SMTP server.
    #[command(subcommand)]
    Mail(MailCommand),
    /// The signing key: `licd signing rotate --data DIR` makes a new one (server stopped;
    /// while it runs, use the System page or `POST /api/admin/v1/signing-key/rotate`).
    #[command(subcommand)]
    Signing(SigningCommand),
    /// Check a stopped server's database read-only; exit 0 when sound, 1 on problems, 2 when it cannot be checked.
    Check(crate::ops::cli::CheckArgs),
    /// Windows: `licd service install | uninstall` registers or removes licd as a
    /// Windows service running `serve` with %ProgramData%\licd\licd.toml.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Print the one-time link that creates the first administrator (while no staff
    /// exist), also while the server runs; with it stopped, makes a new one.
    SetupLink(ServeArgs),
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token and print it alone on stdout.
    Create {
        #[arg(long, env = "LICD_DATA")]
        data: Option<PathBuf>,
        #[arg(long)]
        name: String,
        /// admin or manager
        #[arg(long)]
        role: String,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long, env = "LICD_DATA")]
        data: Option<PathBuf>,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long, env = "LICD_DATA")]
        data: Option<PathBuf>,
        #[arg(long)]
        id: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum SigningCommand {
    /// Make a new signing key; the replaced one keeps signing beside it
    /// (`Licd-Signature-Previous`) for the overlap, so apps that pinned it keep working.
    Rotate {
        #[arg(long)]
        data: Option<std::path::PathBuf>,
        /// Days the replaced key keeps signing beside the new one.
        #[arg(long, default_value_t = 90)]
        overlap_days: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServiceCommand {
    /// Register licd as a Windows service (automatic start) and start it.
    Install,
    /// Stop and remove the Windows service (the data stays).
    Uninstall,
    /// What the service manager runs (not for a console).
    #[command(hide = true)]
    Run,
}

#[derive(Subcommand, Debug)]
pub enum MailCommand {
    /// Send one test mail now and print what the SMTP server answered (exit 1 on failure).
    Test {
        /// The recipient.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a staff user; the password is read from the terminal (or one line of stdin).
    Add {
        #[arg(long, env = "LICD_DATA")]
        data: Option<PathBuf>,
        #[arg(long)]
        login: String,
        /// admin, manager or distributor
        #[arg(long)]
        role: String,
        /// Where the user is mailed; a manager's e-mail gets copies of their clients' mail.
        #[arg(long, default_value = "")]
        email: String,
        /// For the distributor role: the code of the (existing) distributor it acts for.
        #[arg(long, default_value = "")]
        distributor: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Service(ServiceCommand::Run)) {
        init_file_logging(&crate::winsvc::log_path());
    } else {
        init_logging(cli.log_format);
    }
    // Everything licd writes (database, keys, backups) is the service account's alone.
    crate::ops::perms::private_by_default();
    match cli.command {
        Command::Diag(args) => crate::diag::main(args),
        Command::Bench(args) => crate::bench::main(args),
        Command::Backup(args) => crate::ops::cli::backup_main(args),
        Command::Restore(args) => crate::ops::cli::restore_main(args),
        Command::Check(args) => crate::ops::cli::check_main(args),
        other => match run(other) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("licd: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LICD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: not in journald, files or pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// A service has no console: its log goes to a file (appended).
fn init_file_logging(path: &std::path::Path) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LICD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        Ok(f) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init();
        }
        Err(_) => init_logging(LogFormat::Text),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn data_config(data: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::resolve(&ServeArgs {
        data,
        ..Default::default()
    })
    .map_err(Into::into)
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let config = Config::resolve(&args)?;
            let rt = runtime()?;
            rt.block_on(serve(config))
        }
        Command::SetupLink(args) => setup_link(Config::resolve(&args)?),
        Command::Service(ServiceCommand::Install) => crate::winsvc::install(),
        Command::Service(ServiceCommand::Uninstall) => crate::winsvc::uninstall(),
        Command::Service(ServiceCommand::Run) => crate::winsvc::run(),
        Command::Init(args) => {
            let config = Config::resolve(&args)?;
            crate::ops::perms::secure_dir(&config.data_dir)?;
            crate::http::tls::install_provider();
            let _ = crate::http::tls::server_config(&config)?;
            let app = App::open(config.clone(), Clock::system())?;
            eprintln!(
                "licd: data directory ready at {}",
                config.data_dir.display()
            );
            eprintln!("licd: signing public key {}", app.signer.public_key_b64());
            Ok(())
        }
        Command::Token(TokenCommand::Create { data, name, role }) => {
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Distributor)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin or manager"))?;
            let config = data_config(data)?;
            let rt = runtime()?;
            let app = App::open(config.clone(), Clock::system())?;
            let (secret, token) = rt
                .block_on(auth::create_token(
                    &app.store,
                    &name,
                    role,
                    app.now(),
                    &cli_actor(),
                ))
                .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
            eprintln!(
                "licd: token {} ({}, {}) created; it is shown only now:",
                token.id,
                token.name,
                token.role.as_str()
            );
            println!("{secret}");
            app.store.close();
            Ok(())
        }
        Command::Signing(SigningCommand::Rotate { data, overlap_days }) => {
            if overlap_days == 0 || overlap_days > 3650 {
                anyhow::bail!("--overlap-days must be 1 to 3650");
            }
            let app = App::open(data_config(data)?, Clock::system())?;
            let info = runtime()?.block_on(crate::service::signing::rotate_audited(
                &app,
                "cli",
                time::Duration::days(i64::from(overlap_days)),
            ))?;
            eprintln!(
                "licd: new signing key {}; the previous one signs beside it for {overlap_days} days",
                info.key_id
            );
            println!("{}", info.public_key);
            Ok(())
        }
        Command::Token(TokenCommand::List { data }) => {
            let app = App::open(data_config(data)?, Clock::system())?;
            let tx = app.store.read()?;
            for t in auth::list_tokens(&tx)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role.as_str(),
                    crate::clock::rfc3339(t.created_at),
                    t.revoked_at
                        .map(crate::clock::rfc3339)
                        .unwrap_or_else(|| "active".into())
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { data, id }) => {
            let app = App::open(data_config(data)?, Clock::system())?;
            let rt = runtime()?;
            rt.block_on(auth::revoke_token(&app.store, id, app.now(), &cli_actor()))
                .map_err(|e| anyhow::anyhow!(e.message(crate::i18n::Lang::En)))?;
            eprintln!("licd: token {id} revoked");
            app.store.close();
            Ok(())
        }
        Command::User(UserCommand::Add {
            data,
            login,
            role,
            email,
            distributor,
        }) => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin, manager or distributor"))?;
            let config = data_config(data)?;
            let password = read_password()?;
            let app = App::open(config, Clock::system())?;
            let rt = runtime()?;
            let user = rt
                .block_on(auth::add_user(
                    &app.store,
                    &login,
                    role,
                    &password,
                    &distributor,
                    &email,
                    app.now(),
                    &cli_actor(),
                ))
                .map_err(refused)?;
            eprintln!("licd: user {} ({}) added", user.login, user.role.as_str());
            // Staff exist now: a kept first-admin link is of no use any more.
            let _ = std::fs::remove_file(crate::service::sessions::setup_link_file(
                &app.config.data_dir,
            ));
            app.store.close();
            Ok(())
        }
        Command::Mail(MailCommand::Test { to, serve }) => {
            let config = Config::resolve(&serve)?;
            let rt = runtime()?;
            match rt.block_on(crate::jobs::outbox::send_test_with(&config, &to)) {
                Ok(answer) => {
                    println!("sent to {to}; the SMTP server answered: {answer}");
                    Ok(())
                }
                Err(e) => anyhow::bail!("the test mail to {to} was not sent: {e}"),
            }
        }
        Command::Seed(args) => crate::seed::run(args),
        Command::StatsBench(args) => crate::stats_bench::run(args),
        Command::Diag(_)
        | Command::Bench(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Check(_) => unreachable!("handled in main"),
    }
}

/// A refusal as the command line says it: each refused field by its option and why.
fn refused(e: crate::error::AppError) -> anyhow::Error {
    match &e {
        crate::error::AppError::Malformed(m) => anyhow::anyhow!(
            m.iter()
                .map(|(field, why)| match field.as_str() {
                    "password" => format!("the password: {why}"),
                    f => format!("--{f}: {why}"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        ),
        crate::error::AppError::NotFound {
            what: "distributor",
        } => {
            anyhow::anyhow!("--distributor: no distributor has this code")
        }
        _ => anyhow::anyhow!(e.message(crate::i18n::Lang::En)),
    }
}

/// Who made a change from the command line, for the audit log: `cli:<OS user>` (the
/// user behind sudo, if any), or `cli` when the environment does not say.
pub fn cli_actor() -> String {
    ["SUDO_USER", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|u| u.trim().to_owned())
        .find(|u| !u.is_empty())
        .map_or_else(|| "cli".to_owned(), |u| format!("cli:{u}"))
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let p1 = rpassword::prompt_password("Password: ")?;
        let p2 = rpassword::prompt_password("Again: ")?;
        if p1 != p2 {
            anyhow::bail!("the passwords differ");
        }
        Ok(p1)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// `licd setup-link`: the kept link, or (server stopped, no staff) a new one.
fn setup_link(config: Config) -> anyhow::Result<()> {
    let file = crate::service::sessions::setup_link_file(&config.data_dir);
    if let Ok(link) = std::fs::read_to_string(&file) {
        println!("{}", link.trim());
        return Ok(());
    }
    let login = format!("{}/login", config.public_url);
    let app = App::open(config, Clock::system()).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n  no link is kept in {}: if licd is running, staff exist already (sign in at {login}) or see its log",
            file.display()
        )
    })?;
    if auth::has_users(&app.store.read()?)? {
        anyhow::bail!(
            "staff exist already: sign in at {login} (a new admin: licd user add --data {} --login L --role admin)",
            app.config.data_dir.display()
        );
    }
    let link = runtime()?.block_on(crate::service::sessions::setup_link(&app))?;
    println!("{link}");
    eprintln!("licd: the link works once, to create the first administrator");
    app.store.close();
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    serve_until(config, std::future::pending()).await
}

/// Serves until a signal (SIGTERM / Ctrl-C) or `stop` (a Windows service's stop)
/// ends it, then closes the database cleanly.
pub async fn serve_until(
    config: Config,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let running = crate::server::start(config, Clock::system())?;
    let url = format!("https://{}", running.addr);
    let has_users = {
        let tx = running.app.store.read()?;
        auth::has_users(&tx)?
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "licd {} listening on {url}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(err, "  data directory: {}", data_dir.display());
    let _ = writeln!(err, "  TLS certificate: {}", running.cert_path.display());
    if let Some(leaf) = running
        .app
        .tls
        .get()
        .and_then(|t| t.chain().into_iter().next())
    {
        let _ = writeln!(
            err,
            "  certificate SHA-256 fingerprint: {}",
            crate::http::tls::fingerprint(&leaf)
        );
        if let Some(pin) = crate::http::tls::spki_pin(&leaf) {
            let _ = writeln!(
                err,
                "  public key pin (pin-sha256, survives renewals): {pin}"
            );
        }
    }
    let _ = writeln!(
        err,
        "  protected-app API: {url}/api/v1   admin API: {url}/api/admin/v1   OpenAPI: {url}/api/openapi.json"
    );
    drop(err);
    if has_users {
        let _ = std::fs::remove_file(crate::service::sessions::setup_link_file(&data_dir));
    }
    if !has_users {
        // A one-time link to create the first admin; no default password exists.
        let setup = crate::service::sessions::setup_link(&running.app).await;
        let mut err = std::io::stderr().lock();
        match setup {
            Ok(link) => {
                let _ = writeln!(
                    err,
                    "  no staff yet: create the first administrator (this link works once):\n    {link}\n  (later: licd setup-link --data {d})\n  or stop licd and run\n    licd user add --data {d} --login admin --role admin",
                    d = data_dir.display()
                );
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "  no staff yet ({}): stop licd, then run\n    licd user add --data {d} --login admin --role admin",
                    e.message(crate::i18n::Lang::En),
                    d = data_dir.display()
                );
            }
        }
    }
    let handle = running.handle.clone();
    tokio::spawn(async move {
        stop.await;
        handle.stop(true).await;
    });
    running.wait().await
}
