//! The authorization rules per family and room version, through the same steps a room actor
//! takes: input checks, ruma's auth event selection, building, ruma's checks, applying.

use super::*;
use crate::events::signing_key::ServerKeys;
use crate::events::{BuildContext, supported_rules};
use ruma::signatures::Ed25519KeyPair;
use serde_json::json;

const VERSIONS: &[&str] = &["1", "3", "6", "7", "8", "10", "11", "12"];
const ALICE: &str = "@alice:test.local";
const BOB: &str = "@bob:test.local";
const CAROL: &str = "@carol:test.local";

fn keys() -> ServerKeys {
    let der = Ed25519KeyPair::generate();
    ServerKeys { server_name: "test.local".into(), keypair: Ed25519KeyPair::from_der(&der, "a_test".into()).expect("key") }
}

struct Room {
    version: &'static str,
    rules: RoomVersionRules,
    state: RoomState,
    room_id: OwnedRoomId,
    last: Option<OwnedEventId>,
    hashes: HashMap<OwnedEventId, String>,
    depth: i64,
    keys: ServerKeys,
}

impl Room {
    /// A room whose create event carries `create` merged over the version's defaults.
    fn with_create(version: &'static str, create: Value) -> (Self, Result<OwnedEventId>) {
        let rules = supported_rules(version).expect("supported");
        let mut room = Room {
            version,
            rules,
            state: RoomState::default(),
            room_id: RoomId::parse("!provisional:test.local").expect("room ID"),
            last: None,
            hashes: HashMap::new(),
            depth: 0,
            keys: keys(),
        };
        let r = room.send(ALICE, EventDraft::state("m.room.create", "", create));
        if let Ok(id) = &r
            && let Some(p) = room.state.get("m.room.create", "")
        {
            assert_eq!(&p.event_id, id);
        }
        (room, r)
    }

    /// Alice's room: create, her join, power levels (bob at `bob_level`), join rule.
    fn new(version: &'static str, join_rule: &str, bob_level: i64) -> Self {
        let rules = supported_rules(version).expect("supported");
        let mut create = json!({"room_version": version});
        if !rules.authorization.use_room_create_sender {
            create["creator"] = json!(ALICE);
        }
        let (mut room, r) = Self::with_create(version, create);
        r.expect("create");
        room.ok(ALICE, member(ALICE, "join"));
        let mut users = json!({BOB: bob_level});
        if !rules.authorization.explicitly_privilege_room_creators {
            users[ALICE] = json!(100);
        }
        room.ok(
            ALICE,
            EventDraft::state(
                "m.room.power_levels",
                "",
                json!({"users": users, "state_default": 50, "events": {"m.room.power_levels": 100}}),
            ),
        );
        room.ok(ALICE, EventDraft::state("m.room.join_rules", "", json!({"join_rule": join_rule})));
        room
    }

    fn send(&mut self, sender: &str, draft: EventDraft) -> Result<OwnedEventId> {
        let sender = &u(sender);
        self.state.refuse_malformed(&draft, sender)?;
        let auth_events = if draft.kind == "m.room.create" && self.state.is_empty() {
            Vec::new()
        } else {
            self.state.auth_events_for(&draft, sender, &self.rules.authorization)?
        };
        let ctx = BuildContext {
            room_id: &self.room_id,
            sender,
            prev_events: self.last.iter().cloned().collect(),
            auth_events,
            reference_hashes: &self.hashes,
            depth: self.depth + 1,
            rules: &self.rules,
            keys: &self.keys,
            max_bytes: 65_535,
        };
        let built = super::super::build(&draft, &ctx)?;
        let view = AuthEvent::new(&built.pdu, &self.rules, &ctx.prev_events, &ctx.auth_events)?;
        self.state.check(&view, &self.rules.authorization)?;
        self.state.apply(&built.pdu, &self.rules);
        if built.pdu.kind == "m.room.create" {
            // From v12 the create event names the room.
            self.room_id = built.pdu.room_id.clone();
        }
        self.hashes.insert(built.pdu.event_id.clone(), built.reference_hash);
        self.depth += 1;
        self.last = Some(built.pdu.event_id.clone());
        Ok(built.pdu.event_id)
    }

    fn ok(&mut self, sender: &str, draft: EventDraft) -> OwnedEventId {
        let what = format!("v{} {sender} {} {:?} {}", self.version, draft.kind, draft.state_key, draft.content);
        self.send(sender, draft).unwrap_or_else(|e| panic!("{what}: {e:?}"))
    }

    fn refused(&mut self, sender: &str, draft: EventDraft, errcode: &str) {
        let what = format!("v{} {sender} {} {:?} {}", self.version, draft.kind, draft.state_key, draft.content);
        match self.send(sender, draft) {
            Ok(id) => panic!("{what}: accepted as {id}"),
            Err(e) => assert_eq!(e.errcode(), errcode, "{what}: {e:?}"),
        }
    }

    fn message(&mut self, sender: &str) -> Result<OwnedEventId> {
        self.send(sender, EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": "hi"})))
    }

    fn level(&self, user: &str) -> i64 {
        self.state.user_level(&u(user), &self.rules.authorization)
    }
}

fn u(user: &str) -> OwnedUserId {
    UserId::parse(user).expect("user ID")
}

fn member(user: &str, membership: &str) -> EventDraft {
    EventDraft::state("m.room.member", user, json!({"membership": membership}))
}

#[test]
fn create_event_per_version() {
    for &v in VERSIONS {
        let room = Room::new(v, "public", 0);
        let create = room.state.get("m.room.create", "").expect("create");
        let rules = &room.rules;
        if rules.authorization.room_create_event_id_as_room_id {
            // v12: the room ID is the create event's hash, with no server name.
            assert_eq!(room.room_id, format!("!{}", create.event_id.as_str().trim_start_matches('$')), "v{v}");
            assert!(!room.room_id.as_str().contains(':'), "v{v}: {}", room.room_id);
        } else {
            assert!(room.room_id.as_str().ends_with(":test.local"), "v{v}: {}", room.room_id);
        }
        // v1/v2 event IDs carry the server name; later ones are hashes.
        assert_eq!(create.event_id.as_str().contains(':'), v == "1", "v{v}: {}", create.event_id);
        if matches!(v, "4" | "6" | "8" | "10" | "11" | "12") {
            assert!(!create.event_id.as_str().contains(['+', '/']), "v{v}: {}", create.event_id);
        }
        // v1-v10 name the creator in the content; v11 on use the sender.
        assert_eq!(room.state.creators(&rules.authorization).into_iter().map(|u| u.to_string()).collect::<Vec<_>>(), vec![ALICE]);
    }
}

#[test]
fn create_event_rules() {
    for &v in VERSIONS {
        let rules = supported_rules(v).expect("rules");
        // Before v11 the creator field is required.
        let (_, r) = Room::with_create(v, json!({"room_version": v}));
        assert_eq!(r.is_ok(), rules.authorization.use_room_create_sender, "v{v}: {r:?}");
        // A second create event is refused.
        let mut room = Room::new(v, "public", 0);
        room.refused(ALICE, EventDraft::state("m.room.create", "", json!({"room_version": v, "creator": ALICE})), "M_FORBIDDEN");
        // The create event is among the auth events until v12.
        let create_id = room.state.get("m.room.create", "").expect("create").event_id.clone();
        let auth =
            room.state.auth_events_for(&EventDraft::message("m.room.message", json!({})), &u(ALICE), &rules.authorization).expect("auth");
        assert_eq!(auth.contains(&create_id), v != "12", "v{v}: {auth:?}");
        // From v12, additional creators must be user IDs.
        if v == "12" {
            let (_, r) = Room::with_create(v, json!({"room_version": v, "additional_creators": ["not a user"]}));
            assert!(r.is_err(), "v{v}");
        }
    }
}

#[test]
fn membership_transitions() {
    for &v in VERSIONS {
        let mut room = Room::new(v, "invite", 50);
        // Invite-only: no join without an invite, nor a join for someone else.
        room.refused(CAROL, member(CAROL, "join"), "M_FORBIDDEN");
        room.refused(ALICE, member(CAROL, "join"), "M_FORBIDDEN");
        // An invite from a member, then the join.
        room.ok(ALICE, member(BOB, "invite"));
        room.refused(BOB, member(CAROL, "invite"), "M_FORBIDDEN");
        room.ok(BOB, member(BOB, "join"));
        room.refused(ALICE, member(BOB, "invite"), "M_FORBIDDEN");
        room.ok(BOB, member(CAROL, "invite"));
        room.ok(CAROL, member(CAROL, "join"));
        room.message(CAROL).expect("member sends");
        // Carol (0) cannot kick bob (50); bob kicks carol.
        room.refused(CAROL, member(BOB, "leave"), "M_FORBIDDEN");
        room.ok(BOB, member(CAROL, "leave"));
        assert!(room.message(CAROL).is_err(), "v{v}: a kicked user sends");
        // Kicking someone not in the room is refused before the rules.
        room.refused(BOB, member(CAROL, "leave"), "M_FORBIDDEN");
        // Ban: bob cannot ban alice (100); alice bans carol, who cannot come back until unbanned.
        room.refused(BOB, member(ALICE, "ban"), "M_FORBIDDEN");
        room.ok(ALICE, member(CAROL, "ban"));
        room.refused(CAROL, member(CAROL, "join"), "M_FORBIDDEN");
        room.refused(ALICE, member(CAROL, "invite"), "M_FORBIDDEN");
        room.ok(ALICE, member(CAROL, "leave"));
        room.ok(ALICE, member(CAROL, "invite"));
        room.ok(CAROL, member(CAROL, "join"));
        // Leaving, and not leaving twice.
        room.ok(CAROL, member(CAROL, "leave"));
        room.refused(CAROL, member(CAROL, "leave"), "M_FORBIDDEN");
        // Malformed member events are 400s.
        room.refused(ALICE, member("not-a-user", "invite"), "M_INVALID_PARAM");
        room.refused(ALICE, member(CAROL, "wander"), "M_BAD_JSON");
        room.refused(ALICE, EventDraft::state("m.room.member", CAROL, json!({})), "M_BAD_JSON");

        // Public: anyone joins.
        let mut public = Room::new(v, "public", 0);
        public.ok(CAROL, member(CAROL, "join"));
    }
}

/// The interested users are kept between commits; every membership change makes them anew.
#[test]
fn interested_users_follow_each_membership_change() {
    let mut room = Room::new("10", "invite", 50);
    let names = |room: &mut Room| {
        let mut v: Vec<String> = room.state.interested_users().iter().map(|u| u.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&mut room), [ALICE]);
    let kept = room.state.interested_users();
    room.message(ALICE).expect("a message");
    assert!(Arc::ptr_eq(&kept, &room.state.interested_users()), "a message keeps the list");
    room.ok(ALICE, member(BOB, "invite"));
    assert_eq!(names(&mut room), [ALICE, BOB], "the invited hear of new events");
    room.ok(BOB, member(BOB, "join"));
    room.ok(BOB, member(CAROL, "invite"));
    assert_eq!(names(&mut room), [ALICE, BOB, CAROL]);
    room.ok(BOB, member(CAROL, "leave"));
    assert_eq!(names(&mut room), [ALICE, BOB], "a withdrawn invite");
    room.ok(BOB, member(BOB, "leave"));
    assert_eq!(names(&mut room), [ALICE], "a leave");
}

#[test]
fn restricted_and_knock_join_rules_where_the_version_has_them() {
    for &v in VERSIONS {
        let rules = supported_rules(v).expect("rules").authorization;
        // Restricted (v8 on): a join vouched for by a member who may invite, not an unvouched one.
        let mut room = Room::new(v, "restricted", 0);
        room.refused(CAROL, member(CAROL, "join"), "M_FORBIDDEN");
        let vouched = EventDraft::state("m.room.member", CAROL, json!({"membership": "join", "join_authorised_via_users_server": ALICE}));
        match room.send(CAROL, vouched) {
            Ok(_) => assert!(rules.restricted_join_rule, "v{v}: restricted join before v8"),
            Err(e) => assert!(!rules.restricted_join_rule, "v{v}: {e:?}"),
        }
        // Knock (v7 on): a knock is recorded, and the knocker can be invited in.
        let mut room = Room::new(v, "knock", 0);
        match room.send(CAROL, member(CAROL, "knock")) {
            Ok(_) => {
                assert!(rules.knocking, "v{v}: knock before v7");
                assert_eq!(room.state.membership(&u(CAROL)), MembershipState::Knock);
                room.ok(ALICE, member(CAROL, "invite"));
                room.ok(CAROL, member(CAROL, "join"));
            }
            Err(e) => assert!(!rules.knocking, "v{v}: {e:?}"),
        }
        // Nobody joins a knock room uninvited.
        room.refused(BOB, member(BOB, "join"), "M_FORBIDDEN");
    }
}

#[test]
fn power_levels() {
    for &v in VERSIONS {
        let rules = supported_rules(v).expect("rules").authorization;
        let mut room = Room::new(v, "public", 50);
        room.ok(BOB, member(BOB, "join"));
        room.ok(CAROL, member(CAROL, "join"));
        let pl =
            |users: Value| EventDraft::state("m.room.power_levels", "", json!({"users": users, "events": {"m.room.power_levels": 50}}));
        let with_alice = |mut users: Value| {
            if !rules.explicitly_privilege_room_creators {
                users[ALICE] = json!(100);
            }
            users
        };
        // Carol (0) may not send power levels, bob (50) not until the room lets moderators.
        room.refused(CAROL, pl(with_alice(json!({CAROL: 100}))), "M_FORBIDDEN");
        room.refused(BOB, pl(with_alice(json!({BOB: 50}))), "M_FORBIDDEN");
        room.ok(ALICE, pl(with_alice(json!({BOB: 50}))));
        // Bob may now edit, but not above his own level, nor demote his equal or better.
        room.refused(BOB, pl(with_alice(json!({BOB: 51}))), "M_FORBIDDEN");
        room.refused(BOB, pl(with_alice(json!({BOB: 50, CAROL: 75}))), "M_FORBIDDEN");
        room.ok(BOB, pl(with_alice(json!({BOB: 50, CAROL: 50}))));
        room.refused(BOB, pl(with_alice(json!({BOB: 50, CAROL: 0}))), "M_FORBIDDEN");
        if !rules.explicitly_privilege_room_creators {
            room.refused(BOB, pl(json!({ALICE: 0, BOB: 50, CAROL: 50})), "M_FORBIDDEN");
        }
        assert_eq!(room.level(CAROL), 50, "v{v}");
        // Shapes: strings that hold integers only before v10; never junk or non-user keys.
        let string_level = room.send(ALICE, EventDraft::state("m.room.power_levels", "", json!({"users": with_alice(json!({BOB: "50"}))})));
        match string_level {
            Ok(_) => assert!(!rules.integer_power_levels, "v{v}: a string level from v10"),
            Err(e) => {
                assert!(rules.integer_power_levels, "v{v}: {e:?}");
                assert_eq!(e.errcode(), "M_BAD_JSON", "v{v}: {e:?}");
            }
        }
        room.refused(ALICE, EventDraft::state("m.room.power_levels", "", json!({"users_default": "abc"})), "M_BAD_JSON");
        room.refused(ALICE, EventDraft::state("m.room.power_levels", "", json!({"users": {"nobody": 5}})), "M_BAD_JSON");
        room.refused(ALICE, EventDraft::state("m.room.power_levels", "", json!({"events": ["m.room.name"]})), "M_BAD_JSON");
    }
}

#[test]
fn v12_creators_are_infinitely_powerful_and_never_listed() {
    let mut room = Room::new("12", "public", 50);
    assert_eq!(room.level(ALICE), i64::MAX);
    // Listing a creator in `users` is refused.
    room.refused(ALICE, EventDraft::state("m.room.power_levels", "", json!({"users": {ALICE: 100}})), "M_FORBIDDEN");
    // The creator can do anything without being listed, even with every level at 100.
    room.ok(
        ALICE,
        EventDraft::state(
            "m.room.power_levels",
            "",
            json!({"users": {BOB: 100}, "state_default": 100, "ban": 100, "kick": 100, "events_default": 100}),
        ),
    );
    room.ok(BOB, member(BOB, "join"));
    room.ok(ALICE, member(BOB, "ban"));
    // Additional creators share the power.
    let (mut room, r) = Room::with_create("12", json!({"room_version": "12", "additional_creators": [BOB]}));
    r.expect("create");
    room.ok(ALICE, member(ALICE, "join"));
    room.ok(ALICE, EventDraft::state("m.room.join_rules", "", json!({"join_rule": "public"})));
    room.ok(BOB, member(BOB, "join"));
    assert_eq!(room.level(BOB), i64::MAX);
    room.ok(BOB, EventDraft::state("m.room.name", "", json!({"name": "co-owned"})));
    room.refused(CAROL, member(CAROL, "ban"), "M_FORBIDDEN");
    // Before v12 a creator is a plain 100 once power levels exist.
    let room = Room::new("11", "public", 50);
    assert_eq!(room.level(ALICE), 100);
}

#[test]
fn redaction() {
    for &v in VERSIONS {
        let rules = supported_rules(v).expect("rules");
        let mut room = Room::new(v, "public", 0);
        room.ok(BOB, member(BOB, "join"));
        let alices = room.message(ALICE).expect("message");
        let bobs = room.message(BOB).expect("message");
        let redact = |target: &OwnedEventId| EventDraft {
            kind: "m.room.redaction".into(),
            state_key: None,
            content: json!({}),
            redacts: Some(target.clone()),
        };
        // The rules accept a redaction from a member (v1-v2: same server's event); whether it may
        // take effect on someone else's event is the redact level, the server's policy.
        let auth = &rules.authorization;
        assert!(room.state.may_redact(&u(BOB), Some(&u(BOB)), auth));
        assert!(!room.state.may_redact(&u(BOB), Some(&u(ALICE)), auth), "v{v}");
        assert!(room.state.may_redact(&u(ALICE), Some(&u(BOB)), auth), "v{v}");
        room.ok(BOB, redact(&bobs));
        room.ok(ALICE, redact(&alices));
        // Not from outside the room.
        room.refused(CAROL, redact(&bobs), "M_FORBIDDEN");
        // v11 on: `redacts` also inside the content.
        assert_eq!(rules.redaction.content_field_redacts, matches!(v, "11" | "12"), "v{v}");
    }
}

#[test]
fn every_supported_version_has_rules_and_others_do_not() {
    for v in 1..=12 {
        assert!(supported_rules(&v.to_string()).is_some(), "v{v}");
    }
    for v in ["0", "13", "999", "org.matrix.msc2870", ""] {
        assert!(supported_rules(v).is_none(), "{v}");
    }
}
