//! The admin dialects: `/_synapse/admin/...` and `/_dendrite/admin/...`.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
