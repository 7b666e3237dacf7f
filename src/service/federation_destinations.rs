//! The admin API's federation destinations: the servers this server has sent requests to, how
//! the attempts went, and the rooms shared with each (none while rooms do not federate).

use crate::Services;
use crate::error::{Error, Result};
use crate::federation::destinations::Destination;
use serde::Serialize;

/// Synapse's sort keys for the destination list.
pub const ORDER_KEYS: &[&str] = &["destination", "retry_last_ts", "retry_interval", "failure_ts", "last_successful_stream_ordering"];

/// Most destinations one page returns.
const MAX_PAGE: i64 = 1_000;

/// A destination as Synapse shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationView {
    pub destination: String,
    pub retry_last_ts: i64,
    pub retry_interval: i64,
    pub failure_ts: Option<i64>,
    /// The last event of a room sent to it: none while rooms do not federate.
    pub last_successful_stream_ordering: Option<i64>,
}

impl From<Destination> for DestinationView {
    fn from(d: Destination) -> Self {
        Self {
            destination: d.destination,
            retry_last_ts: d.retry_last_ts,
            retry_interval: d.retry_interval,
            failure_ts: d.failure_ts,
            last_successful_stream_ordering: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub from: i64,
    pub limit: i64,
    /// Only destinations whose name contains this.
    pub destination: Option<String>,
    pub order_by: String,
    pub descending: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DestinationPage {
    pub destinations: Vec<DestinationView>,
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn check_paging(from: i64, limit: i64) -> Result<()> {
    if from < 0 {
        return Err(Error::invalid_param("Query parameter from must be a positive integer."));
    }
    if limit < 0 {
        return Err(Error::invalid_param("Query parameter limit must be a positive integer."));
    }
    Ok(())
}

/// `next_token` as Synapse gives it: the offset of the next page while more remain.
fn next_token(from: i64, limit: i64, shown: usize, total: i64) -> Option<String> {
    (from.saturating_add(limit) < total).then(|| from.saturating_add(shown as i64).to_string())
}

pub fn list(svc: &Services, q: ListQuery) -> Result<DestinationPage> {
    check_paging(q.from, q.limit)?;
    if !ORDER_KEYS.contains(&q.order_by.as_str()) {
        return Err(Error::invalid_param(format!("Query parameter 'order_by' must be one of {ORDER_KEYS:?}")));
    }
    let mut all: Vec<DestinationView> = svc.federation.destinations.all().into_iter().map(DestinationView::from).collect();
    if let Some(part) = &q.destination {
        let part = part.to_lowercase();
        all.retain(|d| d.destination.to_lowercase().contains(&part));
    }
    // Ties by name, so pages are stable.
    all.sort_by(|a, b| {
        let key = match q.order_by.as_str() {
            "retry_last_ts" => a.retry_last_ts.cmp(&b.retry_last_ts),
            "retry_interval" => a.retry_interval.cmp(&b.retry_interval),
            "failure_ts" => a.failure_ts.cmp(&b.failure_ts),
            "last_successful_stream_ordering" => a.last_successful_stream_ordering.cmp(&b.last_successful_stream_ordering),
            _ => std::cmp::Ordering::Equal,
        };
        let key = key.then_with(|| a.destination.cmp(&b.destination));
        if q.descending { key.reverse() } else { key }
    });
    let total = all.len() as i64;
    let limit = q.limit.min(MAX_PAGE);
    let destinations: Vec<DestinationView> =
        all.into_iter().skip(usize::try_from(q.from).unwrap_or(usize::MAX)).take(limit as usize).collect();
    let next_token = next_token(q.from, limit, destinations.len(), total);
    Ok(DestinationPage { destinations, total, next_token })
}

fn known(svc: &Services, destination: &str) -> Result<Destination> {
    svc.federation.destinations.get(destination).ok_or_else(|| Error::not_found("Unknown destination"))
}

pub fn get(svc: &Services, destination: &str) -> Result<DestinationView> {
    Ok(known(svc, destination)?.into())
}

/// A room shared with a destination and the last of its events sent there.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationRoom {
    pub room_id: String,
    pub stream_ordering: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DestinationRoomPage {
    pub rooms: Vec<DestinationRoom>,
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Rooms shared with the destination: none, as no room has members of other servers yet.
pub fn rooms(svc: &Services, destination: &str, from: i64, limit: i64) -> Result<DestinationRoomPage> {
    known(svc, destination)?;
    check_paging(from, limit)?;
    Ok(DestinationRoomPage { rooms: vec![], total: 0, next_token: None })
}

/// Lets requests to a failing destination be tried again at once.
pub fn reset_connection(svc: &Services, admin: &ruma::UserId, destination: &str) -> Result<()> {
    known(svc, destination)?;
    if !svc.federation.reset_connection(destination) {
        return Err(Error::unknown("The retry timing does not need to be reset for this destination."));
    }
    log::info!("admin {admin} reset the connection to {destination}");
    Ok(())
}
