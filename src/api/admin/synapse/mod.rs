//! `/_synapse/admin/...`.

pub mod notices;
pub mod register;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(register::configure).configure(notices::configure).configure(users::configure);
}
