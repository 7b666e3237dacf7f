//! Who is asking: access tokens, the `Requester` and `Admin` extractors, passwords, UIA.

pub mod password;
pub mod tokens;
pub mod uia;

pub use tokens::{Admin, Requester};
