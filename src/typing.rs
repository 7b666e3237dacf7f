//! Who is typing where, as each `RoomActor` last published it. The room actor owns the truth
//! (and its expiry timers); syncs read this board instead of asking actors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

pub struct TypingBoard {
    rooms: Mutex<HashMap<String, RoomTyping>>,
    position: AtomicI64,
}

struct RoomTyping {
    users: Vec<(String, Instant)>,
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
    pub fn publish(&self, room: &str, users: Vec<(String, Instant)>) -> i64 {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let position = self.position.fetch_add(1, Ordering::SeqCst) + 1;
        // An empty list is kept too, so syncs learn that everyone stopped.
        rooms.insert(room.to_owned(), RoomTyping { users, position });
        position
    }

    /// Rooms whose typing list changed in (after, upto], with who is typing there now.
    pub fn changed(&self, after: i64, upto: i64) -> HashMap<String, Vec<String>> {
        let now = Instant::now();
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .filter(|(_, t)| t.position > after && t.position <= upto)
            .map(|(room, t)| (room.clone(), t.users.iter().filter(|(_, until)| *until > now).map(|(u, _)| u.clone()).collect()))
            .collect()
    }

    /// Forgets a purged room.
    pub fn drop_room(&self, room: &str) {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).remove(room);
    }
}
