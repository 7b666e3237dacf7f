//! Errors as Matrix replies: `{"errcode", "error"}` plus any extra fields, with the status of
//! the error's kind. A fault of this server is logged here, once, with its causes.

use crate::error::Error;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.status() >= 500 {
            log::error!("{}", self.message());
        }
        if self.kind() == crate::error::ErrorKind::AuthIncomplete {
            // Only the flows: there is no error yet, just the stages to complete.
            return HttpResponse::build(self.status_code()).json(Value::Object(self.extra().cloned().unwrap_or_default()));
        }
        error_reply(self.status_code(), self.errcode(), self.client_message(), self.extra())
    }
}

/// A Matrix error body with any status: also used for the errors actix answers itself.
pub fn error_reply(status: StatusCode, errcode: &str, message: &str, extra: Option<&Map<String, Value>>) -> HttpResponse {
    let mut body = extra.cloned().unwrap_or_default();
    body.insert("errcode".into(), json!(errcode));
    body.insert("error".into(), json!(message));
    HttpResponse::build(status).json(Value::Object(body))
}
