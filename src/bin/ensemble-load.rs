//! HTTP load tool: drives a running Ensemble (or any homeserver) on loopback with N users,
//! R rooms and C concurrent clients sending messages, and prints events/s and latency
//! percentiles as JSON. Bounded in count (--messages) and time (--max-secs).

use clap::Parser;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Load a homeserver on loopback with message sends")]
struct Args {
    /// Base URL; only loopback hosts are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8008")]
    url: String,
    #[arg(long, default_value_t = 32)]
    users: usize,
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Total messages to send.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Stop after this many seconds even if not all messages were sent.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// Prefix for the generated user names (vary it between runs against one server).
    #[arg(long, default_value = "load")]
    prefix: String,
}

/// What the tool prints when a phase fails.
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn loopback_only(url: &str) -> Fallible<()> {
    let host = url.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost") {
        Ok(())
    } else {
        Err(format!("refusing non-loopback target {host}").into())
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Value) -> Fallible<(u16, Value)> {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let v = res.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn register(&self, name: &str) -> Fallible<String> {
        let body = json!({"username": name, "password": "load-test-password", "auth": {"type": "m.login.dummy"}});
        let (status, v) = self.call(reqwest::Method::POST, "/_matrix/client/v3/register", None, body).await?;
        if status != 200 {
            // Already registered by an earlier run: log in instead.
            let login =
                json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": "load-test-password"});
            let (s2, v2) = self.call(reqwest::Method::POST, "/_matrix/client/v3/login", None, login).await?;
            if s2 != 200 {
                return Err(format!("register {name}: {status} {v}; login: {s2} {v2}").into());
            }
            return v2["access_token"].as_str().map(str::to_owned).ok_or("no token".into());
        }
        v["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no token in {v}").into())
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(args: Args) -> Fallible<Value> {
    loopback_only(&args.url)?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(args.clients * 2).build().map_err(|e| e.to_string())?,
        base: args.url.trim_end_matches('/').to_owned(),
    });
    let mut tokens = Vec::new();
    for chunk in (0..args.users).collect::<Vec<_>>().chunks(16) {
        let regs = chunk.iter().map(|i| {
            let c = client.clone();
            let name = format!("{}{}", args.prefix, i);
            async move { c.register(&name).await }
        });
        for t in futures_util::future::join_all(regs).await {
            tokens.push(t?);
        }
    }
    let mut rooms = Vec::new();
    for r in 0..args.rooms {
        let (s, v) = client
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                Some(&tokens[0]),
                json!({"preset": "public_chat", "name": format!("load room {r}")}),
            )
            .await?;
        if s != 200 {
            return Err(format!("createRoom: {s} {v}").into());
        }
        rooms.push(v["room_id"].as_str().unwrap_or_default().to_owned());
    }
    for t in tokens.iter().skip(1) {
        let joins = rooms.iter().map(|room| {
            let c = client.clone();
            let path = format!(
                "/_matrix/client/v3/rooms/{}/join",
                percent_encoding::utf8_percent_encode(room, percent_encoding::NON_ALPHANUMERIC)
            );
            let t = t.clone();
            async move { c.call(reqwest::Method::POST, &path, Some(&t), json!({})).await }
        });
        for r in futures_util::future::join_all(joins).await {
            let (s, v) = r?;
            if s != 200 {
                return Err(format!("join: {s} {v}").into());
            }
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    let started = Instant::now();
    let tokens = Arc::new(tokens);
    let rooms = Arc::new(rooms);
    let workers = (0..args.clients).map(|w| {
        let (c, next, errors, tokens, rooms) = (client.clone(), next.clone(), errors.clone(), tokens.clone(), rooms.clone());
        let total = args.messages;
        let run_id = std::process::id();
        async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let token = &tokens[(w + i) % tokens.len()];
                let room = &rooms[i % rooms.len()];
                let path = format!(
                    "/_matrix/client/v3/rooms/{}/send/m.room.message/load-{run_id}-{i}",
                    percent_encoding::utf8_percent_encode(room, percent_encoding::NON_ALPHANUMERIC)
                );
                let t0 = Instant::now();
                match c
                    .call(reqwest::Method::PUT, &path, Some(token), json!({"msgtype": "m.text", "body": format!("load message {i}")}))
                    .await
                {
                    Ok((200, _)) => lat.push(t0.elapsed().as_secs_f64() * 1000.0),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }
    });
    let mut lat: Vec<f64> = futures_util::future::join_all(workers).await.into_iter().flatten().collect();
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(json!({
        "users": args.users, "rooms": args.rooms, "clients": args.clients,
        "events": lat.len(), "errors": errors.load(Ordering::Relaxed), "seconds": secs,
        "events_per_sec": lat.len() as f64 / secs,
        "p50_ms": pct(&lat, 0.50), "p99_ms": pct(&lat, 0.99), "max_ms": lat.last().copied().unwrap_or(0.0),
    }))
}

fn main() {
    ensemble::federation::tls::install_default_provider();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
