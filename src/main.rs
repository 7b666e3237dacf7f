//! The `ensemble` command: serve, generate-config, register-user, port-db.

use clap::{Parser, Subcommand};
use ensemble::Config;
use ensemble::error::ErrorKind;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "ensemble", version, about = "A Matrix homeserver in which every room and user is an actor")]
struct Cli {
    /// Config file (TOML). Without one, defaults plus ENSEMBLE_* environment overrides.
    #[arg(long, short, global = true, env = "ENSEMBLE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Print a config with safe defaults and a fresh registration secret, or write it to --output.
    GenerateConfig {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Create a user directly in the database (the server need not run).
    RegisterUser {
        localpart: String,
        #[arg(long)]
        admin: bool,
        /// Read the password from this file instead of prompting.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Register through a running server's /_synapse/admin/v1/register instead of the database.
        #[arg(long, requires = "shared_secret_file")]
        url: Option<String>,
        /// File holding the registration shared secret (with --url).
        #[arg(long, requires = "url")]
        shared_secret_file: Option<PathBuf>,
        /// Synapse user_type to set (with --url).
        #[arg(long)]
        user_type: Option<String>,
    },
    /// Write a consistent copy of the SQLite store to a new file, while the server runs.
    ///
    /// The copy is one self-contained file (no -wal companion). Back up the data_dir's media/
    /// and signing.key beside it; the search index can be rebuilt from the store (the admin
    /// reindex). A PostgreSQL store is backed up with pg_dump instead.
    Backup {
        /// The new file to write (never overwritten).
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy a stopped server's SQLite store into a PostgreSQL database.
    ///
    /// Stop the server first. The target should be an empty database (the PostgreSQL schema is
    /// created here); a port that stopped part way resumes when run again, and running it after
    /// it finished changes nothing. Only the database moves: the data_dir (search index, media,
    /// signing key) is used unchanged by the server you then start with
    /// database_url = "postgres://...". Text holding a NUL character, which PostgreSQL cannot
    /// store, stops the port with the table and row named.
    PortDb {
        /// The SQLite store: sqlite://PATH or a path (a server keeps it at <data_dir>/ensemble.db).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
        #[arg(long)]
        to: String,
        /// Rows per chunk; each chunk commits in one transaction.
        #[arg(long, default_value_t = 2000)]
        chunk_rows: usize,
        /// Stop after this many chunks, as an interruption would (for testing resumption).
        #[arg(long, hide = true)]
        max_chunks: Option<usize>,
    },
}

/// What the CLI prints when a command fails.
type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Libraries that log per event at `info` or below, kept to their warnings unless the filter names
/// them: ruma's rule checks log every accepted event, and ruma's push rules open a span, which
/// becomes a log line, for every field of every event evaluated (a dozen lines per message at the
/// default `info`, where an operator expects a line per account or room made).
const PER_EVENT_LOGGERS: [&str; 2] = ["ruma_state_res", "ruma_common"];

fn init_logging(filter: &str) {
    let mut builder = env_logger::Builder::new();
    for module in PER_EVENT_LOGGERS {
        builder.filter_module(module, log::LevelFilter::Warn);
    }
    builder.parse_filters(filter).format_timestamp_millis().init();
}

fn read_password(file: Option<&PathBuf>) -> CliResult<String> {
    let raw = match file {
        Some(f) => std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?,
        None => {
            eprint!("Password: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
            line
        }
    };
    let pw = raw.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        return Err("the password must not be empty".into());
    }
    Ok(pw)
}

fn register_user(cfg: &Config, localpart: &str, admin: bool, password_file: Option<&PathBuf>) -> CliResult<()> {
    // Before the password prompt: a bad name is refused without typing a password first.
    let user_id = ensemble::ids::local_user_from_path(&localpart.to_lowercase(), &cfg.server_name).map_err(|e| e.message())?;
    ensemble::ids::check_new_localpart(cfg, user_id.localpart())
        .map_err(|e| format!("invalid localpart {localpart:?}: {}", e.message()))?;
    let pw = read_password(password_file)?;
    let user_id = ensemble::service::accounts::create_user_offline(cfg, localpart, &pw, admin).map_err(|e| match e.kind() {
        ErrorKind::UserInUse => format!("{user_id} already exists"),
        _ => e.message(),
    })?;
    println!("Created {user_id}{}", if admin { " (admin)" } else { "" });
    Ok(())
}

fn main() {
    ensemble::federation::tls::install_default_provider();
    let cli = Cli::parse();
    if let Some(Command::GenerateConfig { output }) = &cli.command {
        let text = Config::generate_toml();
        match output {
            Some(p) => {
                if let Err(e) = std::fs::write(p, text) {
                    eprintln!("writing {}: {e}", p.display());
                    std::process::exit(1);
                }
            }
            None => print!("{text}"),
        }
        return;
    }
    if let Some(Command::PortDb { from, to, chunk_rows, max_chunks }) = &cli.command {
        // Needs no config: both databases are named on the command line.
        init_logging("warn");
        let opts = ensemble::service::port_db::Options { chunk_rows: *chunk_rows, max_chunks: *max_chunks, ..Default::default() };
        if let Err(e) = ensemble::service::port_db::port_db(from, to, &opts, &mut |line| println!("{line}")) {
            eprintln!("error: {}", e.message());
            std::process::exit(1);
        }
        return;
    }
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("config: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&cfg.log);
    let result = match cli.command {
        Some(Command::RegisterUser { localpart, admin, password_file, url: Some(url), shared_secret_file: Some(secret), user_type }) => {
            register_remote(&url, &secret, &localpart, admin, password_file.as_ref(), user_type.as_deref())
        }
        Some(Command::RegisterUser { localpart, admin, password_file, .. }) => {
            register_user(&cfg, &localpart, admin, password_file.as_ref())
        }
        Some(Command::Backup { to }) => match ensemble::service::backup::backup(&cfg, &to) {
            Ok(bytes) => {
                println!("wrote {} ({bytes} bytes)", to.display());
                Ok(())
            }
            Err(e) => Err(e.message().into()),
        },
        _ => serve(cfg),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The flow of Synapse's `register_new_matrix_user`: GET a nonce, POST with the HMAC.
fn register_remote(
    url: &str,
    secret_file: &PathBuf,
    localpart: &str,
    admin: bool,
    password_file: Option<&PathBuf>,
    user_type: Option<&str>,
) -> CliResult<()> {
    let secret = std::fs::read_to_string(secret_file).map_err(|e| format!("{}: {e}", secret_file.display()))?.trim().to_owned();
    let pw = read_password(password_file)?;
    let endpoint = format!("{}/_synapse/admin/v1/register", url.trim_end_matches('/'));
    let username = localpart.to_owned();
    actix_rt::System::new().block_on(async move {
        let http = reqwest::Client::new();
        let nonce: serde_json::Value =
            http.get(&endpoint).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        let nonce = nonce["nonce"].as_str().ok_or("the server gave no nonce (is shared-secret registration enabled?)")?.to_owned();
        let mac = ensemble::auth::shared_secret::mac(&secret, &nonce, &username, &pw, admin, user_type);
        let mut body = serde_json::json!({"nonce": nonce, "username": username, "password": pw, "admin": admin, "mac": mac});
        if let Some(t) = user_type {
            body["user_type"] = serde_json::json!(t);
        }
        let res = http.post(&endpoint).json(&body).send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        let reply: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", reply["error"].as_str().unwrap_or("registration failed")).into());
        }
        println!("Created {}{}", reply["user_id"].as_str().unwrap_or("?"), if admin { " (admin)" } else { "" });
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn serve(cfg: Config) -> CliResult<()> {
    actix_rt::System::new().block_on(async move {
        let server = ensemble::start(cfg).await?;
        log::info!("press Ctrl-C to stop");
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
        log::info!("shutting down");
        server.stop().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
