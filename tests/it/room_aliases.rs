//! Aliases and the room's canonical alias event: the event names only existing aliases of its
//! room, a room admin may delete others' aliases, and a deleted alias leaves the event.

use crate::common::*;
use serde_json::{Value, json};

fn alias_path(alias: &str) -> String {
    format!("{V3}/directory/room/{}", enc(alias))
}

fn canonical_path(room: &str) -> String {
    room_path(room, "state/m.room.canonical_alias/")
}

async fn canonical(s: &TestServer, user: &User, room: &str) -> Value {
    s.get(&canonical_path(room), &user.token).await.ok()
}

#[actix_rt::test]
async fn canonical_alias_must_name_aliases_of_the_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"room_alias_name": "here"})).await;
    let other = s.create_room(&alice, json!({"room_alias_name": "elsewhere"})).await;
    let (here, elsewhere) = (format!("#here:{}", s.server_name()), format!("#elsewhere:{}", s.server_name()));
    let missing = format!("#NOT-here:{}", s.server_name());
    assert!(!other.is_empty());

    s.put(&canonical_path(&room), &alice.token, json!({"alias": here})).await.ok();
    s.put(&canonical_path(&room), &alice.token, json!({"alias": here, "alt_aliases": [here]})).await.ok();

    for (content, status, errcode) in [
        (json!({"alias": missing}), 400, "M_BAD_ALIAS"),
        (json!({"alias": here, "alt_aliases": [missing]}), 400, "M_BAD_ALIAS"),
        (json!({"alias": here, "alt_aliases": [elsewhere]}), 400, "M_BAD_ALIAS"),
        (json!({"alias": elsewhere}), 400, "M_BAD_ALIAS"),
        (json!({"alias": here.replacen('#', "%", 1)}), 400, "M_INVALID_PARAM"),
        (json!({"alias": here, "alt_aliases": [here.replacen('#', "%", 1)]}), 400, "M_INVALID_PARAM"),
        (json!({"alias": 5}), 400, "M_INVALID_PARAM"),
        (json!({"alias": here, "alt_aliases": "not a list"}), 400, "M_INVALID_PARAM"),
        (json!({"alias": here, "alt_aliases": [7]}), 400, "M_INVALID_PARAM"),
    ] {
        s.put(&canonical_path(&room), &alice.token, content.clone()).await.err(status, errcode);
    }
    // The event in force is the last accepted one.
    assert_eq!(canonical(&s, &alice, &room).await, json!({"alias": here, "alt_aliases": [here]}));
    // An empty content clears it.
    s.put(&canonical_path(&room), &alice.token, json!({})).await.ok();
    assert_eq!(canonical(&s, &alice, &room).await, json!({}));
}

#[actix_rt::test]
async fn room_admins_delete_others_aliases() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    let alias = format!("#bobs:{}", s.server_name());
    s.put(&alias_path(&alias), &bob.token, json!({"room_id": room})).await.ok();

    // carol has no power to set the canonical alias: refused.
    s.req("DELETE", &alias_path(&alias), Some(&carol.token), None).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&alias_path(&alias), &carol.token).await.ok()["room_id"], room.as_str());
    // alice (room admin) may.
    s.req("DELETE", &alias_path(&alias), Some(&alice.token), None).await.ok();
    s.get(&alias_path(&alias), &carol.token).await.err(404, "M_NOT_FOUND");

    // Power in the room, not just any power: once raised, carol may too.
    s.put(&alias_path(&alias), &bob.token, json!({"room_id": room})).await.ok();
    set_level(&s, &alice, &room, &carol.user_id, 100).await.ok();
    s.req("DELETE", &alias_path(&alias), Some(&carol.token), None).await.ok();
    s.get(&alias_path(&alias), &carol.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn deleting_an_alias_removes_it_from_the_canonical_alias() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    let (main, alt, kept) =
        (format!("#main:{}", s.server_name()), format!("#alt:{}", s.server_name()), format!("#kept:{}", s.server_name()));
    for a in [&main, &alt, &kept] {
        s.put(&alias_path(a), &alice.token, json!({"room_id": room})).await.ok();
    }
    s.put(&canonical_path(&room), &alice.token, json!({"alias": main, "alt_aliases": [alt, kept]})).await.ok();

    s.req("DELETE", &alias_path(&main), Some(&alice.token), None).await.ok();
    assert_eq!(canonical(&s, &bob, &room).await, json!({"alt_aliases": [alt, kept]}));
    s.req("DELETE", &alias_path(&alt), Some(&alice.token), None).await.ok();
    let now = canonical(&s, &bob, &room).await;
    assert_eq!(now, json!({"alt_aliases": [kept]}));
    let event = s.get(&format!("{}?format=event", canonical_path(&room)), &bob.token).await.ok();
    assert_eq!(event["sender"], alice.user_id.as_str(), "sent by the deleter");

    // An alias creator without power deletes their alias; the event cannot change then.
    let bobs = format!("#bobs:{}", s.server_name());
    s.put(&alias_path(&bobs), &bob.token, json!({"room_id": room})).await.ok();
    s.put(&canonical_path(&room), &alice.token, json!({"alias": bobs})).await.ok();
    s.req("DELETE", &alias_path(&bobs), Some(&bob.token), None).await.ok();
    s.get(&alias_path(&bobs), &bob.token).await.err(404, "M_NOT_FOUND");
}
