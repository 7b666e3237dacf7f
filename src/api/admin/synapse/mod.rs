//! `/_synapse/admin/...`.

pub mod accounts;
pub mod devices;
pub mod federation;
pub mod jobs;
pub mod media;
pub mod notices;
pub mod register;
pub mod registration_tokens;
pub mod reports;
pub mod rooms;
pub mod user_controls;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(accounts::configure)
        .configure(devices::configure)
        .configure(federation::configure)
        .configure(media::configure)
        .configure(register::configure)
        .configure(registration_tokens::configure)
        .configure(notices::configure)
        .configure(reports::configure)
        .configure(|cfg| crate::api::routes(cfg, rooms::routes().into_iter().chain(jobs::routes()).collect()))
        .configure(user_controls::configure)
        .configure(users::configure);
}
