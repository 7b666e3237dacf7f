//! The domain layer: what the server does, one module per area, whichever HTTP dialect asked.
//! Handlers in `api` parse a request into typed values, call one operation here and shape its
//! result; only this layer reaches the actors and the store. Nothing here knows about HTTP.

pub mod aliases;
pub mod history;
pub mod membership;
pub mod notices;
pub mod receipts;
pub mod room_directory;
pub mod room_events;
pub mod search;
pub mod sync;
pub mod typing;
