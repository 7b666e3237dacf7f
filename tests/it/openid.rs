//! OpenID: `/user/{userId}/openid/request_token` for oneself only, and the federation API's
//! `/openid/userinfo`, which tells a third party whose a token is until it expires.

use crate::common::*;
use serde_json::json;

fn request_path(user: &str) -> String {
    format!("{V3}/user/{}/openid/request_token", enc(user))
}

async fn userinfo(s: &TestServer, token: &str) -> Resp {
    s.req("GET", &format!("/_matrix/federation/v1/openid/userinfo?access_token={}", enc(token)), None, None).await
}

async fn request(s: &TestServer, user: &User) -> String {
    let body = s.post(&request_path(&user.user_id), &user.token, json!({})).await.ok();
    body["access_token"].as_str().expect("access_token").to_owned()
}

#[actix_rt::test]
async fn a_token_vouches_for_its_user_for_an_hour() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let body = s.post(&request_path(&alice.user_id), &alice.token, json!({})).await.ok();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["matrix_server_name"], s.server_name());
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().expect("access_token");
    assert!(token.len() >= 43, "256 bits: {token}");
    assert_eq!(userinfo(&s, token).await.ok(), json!({"sub": alice.user_id}));
    // The token is not an access token.
    whoami(&s, token).await.err(401, "M_UNKNOWN_TOKEN");
    // Each request gives a new token; both work.
    let second = request(&s, &alice).await;
    assert_ne!(second, token);
    assert_eq!(userinfo(&s, &second).await.ok()["sub"], alice.user_id.as_str());
    assert_eq!(userinfo(&s, token).await.ok()["sub"], alice.user_id.as_str());
}

#[actix_rt::test]
async fn tokens_only_for_oneself_and_only_known_ones_answer() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    s.post(&request_path(&bob.user_id), &alice.token, json!({})).await.err(403, "M_FORBIDDEN");
    s.req("POST", &request_path(&alice.user_id), None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
    s.post(&request_path("not-a-user-id"), &alice.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.raw("POST", &request_path(&alice.user_id), Some(&alice.token), b"not json".to_vec()).await.err(400, "M_NOT_JSON");

    userinfo(&s, "made-up").await.err(401, "M_UNKNOWN_TOKEN");
    s.req("GET", "/_matrix/federation/v1/openid/userinfo", None, None).await.err(401, "M_MISSING_TOKEN");
    // An access token is not an OpenID token.
    userinfo(&s, &alice.token).await.err(401, "M_UNKNOWN_TOKEN");
}

#[actix_rt::test]
async fn expired_tokens_and_deactivated_users_are_unknown() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let db = s.server.services.db.clone();
    let (user, now) = (alice.user_id.clone(), ensemble::ids::now_ms());
    let hash = ensemble::auth::tokens::hash_token("old-token");
    db.run(move |c| ensemble::store::openid_tokens::insert(c, &hash, &user, now - 1, now - 3_600_001, 100)).await.expect("insert");
    userinfo(&s, "old-token").await.err(401, "M_UNKNOWN_TOKEN");

    let token = request(&s, &alice).await;
    assert_eq!(userinfo(&s, &token).await.ok()["sub"], alice.user_id.as_str());
    let mut auth = password_auth(&alice, &alice.password, "");
    auth.as_object_mut().expect("auth").remove("session");
    s.post(&format!("{V3}/account/deactivate"), &alice.token, json!({"auth": auth})).await.ok();
    userinfo(&s, &token).await.err(401, "M_UNKNOWN_TOKEN");
}

#[actix_rt::test]
async fn a_user_holds_a_bounded_number_of_tokens() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let first = request(&s, &alice).await;
    let mut last = String::new();
    for _ in 0..ensemble::service::openid::MAX_TOKENS_PER_USER {
        last = request(&s, &alice).await;
    }
    userinfo(&s, &first).await.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(userinfo(&s, &last).await.ok()["sub"], alice.user_id.as_str());
}
