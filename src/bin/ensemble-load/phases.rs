//! The phases: each drives the public client-server or admin API and returns its sample.

use crate::client::{Client, enc};
use crate::stats::Sample;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::{Duration, Instant};

/// What the earlier phases made on one target.
pub struct World {
    pub client: Client,
    pub prefix: String,
    pub server_name: String,
    pub admin: Option<String>,
    /// Access tokens of the registered users; the first creates the rooms.
    pub tokens: Vec<String>,
    pub rooms: Vec<String>,
    pub clients: usize,
    pub max_secs: u64,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// `f(0..n)` on `concurrency` workers, each starting its next item only before the phase's
/// deadline; one latency per success.
pub async fn drive<F, Fut>(n: usize, concurrency: usize, max_secs: u64, f: F) -> Sample
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(max_secs);
    let next = Cell::new(0usize);
    let workers = (0..concurrency.clamp(1, n.max(1))).map(|_| async {
        let mut s = Sample::default();
        loop {
            let i = next.get();
            if i >= n || Instant::now() >= deadline {
                break;
            }
            next.set(i + 1);
            let t0 = Instant::now();
            match f(i).await {
                Ok(()) => s.lat_ms.push(ms(t0)),
                Err(e) => s.fail(e),
            }
        }
        s
    });
    let mut total = Sample::default();
    for s in join_all(workers).await {
        total.merge(s);
    }
    total.seconds = started.elapsed().as_secs_f64();
    total
}

/// Runs `f` on each index and keeps what succeeded, in index order.
pub async fn collect<F, Fut>(n: usize, concurrency: usize, max_secs: u64, f: F) -> (Sample, Vec<String>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<String, String>>,
{
    let made = RefCell::new(vec![None; n]);
    let sample = drive(n, concurrency, max_secs, |i| {
        let fut = f(i);
        let made = &made;
        async move {
            let v = fut.await?;
            made.borrow_mut()[i] = Some(v);
            Ok(())
        }
    })
    .await;
    (sample, made.into_inner().into_iter().flatten().collect())
}

impl World {
    fn token(&self, i: usize) -> &str {
        &self.tokens[i % self.tokens.len()]
    }

    pub async fn create_rooms(&self, n: usize) -> (Sample, Vec<String>) {
        collect(n, self.clients, self.max_secs, |i| {
            let name = format!("load room {i}");
            async move { self.client.create_room(self.token(0), &name).await }
        })
        .await
    }

    /// Every user but the creator joins every room.
    pub async fn join_all(&self, rooms: &[String]) -> Sample {
        let others = self.tokens.len() - 1;
        drive(others * rooms.len(), self.clients, self.max_secs, |i| self.client.join(self.token(1 + i % others), &rooms[i / others])).await
    }

    /// `n` messages from the users in turn, message i into `rooms[i % len]`.
    pub async fn send(&self, tag: &str, n: usize, rooms: &[String], senders: usize) -> Sample {
        drive(n, self.clients, self.max_secs, |i| {
            let body = format!("load message {i}");
            let txn = format!("{}{tag}{i}", self.prefix);
            async move { self.client.send(self.token(i % senders), &rooms[i % rooms.len()], &txn, &body).await }
        })
        .await
    }

    /// One full initial /sync per user, one at a time: the latency a client sees at login.
    pub async fn initial_sync(&self) -> Sample {
        drive(self.tokens.len(), 1, self.max_secs, |i| async move {
            self.client.ok(Method::GET, "/_matrix/client/v3/sync?timeout=0", Some(self.token(i)), None).await.map(drop)
        })
        .await
    }

    pub async fn admin_users(&self, n: usize) -> Sample {
        let admin = self.admin.as_deref();
        drive(n, 1, self.max_secs, |_| async move {
            self.client.ok(Method::GET, "/_synapse/admin/v2/users?limit=100", admin, None).await.map(drop)
        })
        .await
    }

    /// S long-polls spread over the users wait on the first room; per round one message is sent
    /// and each poll's latency runs from just before that send to its receipt of the event.
    /// With `lazy`, the polls' filter asks for lazy-loaded members (as Element's does) instead of
    /// no state.
    pub async fn wake(&self, polls: usize, rounds: usize, settle_ms: u64, lazy: bool) -> Sample {
        let room = &self.rooms[0];
        let state = if lazy { json!({"lazy_load_members": true}) } else { json!({"types": []}) };
        let filter = json!({
            "room": {"rooms": [room], "timeline": {"limit": 10}, "state": state,
                     "ephemeral": {"types": []}, "account_data": {"types": []}},
            "presence": {"types": []}, "account_data": {"types": []},
        })
        .to_string();
        let filter = enc(&filter);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.max_secs);
        let mut sample = Sample::default();
        let users = self.tokens.len().min(polls);
        let first = join_all((0..users).map(|u| {
            let path = format!("/_matrix/client/v3/sync?timeout=0&filter={filter}");
            async move { self.client.ok(Method::GET, &path, Some(self.token(u)), None).await }
        }))
        .await;
        let mut since_by_user = Vec::new();
        for r in first {
            match r.map(|v| v["next_batch"].as_str().map(str::to_owned)) {
                Ok(Some(nb)) => since_by_user.push(nb),
                Ok(None) => sample.fail("initial sync without next_batch".into()),
                Err(e) => sample.fail(e),
            }
        }
        if since_by_user.len() < users {
            sample.seconds = started.elapsed().as_secs_f64();
            return sample;
        }
        let mut since: Vec<String> = (0..polls).map(|k| since_by_user[k % users].clone()).collect();
        let settle = Duration::from_millis(if settle_ms > 0 { settle_ms } else { 200 + polls as u64 / 2 });
        for round in 0..rounds {
            if Instant::now() + settle >= deadline {
                break;
            }
            let marker = format!("{}-wake-{round}", self.prefix);
            let waiting = join_all(since.iter().enumerate().map(|(k, s)| self.poll_until(self.token(k), s, &filter, &marker, k, deadline)));
            let sending = async {
                tokio::time::sleep(settle).await;
                let t0 = Instant::now();
                self.client.send(self.token(0), room, &format!("{}w{round}", self.prefix), &marker).await.map(|_| t0)
            };
            let (results, sent) = futures_util::future::join(waiting, sending).await;
            let t0 = match sent {
                Ok(t0) => t0,
                Err(e) => {
                    sample.fail(e);
                    break;
                }
            };
            for (k, r) in results.into_iter().enumerate() {
                match r {
                    Ok((at, next)) => {
                        sample.lat_ms.push(at.saturating_duration_since(t0).as_secs_f64() * 1000.0);
                        since[k] = next;
                    }
                    Err(e) => sample.fail(e),
                }
            }
        }
        sample.seconds = started.elapsed().as_secs_f64();
        sample
    }

    /// Rounds of `size` `whoami` requests sent at once, spread over the users, each latency from
    /// the round's start: what answering that many small authenticated requests together costs
    /// this machine (client and server), the floor under `wake`'s latencies. A first round, not
    /// counted, opens the connections.
    pub async fn burst(&self, size: usize, rounds: usize) -> Sample {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.max_secs);
        let mut sample = Sample::default();
        for round in 0..=rounds {
            if Instant::now() >= deadline {
                break;
            }
            let t0 = Instant::now();
            let answers = join_all((0..size).map(|k| async move {
                self.client.ok(Method::GET, "/_matrix/client/v3/account/whoami", Some(self.token(k)), None).await.map(|_| Instant::now())
            }))
            .await;
            if round == 0 {
                continue;
            }
            for a in answers {
                match a {
                    Ok(at) => sample.lat_ms.push(at.saturating_duration_since(t0).as_secs_f64() * 1000.0),
                    Err(e) => sample.fail(e),
                }
            }
        }
        sample.seconds = started.elapsed().as_secs_f64();
        sample
    }

    /// Long-polls from `since` until a timeline event of the first room carries `marker`; the
    /// instant it arrived and the token to continue from.
    async fn poll_until(
        &self,
        token: &str,
        since: &str,
        filter: &str,
        marker: &str,
        k: usize,
        deadline: Instant,
    ) -> Result<(Instant, String), String> {
        let room = &self.rooms[0];
        let mut since = since.to_owned();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("phase deadline passed before the event arrived".into());
            }
            // Distinct timeouts: no server may merge identical concurrent requests into one.
            let timeout = left.as_millis().min(30_000) as usize + k % 1_000;
            let path = format!("/_matrix/client/v3/sync?since={}&timeout={timeout}&filter={filter}", enc(&since));
            let v = self.client.ok(Method::GET, &path, Some(token), None).await?;
            let at = Instant::now();
            if let Some(next) = v["next_batch"].as_str() {
                since = next.to_owned();
            }
            let events = v["rooms"]["join"][room]["timeline"]["events"].as_array();
            if events.is_some_and(|evs| evs.iter().any(|e| e["content"]["body"] == marker)) {
                return Ok((at, since));
            }
        }
    }

    /// Users with no password and no token (admin PUT), made to fill the `members` rooms.
    pub async fn make_pool(&self, n: usize) -> (Sample, Vec<String>) {
        let admin = self.admin.as_deref();
        collect(n, self.clients, self.max_secs, |i| {
            let id = format!("@{}m{i}:{}", self.prefix, self.server_name);
            async move {
                let path = format!("/_synapse/admin/v2/users/{}", enc(&id));
                self.client.ok(Method::PUT, &path, admin, Some(json!({}))).await.map(|_| id)
            }
        })
        .await
    }

    /// The admin joins each of `users` to `room` (Synapse's `POST v1/join`).
    pub async fn force_join(&self, room: &str, users: &[String]) -> Sample {
        let admin = self.admin.as_deref();
        let path = format!("/_synapse/admin/v1/join/{}", enc(room));
        drive(users.len(), self.clients, self.max_secs, |i| {
            let path = &path;
            async move { self.client.ok(Method::POST, path, admin, Some(json!({"user_id": users[i]}))).await.map(drop) }
        })
        .await
    }

    /// `DELETE /_synapse/admin/v2/rooms/{id}` with purge, then its delete_status polled until
    /// complete: one latency per room, start to completion.
    pub async fn purge(&self, rooms: &[String]) -> Sample {
        let admin = self.admin.as_deref();
        let deadline = Instant::now() + Duration::from_secs(self.max_secs);
        drive(rooms.len(), 1, self.max_secs, |i| async move {
            let path = format!("/_synapse/admin/v2/rooms/{}", enc(&rooms[i]));
            let v = self.client.ok(Method::DELETE, &path, admin, Some(json!({"purge": true}))).await?;
            let id = v["delete_id"].as_str().ok_or_else(|| format!("no delete_id in {v}"))?.to_owned();
            loop {
                let s = self.client.ok(Method::GET, &format!("/_synapse/admin/v2/rooms/delete_status/{}", enc(&id)), admin, None).await?;
                match s["status"].as_str() {
                    Some("complete") => return Ok(()),
                    Some("failed") => return Err(format!("delete failed: {s}")),
                    _ if Instant::now() >= deadline => return Err("delete not complete by the deadline".into()),
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        })
        .await
    }
}
