//! HTTP load tool: drives a running homeserver on loopback through the Matrix client-server API
//! and the Synapse admin API only, so one run works against Ensemble and against Synapse.
//! Phases (each selectable with --phases, each bounded in count and by --max-secs): register,
//! create-rooms, join, send (one room), spread (over R rooms), wake (send -> /sync long-poll
//! latency), burst (S small requests at once: the machine's floor under wake), initial-sync, admin-users, members (send rate by room size), purge (room DELETE
//! with purge until complete). Prints one JSON object on stdout, a progress line per phase on
//! stderr, and with --compare the ratio table of the two servers on stderr.

mod args;
mod client;
mod phases;
mod procstat;
mod ratios;
mod stats;

use args::{Args, Phase, Plan};
use clap::Parser;
use client::{Auth, Client};
use phases::World;
use serde_json::{Map, Value, json};
use stats::Sample;

/// One server to load.
struct Target {
    url: String,
    auth: Auth,
    pid: Option<u32>,
    prefix: String,
}

/// Measures phases on one target: CPU seconds of the server around each, the progress line,
/// and the phase's entry in the output when it was asked for (`None`: setup, never reported).
struct Recorder<'a> {
    target: &'a Target,
    plan: &'a Plan,
    phases: Map<String, Value>,
    /// Reported phases in the order they ran.
    order: Vec<String>,
}

impl Recorder<'_> {
    async fn measure<F: Future<Output = Sample>>(&mut self, phase: Option<Phase>, label: &str, extra: Value, fut: F) {
        self.measure_with(phase, label, extra, async { (fut.await, ()) }).await
    }

    /// As `measure`, for a phase that also makes something (users, rooms).
    async fn measure_with<T, F: Future<Output = (Sample, T)>>(&mut self, phase: Option<Phase>, label: &str, extra: Value, fut: F) -> T {
        let cpu0 = self.target.pid.and_then(procstat::cpu_secs);
        let (sample, made) = fut.await;
        let cpu1 = self.target.pid.and_then(procstat::cpu_secs);
        let mut v = stats::summarize(&sample);
        if let (Some(a), Some(b)) = (cpu0, cpu1) {
            v["server_cpu_secs"] = json!(((b - a) * 100.0).round() / 100.0);
        }
        if let Some(kb) = self.target.pid.and_then(procstat::peak_rss_kb) {
            v["server_peak_rss_kb"] = json!(kb);
        }
        if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
            o.extend(e);
        }
        let reported = phase.is_some_and(|p| self.plan.phases.contains(&p));
        eprintln!(
            "[{}] {label}{}: {} in {:.2} s, {:.1}/s, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors{}",
            self.target.url,
            if reported { "" } else { " (setup)" },
            v["count"],
            v["seconds"].as_f64().unwrap_or(0.0),
            v["rate"].as_f64().unwrap_or(0.0),
            v["p50_ms"].as_f64().unwrap_or(0.0),
            v["p90_ms"].as_f64().unwrap_or(0.0),
            v["p99_ms"].as_f64().unwrap_or(0.0),
            v["max_ms"].as_f64().unwrap_or(0.0),
            sample.errors,
            sample.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default(),
        );
        if reported {
            self.phases.insert(label.to_owned(), v);
            self.order.push(label.to_owned());
        }
        made
    }
}

fn needs(plan: &Plan, any: &[Phase]) -> bool {
    plan.phases.iter().any(|p| any.contains(p))
}

async fn run_target(a: &Args, plan: &Plan, t: &Target) -> Value {
    let mut rec = Recorder { target: t, plan, phases: Map::new(), order: Vec::new() };
    let outcome = load(a, plan, t, &mut rec).await;
    let mut out = json!({"url": t.url, "phases": rec.phases, "phase_order": rec.order});
    if let Some(kb) = t.pid.and_then(procstat::peak_rss_kb) {
        out["server_peak_rss_kb"] = json!(kb);
    }
    if let Err(e) = outcome {
        eprintln!("[{}] stopped: {e}", t.url);
        out["error"] = json!(e);
    }
    out
}

async fn load(a: &Args, plan: &Plan, t: &Target, rec: &mut Recorder<'_>) -> Result<(), String> {
    let client = Client::new(&t.url, a.max_secs, a.clients.max(a.long_polls).max(a.burst_size))?;
    let admin = match &t.auth {
        Auth::SharedSecret(_) => Some(client.register(&t.auth, &format!("{}admin", t.prefix), None, true).await?),
        Auth::AdminToken(tok) => Some(tok.clone()),
        Auth::Open => None,
    };
    let admin_server = match &admin {
        Some(tok) => Some(client.whoami(tok).await?),
        None => None,
    };
    let server_of = |id: &str| id.split_once(':').map(|(_, s)| s.to_owned()).unwrap_or_default();
    let server_name = admin_server.as_deref().map(server_of);
    let mut w = World {
        client,
        prefix: t.prefix.clone(),
        server_name: server_name.clone().unwrap_or_default(),
        admin,
        tokens: Vec::new(),
        rooms: Vec::new(),
        clients: a.clients,
        max_secs: a.max_secs,
    };

    let (auth, prefix) = (&t.auth, &t.prefix);
    let registering = phases::collect(a.users, a.clients, a.max_secs, |i| {
        let (c, sn, name) = (&w.client, server_name.as_deref(), format!("{prefix}u{i}"));
        async move { c.register(auth, &name, sn, false).await }
    });
    let tokens = rec.measure_with(Some(Phase::Register), "register", json!({}), registering).await;
    if tokens.is_empty() {
        return Err("no user could be registered".into());
    }
    w.tokens = tokens;
    if w.server_name.is_empty() {
        w.server_name = server_of(&w.client.whoami(&w.tokens[0]).await?);
    }

    let roomy = [Phase::CreateRooms, Phase::Join, Phase::Send, Phase::Spread, Phase::Wake, Phase::InitialSync];
    if needs(plan, &roomy) {
        let rooms = rec.measure_with(Some(Phase::CreateRooms), "create-rooms", json!({}), w.create_rooms(a.rooms)).await;
        if rooms.is_empty() {
            return Err("no room could be created".into());
        }
        w.rooms = rooms;
        if w.tokens.len() > 1 {
            let rooms = w.rooms.clone();
            rec.measure(Some(Phase::Join), "join", json!({"rooms": rooms.len()}), w.join_all(&rooms)).await;
        }
    }
    if plan.phases.contains(&Phase::Send) {
        let one = [w.rooms[0].clone()];
        rec.measure(Some(Phase::Send), "send", json!({"clients": a.clients}), w.send("s", a.messages, &one, w.tokens.len())).await;
    }
    if plan.phases.contains(&Phase::Spread) {
        let rooms = w.rooms.clone();
        let extra = json!({"clients": a.clients, "rooms": rooms.len()});
        rec.measure(Some(Phase::Spread), "spread", extra, w.send("r", a.messages, &rooms, w.tokens.len())).await;
    }
    if plan.phases.contains(&Phase::Wake) {
        let extra = json!({"long_polls": a.long_polls, "rounds": a.wake_rounds, "lazy_members": a.wake_lazy});
        rec.measure(Some(Phase::Wake), "wake", extra, w.wake(a.long_polls, a.wake_rounds, a.wake_settle_ms, a.wake_lazy)).await;
    }
    if plan.phases.contains(&Phase::Burst) {
        let extra = json!({"size": a.burst_size, "rounds": a.burst_rounds});
        rec.measure(Some(Phase::Burst), "burst", extra, w.burst(a.burst_size, a.burst_rounds)).await;
    }
    if plan.phases.contains(&Phase::InitialSync) {
        rec.measure(Some(Phase::InitialSync), "initial-sync", json!({"rooms": w.rooms.len()}), w.initial_sync()).await;
    }
    if plan.phases.contains(&Phase::AdminUsers) {
        rec.measure(Some(Phase::AdminUsers), "admin-users", json!({}), w.admin_users(a.admin_queries)).await;
    }
    if plan.phases.contains(&Phase::Members) {
        members(a, plan, &w, rec).await?;
    }
    if plan.phases.contains(&Phase::Purge) {
        let rooms = rec.measure_with(None, "purge rooms", json!({}), w.create_rooms(a.purge_rooms)).await;
        rec.measure(None, "purge messages", json!({}), w.send("p", a.purge_messages * rooms.len(), &rooms, 1)).await;
        rec.measure(Some(Phase::Purge), "purge", json!({"messages_per_room": a.purge_messages}), w.purge(&rooms)).await;
    }
    Ok(())
}

/// For each size s: a room of s members, of which up to --clients registered users send and
/// the rest are password-less users the admin made and joined; then --members-messages sends.
async fn members(a: &Args, plan: &Plan, w: &World, rec: &mut Recorder<'_>) -> Result<(), String> {
    let largest = plan.member_sizes.last().copied().unwrap_or(0);
    let senders_for = |size: usize| w.tokens.len().min(a.clients).min(size);
    let pool_len = largest - senders_for(largest);
    let pool = rec.measure_with(None, "members users", json!({}), w.make_pool(pool_len)).await;
    for &size in &plan.member_sizes {
        let senders = senders_for(size);
        let want = size - senders;
        if pool.len() < want {
            return Err(format!("members: only {} of {want} extra users were made", pool.len()));
        }
        let room = w.client.create_room(&w.tokens[0], &format!("members {size}")).await?;
        let rooms = [room.clone()];
        rec.measure(None, &format!("members-{size} joins"), json!({}), async {
            let mut s = phases::drive(senders - 1, w.clients, w.max_secs, |i| w.client.join(&w.tokens[i + 1], &room)).await;
            s.merge(w.force_join(&room, &pool[..want]).await);
            s
        })
        .await;
        let extra = json!({"members": size, "senders": senders});
        rec.measure(
            Some(Phase::Members),
            &format!("members-{size}"),
            extra,
            w.send(&format!("m{size}x"), a.members_messages, &rooms, senders),
        )
        .await;
    }
    Ok(())
}

fn auth_of(secret: &Option<String>, token: &Option<String>) -> Auth {
    match (secret, token) {
        (Some(s), _) => Auth::SharedSecret(s.clone()),
        (None, Some(t)) => Auth::AdminToken(t.clone()),
        (None, None) => Auth::Open,
    }
}

async fn run(a: &Args, plan: &Plan) -> (Value, Option<String>) {
    let prefix = a.prefix.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        format!("load{secs:x}")
    });
    let first = Target { url: a.url.clone(), auth: auth_of(&a.shared_secret, &a.admin_token), pid: a.server_pid, prefix: prefix.clone() };
    let ra = run_target(a, plan, &first).await;
    let Some(url2) = &a.compare else { return (ra, None) };
    // Its own names, so comparing a server with itself works too.
    let second = Target {
        url: url2.clone(),
        auth: auth_of(&a.compare_shared_secret, &a.compare_admin_token),
        pid: a.compare_server_pid,
        prefix: format!("{prefix}b"),
    };
    let rb = run_target(a, plan, &second).await;
    let empty = Map::new();
    let phases = |v: &Value| v["phases"].as_object().cloned().unwrap_or_else(|| empty.clone());
    let r = ratios::ratios(&phases(&ra), &phases(&rb));
    let order: Vec<String> = serde_json::from_value(ra["phase_order"].clone()).unwrap_or_default();
    let table = ratios::table(&r, &order, &a.url, url2);
    (json!({"targets": [ra, rb], "ratios": r}), Some(table))
}

fn main() {
    ensemble::federation::tls::install_default_provider();
    let args = Args::parse();
    let plan = match args::validate(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    let (out, table) = rt.block_on(run(&args, &plan));
    println!("{out}");
    if let Some(t) = table {
        eprint!("{t}");
    }
    let failed = out.get("error").is_some() || out["targets"].as_array().is_some_and(|ts| ts.iter().any(|t| t.get("error").is_some()));
    if failed {
        std::process::exit(1);
    }
}
