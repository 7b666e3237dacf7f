//! scrypt password hashing into PHC strings, always off the async threads.

use crate::error::{MResult, MatrixError};
use scrypt::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use scrypt::{Params, Scrypt};

pub fn hash(password: &str, log_n: u8) -> MResult<String> {
    let params = Params::new(log_n, 8, 1).map_err(|e| MatrixError::internal(format!("scrypt params: {e}")))?;
    let hasher = Scrypt::from(params);
    let h: Result<PasswordHash, _> = hasher.hash_password(password.as_bytes());
    h.map(|h| h.to_string()).map_err(|e| MatrixError::internal(format!("hashing failed: {e}")))
}

/// Constant-time verification (the comparison inside the password-hash crate is constant-time).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Scrypt::new().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Rejects passwords the server will not store.
pub fn check_strength(password: &str) -> MResult<()> {
    if password.is_empty() {
        return Err(MatrixError::missing_param("Missing password"));
    }
    if password.len() > 512 {
        return Err(MatrixError::invalid_param("Password too long"));
    }
    Ok(())
}
