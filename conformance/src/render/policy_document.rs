//! `data "aws_iam_policy_document"` as the AWS provider renders it: statements from the
//! `source_policy_documents` first, then the block's own (a statement with the Sid of a source
//! statement replaces it), then `override_policy_documents` (replacing by Sid again).

use hcl::eval::{Context, Evaluate};
use hcl::{Body, Value};
use serde_json::{Map as JsonMap, Value as Json, json};

fn strings(value: Value, what: &str) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(format!("{what}: not a string: {other:?}")),
            })
            .collect(),
        Value::String(s) => Ok(vec![s]),
        other => Err(format!("{what}: not a list: {other:?}")),
    }
}

fn attr_strings(body: &Body, key: &str, ctx: &Context) -> Result<Option<Vec<String>>, String> {
    match body.attributes().find(|a| a.key() == key) {
        None => Ok(None),
        Some(a) => {
            let value = a.expr().evaluate(ctx).map_err(|e| e.to_string())?;
            strings(value, key).map(Some)
        }
    }
}

fn attr_string(body: &Body, key: &str, ctx: &Context) -> Result<Option<String>, String> {
    match body.attributes().find(|a| a.key() == key) {
        None => Ok(None),
        Some(a) => match a.expr().evaluate(ctx).map_err(|e| e.to_string())? {
            Value::String(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(format!("{key}: not a string: {other:?}")),
        },
    }
}

fn principals(body: &Body, ident: &str, ctx: &Context) -> Result<Option<Json>, String> {
    let mut map = JsonMap::new();
    let mut anyone = false;
    for block in body.blocks().filter(|b| b.identifier() == ident) {
        let kind = attr_string(block.body(), "type", ctx)?.ok_or("principals without type")?;
        let ids = attr_strings(block.body(), "identifiers", ctx)?.unwrap_or_default();
        if kind == "*" {
            anyone = true;
            continue;
        }
        let entry = map.entry(kind).or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(list) = entry {
            list.extend(ids.into_iter().map(Json::String));
        }
    }
    Ok(if anyone {
        Some(Json::String("*".into()))
    } else if map.is_empty() {
        None
    } else {
        Some(Json::Object(map))
    })
}

fn statement(body: &Body, ctx: &Context) -> Result<Json, String> {
    let mut out = JsonMap::new();
    if let Some(sid) = attr_string(body, "sid", ctx)? {
        out.insert("Sid".into(), json!(sid));
    }
    let effect = attr_string(body, "effect", ctx)?.unwrap_or_else(|| "Allow".into());
    out.insert("Effect".into(), json!(effect));
    for (key, name) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(list) = attr_strings(body, key, ctx)? {
            out.insert(name.into(), json!(list));
        }
    }
    if let Some(p) = principals(body, "principals", ctx)? {
        out.insert("Principal".into(), p);
    }
    if let Some(p) = principals(body, "not_principals", ctx)? {
        out.insert("NotPrincipal".into(), p);
    }
    let mut conditions = JsonMap::new();
    for block in body.blocks().filter(|b| b.identifier() == "condition") {
        let b = block.body();
        let test = attr_string(b, "test", ctx)?.ok_or("condition without test")?;
        let variable = attr_string(b, "variable", ctx)?.ok_or("condition without variable")?;
        let values = attr_strings(b, "values", ctx)?.unwrap_or_default();
        let entry = conditions
            .entry(test)
            .or_insert_with(|| Json::Object(JsonMap::new()));
        if let Json::Object(by_key) = entry {
            by_key.insert(variable, json!(values));
        }
    }
    if !conditions.is_empty() {
        out.insert("Condition".into(), Json::Object(conditions));
    }
    Ok(Json::Object(out))
}

fn statements_of(documents: Option<Vec<String>>) -> Result<Vec<Json>, String> {
    let mut out = Vec::new();
    for text in documents.unwrap_or_default() {
        let doc: Json = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match doc.get("Statement") {
            Some(Json::Array(items)) => out.extend(items.iter().cloned()),
            Some(one @ Json::Object(_)) => out.push(one.clone()),
            _ => return Err("a source document without statements".into()),
        }
    }
    Ok(out)
}

fn merge_by_sid(into: &mut Vec<Json>, statement: Json) {
    let sid = statement.get("Sid").and_then(Json::as_str).unwrap_or("");
    if !sid.is_empty()
        && let Some(same) = into
            .iter_mut()
            .find(|s| s.get("Sid").and_then(Json::as_str) == Some(sid))
    {
        *same = statement;
        return;
    }
    into.push(statement);
}

/// The rendered policy document of the data block `body`; `sources` gets the source and
/// override documents' texts.
pub fn render(body: &Body, ctx: &Context, sources: &mut Vec<String>) -> Result<Json, String> {
    if body.blocks().any(|b| b.identifier() == "dynamic") {
        return Err("dynamic blocks in a policy document are not rendered".into());
    }
    let source_texts = attr_strings(body, "source_policy_documents", ctx)?;
    let override_texts = attr_strings(body, "override_policy_documents", ctx)?;
    sources.extend(source_texts.iter().flatten().cloned());
    sources.extend(override_texts.iter().flatten().cloned());
    let mut all = statements_of(source_texts)?;
    for block in body.blocks().filter(|b| b.identifier() == "statement") {
        merge_by_sid(&mut all, statement(block.body(), ctx)?);
    }
    for s in statements_of(override_texts)? {
        merge_by_sid(&mut all, s);
    }
    let version = attr_string(body, "version", ctx)?.unwrap_or_else(|| "2012-10-17".into());
    Ok(json!({"Version": version, "Statement": all}))
}
