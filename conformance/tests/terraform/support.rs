//! Reading the Terraform code with hcl-rs: files, blocks, attributes, locals and variable
//! defaults, and evaluating the simple expressions that derive names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Expression, ObjectKey, Value};

pub fn terraform_dir() -> PathBuf {
    conformance::repo_root().join("terraform")
}

pub fn module_dir(name: &str) -> PathBuf {
    terraform_dir().join("modules").join(name)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn parse(path: &Path) -> Body {
    hcl::parse(&read(path)).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// The `.tf` files of one folder (one Terraform module), sorted.
pub fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    files
}

/// Every `.tf` file under `terraform/`.
pub fn all_tf_files() -> Vec<PathBuf> {
    module_dirs().iter().flat_map(|dir| tf_files(dir)).collect()
}

/// Every Terraform module folder: the root, `bootstrap/` and each of `modules/`.
pub fn module_dirs() -> Vec<PathBuf> {
    let root = terraform_dir();
    let mut dirs = vec![root.clone(), root.join("bootstrap")];
    let mut modules: Vec<PathBuf> = std::fs::read_dir(root.join("modules"))
        .expect("terraform/modules exists")
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.is_dir())
        .collect();
    modules.sort();
    dirs.extend(modules);
    dirs
}

/// All files of one module, parsed and merged into one body (as Terraform reads a module).
pub fn module_body(dir: &Path) -> Body {
    let mut structures = Vec::new();
    for file in tf_files(dir) {
        structures.extend(parse(&file).into_inner());
    }
    Body(structures)
}

pub fn label_strs(block: &Block) -> Vec<&str> {
    block.labels().iter().map(|l| l.as_str()).collect()
}

/// The blocks `ident "labels[0]" "labels[1]" {…}` of a body (labels may be a prefix).
pub fn blocks<'a>(
    body: &'a Body,
    ident: &'a str,
    labels: &'a [&'a str],
) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks()
        .filter(move |b| b.identifier() == ident && label_strs(b).starts_with(labels))
}

pub fn block<'a>(body: &'a Body, ident: &'a str, labels: &'a [&'a str]) -> &'a Block {
    let mut found = blocks(body, ident, labels);
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no block {ident} {labels:?}"));
    assert!(
        found.next().is_none(),
        "more than one block {ident} {labels:?}"
    );
    first
}

pub fn attr<'a>(body: &'a Body, key: &str) -> &'a Expression {
    try_attr(body, key).unwrap_or_else(|| panic!("no attribute {key}"))
}

pub fn try_attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// An expression as Terraform source text on one line (hcl-rs's formatting, lines joined), to
/// compare references.
pub fn source(expr: &Expression) -> String {
    let text = hcl::format::to_string(expr).expect("an expression formats");
    text.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .replace("[ ", "[")
        .replace(" ]", "]")
}

pub fn key_str(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        ObjectKey::Expression(other) => source(other),
        other => panic!("an object key hcl-rs added since: {other:?}"),
    }
}

/// The entries of an object expression, in order.
pub fn object(expr: &Expression) -> Vec<(String, &Expression)> {
    match expr {
        Expression::Object(map) => map.iter().map(|(k, v)| (key_str(k), v)).collect(),
        other => panic!("not an object: {}", source(other)),
    }
}

pub fn object_field<'a>(expr: &'a Expression, key: &str) -> &'a Expression {
    object(expr)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no key {key} in {}", source(expr)))
}

pub fn string(expr: &Expression) -> &str {
    match expr {
        Expression::String(s) => s,
        other => panic!("not a string literal: {}", source(other)),
    }
}

pub fn strings(expr: &Expression) -> Vec<&str> {
    match expr {
        Expression::Array(items) => items.iter().map(string).collect(),
        other => panic!("not an array: {}", source(other)),
    }
}

/// The `locals` of a module, merged.
pub fn locals(dir: &Path) -> BTreeMap<String, Expression> {
    let body = module_body(dir);
    let mut out = BTreeMap::new();
    for locals in blocks(&body, "locals", &[]) {
        for a in locals.body().attributes() {
            assert!(
                out.insert(a.key().to_owned(), a.expr().clone()).is_none(),
                "local.{} is defined twice in {}",
                a.key(),
                dir.display()
            );
        }
    }
    out
}

pub fn local(dir: &Path, name: &str) -> Expression {
    locals(dir)
        .remove(name)
        .unwrap_or_else(|| panic!("no local.{name} in {}", dir.display()))
}

/// The `variable` blocks of a module, by name.
pub fn variables(dir: &Path) -> BTreeMap<String, Block> {
    let body = module_body(dir);
    blocks(&body, "variable", &[])
        .map(|b| (label_strs(b)[0].to_owned(), b.clone()))
        .collect()
}

/// A variable's default, evaluated (defaults are constants).
pub fn default_of(dir: &Path, name: &str) -> Option<Value> {
    let vars = variables(dir);
    let var = vars
        .get(name)
        .unwrap_or_else(|| panic!("no variable {name} in {}", dir.display()));
    try_attr(var.body(), "default").map(|expr| {
        expr.evaluate(&Context::new())
            .unwrap_or_else(|e| panic!("default of {name}: {e}"))
    })
}

pub fn default_number(dir: &Path, name: &str) -> f64 {
    match default_of(dir, name) {
        Some(Value::Number(n)) => n.as_f64().expect("a finite number"),
        other => panic!(
            "variable {name} in {} has no number default: {other:?}",
            dir.display()
        ),
    }
}

/// `var` as Terraform would see it with every default of the module's variables.
pub fn var_defaults(dir: &Path) -> Value {
    let mut map = hcl::Map::new();
    for name in variables(dir).keys() {
        map.insert(name.clone(), default_of(dir, name).unwrap_or(Value::Null));
    }
    Value::Object(map)
}

/// Evaluates `expr` in a context with `var` = the module's defaults.
pub fn eval_with_defaults(dir: &Path, expr: &Expression) -> Value {
    let mut ctx = Context::new();
    ctx.declare_var("var", var_defaults(dir));
    expr.evaluate(&ctx)
        .unwrap_or_else(|e| panic!("cannot evaluate {}: {e}", source(expr)))
}

/// The text of a file without its comments, so that references in comments do not count.
pub fn code_without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
