//! Who is asking: access tokens, the `Requester` and `Admin` extractors, passwords, UIA, rate limits.

pub mod client_ips;
pub mod expiring;
pub mod password;
pub mod rate_limit;
pub mod shared_secret;
pub mod tokens;
pub mod uia;

pub use tokens::{Admin, Requester};
