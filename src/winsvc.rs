//! licd as a Windows service: `licd service install` registers it (automatic start,
//! LocalSystem) to run `licd service run`, which serves with
//! `%ProgramData%\licd\licd.toml` (written with defaults when missing: data in
//! `%ProgramData%\licd\data`), logs to `%ProgramData%\licd\licd.log`, and stops cleanly
//! on the service stop signal. The folder's access list is cut down to SYSTEM and
//! Administrators. `licd service uninstall` stops and removes the service (the data
//! stays). Elsewhere these commands say they are for Windows.
use std::path::PathBuf;

pub const SERVICE_NAME: &str = "licd";

/// `%ProgramData%\licd`.
pub fn home() -> PathBuf {
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join("licd")
}

pub fn config_path() -> PathBuf {
    home().join("licd.toml")
}

/// The config written at install when none exists.
pub fn default_config() -> String {
    let data = home().join("data");
    format!(
        "# licd configuration (every key is also a `licd serve` flag).\n\
         # After a change: restart the licd service (services.msc or `sc stop licd` then `sc start licd`).\n\
         data = '{}'\n\
         listen = \"0.0.0.0:443\"\n\
         # public_url = \"https://licenses.example.com\"\n\
         # acme = \"licenses.example.com\"\n\
         # smtp = \"smtp://127.0.0.1:25\"\n",
        data.display()
    )
}

#[cfg(windows)]
mod imp {
    use super::*;
    use std::ffi::OsString;
    use std::time::Duration;
    use windows_service::service::{
        ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
    use windows_service::{define_windows_service, service_dispatcher};

    /// Only SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544) may read the folder.
    fn restrict(dir: &std::path::Path) -> anyhow::Result<()> {
        let ok = std::process::Command::new("icacls")
            .arg(dir)
            .args([
                "/inheritance:r",
                "/grant:r",
                "*S-1-5-18:(OI)(CI)F",
                "/grant:r",
                "*S-1-5-32-544:(OI)(CI)F",
                "/T",
                "/Q",
            ])
            .status()?
            .success();
        anyhow::ensure!(ok, "icacls could not restrict {}", dir.display());
        Ok(())
    }

    pub fn install() -> anyhow::Result<()> {
        let home = home();
        std::fs::create_dir_all(home.join("data"))?;
        if !config_path().exists() {
            std::fs::write(config_path(), default_config())?;
        }
        restrict(&home)?;
        let manager = ServiceManager::local_computer(
            None::<&str>,
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
        )?;
        let info = ServiceInfo {
            name: OsString::from(SERVICE_NAME),
            display_name: OsString::from("licd license server"),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: std::env::current_exe()?,
            launch_arguments: vec![OsString::from("service"), OsString::from("run")],
            dependencies: vec![],
            account_name: None,
            account_password: None,
        };
        let service =
            manager.create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)?;
        service.set_description(
            "Software license server: protected-app API, back office, client cabinet",
        )?;
        service.start::<&str>(&[])?;
        eprintln!(
            "licd: service installed and started; configuration {}, log {}",
            config_path().display(),
            home.join("licd.log").display()
        );
        eprintln!(
            "licd: the first-admin link: licd setup-link --config {}",
            config_path().display()
        );
        Ok(())
    }

    pub fn uninstall() -> anyhow::Result<()> {
        let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
        let service = manager.open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )?;
        if service.query_status()?.current_state != ServiceState::Stopped {
            let _ = service.stop();
            for _ in 0..60 {
                if service.query_status()?.current_state == ServiceState::Stopped {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        service.delete()?;
        eprintln!(
            "licd: service removed; the data in {} stays",
            home().display()
        );
        Ok(())
    }

    define_windows_service!(ffi_service_main, service_main);

    pub fn run() -> anyhow::Result<()> {
        service_dispatcher::start(SERVICE_NAME, ffi_service_main)?;
        Ok(())
    }

    fn service_main(_args: Vec<OsString>) {
        if let Err(e) = serve_as_service() {
            tracing::error!("licd service: {e:#}");
        }
    }

    fn status(state: ServiceState, code: u32) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(code),
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        }
    }

    fn serve_as_service() -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = std::sync::Mutex::new(Some(tx));
        let handle = service_control_handler::register(SERVICE_NAME, move |event| match event {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(());
                }
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        })?;
        handle.set_service_status(status(ServiceState::StartPending, 0))?;
        let args = crate::config::ServeArgs {
            config: Some(config_path()),
            ..Default::default()
        };
        let result = crate::config::Config::resolve(&args)
            .map_err(anyhow::Error::from)
            .and_then(|config| {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()?;
                handle.set_service_status(status(ServiceState::Running, 0))?;
                rt.block_on(crate::cli::serve_until(config, async move {
                    let _ = rx.await;
                    tracing::info!("service stop requested");
                }))
            });
        let code = u32::from(result.is_err());
        handle.set_service_status(status(ServiceState::Stopped, code))?;
        result
    }
}

#[cfg(windows)]
pub use imp::{install, run, uninstall};

#[cfg(not(windows))]
fn windows_only() -> anyhow::Result<()> {
    anyhow::bail!(
        "licd service is for Windows; on Linux install the .deb (a systemd unit) or run licd serve"
    )
}

#[cfg(not(windows))]
pub fn install() -> anyhow::Result<()> {
    windows_only()
}

#[cfg(not(windows))]
pub fn uninstall() -> anyhow::Result<()> {
    windows_only()
}

#[cfg(not(windows))]
pub fn run() -> anyhow::Result<()> {
    windows_only()
}

/// Where the service logs (a file, since a service has no console).
pub fn log_path() -> PathBuf {
    home().join("licd.log")
}
