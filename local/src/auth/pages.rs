//! The Hosted UI stand-in's pages: the sign-in form, the signed-in page of the shell
//! walk-through, and the error pages of requests that must not be redirected.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::html::escape;

/// A page, with a policy that allows no script, nothing loaded from elsewhere, no framing, and
/// forms posted only to this origin.
pub(super) fn html(status: StatusCode, body: &str) -> Response {
    html_posting_to(status, body, None)
}

/// [`html`] for a form whose answer redirects to `form_target` (an origin): browsers hold the
/// redirect of a submitted form to `form-action` too.
pub(super) fn html_posting_to(
    status: StatusCode,
    body: &str,
    form_target: Option<&str>,
) -> Response {
    const SAME_ORIGIN_ONLY: &str =
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
    let mut response = (status, Html(body.to_owned())).into_response();
    let policy = form_target
        .map(|origin| {
            SAME_ORIGIN_ONLY.replace(
                "form-action 'self'",
                &format!("form-action 'self' {origin}"),
            )
        })
        .and_then(|policy| HeaderValue::from_str(&policy).ok())
        .unwrap_or_else(|| HeaderValue::from_static(SAME_ORIGIN_ONLY));
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

/// An error page for a request that cannot be answered with a redirect (RFC 6749 §4.1.2.1).
pub(super) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(r#"<p class="error">{}</p>"#, escape(detail));
    let mut response = html(status, &page(title, &body));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · items API (local)</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }}
  h1 {{ font-size: 1.5rem; }}
  label {{ display: block; font-weight: 600; margin-top: 1rem; }}
  input, textarea {{ width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #d0d7de; border-radius: 6px; }}
  textarea {{ font: 13px/1.4 ui-monospace, monospace; word-break: break-all; }}
  button {{ margin-top: 1rem; padding: .5rem 1.25rem; font: inherit; color: #fff; background: #1f6feb; border: 0; border-radius: 6px; cursor: pointer; }}
  .note {{ color: #59636e; font-size: .9rem; margin-top: 1.5rem; }}
  .error {{ color: #d1242f; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        title = escape(title),
    )
}

/// The sign-in form, posting to `action` (an escaped URL path and query).
pub(super) fn sign_in_form(action: &str) -> String {
    format!(
        r#"<form method="post" action="{action}">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required maxlength="128" autofocus>
  <button type="submit">Sign in</button>
</form>
<p class="note">This is the local twin's stand-in for the Cognito Hosted UI. There are no
passwords: any valid username (1-128 characters, no spaces) signs in, and the same username
always gets the same <code>sub</code>. A username that is an email address is also the
user's <code>email</code>.</p>"#
    )
}
