//! The pool's one app client, as Terraform makes it (`terraform/modules/auth/main.tf`): public
//! (no secret), the code flow only, the scopes `email`, `openid` and `profile`, and the callback
//! and sign-out URLs it may redirect to.

/// The scopes the app client allows (`allowed_oauth_scopes`), in the order tokens list them.
pub const ALLOWED_SCOPES: [&str; 3] = ["openid", "email", "profile"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClient {
    pub id: String,
    /// Allowed callback URLs: an authorization request's `redirect_uri` is one of them, exactly.
    pub callback_urls: Vec<String>,
    /// Allowed sign-out URLs: a `/logout` request's `logout_uri` is one of them, exactly.
    pub logout_urls: Vec<String>,
}

impl AppClient {
    /// The client `id` with these URLs; where a list is empty, the twin's own web app on its
    /// `port`, reached as `localhost` or `127.0.0.1`.
    pub fn new(id: String, callback_urls: &[String], logout_urls: &[String], port: u16) -> Self {
        let or_default = |urls: &[String]| {
            if urls.is_empty() {
                ["localhost", "127.0.0.1"]
                    .iter()
                    .map(|host| format!("http://{host}:{port}{}", crate::web_app::PATH))
                    .collect()
            } else {
                urls.to_vec()
            }
        };
        Self {
            id,
            callback_urls: or_default(callback_urls),
            logout_urls: or_default(logout_urls),
        }
    }

    pub fn is_callback_url(&self, url: &str) -> bool {
        self.callback_urls.iter().any(|u| u == url)
    }

    pub fn is_logout_url(&self, url: &str) -> bool {
        self.logout_urls.iter().any(|u| u == url)
    }
}

/// A callback or sign-out URL as Cognito accepts one: absolute, `http` or `https`, with a host
/// and no fragment (RFC 6749 §3.1.2). For the `--callback-url` and `--logout-url` flags.
pub fn registered_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!("`{text}` is not an http or https URL"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    if text.contains('#') {
        return Err(format!("`{text}` has a fragment"));
    }
    Ok(text.to_owned())
}

/// The origin (`scheme://host[:port]`) of a registered URL.
pub fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// A request's `scope`: space-separated names, each allowed, none twice; absent or empty, every
/// scope the client allows (as Cognito does).
pub fn parse_scopes(requested: Option<&str>) -> Result<Vec<String>, String> {
    let Some(requested) = requested.filter(|s| !s.trim().is_empty()) else {
        return Ok(ALLOWED_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    };
    let mut scopes: Vec<String> = Vec::new();
    for name in requested.split(' ').filter(|s| !s.is_empty()) {
        if !ALLOWED_SCOPES.contains(&name) {
            return Err(format!("the app client does not allow the scope {name:?}"));
        }
        if !scopes.iter().any(|s| s == name) {
            scopes.push(name.to_owned());
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_twin_s_own_web_app() {
        let client = AppClient::new("c".into(), &[], &[], 4321);
        let expected = vec![
            "http://localhost:4321/app/".to_owned(),
            "http://127.0.0.1:4321/app/".to_owned(),
        ];
        assert_eq!(client.callback_urls, expected);
        assert_eq!(client.logout_urls, expected);
        let given = AppClient::new("c".into(), &["https://a.example/cb".into()], &[], 1);
        assert_eq!(given.callback_urls, ["https://a.example/cb"]);
        assert!(given.is_callback_url("https://a.example/cb"));
        // Exact match only: no prefix, no trailing-slash leniency.
        assert!(!given.is_callback_url("https://a.example/cb/"));
        assert!(!given.is_callback_url("https://a.example/cb?x=1"));
    }

    #[test]
    fn registered_urls_are_absolute_http_without_fragment() {
        for good in ["http://localhost:3000/app/", "https://app.example/cb?x=1"] {
            assert_eq!(registered_url(good).as_deref(), Ok(good));
        }
        for bad in [
            "/app/",
            "ftp://x/",
            "https://x/#frag",
            "not a url",
            "myapp://cb",
        ] {
            assert!(registered_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            origin("https://app.example:8443/cb?x").as_deref(),
            Some("https://app.example:8443")
        );
    }

    #[test]
    fn scopes_default_to_all_and_refuse_others() {
        assert_eq!(parse_scopes(None).unwrap(), ALLOWED_SCOPES);
        assert_eq!(parse_scopes(Some(" ")).unwrap(), ALLOWED_SCOPES);
        assert_eq!(
            parse_scopes(Some("email openid email")).unwrap(),
            ["email", "openid"]
        );
        assert!(parse_scopes(Some("openid aws.cognito.signin.user.admin")).is_err());
        assert!(parse_scopes(Some("phone")).is_err());
    }

    /// The scopes are Terraform's `allowed_oauth_scopes`, so the twin refuses what AWS would.
    #[test]
    fn allowed_scopes_are_terraform_s() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../terraform/modules/auth/main.tf"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("allowed_oauth_scopes"))
            .expect("allowed_oauth_scopes in the auth module");
        let mut theirs: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        let mut ours = ALLOWED_SCOPES.to_vec();
        theirs.sort_unstable();
        ours.sort_unstable();
        assert_eq!(theirs, ours);
    }
}
