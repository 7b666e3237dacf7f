//! `Pusher`: delivers notifications to HTTP push gateways (`POST <data.url>`, the push gateway
//! API's `/_matrix/push/v1/notify`). A bounded queue (the oldest push is dropped past it), a few
//! requests in flight, retries with exponential backoff on network errors, 429 and 5xx; a pushkey
//! the gateway names as `rejected` loses its pusher. Nothing here ever blocks a send: the
//! evaluator hands pushes over with `do_send` after its own commit.

use crate::error::Result;
use crate::store::Db;
use crate::store::pushers::Pusher as StoredPusher;
use actix::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::time::Duration;

/// Pushes waiting past this many: the oldest is dropped (a push is a hint, the counts and
/// `/notifications` keep the truth).
pub const MAX_QUEUE: usize = 10_000;
const MAX_IN_FLIGHT: usize = 8;
/// Attempts per push, the first included; the waits between them double from [`FIRST_BACKOFF`].
const MAX_ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A gateway's answer is read up to this size.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// One request to one gateway for one pusher.
#[derive(Debug, Clone)]
pub struct PushJob {
    pub user_id: String,
    pub app_id: String,
    pub pushkey: String,
    pub url: String,
    /// The request body: `{"notification": {...}}`.
    pub body: Value,
    attempt: u32,
}

impl PushJob {
    /// A push of `notification` (which carries `counts`) through `pusher`, with its device entry.
    pub fn new(user: &str, pusher: &StoredPusher, mut notification: Value, tweaks: &Map<String, Value>) -> Self {
        let mut data: Map<String, Value> = serde_json::from_str(&pusher.data).unwrap_or_default();
        let url = data.remove("url").and_then(|u| u.as_str().map(str::to_owned)).unwrap_or_default();
        notification["devices"] = json!([{
            "app_id": pusher.app_id,
            "pushkey": pusher.pushkey,
            "pushkey_ts": pusher.created_ts / 1000,
            "data": data,
            "tweaks": tweaks,
        }]);
        Self {
            user_id: user.to_owned(),
            app_id: pusher.app_id.clone(),
            pushkey: pusher.pushkey.clone(),
            url,
            body: json!({ "notification": notification }),
            attempt: 0,
        }
    }
}

pub struct Pusher {
    http: reqwest::Client,
    db: Db,
    queue: VecDeque<PushJob>,
    in_flight: usize,
}

impl Pusher {
    pub fn new(config: &crate::Config, db: Db) -> Result<Self> {
        let http = crate::federation::tls::http_client(config, "push")?;
        Ok(Self { http, db, queue: VecDeque::new(), in_flight: 0 })
    }

    fn enqueue(&mut self, job: PushJob) {
        if self.queue.len() >= MAX_QUEUE
            && let Some(dropped) = self.queue.pop_front()
        {
            log::warn!("push queue full: dropping a push to {} for {}", dropped.url, dropped.user_id);
        }
        self.queue.push_back(job);
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < MAX_IN_FLIGHT {
            let Some(mut job) = self.queue.pop_front() else { return };
            self.in_flight += 1;
            job.attempt += 1;
            let http = self.http.clone();
            let fut = async move {
                let outcome = post(&http, &job).await;
                (job, outcome)
            };
            ctx.spawn(fut.into_actor(self).map(|(job, outcome), act, ctx| {
                act.in_flight -= 1;
                act.settle(job, outcome, ctx);
                act.pump(ctx);
            }));
        }
    }

    fn settle(&mut self, job: PushJob, outcome: Outcome, ctx: &mut Context<Self>) {
        match outcome {
            Outcome::Delivered { rejected } => {
                if rejected {
                    let db = self.db.clone();
                    let (u, a, k) = (job.user_id.clone(), job.app_id.clone(), job.pushkey.clone());
                    log::info!("push gateway rejected pushkey of {u} ({a}): removing the pusher");
                    actix::spawn(async move {
                        if let Err(e) = db.run(move |c| crate::store::pushers::delete(c, &u, &a, &k)).await {
                            log::warn!("removing a rejected pusher failed: {e}");
                        }
                    });
                }
            }
            Outcome::Retry(why) if job.attempt < MAX_ATTEMPTS => {
                let wait = FIRST_BACKOFF * 2u32.saturating_pow(job.attempt - 1);
                log::debug!("push to {} failed ({why}); retrying in {wait:?}", job.url);
                ctx.run_later(wait, move |act, ctx| {
                    act.enqueue(job);
                    act.pump(ctx);
                });
            }
            Outcome::Retry(why) | Outcome::GiveUp(why) => {
                log::warn!("push to {} for {} dropped: {why}", job.url, job.user_id);
            }
        }
    }
}

impl Actor for Pusher {
    type Context = Context<Self>;
}

enum Outcome {
    Delivered { rejected: bool },
    Retry(String),
    GiveUp(String),
}

async fn post(http: &reqwest::Client, job: &PushJob) -> Outcome {
    if !(job.url.starts_with("http://") || job.url.starts_with("https://")) {
        return Outcome::GiveUp(format!("not an http(s) URL: {}", job.url));
    }
    let resp = match http.post(&job.url).json(&job.body).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let status = resp.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Outcome::Retry(format!("gateway answered {status}"));
    }
    if !status.is_success() {
        return Outcome::GiveUp(format!("gateway answered {status}"));
    }
    let mut body = Vec::new();
    let mut resp = resp;
    while let Ok(Some(chunk)) = resp.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rejected = answer.get("rejected").and_then(Value::as_array).is_some_and(|r| r.iter().any(|k| k.as_str() == Some(&job.pushkey)));
    Outcome::Delivered { rejected }
}

/// Pushes to send.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Vec<PushJob>);

impl Handler<Deliver> for Pusher {
    type Result = ();
    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        for job in msg.0 {
            self.enqueue(job);
        }
        self.pump(ctx);
    }
}

/// Stop (the server is stopping); pushes still queued are dropped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Pusher {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
