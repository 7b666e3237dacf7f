//! The domain layer: what the server does, one module per area, whichever HTTP dialect asked.
//! Handlers in `api` parse a request into typed values, call one operation here and shape its
//! result; only this layer reaches the actors and the store. Nothing here knows about HTTP.

pub mod account_data;
pub mod accounts;
pub mod admin;
pub mod admin_jobs;
pub mod admin_room_actions;
pub mod admin_rooms;
pub mod aliases;
pub mod devices;
pub mod federation_destinations;
pub mod fixtures;
pub mod history;
pub mod key_backup;
pub mod key_signatures;
pub mod keys;
pub mod legacy;
pub mod media;
pub mod media_admin;
pub mod membership;
pub mod mutual_rooms;
pub mod notices;
pub mod notifications;
pub mod openid;
pub mod peek;
pub mod presence;
pub mod profile;
pub mod push_rules;
pub mod pushers;
pub mod receipts;
pub mod registration_tokens;
pub mod relations;
pub mod reports;
pub mod room_creation;
pub mod room_directory;
pub mod room_events;
pub mod room_upgrade;
pub mod search;
pub mod sessions;
pub mod spaces;
pub mod suspension;
pub mod sync;
pub mod to_device;
pub mod typing;
pub mod user_controls;
pub mod user_directory;
