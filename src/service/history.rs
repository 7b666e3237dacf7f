//! Reading a room's history and state as the requester may see it (the rule itself is
//! `events::visibility`): state, one event, pages of messages, an event's context, members.

use crate::Services;
use crate::error::{Error, ErrorKind, Result};
use crate::events::Pdu;
use crate::events::filter::TypeFilter;
use crate::events::visibility::StateAccess;
use crate::store::visibility as vis;
use ruma::{EventId, RoomId, UserId};

/// Most events one `/messages` page returns, whatever the client asks.
pub const MAX_PAGE: i64 = 1000;
/// At most this many context events (`limit` is split between before and after).
pub const MAX_CONTEXT: i64 = 100;

/// The requester's view of the room and the state they may read: 403 if they may read nothing of
/// it or it does not exist.
pub async fn require_visible(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<StateAccess> {
    let (r, u) = (room_id.to_string(), user.to_string());
    svc.db.run(move |c| vis::require_state_access(c, &r, &u)).await
}

/// Whether the requester is joined to the room (`true`) or may only peek at it because it is
/// world readable (`false`); 403 otherwise, whether or not the room exists.
pub async fn may_peek_or_is_joined(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<bool> {
    let (r, u) = (room_id.to_string(), user.to_string());
    let view = svc.db.run(move |c| vis::history_view(c, &r, &u)).await?;
    if view.membership() == crate::events::visibility::Membership::Join {
        Ok(true)
    } else if view.sees_current_members() {
        Ok(false)
    } else {
        Err(Error::forbidden("You may not follow a room you are not in unless it is world readable"))
    }
}

/// State visible to the requester: current while joined (or the room is world readable), as of
/// the end of their last stay otherwise.
pub async fn visible_state(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<Vec<Pdu>> {
    let (r, u) = (room_id.to_string(), user.to_string());
    svc.db
        .run(move |c| {
            let access = vis::require_state_access(c, &r, &u)?;
            vis::visible_state(c, &r, access)
        })
        .await
}

/// One state event's content: 404 if the requester's view of the state has none.
pub async fn state_event(svc: &Services, user: &UserId, room_id: &RoomId, kind: &str, key: &str) -> Result<Pdu> {
    let state = visible_state(svc, user, room_id).await?;
    state.into_iter().find(|p| p.kind == kind && p.state_key.as_deref() == Some(key)).ok_or_else(|| Error::not_found("Event not found"))
}

/// One event, if the requester may see it (erased senders' content hidden as the rule says); 404
/// otherwise, whether the event, the room or the requester's access is missing (the spec's answer
/// for an event one may not see, and Synapse's).
pub async fn event(svc: &Services, user: &UserId, room_id: &RoomId, event_id: &EventId) -> Result<Pdu> {
    let (room_id, user, event) = (room_id.to_string(), user.to_string(), event_id.to_string());
    let found = svc
        .db
        .run(move |c| {
            let view = match vis::require_view(c, &room_id, &user) {
                Ok((view, _)) => view,
                Err(e) if e.kind() == ErrorKind::Forbidden => return Ok(None),
                Err(e) => return Err(e),
            };
            let Some(mut p) =
                crate::store::events::event_by_id(c, &event)?.filter(|p| p.room_id == room_id && view.can_see(p.stream_ordering))
            else {
                return Ok(None);
            };
            crate::store::users::hide_erased(c, [&mut p], view.joined_at())?;
            Ok(Some(p))
        })
        .await?;
    found.ok_or_else(|| Error::not_found("Event not found"))
}

/// What a `/messages` request asks for, already bounded.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub backwards: bool,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
    pub filter: TypeFilter,
    /// Return the member events of the chunk's senders beside it (`lazy_load_members`).
    pub lazy_members: bool,
}

/// A page of events and the positions around it.
#[derive(Debug)]
pub struct Page {
    pub chunk: Vec<Pdu>,
    pub start: i64,
    /// Where the next page starts; `None` once a page finds nothing (the spec's "no further
    /// events"), so a client stops after one empty page, as with Synapse.
    pub end: Option<i64>,
    /// With `lazy_members`: the member events of the chunk's senders.
    pub state: Vec<Pdu>,
}

/// The member events, in `state`, of the senders of `events`.
fn senders_members(state: Vec<Pdu>, events: &[&Pdu]) -> Vec<Pdu> {
    let senders: std::collections::HashSet<&str> = events.iter().map(|p| p.sender.as_str()).collect();
    state.into_iter().filter(|p| p.kind == "m.room.member" && p.state_key.as_deref().is_some_and(|k| senders.contains(k))).collect()
}

pub async fn messages(svc: &Services, user: &UserId, room_id: &RoomId, req: PageRequest) -> Result<Page> {
    let PageRequest { backwards, from, to, filter, lazy_members, .. } = req;
    let limit = req.limit.clamp(0, MAX_PAGE);
    let (r, user) = (room_id.to_string(), user.to_string());
    let types = filter.exact_types();
    let (chunk, start, state, ignored) = svc
        .db
        .run(move |c| {
            let max = crate::store::events::max_stream(c)?;
            let (start, (mut chunk, joined_at)) = if backwards {
                let start = from.unwrap_or(max);
                (start, vis::visible_page(c, &r, &user, to.unwrap_or(0), start, limit, true, types.as_deref())?)
            } else {
                let start = from.unwrap_or(0);
                (start, vis::visible_page(c, &r, &user, start, to.unwrap_or(max), limit, false, types.as_deref())?)
            };
            crate::store::users::hide_erased(c, chunk.iter_mut(), joined_at)?;
            // Members as of the newest event of the page.
            let newest = chunk.iter().map(|p| p.stream_ordering).max();
            let state = match newest {
                Some(at) if lazy_members => crate::store::events::state_at(c, &r, at)?,
                _ => Vec::new(),
            };
            let ignored = super::account_data::ignored_users(c, &user)?;
            Ok((chunk, start, state, ignored))
        })
        .await?;
    // Read before the type filter: a page whose events are all filtered out still moves on.
    let end = chunk.last().map(|p| if backwards { p.stream_ordering - 1 } else { p.stream_ordering });
    let chunk: Vec<Pdu> =
        chunk.into_iter().filter(|p| filter.allows(&p.kind) && !super::account_data::hidden_by_ignore(&ignored, p)).collect();
    let state = senders_members(state, &chunk.iter().collect::<Vec<_>>());
    Ok(Page { chunk, start, end, state })
}

/// Current members only, to members and to anyone in a world-readable room: a former member
/// gets 403, as the spec's "must be in the room" and Synapse have it.
pub async fn joined_members(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<Vec<Pdu>> {
    let (room_id, user) = (room_id.to_string(), user.to_string());
    let state = svc
        .db
        .run(move |c| {
            vis::require_current_members(c, &room_id, &user)?;
            crate::store::events::current_state(c, &room_id)
        })
        .await?;
    Ok(state.into_iter().filter(|p| p.membership() == Some("join")).collect())
}

/// An event and the visible events around it, with the state after the last of them.
#[derive(Debug)]
pub struct Context {
    pub event: Pdu,
    pub before: Vec<Pdu>,
    pub after: Vec<Pdu>,
    pub state: Vec<Pdu>,
    pub start: i64,
    pub end: i64,
}

pub async fn context(
    svc: &Services,
    user: &UserId,
    room_id: &RoomId,
    event_id: &EventId,
    limit: i64,
    filter: TypeFilter,
    lazy_members: bool,
) -> Result<Context> {
    let limit = limit.clamp(0, MAX_CONTEXT);
    let types = filter.exact_types();
    let (room_id, user, event) = (room_id.to_string(), user.to_string(), event_id.to_string());
    let (target, before, after, state) = svc
        .db
        .run(move |c| {
            let (view, _) = vis::require_view(c, &room_id, &user)?;
            let mut target = crate::store::events::event_by_id(c, &event)?
                .filter(|p| p.room_id == room_id && view.can_see(p.stream_ordering))
                .ok_or_else(|| Error::not_found("Event not found"))?;
            let pos = target.stream_ordering;
            let n_before = limit / 2;
            let mut before = vis::visible_events(c, &room_id, &view, 0, pos - 1, n_before, true, types.as_deref())?;
            let mut after = vis::visible_events(c, &room_id, &view, pos, i64::MAX, limit - n_before, false, types.as_deref())?;
            let last = after.last().map_or(pos, |p| p.stream_ordering);
            let state = crate::store::events::state_at(c, &room_id, last)?;
            crate::store::users::hide_erased(
                c,
                std::iter::once(&mut target).chain(before.iter_mut()).chain(after.iter_mut()),
                view.joined_at(),
            )?;
            Ok((target, before, after, state))
        })
        .await?;
    let pos = target.stream_ordering;
    let start = before.last().map_or(pos - 1, |p| p.stream_ordering - 1);
    let end = after.last().map_or(pos, |p| p.stream_ordering);
    let shown = |list: Vec<Pdu>| list.into_iter().filter(|p| filter.allows(&p.kind)).collect::<Vec<_>>();
    let (before, after) = (shown(before), shown(after));
    let state = if lazy_members {
        senders_members(state, &std::iter::once(&target).chain(&before).chain(&after).collect::<Vec<_>>())
    } else {
        shown(state)
    };
    Ok(Context { event: target, before, after, state, start, end })
}
