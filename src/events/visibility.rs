//! History visibility: which events of a room one user may see, as the client-server spec's
//! "Room History Visibility" section defines it.
//!
//! An event is judged by the room's `m.room.history_visibility` and the user's membership *at that
//! event*:
//! 1. `world_readable` at the event: visible to anyone;
//! 2. the user was joined at the event: visible;
//! 3. `shared` at the event and the user joined at some point at or after it: visible;
//! 4. `invited` at the event and the user was invited at it: visible;
//! 5. otherwise hidden.
//!
//! A `m.room.history_visibility` event is judged by the setting before *or* after it, and the
//! user's own `m.room.member` events by their membership before *or* after them.
//!
//! Both inputs only change at the user's membership events and the room's visibility events, so
//! visibility is a step function of the stream position: [`HistoryView`] reduces the ordered
//! list of those changes to the sorted ranges of positions the user may see once, and each event
//! of a page is then checked with a binary search.

use std::cmp::Ordering;

/// `m.room.history_visibility`; a missing or unknown value counts as `shared`, as the spec's
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    WorldReadable,
    Shared,
    Invited,
    Joined,
}

impl Visibility {
    pub fn parse(s: Option<&str>) -> Self {
        use ruma::events::room::history_visibility::HistoryVisibility;
        match s.map(HistoryVisibility::from) {
            Some(HistoryVisibility::WorldReadable) => Self::WorldReadable,
            Some(HistoryVisibility::Invited) => Self::Invited,
            Some(HistoryVisibility::Joined) => Self::Joined,
            _ => Self::Shared,
        }
    }
}

/// The user's membership; no membership event yet counts as `Leave`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Join,
    Invite,
    Knock,
    Leave,
    Ban,
}

impl Membership {
    pub fn parse(s: Option<&str>) -> Self {
        use ruma::events::room::member::MembershipState;
        match s.map(MembershipState::from) {
            Some(MembershipState::Join) => Self::Join,
            Some(MembershipState::Invite) => Self::Invite,
            Some(MembershipState::Knock) => Self::Knock,
            Some(MembershipState::Ban) => Self::Ban,
            _ => Self::Leave,
        }
    }
}

/// One event that changes what the user may see: the room's visibility or the user's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Visibility(Visibility),
    Membership(Membership),
}

/// Which state of the room the user may read (`/state`, `/members`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAccess {
    /// The current state: joined, or the room is world readable now, or invited to an `invited`
    /// room.
    Current,
    /// The state as of this position: the end of the user's last stay in the room.
    UpTo(i64),
}

/// What one user may see of one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryView {
    /// Disjoint, sorted, inclusive ranges of visible stream positions.
    ranges: Vec<(i64, i64)>,
    membership: Membership,
    visibility: Visibility,
    /// Where the current join began (0 when not joined).
    joined_at: i64,
    /// The position that ended the user's last join (None if they never joined or are joined).
    left_at: Option<i64>,
    ever_joined: bool,
}

fn allowed(m: Membership, v: Visibility, joins_later: bool) -> bool {
    v == Visibility::WorldReadable
        || m == Membership::Join
        || (v == Visibility::Shared && joins_later)
        || (v == Visibility::Invited && m == Membership::Invite)
}

impl HistoryView {
    /// Builds the view from the changes in stream order (positions strictly increasing).
    pub fn new(changes: &[(i64, Change)]) -> Self {
        // The last position at which the user's membership became (or stayed) join: under
        // `shared` every event up to it is visible ("joined at any point after the event").
        let last_join = changes.iter().rev().find(|(_, c)| *c == Change::Membership(Membership::Join)).map(|(p, _)| *p);
        let joins_later = |pos: i64| last_join.is_some_and(|j| j >= pos);

        let mut ranges: Vec<(i64, i64)> = Vec::new();
        let mut push = |lo: i64, hi: i64| {
            if lo > hi {
                return;
            }
            match ranges.last_mut() {
                Some(last) if last.1.saturating_add(1) >= lo => last.1 = last.1.max(hi),
                _ => ranges.push((lo, hi)),
            }
        };
        let (mut m, mut v) = (Membership::Leave, Visibility::Shared);
        let mut open_from = i64::MIN;
        let mut joined_at = 0;
        let mut left_at = None;
        for &(pos, change) in changes {
            // Events strictly between the previous change and this one.
            if allowed(m, v, joins_later(pos)) {
                push(open_from, pos - 1);
            }
            // The change event itself: judged before or after it.
            let (m_after, v_after) = match change {
                Change::Membership(n) => (n, v),
                Change::Visibility(n) => (m, n),
            };
            if allowed(m, v, joins_later(pos)) || allowed(m_after, v_after, joins_later(pos)) {
                push(pos, pos);
            }
            if m_after == Membership::Join && m != Membership::Join {
                joined_at = pos;
            }
            if m == Membership::Join && m_after != Membership::Join {
                left_at = Some(pos);
            }
            (m, v) = (m_after, v_after);
            open_from = pos + 1;
        }
        if allowed(m, v, false) {
            push(open_from, i64::MAX);
        }
        if m != Membership::Join {
            joined_at = 0;
        } else {
            left_at = None;
        }
        Self { ranges, membership: m, visibility: v, joined_at, left_at, ever_joined: last_join.is_some() }
    }

    /// Whether the event at stream position `pos` (of this room) is visible.
    pub fn can_see(&self, pos: i64) -> bool {
        self.ranges
            .binary_search_by(|&(lo, hi)| {
                if hi < pos {
                    Ordering::Less
                } else if lo > pos {
                    Ordering::Greater
                } else {
                    Ordering::Equal
                }
            })
            .is_ok()
    }

    /// The visible ranges clipped to `after < position <= upto`, oldest first.
    pub fn ranges_within(&self, after: i64, upto: i64) -> Vec<(i64, i64)> {
        self.ranges
            .iter()
            .filter_map(|&(lo, hi)| {
                let (lo, hi) = (lo.max(after.saturating_add(1)), hi.min(upto));
                (lo <= hi).then_some((lo, hi))
            })
            .collect()
    }

    /// Which state the user may read; None if they may read none (they never joined and the
    /// room is not world readable): the endpoints answer 403 then.
    pub fn state_access(&self) -> Option<StateAccess> {
        let m = self.membership;
        let v = self.visibility;
        if m == Membership::Join || v == Visibility::WorldReadable || (m == Membership::Invite && v == Visibility::Invited) {
            return Some(StateAccess::Current);
        }
        self.left_at.filter(|_| self.ever_joined).map(StateAccess::UpTo)
    }

    /// Whether the user may list the room's current members (`/joined_members`): joined now, or
    /// the room is world readable.
    pub fn sees_current_members(&self) -> bool {
        self.membership == Membership::Join || self.visibility == Visibility::WorldReadable
    }

    pub fn membership(&self) -> Membership {
        self.membership
    }

    /// Where the user's current join began, 0 if not joined (erased senders' content is hidden
    /// from readers who joined after it).
    pub fn joined_at(&self) -> i64 {
        self.joined_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Change::{Membership as M, Visibility as V};
    use Membership::*;
    use Visibility::*;

    fn visible(view: &HistoryView, upto: i64) -> Vec<i64> {
        (1..=upto).filter(|p| view.can_see(*p)).collect()
    }

    #[test]
    fn shared_shows_history_before_join_while_joined() {
        let v = HistoryView::new(&[(2, V(Shared)), (10, M(Join))]);
        assert_eq!(visible(&v, 12), (1..=12).collect::<Vec<_>>());
        assert_eq!(v.state_access(), Some(StateAccess::Current));
        assert_eq!(v.joined_at(), 10);
    }

    #[test]
    fn joined_hides_everything_before_the_join() {
        let v = HistoryView::new(&[(2, V(Joined)), (10, M(Join))]);
        // Events before the visibility change are under the default (shared).
        assert_eq!(visible(&v, 12), vec![1, 2, 10, 11, 12]);
    }

    #[test]
    fn invited_shows_from_the_invite() {
        let v = HistoryView::new(&[(2, V(Invited)), (5, M(Invite)), (8, M(Join))]);
        assert_eq!(visible(&v, 9), vec![1, 2, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn leaving_ends_visibility_at_the_leave() {
        let v = HistoryView::new(&[(2, V(Shared)), (5, M(Join)), (8, M(Leave))]);
        assert_eq!(visible(&v, 12), (1..=8).collect::<Vec<_>>());
        assert_eq!(v.state_access(), Some(StateAccess::UpTo(8)));
        assert!(!v.sees_current_members());
        assert_eq!(v.joined_at(), 0);
    }

    #[test]
    fn never_joined_sees_nothing() {
        let rejected = HistoryView::new(&[(2, V(Shared)), (5, M(Invite)), (8, M(Leave))]);
        assert_eq!(visible(&rejected, 12), Vec::<i64>::new());
        assert_eq!(rejected.state_access(), None);
        let banned = HistoryView::new(&[(2, V(Shared)), (5, M(Ban))]);
        assert_eq!(visible(&banned, 12), Vec::<i64>::new());
        assert_eq!(banned.state_access(), None);
        let stranger = HistoryView::new(&[(2, V(Joined))]);
        assert_eq!(stranger.state_access(), None);
    }

    #[test]
    fn world_readable_is_judged_per_event() {
        let v = HistoryView::new(&[(2, V(WorldReadable)), (6, V(Joined))]);
        // Up to and including the change away from world_readable (judged before or after).
        assert_eq!(visible(&v, 9), (2..=6).collect::<Vec<_>>());
        assert_eq!(v.state_access(), None);
        let now = HistoryView::new(&[(2, V(WorldReadable))]);
        assert_eq!(now.state_access(), Some(StateAccess::Current));
        assert!(now.sees_current_members());
    }

    #[test]
    fn mid_room_change_from_shared_to_joined() {
        let v = HistoryView::new(&[(2, V(Shared)), (6, V(Joined)), (10, M(Join))]);
        assert_eq!(visible(&v, 12), vec![1, 2, 3, 4, 5, 6, 10, 11, 12]);
        assert_eq!(v.ranges_within(0, 100), vec![(1, 6), (10, 100)]);
        assert_eq!(v.ranges_within(4, 11), vec![(5, 6), (10, 11)]);
    }

    #[test]
    fn rejoining_shows_the_gap_under_shared_only() {
        let shared = HistoryView::new(&[(1, M(Join)), (3, M(Leave)), (7, M(Join))]);
        assert_eq!(visible(&shared, 8), (1..=8).collect::<Vec<_>>());
        let joined = HistoryView::new(&[(1, V(Joined)), (2, M(Join)), (4, M(Leave)), (7, M(Join))]);
        assert_eq!(visible(&joined, 8), vec![1, 2, 3, 4, 7, 8]);
    }
}
