//! The admin dialects: `/_dendrite/admin/...` and `/_synapse/admin/...`. Every route takes the
//! `Admin` extractor (src/auth/tokens.rs), the one place the admin check is made.

pub mod dendrite;
pub mod synapse;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/_dendrite/admin").configure(dendrite::configure));
    cfg.service(web::scope("/_synapse/admin").configure(synapse::configure));
}
