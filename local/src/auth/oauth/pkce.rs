//! PKCE (RFC 7636) with the one method Cognito supports, `S256`: the challenge is
//! `BASE64URL(SHA256(verifier))`, the verifier 43 to 128 unreserved characters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const METHOD: &str = "S256";

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`, 43 to 128 of them.
pub fn is_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// An S256 challenge is the base64url (no padding) of a SHA-256 digest: 43 characters.
pub fn is_s256_challenge(text: &str) -> bool {
    text.len() == 43
        && URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|digest| digest.len() == 32)
}

pub fn challenge_of(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Whether `verifier` is the one the `challenge` was made from (RFC 7636 §4.6). The comparison
/// takes the same time wherever the strings differ.
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    is_verifier(verifier)
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            challenge_of(verifier).as_bytes(),
            challenge.as_bytes(),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        assert!(is_s256_challenge(challenge));
        assert!(verifies(verifier, challenge));
    }

    #[test]
    fn a_wrong_or_malformed_verifier_fails() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = challenge_of(verifier);
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert!(!verifies(other, &challenge));
        // The plain method's "challenge = verifier" is not accepted.
        assert!(!verifies(verifier, verifier));
        // Too short, too long, or outside the unreserved set: refused even if it hashed right.
        for bad in ["short", &"a".repeat(129), &format!("{}!", &verifier[..43])] {
            assert!(!is_verifier(bad), "{bad}");
            assert!(!verifies(bad, &challenge_of(bad)), "{bad}");
        }
        assert!(is_verifier(&"~".repeat(128)));
        assert!(!is_s256_challenge("too-short"));
        assert!(!is_s256_challenge(&"A".repeat(44)));
    }
}
