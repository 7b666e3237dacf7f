//! The domain layer: what the server does, one module per area, whichever HTTP dialect asked.
//! Handlers in `api` parse a request into typed values, call one operation here and shape its
//! result; only this layer reaches the actors and the store. Nothing here knows about HTTP.

pub mod account_data;
pub mod accounts;
pub mod admin;
pub mod devices;
pub mod key_signatures;
pub mod keys;
pub mod media;
pub mod presence;
pub mod profile;
pub mod pushers;
pub mod to_device;
pub mod user_directory;
