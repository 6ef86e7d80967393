//! Forged and broken tokens: every one is a `401 {"message":"Unauthorized"}` from the gateway,
//! and none reaches the function.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::TwinProcess;

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let claims = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, claims)
}

fn issuer_pem(twin: &TwinProcess) -> Vec<u8> {
    std::fs::read(twin.data_dir.join("issuer-key.pem"))
        .expect("the issuer key is in the data folder")
}

fn sign(pem: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Every way a token can be wrong, each named.
fn bad_tokens(twin: &TwinProcess, good: &str) -> Vec<(&'static str, String)> {
    let (header, claims) = parts(good);
    let kid = header["kid"].as_str().unwrap();
    let pem = issuer_pem(twin);
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let mut out = vec![
        (
            "expired",
            sign(
                &pem,
                kid,
                &with(json!({"exp": now() - 120, "iat": now() - 3720})),
            ),
        ),
        (
            "not yet valid",
            sign(&pem, kid, &with(json!({"nbf": now() + 3600}))),
        ),
        (
            "issued in the future",
            sign(
                &pem,
                kid,
                &with(json!({"iat": now() + 3600, "exp": now() + 7200})),
            ),
        ),
        (
            "wrong audience",
            sign(&pem, kid, &with(json!({"aud": "someone-else"}))),
        ),
        (
            "wrong issuer",
            sign(
                &pem,
                kid,
                &with(json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil"})),
            ),
        ),
        ("unknown kid", sign(&pem, "not-a-key-of-ours", &claims)),
    ];
    let seg: Vec<&str> = good.split('.').collect();
    // The payload changed, the signature kept: the classic tamper.
    let evil = B64.encode(with(json!({"sub": "someone-else"})).to_string());
    out.push(("modified payload", format!("{}.{evil}.{}", seg[0], seg[2])));
    out.push((
        "signature of another token",
        format!("{}.{}.{}", seg[0], seg[1], B64.encode([7u8; 256])),
    ));
    let none_header = B64.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    out.push(("alg none", format!("{none_header}.{}.", seg[1])));
    out.push((
        "alg none with signature",
        format!("{none_header}.{}.{}", seg[1], seg[2]),
    ));
    // HS256 keyed with the issuer's public key: the algorithm-confusion attack.
    let key =
        aws_lc_rs::rsa::KeyPair::from_pkcs8(&pem::parse(&pem).unwrap().into_contents()).unwrap();
    let public_der = key.public_key().as_der().unwrap();
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public_der.as_ref().to_vec()));
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.to_owned());
    for (name, secret) in [
        ("HS256 with the public key PEM", public_pem.into_bytes()),
        (
            "HS256 with the public key DER",
            public_der.as_ref().to_vec(),
        ),
    ] {
        out.push((
            name,
            jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&secret)).unwrap(),
        ));
    }
    // A key of the attacker's own, claiming our kid.
    let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let other_pem = pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        other.as_der().unwrap().as_ref().to_vec(),
    ));
    out.push((
        "signed by another key with our kid",
        sign(other_pem.as_bytes(), kid, &claims),
    ));
    out.push(("garbage", "not.a.jwt".to_owned()));
    out.push(("empty", String::new()));
    out
}

#[tokio::test]
async fn every_bad_token_is_401_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let twin = TwinProcess::start_in(dir.path(), &[]);
    let good = twin.token("mallory").await;
    let body = json!({"name": "should never be stored"});

    for (name, token) in bad_tokens(&twin, &good) {
        let bearer = format!("Bearer {token}");
        for reply in [
            twin.client
                .post_json("/items", &[("authorization", &bearer)], &body)
                .await
                .unwrap(),
            twin.client
                .get("/items", &[("authorization", &bearer)])
                .await
                .unwrap(),
        ] {
            assert_eq!(reply.status, 401, "{name}: {}", reply.text());
            assert_eq!(reply.json(), json!({"message": "Unauthorized"}), "{name}");
            assert!(reply.header("apigw-requestid").is_some(), "{name}");
            // The refusal never repeats the credential it refused (the message names the case only).
            let echoed = !token.is_empty()
                && (reply.text().contains(&token)
                    || reply.headers.values().any(|v| {
                        v.as_bytes()
                            .windows(token.len())
                            .any(|w| w == token.as_bytes())
                    }));
            assert!(!echoed, "{name}: the answer repeats the token");
        }
    }
    for missing in [
        vec![],
        vec![("authorization", "Basic YWxpY2U6c2VjcmV0")],
        vec![("authorization", "Bearer")],
    ] {
        let reply = twin.client.get("/items", &missing).await.unwrap();
        assert_eq!(reply.status, 401, "{missing:?}");
    }

    // The good token still works, and nothing was stored or archived by the attempts.
    let reply = twin.get_auth(&good, "/items").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["items"], json!([]));
    assert!(twin.archive().await.is_empty());

    // The access log says why each was refused; no line holds a token.
    let log = twin.access_log();
    let refused: Vec<&Value> = log.iter().filter(|l| l["status"] == "401").collect();
    assert!(
        refused.iter().all(|l| l["authorizerError"] != "-"),
        "{refused:?}"
    );
    let signature = good.rsplit('.').next().unwrap();
    assert!(
        twin.lines().iter().all(|l| !l.contains(signature)),
        "a token reached the logs"
    );
}
