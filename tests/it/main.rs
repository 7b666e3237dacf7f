//! One test binary for every HTTP-level integration test (linking is the expensive part).

mod common;
mod journey;
