//! Identifier parsing at the edge and generation of new identifiers and secrets.

use crate::error::{Error, Result};
use rand::RngExt;
use ruma::{OwnedRoomAliasId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn random_alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

/// `len` characters drawn uniformly from `alphabet` (ASCII, not empty).
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// `bytes` random bytes from the OS-seeded CSPRNG, hex encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A 256-bit access token.
pub fn new_access_token() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill(&mut buf);
    use base64::Engine;
    format!("ens_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// A 256-bit OpenID token (what other servers exchange for the user's ID).
pub fn new_openid_token() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill(&mut buf);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn new_device_id() -> String {
    random_alnum(10).to_uppercase()
}

/// Longest client-chosen device ID, as Synapse bounds it at login (in bytes here).
pub const MAX_DEVICE_ID_BYTES: usize = 512;
/// Longest device display name, Synapse's limit.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;

/// A device ID a client chose: 400 `M_INVALID_PARAM` if empty or over [`MAX_DEVICE_ID_BYTES`].
pub fn parse_device_id(s: &str) -> Result<String> {
    if s.is_empty() || s.len() > MAX_DEVICE_ID_BYTES {
        return Err(Error::invalid_param(format!("device_id must be 1 to {MAX_DEVICE_ID_BYTES} bytes")));
    }
    Ok(s.to_owned())
}

/// A device display name: 400 `M_TOO_LARGE` past [`MAX_DEVICE_NAME_CHARS`], as Synapse answers.
pub fn parse_device_name(s: &str) -> Result<String> {
    if s.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(Error::new(
            crate::error::ErrorKind::FieldTooLong,
            format!("Device display name is too long (max {MAX_DEVICE_NAME_CHARS})"),
        ));
    }
    Ok(s.to_owned())
}

pub fn new_room_id(server_name: &str) -> OwnedRoomId {
    let s = format!("!{}:{}", random_alnum(18), server_name);
    RoomId::parse(&s).unwrap_or_else(|_| unreachable_room_id())
}

fn unreachable_room_id() -> OwnedRoomId {
    // Only reachable with a server name that is not a valid server name, which config validation rejects.
    RoomId::parse("!invalid:invalid").unwrap_or_else(|_| std::process::abort())
}

/// A fresh random event ID, for what a shadow-banned user believes they sent.
pub fn fake_event_id() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill(&mut buf);
    use base64::Engine;
    format!("${}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Whether a localpart is acceptable for a *new* user (the spec's grammar, lower-case only).
/// Purely numeric localparts are refused as Synapse does: it hands them to guests.
pub fn valid_new_localpart(localpart: &str) -> bool {
    !localpart.is_empty()
        && localpart.len() <= 255
        && localpart.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/' | b'+'))
        && !localpart.bytes().all(|b| b.is_ascii_digit())
}

/// The localparts no one may register because the server itself acts as them.
pub fn system_localparts(config: &crate::Config) -> [&str; 1] {
    [config.server_notices.system_mxid_localpart.as_str()]
}

/// Checks a localpart for a new account: the grammar of [`valid_new_localpart`] and the system
/// users the server reserves. Both answer 400 `M_INVALID_USERNAME`, as registration expects.
pub fn check_new_localpart(config: &crate::Config, localpart: &str) -> Result<()> {
    let invalid = |m: &str| Error::invalid_username(m);
    if localpart.bytes().all(|b| b.is_ascii_digit()) && !localpart.is_empty() {
        return Err(invalid("Numeric user IDs are reserved"));
    }
    if !valid_new_localpart(localpart) {
        return Err(invalid("User ID can only contain a-z, 0-9, . _ = - / +"));
    }
    if system_localparts(config).contains(&localpart) {
        return Err(invalid("This user ID is reserved for the server"));
    }
    Ok(())
}

/// A user ID whose localpart is in the (historical) grammar: non-empty printable ASCII without
/// ':' (ruma alone also accepts spaces and non-ASCII, which no server issues).
pub fn parse_user_id(s: &str) -> Result<OwnedUserId> {
    let bad = || Error::invalid_param(format!("Invalid user ID: {s}"));
    let id = UserId::parse(s).map_err(|_| bad())?;
    let lp = id.localpart();
    if lp.is_empty() || !lp.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':') {
        return Err(bad());
    }
    Ok(id)
}

pub fn parse_room_id(s: &str) -> Result<OwnedRoomId> {
    RoomId::parse(s).map_err(|_| Error::invalid_param(format!("Invalid room ID: {s}")))
}

/// An event ID from a path: one that cannot be parsed names no event, so it is 404 like any
/// unknown event.
pub fn parse_event_id(s: &str) -> Result<ruma::OwnedEventId> {
    ruma::EventId::parse(s).map_err(|_| Error::not_found("Event not found"))
}

pub fn parse_alias(s: &str) -> Result<OwnedRoomAliasId> {
    RoomAliasId::parse(s).map_err(|_| Error::invalid_param(format!("Invalid room alias: {s}")))
}

/// A full user ID or a bare localpart, resolved against this server; remote IDs are refused.
pub fn local_user_from_path(s: &str, server_name: &str) -> Result<OwnedUserId> {
    let full = if s.starts_with('@') { s.to_owned() } else { format!("@{s}:{server_name}") };
    let id = parse_user_id(&full)?;
    if id.server_name().as_str() != server_name {
        return Err(Error::invalid_param("Only local users can be managed here"));
    }
    Ok(id)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Base64 as Matrix peers send it: unpadded by the spec, padded by some.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(s).ok()
}
