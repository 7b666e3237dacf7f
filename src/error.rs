//! The one error type of the server: a kind, which decides the Matrix errcode and HTTP status of
//! the reply, a message for the client, and the error it came from. The api layer shapes the
//! reply (`api::reply`); everything below it only says what went wrong.

use std::sync::Arc;

/// What went wrong, as far as a client is concerned: each kind is one errcode and one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 `M_BAD_JSON`: JSON of the wrong shape.
    BadJson,
    /// 400 `M_NOT_JSON`: not JSON at all.
    NotJson,
    /// 400 `M_MISSING_PARAM`.
    MissingParam,
    /// 400 `M_INVALID_PARAM`.
    InvalidParam,
    /// 400 `M_UNKNOWN`: a request refused for a reason without an errcode of its own.
    BadRequest,
    /// 400 `M_INVALID_USERNAME`.
    InvalidUsername,
    /// 400 `M_USER_IN_USE`.
    UserInUse,
    /// 400 `M_BAD_ALIAS`: an alias that does not exist or points at another room.
    BadAlias,
    /// 400 `M_DUPLICATE_ANNOTATION`: the sender already reacted to the event with this key.
    DuplicateAnnotation,
    /// 400 `M_ROOM_IN_USE`.
    RoomInUse,
    /// 400 `M_UNSUPPORTED_ROOM_VERSION`.
    UnsupportedRoomVersion,
    /// 400 `M_WEAK_PASSWORD`.
    WeakPassword,
    /// 400 `M_TOO_LARGE`: one field longer than allowed.
    FieldTooLong,
    /// 413 `M_TOO_LARGE`: the whole request body.
    TooLarge,
    /// 401 `M_MISSING_TOKEN`.
    MissingToken,
    /// 401 `M_UNKNOWN_TOKEN`.
    UnknownToken,
    /// 401 `M_USER_LOCKED`.
    UserLocked,
    /// 401 `M_UNAUTHORIZED`: a federation request without a valid signature.
    Unauthorized,
    /// 401 `M_FORBIDDEN` with the user-interactive flows: a stage failed, authenticate again.
    AuthRequired,
    /// 401 with the user-interactive flows and no errcode (the reply leaves it out, as
    /// Synapse's): no stage was tried yet.
    AuthIncomplete,
    /// 401 `M_UNRECOGNIZED` with the flows: an authentication type this server does not offer.
    AuthTypeUnsupported,
    /// 403 `M_FORBIDDEN`.
    Forbidden,
    /// 403 `M_USER_DEACTIVATED`.
    UserDeactivated,
    /// 403 `M_USER_SUSPENDED`.
    UserSuspended,
    /// 403 `M_GUEST_ACCESS_FORBIDDEN`.
    GuestAccessForbidden,
    /// 403 `M_CANNOT_LEAVE_SERVER_NOTICE_ROOM`.
    CannotLeaveNoticeRoom,
    /// 403 `M_WRONG_ROOM_KEYS_VERSION`: keys sent to a backup version that is not the current one.
    WrongRoomKeysVersion,
    /// 403 `M_UNKNOWN`: a join or invite to a room an admin blocked (Synapse's answer).
    RoomBlocked,
    /// 404 `M_NOT_FOUND`.
    NotFound,
    /// 404 `M_UNRECOGNIZED`: no such endpoint.
    Unrecognized,
    /// 404 `M_UNKNOWN`: a membership change (join, leave, kick, unban) in a room this server is
    /// not in, Synapse's answer there (it would need another server to ask).
    RoomNotKnown,
    /// 404 `M_UNKNOWN`: Synapse's answer where its store found no row to change (protecting
    /// unknown media).
    NoSuchRow,
    /// 405 `M_UNRECOGNIZED`: the endpoint exists, not with this method.
    MethodNotAllowed,
    /// 409 `M_UNKNOWN`: the thing to create already exists.
    Conflict,
    /// 409 `M_CANNOT_OVERWRITE_MEDIA`.
    CannotOverwriteMedia,
    /// 429 `M_LIMIT_EXCEEDED`.
    LimitExceeded,
    /// 500 `M_UNKNOWN`: a fault of this server; the client sees a generic message.
    Internal,
    /// 502 `M_UNKNOWN`: another server failed or answered badly.
    BadGateway,
}

impl ErrorKind {
    pub fn errcode(self) -> &'static str {
        use ErrorKind::*;
        match self {
            BadJson => "M_BAD_JSON",
            BadAlias => "M_BAD_ALIAS",
            DuplicateAnnotation => "M_DUPLICATE_ANNOTATION",
            NotJson => "M_NOT_JSON",
            MissingParam => "M_MISSING_PARAM",
            InvalidParam => "M_INVALID_PARAM",
            InvalidUsername => "M_INVALID_USERNAME",
            UserInUse => "M_USER_IN_USE",
            RoomInUse => "M_ROOM_IN_USE",
            UnsupportedRoomVersion => "M_UNSUPPORTED_ROOM_VERSION",
            WeakPassword => "M_WEAK_PASSWORD",
            FieldTooLong | TooLarge => "M_TOO_LARGE",
            MissingToken => "M_MISSING_TOKEN",
            UnknownToken => "M_UNKNOWN_TOKEN",
            UserLocked => "M_USER_LOCKED",
            Unauthorized => "M_UNAUTHORIZED",
            AuthRequired | AuthIncomplete | Forbidden => "M_FORBIDDEN",
            AuthTypeUnsupported | Unrecognized | MethodNotAllowed => "M_UNRECOGNIZED",
            UserDeactivated => "M_USER_DEACTIVATED",
            UserSuspended => "M_USER_SUSPENDED",
            GuestAccessForbidden => "M_GUEST_ACCESS_FORBIDDEN",
            CannotLeaveNoticeRoom => "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
            WrongRoomKeysVersion => "M_WRONG_ROOM_KEYS_VERSION",
            NotFound => "M_NOT_FOUND",
            CannotOverwriteMedia => "M_CANNOT_OVERWRITE_MEDIA",
            LimitExceeded => "M_LIMIT_EXCEEDED",
            BadRequest | RoomNotKnown | NoSuchRow | RoomBlocked | Conflict | Internal | BadGateway => "M_UNKNOWN",
        }
    }

    pub fn status(self) -> u16 {
        use ErrorKind::*;
        match self {
            BadJson
            | NotJson
            | MissingParam
            | InvalidParam
            | BadRequest
            | InvalidUsername
            | UserInUse
            | BadAlias
            | DuplicateAnnotation
            | RoomInUse
            | UnsupportedRoomVersion
            | WeakPassword
            | FieldTooLong => 400,
            MissingToken | UnknownToken | UserLocked | Unauthorized | AuthRequired | AuthIncomplete | AuthTypeUnsupported => 401,
            Forbidden
            | UserDeactivated
            | UserSuspended
            | GuestAccessForbidden
            | CannotLeaveNoticeRoom
            | WrongRoomKeysVersion
            | RoomBlocked => 403,
            NotFound | Unrecognized | RoomNotKnown | NoSuchRow => 404,
            MethodNotAllowed => 405,
            Conflict | CannotOverwriteMedia => 409,
            TooLarge => 413,
            LimitExceeded => 429,
            Internal => 500,
            BadGateway => 502,
        }
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;
/// Anything that can be kept as the cause of an error.
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {}: {message}", .kind.status(), .kind.errcode())]
pub struct Error {
    kind: ErrorKind,
    /// For the client, except on a 5xx; always for the log.
    message: String,
    #[source]
    source: Option<Source>,
    /// Top-level fields some replies carry besides errcode and error (UIA flows, soft_logout,
    /// retry_after_ms).
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None, extra: None }
    }
    /// A fault of this server, with what it was doing and the error that stopped it.
    pub fn internal_from(context: impl Into<String>, source: impl Into<BoxedSource>) -> Self {
        Self::new(ErrorKind::Internal, context).with_source(source)
    }
    pub fn with_source(mut self, source: impl Into<BoxedSource>) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }
    pub fn with_extra(mut self, extra: serde_json::Map<String, serde_json::Value>) -> Self {
        self.extra = Some(extra);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn errcode(&self) -> &'static str {
        self.kind.errcode()
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
    /// The message with its causes, for logs and operators (never a client's 5xx reply).
    pub fn message(&self) -> String {
        let mut out = self.message.clone();
        let mut next: Option<&(dyn std::error::Error + 'static)> = self.source.as_deref().map(|s| s as _);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
    /// What the client is told: the message, or a generic line for this server's own faults so
    /// that no path, query or library detail leaks.
    pub fn client_message(&self) -> &str {
        if self.status() >= 500 && self.kind != ErrorKind::BadGateway { "Internal server error" } else { &self.message }
    }
    pub fn extra(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.extra.as_ref()
    }

    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn bad_json(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadJson, m)
    }
    pub fn not_json(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotJson, m)
    }
    pub fn missing_param(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::MissingParam, m)
    }
    pub fn invalid_param(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParam, m)
    }
    pub fn invalid_username(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidUsername, m)
    }
    pub fn user_in_use() -> Self {
        Self::new(ErrorKind::UserInUse, "User ID already taken")
    }
    pub fn user_deactivated() -> Self {
        Self::new(ErrorKind::UserDeactivated, "This account has been deactivated")
    }
    pub fn user_suspended(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::UserSuspended, m)
    }
    pub fn user_locked() -> Self {
        Self::new(ErrorKind::UserLocked, "This account has been locked")
    }
    pub fn weak_password(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::WeakPassword, m)
    }
    /// 400 `M_UNKNOWN`.
    pub fn unknown(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, m)
    }
    pub fn missing_token() -> Self {
        Self::new(ErrorKind::MissingToken, "Missing access token")
    }
    pub fn unknown_token() -> Self {
        Self::new(ErrorKind::UnknownToken, "Unknown or expired access token")
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, m)
    }
    pub fn unrecognized(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unrecognized, m)
    }
}

// The kinds of failure from below that reach a client, each kept as the source of an
// `Internal` error: a missing row the caller expected is this server's fault, not a 404.
impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Self::internal_from("Database error", e)
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Self::internal_from("Database unavailable", e)
    }
}

impl From<actix::MailboxError> for Error {
    fn from(e: actix::MailboxError) -> Self {
        Self::internal_from("Internal actor unavailable", e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::internal_from("I/O error", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_but_do_not_tell_the_client() {
        let e: Error = diesel::result::Error::NotFound.into();
        assert_eq!(e.status(), 500);
        assert_eq!(e.client_message(), "Internal server error");
        assert!(e.message().contains("Record not found"), "{}", e.message());
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn each_kind_has_one_errcode_and_status() {
        assert_eq!((ErrorKind::UserInUse.errcode(), ErrorKind::UserInUse.status()), ("M_USER_IN_USE", 400));
        assert_eq!((ErrorKind::TooLarge.errcode(), ErrorKind::TooLarge.status()), ("M_TOO_LARGE", 413));
        assert_eq!(Error::bad_json("x").client_message(), "x");
    }
}
