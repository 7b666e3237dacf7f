//! `GET /_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms`: the rooms the requester
//! shares with another user, in Synapse's unstable shape, and its advertisement in `/versions`.

use crate::common::*;
use serde_json::json;

fn mutual_path(user: &str) -> String {
    format!("/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms?user_id={}", enc(user))
}

#[actix_web::test]
async fn mutual_rooms_lists_rooms_both_users_joined() {
    let (s, alice, bob, first) = alice_bob_and_a_room().await;
    let carol = s.register_user("carol").await;
    assert_eq!(s.get(&mutual_path(&bob.user_id), &alice.token).await.ok(), json!({"joined": []}));
    s.join(&bob, &first).await.ok();
    let second = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &second).await.ok();
    // Rooms with only one of them, or an invite, do not count.
    s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let invited = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    s.invite(&alice, &invited, &bob.user_id).await.ok();
    s.join(&carol, &first).await.ok();

    let mut want = vec![first.clone(), second.clone()];
    want.sort();
    assert_eq!(s.get(&mutual_path(&bob.user_id), &alice.token).await.ok(), json!({"joined": want}));
    assert_eq!(s.get(&mutual_path(&alice.user_id), &bob.token).await.ok(), json!({"joined": want}));
    assert_eq!(s.get(&mutual_path(&carol.user_id), &bob.token).await.ok(), json!({"joined": [first.clone()]}));
    // Once bob leaves, the room is no longer shared.
    leave(&s, &bob, &first).await.ok();
    assert_eq!(s.get(&mutual_path(&bob.user_id), &alice.token).await.ok(), json!({"joined": [second]}));
    // A user unknown here shares nothing.
    assert_eq!(s.get(&mutual_path("@nobody:test.local"), &alice.token).await.ok(), json!({"joined": []}));

    let versions = s.req("GET", "/_matrix/client/versions", None, None).await.ok();
    assert_eq!(versions["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms"], true);
}

#[actix_web::test]
async fn mutual_rooms_errors() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    s.get(&mutual_path(&alice.user_id), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.get(&mutual_path("not-a-user"), &alice.token).await.err(400, "M_INVALID_PARAM");
    let base = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms";
    s.get(base, &alice.token).await.err(400, "M_MISSING_PARAM");
    let twice = format!("{base}?user_id={}&user_id={}", enc(&bob.user_id), enc(&bob.user_id));
    s.get(&twice, &alice.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("{}&batch_token=x", mutual_path(&bob.user_id)), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &mutual_path(&bob.user_id), None, None).await.err(401, "M_MISSING_TOKEN");
}
