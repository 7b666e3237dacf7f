//! Synapse's media admin API over the media repository: quarantine (one item, a room's, a user's)
//! and protection from it, deletion (one item, or by age and size) with the files it frees, the
//! remote cache purge, and users' media statistics.
//!
//! A deletion removes the rows and records the files in one transaction, then removes the files
//! and forgets the record; startup finishes what a crash interrupted, so the store and the media
//! directory agree.

use crate::Services;
use crate::error::{Error, ErrorKind, Result};
use crate::store::media::Media;
use crate::store::media_admin as store;
pub use crate::store::media_admin::{UsageOrder, UsageQuery, UsageRow};
use ruma::{RoomId, UserId};
use serde_json::Value;
use std::collections::HashSet;

/// Events read per page while collecting a room's media.
const EVENT_PAGE: i64 = 500;
/// Media IDs examined per page while deleting by age and size.
const DELETE_PAGE: i64 = 1_000;
/// Most users one statistics page lists.
const MAX_USAGE_PAGE: i64 = 1_000;
/// Earlier than this a `before_ts` is seconds, not milliseconds (Synapse's guard).
const EARLIEST_MS: i64 = 30_000_000_000;

fn is_local(svc: &Services, server: &str) -> bool {
    server == svc.server_name()
}

/// Quarantines one media (protected media stays served). Remote media has no cached copy here,
/// and unknown media nothing to change: both succeed, as in Synapse.
pub async fn quarantine(svc: &Services, admin: &UserId, server: &str, media_id: &str) -> Result<()> {
    if is_local(svc, server) {
        let (ids, by) = (vec![media_id.to_owned()], admin.to_string());
        let n = svc.db.run(move |c| store::set_quarantined(c, &ids, Some(&by))).await?;
        log::info!("admin {admin} quarantined {server}/{media_id} ({n} changed)");
    }
    Ok(())
}

/// Releases one media from quarantine.
pub async fn unquarantine(svc: &Services, admin: &UserId, server: &str, media_id: &str) -> Result<()> {
    if is_local(svc, server) {
        let ids = vec![media_id.to_owned()];
        svc.db.run(move |c| store::set_quarantined(c, &ids, None)).await?;
        log::info!("admin {admin} released {server}/{media_id} from quarantine");
    }
    Ok(())
}

/// Changes of quarantine one `quarantine_changes` page lists, as Synapse.
pub const QUARANTINE_CHANGES_PAGE: i64 = 100;

/// A page of Synapse's quarantine changes after stream position `from`: `(origin, media_id,
/// quarantined)` with the origin filled in for local media, and the position to ask from next
/// (the last listed, or the newest when none is). A position never handed out is refused.
pub async fn quarantine_changes(svc: &Services, from: i64) -> Result<(Vec<(String, String, bool)>, i64)> {
    let (changes, newest) = svc
        .db
        .run(move |c| {
            let newest = store::quarantine_changes_position(c)?;
            if from > newest {
                return Ok((None, newest));
            }
            Ok((Some(store::quarantine_changes(c, from, QUARANTINE_CHANGES_PAGE)?), newest))
        })
        .await?;
    let changes = changes.ok_or_else(|| {
        Error::invalid_param(
            "The `from` token is considered invalid because it includes stream positions greater than the furthest \
             persisted position.",
        )
    })?;
    let next = changes.last().map_or(newest, |c| c.stream_id);
    let local = svc.server_name().to_owned();
    Ok((changes.into_iter().map(|c| (c.origin.unwrap_or_else(|| local.clone()), c.media_id, c.quarantined)).collect(), next))
}

/// Quarantines every local media a user uploaded that is neither quarantined nor protected;
/// answers how many. Any other user (remote, unknown, malformed) has none here.
pub async fn quarantine_user(svc: &Services, admin: &UserId, target: &str) -> Result<usize> {
    let Ok(user) = UserId::parse(target) else { return Ok(0) };
    if !is_local(svc, user.server_name().as_str()) {
        return Ok(0);
    }
    let by = admin.to_string();
    let n = svc.db.run(move |c| store::quarantine_user(c, user.as_str(), &by)).await?;
    log::info!("admin {admin} quarantined {n} media of {target}");
    Ok(n)
}

/// Protects a local media from quarantine, or lifts the protection.
pub async fn set_protected(svc: &Services, media_id: &str, safe: bool) -> Result<()> {
    let id = media_id.to_owned();
    if svc.db.run(move |c| store::set_protected(c, &id, safe)).await? {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::NoSuchRow, "No row found (local_media_repository)"))
    }
}

/// `(server, media ID)` of an `mxc://` URI, as far as it names one.
fn mxc_parts(uri: &str) -> Option<(&str, &str)> {
    let (server, rest) = uri.strip_prefix("mxc://")?.split_once('/')?;
    let id = rest.split(['/', '#', '?']).next().unwrap_or_default();
    (!server.is_empty() && !id.is_empty()).then_some((server, id))
}

/// The media an event's content points at: its `url` and, beside it, `info.thumbnail_url`
/// (what Synapse counts; avatars in member events are not the room's media).
fn event_media(json: &str) -> Vec<String> {
    let Ok(event) = serde_json::from_str::<Value>(json) else { return Vec::new() };
    let content = &event["content"];
    let Some(url) = content["url"].as_str().filter(|u| u.starts_with("mxc://")) else { return Vec::new() };
    let thumbnail = content["info"]["thumbnail_url"].as_str();
    [Some(url), thumbnail].into_iter().flatten().map(str::to_owned).collect()
}

/// The media a room's events name, newest event first: local media IDs and remote `mxc://`
/// URIs. An unknown or malformed room has none.
async fn room_media_ids(svc: &Services, room_id: &str) -> Result<(Vec<String>, Vec<String>)> {
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    if RoomId::parse(room_id).is_err() {
        return Ok((local, remote));
    }
    let mut before = i64::MAX;
    loop {
        let room = room_id.to_owned();
        let page = svc.db.run(move |c| store::room_events_naming_media(c, &room, before, EVENT_PAGE)).await?;
        let Some((last, _)) = page.last() else { break };
        before = *last;
        for (_, json) in &page {
            for uri in event_media(json) {
                match mxc_parts(&uri) {
                    Some((server, id)) if is_local(svc, server) => local.push(id.to_owned()),
                    Some((server, id)) => remote.push(format!("mxc://{server}/{id}")),
                    None => {}
                }
            }
        }
        if (page.len() as i64) < EVENT_PAGE {
            break;
        }
    }
    Ok((local, remote))
}

/// The `mxc://` URIs of a room's media: `(local, remote)`.
pub async fn room_media(svc: &Services, room_id: &str) -> Result<(Vec<String>, Vec<String>)> {
    let (local, remote) = room_media_ids(svc, room_id).await?;
    let server = svc.server_name();
    Ok((local.into_iter().map(|id| format!("mxc://{server}/{id}")).collect(), remote))
}

/// Quarantines the local media a room's events name, protected media aside; answers how many
/// matched (already quarantined ones too, as Synapse counts). Remote media has no copy here.
pub async fn quarantine_room(svc: &Services, admin: &UserId, room_id: &str) -> Result<usize> {
    let (local, _) = room_media_ids(svc, room_id).await?;
    let by = admin.to_string();
    let n = svc.db.run(move |c| store::set_quarantined(c, &local, Some(&by))).await?;
    log::info!("admin {admin} quarantined {n} media of {room_id}");
    Ok(n)
}

/// One local media's row, for the admin.
pub async fn info(svc: &Services, server: &str, media_id: &str) -> Result<Media> {
    let unknown = || Error::not_found("Unknown media");
    if !is_local(svc, server) {
        return Err(unknown());
    }
    let id = media_id.to_owned();
    svc.db.run(move |c| crate::store::media::find(c, &id)).await?.ok_or_else(unknown)
}

/// Deletes media rows and then their files; answers the IDs that existed.
pub async fn delete_ids(svc: &Services, ids: Vec<String>) -> Result<Vec<String>> {
    let gone = svc.db.run(move |c| store::delete(c, &ids)).await?;
    let (data_dir, files) = (svc.config.data_dir.clone(), gone.clone());
    tokio::task::spawn_blocking(move || {
        for id in &files {
            store::remove_files(&store::file_path(&data_dir, id))?;
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| Error::internal_from("deleting media files", e))?
    .map_err(|e| Error::internal_from("deleting media files", e))?;
    let done = gone.clone();
    svc.db.run(move |c| store::deletions_done(c, &done)).await?;
    Ok(gone)
}

/// Deletes one local media and its files.
pub async fn delete_one(svc: &Services, admin: &UserId, server: &str, media_id: &str) -> Result<Vec<String>> {
    if !is_local(svc, server) {
        return Err(Error::unknown("Can only delete local media"));
    }
    info(svc, server, media_id).await?;
    let gone = delete_ids(svc, vec![media_id.to_owned()]).await?;
    log::info!("admin {admin} deleted media {media_id}");
    Ok(gone)
}

/// A `before_ts` in milliseconds that cannot be a mistake for seconds.
pub fn check_before_ts(before_ts: i64) -> Result<()> {
    if before_ts < 0 {
        return Err(Error::invalid_param("Query parameter before_ts must be a positive integer."));
    }
    if before_ts < EARLIEST_MS {
        return Err(Error::invalid_param(
            "Query parameter before_ts you provided is from the year 1970. \
             Double check that you are providing a timestamp in milliseconds.",
        ));
    }
    Ok(())
}

/// Local media IDs that profiles, members and rooms show as avatars.
async fn avatar_media(svc: &Services) -> Result<HashSet<String>> {
    let prefix = format!("mxc://{}/", svc.server_name());
    let p = prefix.clone();
    let (profiles, state) = svc.db.run(move |c| Ok((store::profile_avatars(c, &p)?, store::avatar_state_events(c, &p)?))).await?;
    let mut urls = profiles;
    for json in state {
        let Ok(event) = serde_json::from_str::<Value>(&json) else { continue };
        for key in ["avatar_url", "url"] {
            if let Some(url) = event["content"][key].as_str() {
                urls.push(url.to_owned());
            }
        }
    }
    Ok(urls.iter().filter_map(|u| u.strip_prefix(&prefix)).filter(|id| !id.contains('/')).map(str::to_owned).collect())
}

/// Deletes uploaded local media last read (or, never read, created) before `before_ts` and
/// larger than `size_gt` bytes; quarantined and protected media stay, and so do avatars while
/// `keep_profiles`. Answers the deleted IDs.
pub async fn delete_expired(svc: &Services, admin: &UserId, before_ts: i64, size_gt: i64, keep_profiles: bool) -> Result<Vec<String>> {
    check_before_ts(before_ts)?;
    if size_gt < 0 {
        return Err(Error::invalid_param("Query parameter size_gt must be a positive integer."));
    }
    let kept = if keep_profiles { avatar_media(svc).await? } else { HashSet::new() };
    let (mut deleted, mut after) = (Vec::new(), String::new());
    loop {
        let from = after.clone();
        let page = svc.db.run(move |c| store::expired(c, before_ts, size_gt, &from, DELETE_PAGE)).await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        let full = (page.len() as i64) == DELETE_PAGE;
        let doomed: Vec<String> = page.into_iter().filter(|id| !kept.contains(id)).collect();
        deleted.extend(delete_ids(svc, doomed).await?);
        if !full {
            break;
        }
    }
    log::info!("admin {admin} deleted {} media older than {before_ts} and larger than {size_gt}", deleted.len());
    Ok(deleted)
}

/// Purges cached remote media read before `before_ts`: this server fetches none, so there is
/// never any to purge.
pub fn purge_remote_cache(before_ts: i64) -> Result<usize> {
    check_before_ts(before_ts)?;
    Ok(0)
}

/// A page of users with their media's count and size, and how many users match.
pub async fn usage(svc: &Services, mut q: UsageQuery) -> Result<(Vec<UsageRow>, i64)> {
    if q.from < 0 {
        return Err(Error::invalid_param("Query parameter from must be a positive integer."));
    }
    if q.limit < 0 {
        return Err(Error::invalid_param("Query parameter limit must be a positive integer."));
    }
    if q.from_ts < 0 {
        return Err(Error::invalid_param("Query parameter from_ts must be a positive integer."));
    }
    if q.until_ts.is_some_and(|u| u < 0) {
        return Err(Error::invalid_param("Query parameter until_ts must be a positive integer."));
    }
    if q.until_ts.is_some_and(|u| u <= q.from_ts) {
        return Err(Error::invalid_param("Query parameter until_ts must be greater than from_ts."));
    }
    if q.search_term.as_deref() == Some("") {
        return Err(Error::invalid_param("Query parameter search_term cannot be an empty string."));
    }
    if q.search_term.as_ref().is_some_and(|t| t.len() > 255) {
        return Err(Error::invalid_param("Query parameter search_term is too long."));
    }
    q.limit = q.limit.min(MAX_USAGE_PAGE);
    svc.db.run(move |c| store::usage(c, &q)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mxc_parts_as_synapse_reads_them() {
        assert_eq!(mxc_parts("mxc://a.org/abc"), Some(("a.org", "abc")));
        assert_eq!(mxc_parts("mxc://a.org/abc#frag"), Some(("a.org", "abc")));
        assert_eq!(mxc_parts("mxc://a.org/"), None);
        assert_eq!(mxc_parts("mxc:///abc"), None);
        assert_eq!(mxc_parts("https://a.org/abc"), None);
    }

    #[test]
    fn event_media_is_url_and_its_thumbnail() {
        let both = r#"{"content":{"url":"mxc://s/a","info":{"thumbnail_url":"mxc://s/b"}}}"#;
        assert_eq!(event_media(both), ["mxc://s/a", "mxc://s/b"]);
        let thumb_only = r#"{"content":{"info":{"thumbnail_url":"mxc://s/b"}}}"#;
        assert!(event_media(thumb_only).is_empty());
        let member = r#"{"content":{"membership":"join","avatar_url":"mxc://s/c"}}"#;
        assert!(event_media(member).is_empty());
    }
}
