//! The `${name}` placeholders of the versioned JSON (`slos/`, `alarms/`, `dashboards/`), filled
//! the same way by the twin and by opsctl.

/// `text` with each `${name}` replaced by its value, escaped for the JSON string it sits in; an
/// unknown name or an unclosed `${` is an error.
pub fn substitute<V: AsRef<str>>(text: &str, values: &[(&str, V)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed `${`")?;
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
            .ok_or_else(|| format!("unknown placeholder `${{{name}}}`"))?;
        // Values go inside JSON strings: escape what JSON would need.
        let encoded = serde_json::to_string(value).map_err(|e| e.to_string())?;
        out.push_str(&encoded[1..encoded.len() - 1]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
