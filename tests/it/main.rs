//! One test binary for every HTTP-level integration test (linking is the expensive part).

mod actor_lifecycle;
mod actors;
mod admin_dendrite;
mod admin_register_notices;
mod admin_synapse_users;
mod authz;
mod bad_input;
mod cli;
mod common;
mod config;
mod durability;
mod erasure;
mod federation;
mod journey;
mod keys;
mod media;
mod presence;
mod receipts;
mod room_directory;
mod search;
mod stream_positions;
mod to_device;
mod typing;
mod user_directory;
