//! Who is asking and how much they may do: sessions and tokens, passwords, UIA, rate limits.

pub mod client_ips;
pub mod expiring;
pub mod password;
pub mod rate_limit;
pub mod shared_secret;
pub mod tokens;
pub mod uia;
