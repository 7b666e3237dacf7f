//! The actors: one per active room and user, the directory that finds them, the notifier that
//! wakes long-polling syncs, the push rule evaluator and the pusher that calls push gateways.

pub mod directory;
pub mod notifier;
pub mod push;
pub mod pusher;
pub mod room;
pub mod search;
pub mod user;
