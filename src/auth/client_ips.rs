//! Remembers the (ip, user agent) of authenticated requests in memory and writes them to the
//! store in batches, so a busy client does not cost a write per request.

use crate::store::Db;
use crate::store::client_ips::Seen;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct ClientIps {
    pending: Mutex<HashMap<Seen, i64>>,
}

impl ClientIps {
    pub fn note(&self, seen: Seen, ts: i64) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(seen, ts);
    }

    /// Writes everything noted so far.
    pub async fn flush(&self, db: &Db) -> crate::error::Result<()> {
        let batch: Vec<(Seen, i64)> = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if batch.is_empty() {
            return Ok(());
        }
        db.run(move |c| crate::store::client_ips::record(c, &batch)).await
    }
}
