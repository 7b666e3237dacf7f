//! Pushers: where a user's notifications are pushed.

use crate::Services;
use crate::error::{Error, Result};
use crate::store::pushers::{self, Pusher};
use ruma::UserId;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A pusher as clients and admins see it.
#[derive(Debug, Clone, Serialize)]
pub struct PusherView {
    pub pushkey: String,
    pub kind: String,
    pub app_id: String,
    pub app_display_name: String,
    pub device_display_name: String,
    pub lang: String,
    pub data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_tag: Option<String>,
}

impl From<Pusher> for PusherView {
    fn from(p: Pusher) -> Self {
        Self {
            data: serde_json::from_str(&p.data).unwrap_or_else(|_| json!({})),
            pushkey: p.pushkey,
            kind: p.kind,
            app_id: p.app_id,
            app_display_name: p.app_display_name,
            device_display_name: p.device_display_name,
            lang: p.lang,
            profile_tag: p.profile_tag,
        }
    }
}

pub async fn list(svc: &Services, user: &UserId) -> Result<Vec<PusherView>> {
    let u = user.to_string();
    Ok(svc.db.run(move |c| pushers::list(c, &u)).await?.into_iter().map(PusherView::from).collect())
}

/// A local user's pushers, for admins.
pub async fn admin_list(svc: &Services, target: &UserId) -> Result<Vec<PusherView>> {
    super::accounts::local_user(svc, target).await?;
    list(svc, target).await
}

/// A pusher to create or update, as `/pushers/set` describes it.
pub struct NewPusher {
    pub app_id: String,
    pub pushkey: String,
    pub kind: String,
    pub app_display_name: String,
    pub device_display_name: String,
    pub profile_tag: Option<String>,
    pub lang: String,
    pub data: Map<String, Value>,
    /// Keep other apps' pushers with the same key.
    pub append: bool,
}

fn check_key(app_id: &str, pushkey: &str) -> Result<()> {
    if pushkey.len() > 512 || app_id.len() > 64 {
        return Err(Error::invalid_param("pushkey or app_id too long"));
    }
    Ok(())
}

pub async fn set(svc: &Services, user: &UserId, device_id: Option<&str>, p: NewPusher) -> Result<()> {
    check_key(&p.app_id, &p.pushkey)?;
    if !matches!(p.kind.as_str(), "http" | "email") {
        return Err(Error::invalid_param(format!("Unknown pusher kind {}", p.kind)));
    }
    if p.kind == "http" {
        let url = p.data.get("url").and_then(Value::as_str).ok_or_else(|| Error::missing_param("http pushers need data.url"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || !url.contains("/_matrix/push/v1/notify") {
            return Err(Error::invalid_param("data.url must be an http(s) URL ending in /_matrix/push/v1/notify"));
        }
    }
    let pusher = Pusher {
        user_id: user.to_string(),
        app_id: p.app_id,
        pushkey: p.pushkey,
        kind: p.kind,
        app_display_name: p.app_display_name,
        device_display_name: p.device_display_name,
        profile_tag: p.profile_tag,
        lang: p.lang,
        data: Value::Object(p.data).to_string(),
        device_id: device_id.map(str::to_owned),
        created_ts: crate::ids::now_ms(),
    };
    let append = p.append;
    svc.db.run(move |c| pushers::set(c, &pusher, append)).await
}

pub async fn delete(svc: &Services, user: &UserId, app_id: &str, pushkey: &str) -> Result<()> {
    check_key(app_id, pushkey)?;
    let (u, a, k) = (user.to_string(), app_id.to_owned(), pushkey.to_owned());
    svc.db.run(move |c| pushers::delete(c, &u, &a, &k)).await?;
    Ok(())
}
