//! MSC2666, the rooms the requester shares with another user: the stable
//! `GET /_matrix/client/v1/mutual_rooms` (`{"joined", "count"}`, as Synapse serves it), the
//! unstable `uk.half-shot.msc2666` path (`{"joined"}`), and their advertisement in `/versions`.

use crate::common::*;
use serde_json::{Value, json};

const UNSTABLE: &str = "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms";
const STABLE: &str = "/_matrix/client/v1/mutual_rooms";

fn mutual_path(base: &str, user: &str) -> String {
    format!("{base}?user_id={}", enc(user))
}

/// Both paths' answers for `user`, checked against each other: the list of rooms.
async fn mutual(s: &TestServer, asker: &User, user: &str) -> Value {
    let unstable = s.get(&mutual_path(UNSTABLE, user), &asker.token).await.ok();
    let stable = s.get(&mutual_path(STABLE, user), &asker.token).await.ok();
    assert_eq!(stable["joined"], unstable["joined"]);
    assert_eq!(stable["count"], json!(unstable["joined"].as_array().map_or(0, Vec::len)));
    assert_eq!(unstable.as_object().map(|o| o.len()), Some(1), "{unstable}");
    unstable["joined"].clone()
}

#[actix_web::test]
async fn mutual_rooms_lists_rooms_both_users_joined() {
    let (s, alice, bob, first) = alice_bob_and_a_room().await;
    let carol = s.register_user("carol").await;
    assert_eq!(mutual(&s, &alice, &bob.user_id).await, json!([]));
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
    assert_eq!(mutual(&s, &alice, &bob.user_id).await, json!(want));
    assert_eq!(mutual(&s, &bob, &alice.user_id).await, json!(want));
    assert_eq!(mutual(&s, &bob, &carol.user_id).await, json!([first.clone()]));
    // Once bob leaves, the room is no longer shared.
    leave(&s, &bob, &first).await.ok();
    assert_eq!(mutual(&s, &alice, &bob.user_id).await, json!([second]));
    // A user unknown here shares nothing.
    assert_eq!(mutual(&s, &alice, "@nobody:test.local").await, json!([]));

    let versions = s.req("GET", "/_matrix/client/versions", None, None).await.ok();
    assert_eq!(versions["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms"], true);
    assert_eq!(versions["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms.stable"], true);
}

#[actix_web::test]
async fn mutual_rooms_errors() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    for base in [UNSTABLE, STABLE] {
        s.get(&mutual_path(base, &alice.user_id), &alice.token).await.err(400, "M_INVALID_PARAM");
        s.get(&mutual_path(base, "not-a-user"), &alice.token).await.err(400, "M_INVALID_PARAM");
        s.get(&mutual_path(base, "@nolocalpart"), &alice.token).await.err(400, "M_INVALID_PARAM");
        s.get(base, &alice.token).await.err(400, "M_MISSING_PARAM");
        let twice = format!("{base}?user_id={}&user_id={}", enc(&bob.user_id), enc(&bob.user_id));
        s.get(&twice, &alice.token).await.err(400, "M_INVALID_PARAM");
        for token in ["batch_token", "from"] {
            s.get(&format!("{}&{token}=x", mutual_path(base, &bob.user_id)), &alice.token).await.err(400, "M_INVALID_PARAM");
        }
        s.req("GET", &mutual_path(base, &bob.user_id), None, None).await.err(401, "M_MISSING_TOKEN");
    }
}
