//! Which field values are never written.

/// Field names whose values are never written: the value becomes `"[REDACTED]"`.
///
/// Compared without regard to ASCII case, and `-` matches `_`, so `Set-Cookie`,
/// `set_cookie` and `SET-COOKIE` are all covered.
pub const REDACTED_FIELDS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "token",
    "id_token",
    "access_token",
    "refresh_token",
    "password",
    "secret",
    "x-amz-security-token",
];

/// What a redacted value is written as.
pub const REDACTED: &str = "[REDACTED]";

/// Whether the value of a field named `name` must not be written.
pub fn is_redacted(name: &str) -> bool {
    REDACTED_FIELDS.iter().any(|r| same_name(r, name))
}

fn same_name(a: &str, b: &str) -> bool {
    fn norm(b: u8) -> u8 {
        if b == b'-' {
            b'_'
        } else {
            b.to_ascii_lowercase()
        }
    }
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_ignores_case_and_separator() {
        for name in [
            "Authorization",
            "SET_COOKIE",
            "set-cookie",
            "X-Amz-Security-Token",
            "id_token",
        ] {
            assert!(is_redacted(name), "{name}");
        }
        for name in ["auth", "tokens", "item_id", "cookies2"] {
            assert!(!is_redacted(name), "{name}");
        }
    }
}
