//! The Matrix client-server API, one file per area.

pub mod account;
pub mod account_data;
pub mod aliases;
pub mod devices;
pub mod events;
pub mod key_backup;
pub mod key_signatures;
pub mod keys;
pub mod legacy;
pub mod media;
pub mod membership;
pub mod mutual_rooms;
pub mod notifications;
pub mod openid;
pub mod presence;
pub mod profile;
pub mod push_rules;
pub mod pushers;
pub mod receipts;
pub mod registration_tokens;
pub mod relations;
pub mod reports;
pub mod room_directory;
pub mod rooms;
pub mod search;
pub mod spaces;
pub mod sync;
pub mod thirdparty;
pub mod to_device;
pub mod typing;
pub mod user_directory;
pub mod versions;
pub mod voip;

use actix_web::web;

/// Routes served under both `/_matrix/client/v3` and `/_matrix/client/r0`.
/// actix tries a scope's resources in turn, a regex match each: the busiest routes (sending,
/// syncing) come first. No two areas' paths overlap, so the order changes nothing else.
pub fn configure_versioned(cfg: &mut web::ServiceConfig) {
    cfg.configure(events::configure)
        .configure(sync::configure)
        .configure(account::configure)
        .configure(profile::configure)
        .configure(rooms::configure)
        .configure(membership::configure)
        .configure(aliases::configure)
        .configure(search::configure)
        .configure(account_data::configure)
        .configure(devices::configure)
        .configure(keys::configure)
        .configure(key_signatures::configure)
        .configure(key_backup::configure)
        .configure(presence::configure)
        .configure(room_directory::configure)
        .configure(typing::configure)
        .configure(user_directory::configure)
        .configure(receipts::configure)
        .configure(reports::configure)
        .configure(to_device::configure)
        .configure(versions::configure)
        .configure(push_rules::configure)
        .configure(notifications::configure)
        .configure(pushers::configure)
        .configure(openid::configure)
        .configure(voip::configure)
        .configure(thirdparty::configure)
        .configure(legacy::configure);
}

/// Routes clients still call under `/_matrix/client/unstable`, where Synapse serves them too
/// (cross-signing uploads from clients written before the stable prefix, the registration token
/// validity check).
pub fn configure_unstable(cfg: &mut web::ServiceConfig) {
    cfg.configure(keys::configure)
        .configure(key_signatures::configure)
        .configure(mutual_rooms::configure_unstable)
        .configure(registration_tokens::configure_unstable);
}

pub fn configure_unversioned(cfg: &mut web::ServiceConfig) {
    for prefix in ["/_matrix/media/v3", "/_matrix/media/r0"] {
        cfg.service(web::scope(prefix).configure(media::configure_legacy));
    }
    media::configure_v1(cfg);
    registration_tokens::configure_v1(cfg);
    relations::configure_v1(cfg);
    spaces::configure_v1(cfg);
    mutual_rooms::configure_v1(cfg);
    crate::api::routes(cfg, vec![("/_matrix/client/versions", web::get().to(versions::versions))]);
}
