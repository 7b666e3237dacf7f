//! The domain layer: operations shared by the HTTP handlers (client and admin), the only callers of actors and store.

pub mod room_creation;
