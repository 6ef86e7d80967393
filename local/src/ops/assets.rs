//! The console's static files, compiled in (the twin runs offline): its own script and style,
//! and uPlot, the charting library, vendored from npm under `local/assets/vendor/uplot/`
//! with its licence. Each vendored file's SHA-512 is recorded in that folder's README next
//! to the npm tarball's integrity; a test holds the files to it, and the page loads them with
//! the same value as subresource integrity.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    /// Where the console serves it.
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// `sha512-<base64>` as recorded in the vendor README (empty for the project's own files).
    pub integrity: &'static str,
}

pub const UPLOT_JS: Asset = Asset {
    path: "/_ops/assets/vendor/uplot/uPlot.iife.min.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../../assets/vendor/uplot/uPlot.iife.min.js"),
    integrity: "sha512-jfm4wrxgq73ZXFzyYPRmgfQd7yYjtsH57SzfgjpieX4rgnfHAMAZJgQ1YLTsc6HOX+1tnGjnkFuerbc8oI2mJg==",
};

pub const UPLOT_CSS: Asset = Asset {
    path: "/_ops/assets/vendor/uplot/uPlot.min.css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../../assets/vendor/uplot/uPlot.min.css"),
    integrity: "sha512-xXYYvGoPqOjhMwkpkxWTDv7HvlyrkyEqzc4USFr/ZtBYC7eklE3DNBDccqiMj2VzRKSffZzeqVRckdYzJx9qfQ==",
};

const UPLOT_LICENSE: Asset = Asset {
    path: "/_ops/assets/vendor/uplot/LICENSE",
    content_type: "text/plain; charset=utf-8",
    bytes: include_bytes!("../../assets/vendor/uplot/LICENSE"),
    integrity: "sha512-Jq1RNLJNonsKli9o1tenKiBqppxMs3bElPMv2IfNU0bXwymuiMyRl4UQgH45VJTBR1OXaDEt3+Q+WPH1O+DNVQ==",
};

const OPS_JS: Asset = Asset {
    path: "/_ops/assets/ops.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../../assets/ops.js"),
    integrity: "",
};

const OPS_CSS: Asset = Asset {
    path: "/_ops/assets/ops.css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../../assets/ops.css"),
    integrity: "",
};

const ALL: [&Asset; 5] = [&UPLOT_JS, &UPLOT_CSS, &UPLOT_LICENSE, &OPS_JS, &OPS_CSS];

/// `GET /_ops/assets/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    let wanted = format!("/_ops/assets/{path}");
    match ALL.iter().find(|a| a.path == wanted) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn sri(bytes: &[u8]) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, bytes);
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    }

    /// The vendored files are the ones the README records, byte for byte, and the page asks
    /// the browser to check the same values.
    #[test]
    fn vendored_files_match_the_recorded_integrity() {
        let readme = include_str!("../../assets/vendor/uplot/README.md");
        assert!(
            readme.contains("sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="),
            "the npm tarball's integrity is recorded"
        );
        for asset in [&UPLOT_JS, &UPLOT_CSS, &UPLOT_LICENSE] {
            let file = asset.path.rsplit('/').next().unwrap();
            let line = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{file}` |")))
                .unwrap_or_else(|| panic!("{file} is not recorded in the vendor README"));
            let actual = sri(asset.bytes);
            assert!(
                line.contains(&actual),
                "{file} changed: its SHA-512 is {actual}, the README records `{line}`"
            );
            assert_eq!(
                asset.integrity, actual,
                "{file}: the page's integrity value"
            );
        }
    }
}
