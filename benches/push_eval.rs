//! Push rule evaluation of one message for the 31 other members of a 32-member room (the
//! `ensemble-load` room): ruma's one-shot evaluation per member against the evaluator's path
//! (the event flattened once, each member's rule decisions worked out once per page).

use criterion::{Criterion, criterion_group, criterion_main};
use ensemble::events::push::{self, PreparedEvent, RoomFacts, UserRules};
use ruma::room_version_rules::AuthorizationRules;
use ruma::{OwnedUserId, UserId, owned_room_id};
use serde_json::json;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let room = owned_room_id!("!bench:bench.local");
    let members: Vec<(OwnedUserId, String)> =
        (0..31).map(|i| (UserId::parse(format!("@user{i}:bench.local")).expect("a user ID"), format!("User {i}"))).collect();
    let sender = UserId::parse("@sender:bench.local").expect("a user ID");
    let event = json!({
        "type": "m.room.message", "sender": sender, "event_id": "$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "room_id": room, "origin_server_ts": 1_764_600_000_000_i64, "unsigned": {"age": 12},
        "content": {"msgtype": "m.text", "body": "message 12345 from the load tool, to everyone here"},
    });
    let facts = || RoomFacts {
        member_count: 32,
        power_levels: Some(push::power_levels_ctx(Some(&json!({"users": {sender.as_str(): 100}})), vec![], &AuthorizationRules::V6)),
    };
    let rulesets: Vec<_> = members.iter().map(|(u, _)| push::ruleset(&push::rules_from_stored(u, None))).collect();
    let mut group = c.benchmark_group("push_eval_31_members");
    group.bench_function("one_shot_per_member", |b| {
        let room_facts = facts();
        b.iter(|| {
            for ((user, name), rules) in members.iter().zip(&rulesets) {
                black_box(push::decide(rules, user, name, &room, &room_facts, &event));
            }
        })
    });
    group.bench_function("prepared_once", |b| {
        let room_facts = facts();
        let compiled: Vec<UserRules> = rulesets.iter().cloned().map(UserRules::new).collect();
        b.iter(|| {
            let mut prepared = PreparedEvent::new(&event, &sender, &room, &room_facts).expect("an object");
            for ((user, name), rules) in members.iter().zip(&compiled) {
                black_box(prepared.decide(rules, user, name));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
