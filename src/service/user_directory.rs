//! The user directory: finding people to talk to by localpart or display name.

use crate::Services;
use crate::error::Result;
use ruma::UserId;
use serde::Serialize;

/// Most results one search returns.
const MAX_LIMIT: u64 = 100;

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// Users matching `term` that `searcher` may find (those sharing a room or in a public one, or everyone if the
/// server says so), at most `limit` (capped); answers whether more matched.
pub async fn search(svc: &Services, searcher: &UserId, term: &str, limit: u64) -> Result<(Vec<Hit>, bool)> {
    let term = term.trim().to_owned();
    let limit = limit.min(MAX_LIMIT) as i64;
    if term.is_empty() {
        return Ok((vec![], false));
    }
    let (me, everyone) = (searcher.to_string(), svc.config.user_directory_search_all_users);
    let mut found = svc.db.run(move |c| crate::store::users::search_directory(c, &me, &term, limit + 1, everyone)).await?;
    let limited = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let hits = found.into_iter().map(|(user_id, display_name, avatar_url)| Hit { user_id, display_name, avatar_url }).collect();
    Ok((hits, limited))
}
