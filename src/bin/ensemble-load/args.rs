//! The command line and its validation: every count and duration bounded, loopback targets only,
//! the phases named and ordered.

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(about = "Load a homeserver on loopback through the Matrix client-server and admin APIs")]
pub struct Args {
    /// Base URL of the server under test; only loopback hosts are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8008")]
    pub url: String,
    /// Register users with the shared secret (`/_synapse/admin/v1/register`), and an admin.
    #[arg(long)]
    pub shared_secret: Option<String>,
    /// Else: an admin's access token; users are made with `PUT /_synapse/admin/v2/users/{id}`.
    #[arg(long)]
    pub admin_token: Option<String>,
    /// The server's PID: report its CPU seconds per phase and its peak RSS (from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A second server (loopback) run through the same phases after the first; prints ratios.
    #[arg(long)]
    pub compare: Option<String>,
    #[arg(long)]
    pub compare_shared_secret: Option<String>,
    #[arg(long)]
    pub compare_admin_token: Option<String>,
    #[arg(long)]
    pub compare_server_pid: Option<u32>,
    /// Comma-separated phases to run (their prerequisites run unreported):
    /// register,create-rooms,join,send,spread,wake,burst,initial-sync,admin-users,members,purge
    #[arg(long, default_value = "register,create-rooms,join,send,spread,wake,burst,initial-sync,admin-users,members,purge")]
    pub phases: String,
    /// Users registered (each a sender, a joiner, a syncer).
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Rooms created; `spread` sends over all of them, `send` into the first.
    #[arg(long, default_value_t = 16)]
    pub rooms: usize,
    /// Concurrent clients in the register, join and send phases.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Messages sent in each of `send` and `spread`.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Concurrent long-polling /sync requests in `wake` (spread over the users).
    #[arg(long, default_value_t = 100)]
    pub long_polls: usize,
    /// Sends in `wake`, each awaited by every long-poll.
    #[arg(long, default_value_t = 5)]
    pub wake_rounds: usize,
    /// `wake`'s long-polls ask for lazy-loaded members, as Element's syncs do.
    #[arg(long)]
    pub wake_lazy: bool,
    /// Requests sent at once in each round of `burst` (spread over the users).
    #[arg(long, default_value_t = 100)]
    pub burst_size: usize,
    /// Rounds of `burst`.
    #[arg(long, default_value_t = 5)]
    pub burst_rounds: usize,
    /// Pause before each `wake` send so the long-polls are parked (0: 200 ms + 1 ms per 2 polls).
    #[arg(long, default_value_t = 0)]
    pub wake_settle_ms: u64,
    /// Requests of `GET /_synapse/admin/v2/users?limit=100` in `admin-users`.
    #[arg(long, default_value_t = 100)]
    pub admin_queries: usize,
    /// Room sizes for `members`, each capped by --max-members.
    #[arg(long, default_value = "10,100,1000")]
    pub member_sizes: String,
    #[arg(long, default_value_t = 1_000)]
    pub max_members: usize,
    /// Messages sent into each `members` room.
    #[arg(long, default_value_t = 2_000)]
    pub members_messages: usize,
    /// Rooms deleted with purge in `purge`, each first given --purge-messages messages.
    #[arg(long, default_value_t = 4)]
    pub purge_rooms: usize,
    #[arg(long, default_value_t = 200)]
    pub purge_messages: usize,
    /// Time limit of each phase: it stops starting work after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub max_secs: u64,
    /// Prefix of the generated user names (a fresh one per run by default).
    #[arg(long)]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Register,
    CreateRooms,
    Join,
    Send,
    Spread,
    Wake,
    Burst,
    InitialSync,
    AdminUsers,
    Members,
    Purge,
}

pub const ALL: [Phase; 11] = [
    Phase::Register,
    Phase::CreateRooms,
    Phase::Join,
    Phase::Send,
    Phase::Spread,
    Phase::Wake,
    Phase::Burst,
    Phase::InitialSync,
    Phase::AdminUsers,
    Phase::Members,
    Phase::Purge,
];

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Register => "register",
            Phase::CreateRooms => "create-rooms",
            Phase::Join => "join",
            Phase::Send => "send",
            Phase::Spread => "spread",
            Phase::Wake => "wake",
            Phase::Burst => "burst",
            Phase::InitialSync => "initial-sync",
            Phase::AdminUsers => "admin-users",
            Phase::Members => "members",
            Phase::Purge => "purge",
        }
    }

    /// Phases that need an admin's token (made with the shared secret, or given).
    pub fn needs_admin(self) -> bool {
        matches!(self, Phase::AdminUsers | Phase::Members | Phase::Purge)
    }
}

pub fn loopback_only(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else { return Err(format!("not a URL: {url}")) };
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme}"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err("userinfo in the URL is not accepted".into());
    }
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or("").to_owned()
    };
    if matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost") {
        Ok(())
    } else {
        Err(format!("refusing non-loopback target {host:?}"))
    }
}

/// The named phases, deduplicated, in the order they run.
pub fn parse_phases(list: &str) -> Result<Vec<Phase>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let phase = ALL.iter().copied().find(|p| p.name() == name).ok_or_else(|| format!("unknown phase {name:?}"))?;
        out.push(phase);
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err("no phases named".into());
    }
    Ok(out)
}

/// Room sizes for `members`, ascending, each at least 2 (a sender and one more) and at most `max`.
pub fn parse_sizes(list: &str, max: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let n: usize = s.parse().map_err(|_| format!("bad member size {s:?}"))?;
        if !(2..=max).contains(&n) {
            return Err(format!("member size {n} outside 2..={max} (raise --max-members, at most 10000)"));
        }
        out.push(n);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("no member sizes".into());
    }
    Ok(out)
}

fn bounded(name: &str, v: usize, lo: usize, hi: usize) -> Result<(), String> {
    if (lo..=hi).contains(&v) { Ok(()) } else { Err(format!("--{name} {v} outside {lo}..={hi}")) }
}

/// Everything the run will do, checked before any request is made.
#[derive(Debug)]
pub struct Plan {
    pub phases: Vec<Phase>,
    pub member_sizes: Vec<usize>,
}

pub fn validate(a: &Args) -> Result<Plan, String> {
    loopback_only(&a.url)?;
    bounded("users", a.users, 1, 10_000)?;
    bounded("rooms", a.rooms, 1, 10_000)?;
    bounded("clients", a.clients, 1, 1_024)?;
    bounded("messages", a.messages, 1, 10_000_000)?;
    bounded("long-polls", a.long_polls, 1, 2_000)?;
    bounded("wake-rounds", a.wake_rounds, 1, 1_000)?;
    bounded("wake-settle-ms", a.wake_settle_ms as usize, 0, 60_000)?;
    bounded("burst-size", a.burst_size, 1, 2_000)?;
    bounded("burst-rounds", a.burst_rounds, 1, 1_000)?;
    bounded("admin-queries", a.admin_queries, 1, 100_000)?;
    bounded("max-members", a.max_members, 2, 10_000)?;
    bounded("members-messages", a.members_messages, 1, 1_000_000)?;
    bounded("purge-rooms", a.purge_rooms, 1, 1_000)?;
    bounded("purge-messages", a.purge_messages, 0, 100_000)?;
    bounded("max-secs", a.max_secs as usize, 1, 3_600)?;
    if let Some(p) = &a.prefix
        && (p.is_empty() || p.len() > 40 || !p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    {
        return Err("--prefix: 1 to 40 lowercase letters or digits".into());
    }
    let phases = parse_phases(&a.phases)?;
    let member_sizes = parse_sizes(&a.member_sizes, a.max_members)?;
    let admin_phase = phases.iter().find(|p| p.needs_admin());
    if let Some(p) = admin_phase
        && a.shared_secret.is_none()
        && a.admin_token.is_none()
    {
        return Err(format!("phase {} needs --shared-secret or --admin-token", p.name()));
    }
    if let Some(url) = &a.compare {
        loopback_only(url)?;
        if let Some(p) = admin_phase
            && a.compare_shared_secret.is_none()
            && a.compare_admin_token.is_none()
        {
            return Err(format!("phase {} needs --compare-shared-secret or --compare-admin-token", p.name()));
        }
    }
    Ok(Plan { phases, member_sizes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["ensemble-load", "--shared-secret", "s"];
        v.extend_from_slice(extra);
        Args::parse_from(v)
    }

    #[test]
    fn loopback_hosts_only() {
        for ok in ["http://127.0.0.1:8008", "http://localhost/", "http://[::1]:8008/x", "https://127.0.0.1"] {
            assert!(loopback_only(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8008",
            "http://example.org",
            "http://127.0.0.1.evil.org",
            "http://127.0.0.1@evil.org",
            "ftp://127.0.0.1",
            "127.0.0.1:8008",
            "http://[::2]:80",
        ] {
            assert!(loopback_only(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phases_parse_dedupe_and_order() {
        assert_eq!(parse_phases("send, register,send").unwrap(), vec![Phase::Register, Phase::Send]);
        assert_eq!(parse_phases(&ALL.map(Phase::name).join(",")).unwrap(), ALL.to_vec());
        assert!(parse_phases("send,bogus").unwrap_err().contains("bogus"));
        assert!(parse_phases(" , ").is_err());
    }

    #[test]
    fn member_sizes_bounded() {
        assert_eq!(parse_sizes("1000,10,100,10", 1000).unwrap(), vec![10, 100, 1000]);
        assert!(parse_sizes("10,1001", 1000).is_err());
        assert!(parse_sizes("1", 1000).is_err());
        assert!(parse_sizes("ten", 1000).is_err());
        assert!(parse_sizes("", 1000).is_err());
    }

    #[test]
    fn defaults_validate() {
        let plan = validate(&args(&[])).unwrap();
        assert_eq!(plan.phases, ALL.to_vec());
        assert_eq!(plan.member_sizes, vec![10, 100, 1000]);
    }

    #[test]
    fn limits_are_enforced() {
        for bad in [
            &["--long-polls", "2001"][..],
            &["--long-polls", "0"],
            &["--clients", "0"],
            &["--max-secs", "0"],
            &["--max-members", "20000", "--member-sizes", "10"],
            &["--url", "http://192.168.1.2:8008"],
            &["--compare", "http://8.8.8.8"],
            &["--prefix", "Bad Name"],
        ] {
            assert!(validate(&args(bad)).is_err(), "{bad:?}");
        }
        assert!(validate(&args(&["--long-polls", "2000"])).is_ok());
    }

    #[test]
    fn admin_phases_need_credentials() {
        let open = Args::parse_from(["ensemble-load", "--phases", "register,send"]);
        assert!(validate(&open).is_ok());
        let purge = Args::parse_from(["ensemble-load", "--phases", "purge"]);
        assert!(validate(&purge).unwrap_err().contains("purge"));
        let token = Args::parse_from(["ensemble-load", "--phases", "purge", "--admin-token", "t"]);
        assert!(validate(&token).is_ok());
        let compare = args(&["--phases", "admin-users", "--compare", "http://127.0.0.1:18008"]);
        assert!(validate(&compare).unwrap_err().contains("compare"));
        let both = args(&["--phases", "admin-users", "--compare", "http://127.0.0.1:18008", "--compare-shared-secret", "x"]);
        assert!(validate(&both).is_ok());
    }
}
