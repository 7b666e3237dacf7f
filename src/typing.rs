//! Who is typing where, as each `RoomActor` last published it. The room actor owns the truth
//! (and its expiry timers); syncs read this board instead of asking actors.

use ruma::{OwnedUserId, RoomId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// Rooms on the board before quiet ones are forgotten. Rooms where nobody types any more are
/// kept so a sync learns that typing stopped; past this many the oldest quiet ones go (a sync
/// from long before then may miss one "stopped"), so the board tracks recent typing, not every
/// room that ever had any.
pub const MAX_ROOMS: usize = 10_000;

/// Drops the quiet rooms (nobody typing, or everyone's timeout passed) with the oldest
/// positions, down to nine tenths of the cap so the sort is paid rarely.
fn prune(rooms: &mut HashMap<String, RoomTyping>) {
    let now = Instant::now();
    let mut quiet: Vec<(i64, String)> =
        rooms.iter().filter(|(_, t)| t.users.iter().all(|(_, until)| *until <= now)).map(|(r, t)| (t.position, r.clone())).collect();
    let excess = rooms.len().saturating_sub(MAX_ROOMS - MAX_ROOMS / 10);
    if quiet.len() > excess {
        quiet.select_nth_unstable(excess);
        quiet.truncate(excess);
    }
    for (_, room) in quiet {
        rooms.remove(&room);
    }
}

pub struct TypingBoard {
    rooms: Mutex<HashMap<String, RoomTyping>>,
    position: AtomicI64,
}

struct RoomTyping {
    users: Vec<(OwnedUserId, Instant)>,
    position: i64,
}

impl Default for TypingBoard {
    fn default() -> Self {
        // Typing lives in memory only: starting from the clock keeps positions growing across
        // restarts, so a sync token from before a restart does not hide new typing.
        Self { rooms: Mutex::default(), position: AtomicI64::new(crate::ids::now_ms()) }
    }
}

impl TypingBoard {
    /// A board whose first position is `start` (reserved in the store, so it is above every
    /// position an earlier run handed out).
    pub fn starting_at(start: i64) -> Self {
        Self { rooms: Mutex::default(), position: AtomicI64::new(start) }
    }

    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// Replaces a room's typing users (with their expiry times); returns the new position.
    pub fn publish(&self, room: &RoomId, users: Vec<(OwnedUserId, Instant)>) -> i64 {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let position = self.position.fetch_add(1, Ordering::SeqCst) + 1;
        // An empty list is kept too, so syncs learn that everyone stopped.
        rooms.insert(room.as_str().to_owned(), RoomTyping { users, position });
        if rooms.len() > MAX_ROOMS {
            prune(&mut rooms);
        }
        position
    }

    /// Rooms on the board.
    pub fn len(&self) -> usize {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rooms whose typing list changed in (after, upto], with who is typing there now.
    pub fn changed(&self, after: i64, upto: i64) -> HashMap<String, Vec<OwnedUserId>> {
        let now = Instant::now();
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .filter(|(_, t)| t.position > after && t.position <= upto)
            .map(|(room, t)| (room.clone(), t.users.iter().filter(|(_, until)| *until > now).map(|(u, _)| u.clone()).collect()))
            .collect()
    }

    /// Forgets a purged room.
    pub fn drop_room(&self, room: &RoomId) {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).remove(room.as_str());
    }
}
