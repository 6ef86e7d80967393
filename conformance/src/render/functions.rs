//! The Terraform functions the stack's expressions use, for hcl-rs's evaluator. Each behaves as
//! Terraform's function of the same name does for the arguments the stack gives it; anything
//! else is an error, which leaves the expression unknown (as "known after apply" would).
//! `try` and `can` are not here: they need lazy arguments, so expressions using them stay unknown.

use std::path::Path;

use hcl::Value;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};

fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("not a primitive: {other:?}")),
    }
}

fn elements(value: &Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items.clone()),
        Value::Object(map) => Ok(map.values().cloned().collect()),
        other => Err(format!("not a collection: {other:?}")),
    }
}

fn coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty argument".to_owned())
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&args[0])
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let json: serde_json::Value =
        serde_json::from_str(&text(&args[0])?).map_err(|e| e.to_string())?;
    hcl::to_value(json).map_err(|e| e.to_string())
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn file(args: FuncArgs) -> Result<Value, String> {
    read_file(&text(&args[0])?).map(Value::String)
}

fn fileexists(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(Path::new(&text(&args[0])?).is_file()))
}

/// `fileset(dir, "*.suffix")`: the stack uses no other pattern.
fn fileset(args: FuncArgs) -> Result<Value, String> {
    let dir = text(&args[0])?;
    let pattern = text(&args[1])?;
    let suffix = pattern
        .strip_prefix('*')
        .filter(|s| !s.contains(['*', '?', '[', '/']))
        .ok_or_else(|| format!("fileset pattern {pattern} is not *<suffix>"))?;
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(suffix))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    Ok(Value::Array(names.into_iter().map(Value::String).collect()))
}

fn templatefile(args: FuncArgs) -> Result<Value, String> {
    let source = read_file(&text(&args[0])?)?;
    let template: hcl::Template = source.parse().map_err(|e: hcl::Error| e.to_string())?;
    let mut ctx = Context::new();
    match &args[1] {
        Value::Object(vars) => {
            for (name, value) in vars {
                ctx.declare_var(name.as_str(), value.clone());
            }
        }
        other => {
            return Err(format!(
                "templatefile variables are not an object: {other:?}"
            ));
        }
    }
    declare(&mut ctx);
    template
        .evaluate(&ctx)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn trimsuffix(args: FuncArgs) -> Result<Value, String> {
    let s = text(&args[0])?;
    let suffix = text(&args[1])?;
    Ok(Value::String(
        s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_owned(),
    ))
}

fn trimprefix(args: FuncArgs) -> Result<Value, String> {
    let s = text(&args[0])?;
    let prefix = text(&args[1])?;
    Ok(Value::String(
        s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_owned(),
    ))
}

fn tostring(args: FuncArgs) -> Result<Value, String> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    text(&args[0]).map(Value::String)
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for arg in args.iter() {
        match arg {
            Value::Object(map) => out.extend(map.clone()),
            Value::Null => {}
            other => return Err(format!("merge of a non-object: {other:?}")),
        }
    }
    Ok(Value::Object(out))
}

fn length(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(match &args[0] {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("length of {other:?}")),
    }))
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for arg in args.iter() {
        out.extend(elements(arg)?);
    }
    Ok(Value::Array(out))
}

fn toset(args: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for item in elements(&args[0])? {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

fn tolist(args: FuncArgs) -> Result<Value, String> {
    elements(&args[0]).map(Value::Array)
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Object(map) => Ok(Value::Array(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        other => Err(format!("keys of {other:?}")),
    }
}

fn values(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Object(map) => Ok(Value::Array(map.values().cloned().collect())),
        other => Err(format!("values of {other:?}")),
    }
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(elements(&args[0])?.contains(&args[1])))
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(text(&args[0])?.to_lowercase()))
}

fn replace(args: FuncArgs) -> Result<Value, String> {
    let search = text(&args[1])?;
    if search.starts_with('/') && search.ends_with('/') && search.len() > 1 {
        return Err("replace with a regular expression".to_owned());
    }
    Ok(Value::String(
        text(&args[0])?.replace(&search, &text(&args[2])?),
    ))
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let separator = text(&args[0])?;
    let parts: Result<Vec<String>, String> = elements(&args[1])?.iter().map(text).collect();
    Ok(Value::String(parts?.join(&separator)))
}

fn startswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(text(&args[0])?.starts_with(&text(&args[1])?)))
}

fn endswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(text(&args[0])?.ends_with(&text(&args[1])?)))
}

fn alltrue(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(
        elements(&args[0])?.iter().all(|v| v == &Value::Bool(true)),
    ))
}

fn anytrue(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(
        elements(&args[0])?.iter().any(|v| v == &Value::Bool(true)),
    ))
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    fn walk(value: &Value, out: &mut Vec<Value>) {
        match value {
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    walk(&args[0], &mut out);
    Ok(Value::Array(out))
}

fn distinct(args: FuncArgs) -> Result<Value, String> {
    toset(args)
}

fn sort(args: FuncArgs) -> Result<Value, String> {
    let mut items: Vec<String> = elements(&args[0])?
        .iter()
        .map(text)
        .collect::<Result<_, _>>()?;
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let key = text(&args[1])?;
    match &args[0] {
        Value::Object(map) => map
            .get(&key)
            .cloned()
            .or_else(|| args.get(2).cloned())
            .ok_or_else(|| format!("no key {key}")),
        other => Err(format!("lookup in {other:?}")),
    }
}

fn one(args: FuncArgs) -> Result<Value, String> {
    let items = elements(&args[0])?;
    match items.len() {
        0 => Ok(Value::Null),
        1 => Ok(items[0].clone()),
        n => Err(format!("one() of {n} elements")),
    }
}

fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = text(&args[0])?;
    let mut out = String::new();
    let mut rest = args.iter().skip(1);
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') | Some('d') | Some('v') => {
                out.push_str(&text(rest.next().ok_or("format: too few arguments")?)?)
            }
            other => return Err(format!("format verb %{other:?}")),
        }
    }
    Ok(Value::String(out))
}

/// Declares every function above in `ctx`.
pub fn declare(ctx: &mut Context) {
    use ParamType::Any;
    let fixed = |n: usize, f| FuncDef::new(f, std::iter::repeat_n(Any, n));
    let variadic = |f| FuncDef::builder().variadic_param(Any).build(f);
    ctx.declare_func("coalesce", variadic(coalesce));
    ctx.declare_func("jsonencode", fixed(1, jsonencode));
    ctx.declare_func("jsondecode", fixed(1, jsondecode));
    ctx.declare_func("file", fixed(1, file));
    ctx.declare_func("fileexists", fixed(1, fileexists));
    ctx.declare_func("fileset", fixed(2, fileset));
    ctx.declare_func("templatefile", fixed(2, templatefile));
    ctx.declare_func("trimsuffix", fixed(2, trimsuffix));
    ctx.declare_func("trimprefix", fixed(2, trimprefix));
    ctx.declare_func("tostring", fixed(1, tostring));
    ctx.declare_func("merge", variadic(merge));
    ctx.declare_func("length", fixed(1, length));
    ctx.declare_func("concat", variadic(concat));
    ctx.declare_func("toset", fixed(1, toset));
    ctx.declare_func("tolist", fixed(1, tolist));
    ctx.declare_func("keys", fixed(1, keys));
    ctx.declare_func("values", fixed(1, values));
    ctx.declare_func("contains", fixed(2, contains));
    ctx.declare_func("lower", fixed(1, lower));
    ctx.declare_func("replace", fixed(3, replace));
    ctx.declare_func("join", fixed(2, join));
    ctx.declare_func("startswith", fixed(2, startswith));
    ctx.declare_func("endswith", fixed(2, endswith));
    ctx.declare_func("alltrue", fixed(1, alltrue));
    ctx.declare_func("anytrue", fixed(1, anytrue));
    ctx.declare_func("flatten", fixed(1, flatten));
    ctx.declare_func("distinct", fixed(1, distinct));
    ctx.declare_func("sort", fixed(1, sort));
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .params([Any, Any])
            .variadic_param(Any)
            .build(lookup),
    );
    ctx.declare_func("one", fixed(1, one));
    ctx.declare_func("format", variadic(format));
}
