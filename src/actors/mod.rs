//! The actors: one per active room and user, the directory that finds them, the notifier that
//! wakes long-polling syncs.

pub mod directory;
pub mod notifier;
pub mod room;
pub mod search;
pub mod user;
