//! The X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`), as Lambda and API Gateway pass it.

/// The trace id (`1-5759e988-bd862e3fe1be46a994272793`) from an X-Ray header, as Powertools
/// logs it and as X-Ray and Logs Insights match it. A value without `Root=` is returned as
/// it is.
pub fn trace_root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_root_takes_the_root() {
        assert_eq!(
            trace_root(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(trace_root("Self=1-a-b; Root=1-c-d"), "1-c-d");
        assert_eq!(trace_root("1-c-d"), "1-c-d");
    }
}
