//! One module instance evaluated as Terraform would plan it with every value known: variables
//! (defaults and the caller's arguments), locals, data sources, resources (their arguments and
//! what AWS assigns them), module calls and outputs. Values are found in rounds until nothing
//! new is learnt, so the order of blocks does not matter; an expression that cannot be evaluated
//! (a function not modelled, a value never known) stays unknown, and what depends on it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Map, Value};

use super::computed::{World, computed};
use super::{functions, policy_document};

/// A resource instance: its address, type, and arguments with the attributes AWS assigns.
#[derive(Clone, Debug)]
pub struct Instance {
    pub address: String,
    pub kind: String,
    pub attrs: Map<String, Value>,
}

/// A rendered `aws_iam_policy_document`.
#[derive(Clone, Debug)]
pub struct Document {
    pub address: String,
    pub json: serde_json::Value,
    /// The texts of its source and override documents.
    pub sources: Vec<String>,
    /// `# cloudsplaining:allow=<action>:<reason>` comments in its block.
    pub reasons: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default)]
pub struct Module {
    pub address: String,
    pub dir: PathBuf,
    pub instances: Vec<Instance>,
    pub documents: Vec<Document>,
    pub outputs: Map<String, Value>,
    pub children: Vec<Module>,
}

impl Module {
    /// This module's instances and its children's, depth first.
    pub fn all_instances(&self) -> Vec<&Instance> {
        let mut out: Vec<&Instance> = self.instances.iter().collect();
        for child in &self.children {
            out.extend(child.all_instances());
        }
        out
    }

    pub fn all_documents(&self) -> Vec<&Document> {
        let mut out: Vec<&Document> = self.documents.iter().collect();
        for child in &self.children {
            out.extend(child.all_documents());
        }
        out
    }
}

const META: [&str; 6] = [
    "count",
    "for_each",
    "depends_on",
    "provider",
    "providers",
    "source",
];

fn parse_dir(dir: &Path) -> (Body, String) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    let mut structures = Vec::new();
    let mut text = String::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable .tf file");
        let body: Body = hcl::parse(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        structures.extend(body.into_inner());
        text.push_str(&source);
        text.push('\n');
    }
    (Body(structures), text)
}

fn labels(block: &Block) -> Vec<String> {
    block
        .labels()
        .iter()
        .map(|l| l.as_str().to_owned())
        .collect()
}

/// `# cloudsplaining:allow=<action>:<reason>` lines inside `data "aws_iam_policy_document" "<name>"`.
fn reasons_in(text: &str, name: &str) -> BTreeMap<String, String> {
    let head = format!("data \"aws_iam_policy_document\" \"{name}\" {{");
    let mut out = BTreeMap::new();
    let Some(start) = text.find(&head) else {
        return out;
    };
    let mut depth = 0i32;
    for line in text[start..].lines() {
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        if let Some(rest) = line.trim().strip_prefix("# cloudsplaining:allow=")
            && let Some((action, reason)) = rest.split_once(':').and_then(|(service, rest)| {
                rest.split_once(':')
                    .map(|(name, reason)| (format!("{service}:{name}"), reason.trim().to_owned()))
            })
        {
            out.insert(action, reason);
        }
        if depth == 0 {
            break;
        }
    }
    out
}

#[derive(Default, PartialEq)]
struct Known {
    locals: Map<String, Value>,
    data: Map<String, Value>,
    resources: Map<String, Value>,
    modules: Map<String, Value>,
    outputs: Map<String, Value>,
}

impl Known {
    fn insert(map: &mut Map<String, Value>, kind: &str, name: &str, value: Value) {
        let entry = map
            .entry(kind.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(by_name) = entry {
            by_name.insert(name.to_owned(), value);
        }
    }
}

/// How many instances a block has: one (no count or for_each), `count` ones, or one per
/// `for_each` key. `None` while the count or the keys are unknown.
enum Expansion {
    Single,
    Count(usize),
    Each(Vec<(String, Value)>),
}

fn expansion(block: &Block, ctx: &Context) -> Option<Expansion> {
    let body = block.body();
    if let Some(a) = body.attributes().find(|a| a.key() == "for_each") {
        return match a.expr().evaluate(ctx).ok()? {
            Value::Object(map) => Some(Expansion::Each(map.into_iter().collect())),
            Value::Array(items) => Some(Expansion::Each(
                items
                    .into_iter()
                    .map(|i| (i.as_str().unwrap_or_default().to_owned(), i))
                    .collect(),
            )),
            _ => None,
        };
    }
    if let Some(a) = body.attributes().find(|a| a.key() == "count") {
        return match a.expr().evaluate(ctx).ok()? {
            Value::Number(n) => Some(Expansion::Count(n.as_u64()? as usize)),
            _ => None,
        };
    }
    Some(Expansion::Single)
}

/// Evaluates `f` once per instance of `block`, with `each` or `count` set; assembles the values
/// as Terraform exposes them (an object, a list, or a map by key).
fn per_instance(
    block: &Block,
    ctx: &Context,
    address: &str,
    mut f: impl FnMut(&Context, String) -> Option<Value>,
) -> Option<Value> {
    Some(match expansion(block, ctx)? {
        Expansion::Single => f(ctx, address.to_owned())?,
        Expansion::Count(n) => {
            let mut out = Vec::new();
            for index in 0..n {
                let mut inner = ctx.clone();
                let mut count = Map::new();
                count.insert("index".into(), Value::from(index));
                inner.declare_var("count", Value::Object(count));
                out.push(f(&inner, format!("{address}[{index}]"))?);
            }
            Value::Array(out)
        }
        Expansion::Each(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let mut inner = ctx.clone();
                let mut each = Map::new();
                each.insert("key".into(), Value::String(key.clone()));
                each.insert("value".into(), value);
                inner.declare_var("each", Value::Object(each));
                if let Some(v) = f(&inner, format!("{address}[\"{key}\"]")) {
                    out.insert(key, v);
                }
            }
            Value::Object(out)
        }
    })
}

/// Blocks that are Terraform's, not the resource's; `dynamic` blocks stay unrendered (unknown).
const META_BLOCKS: [&str; 4] = ["lifecycle", "dynamic", "provisioner", "connection"];

/// The arguments of a body, and its nested blocks as Terraform exposes them: a list of objects
/// under the block's name (`filter_criteria[0].filter[0].pattern`).
fn arguments(body: &Body, ctx: &Context) -> Map<String, Value> {
    let mut out: Map<String, Value> = body
        .attributes()
        .filter(|a| !META.contains(&a.key()))
        .filter_map(|a| a.expr().evaluate(ctx).ok().map(|v| (a.key().to_owned(), v)))
        .collect();
    for block in body
        .blocks()
        .filter(|b| !META_BLOCKS.contains(&b.identifier()))
    {
        let nested = Value::Object(arguments(block.body(), ctx));
        // An argument of the same name (not valid Terraform) would stand.
        if let Value::Array(items) = out
            .entry(block.identifier().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            items.push(nested);
        }
    }
    out
}

/// Evaluates the module in `dir` with the caller's `inputs`; `root` is `path.root`.
pub fn module(
    dir: &Path,
    root: &Path,
    inputs: &Map<String, Value>,
    address: &str,
    world: &World,
) -> Module {
    let (body, text) = parse_dir(dir);
    let prefix = if address.is_empty() {
        String::new()
    } else {
        format!("{address}.")
    };

    let mut vars = Map::new();
    for block in body.blocks().filter(|b| b.identifier() == "variable") {
        let name = labels(block)[0].clone();
        let default = block
            .body()
            .attributes()
            .find(|a| a.key() == "default")
            .and_then(|a| a.expr().evaluate(&Context::new()).ok());
        if let Some(value) = inputs.get(&name).cloned().or(default) {
            vars.insert(name, value);
        }
    }

    let mut known = Known::default();
    let mut result = Module {
        address: address.to_owned(),
        dir: dir.to_owned(),
        ..Module::default()
    };
    for _round in 0..40 {
        let mut ctx = Context::new();
        functions::declare(&mut ctx);
        ctx.declare_var("var", Value::Object(vars.clone()));
        ctx.declare_var("local", Value::Object(known.locals.clone()));
        ctx.declare_var("data", Value::Object(known.data.clone()));
        ctx.declare_var("module", Value::Object(known.modules.clone()));
        let mut path = Map::new();
        path.insert("root".into(), Value::from(root.display().to_string()));
        path.insert("module".into(), Value::from(dir.display().to_string()));
        path.insert("cwd".into(), Value::from(root.display().to_string()));
        ctx.declare_var("path", Value::Object(path));
        for (kind, by_name) in &known.resources {
            ctx.declare_var(kind.as_str(), by_name.clone());
        }

        let mut next = Known::default();
        let mut instances = Vec::new();
        let mut documents = Vec::new();
        let mut children = Vec::new();

        for locals in body.blocks().filter(|b| b.identifier() == "locals") {
            for a in locals.body().attributes() {
                if let Ok(v) = a.expr().evaluate(&ctx) {
                    next.locals.insert(a.key().to_owned(), v);
                }
            }
        }

        for block in body.blocks().filter(|b| b.identifier() == "data") {
            let l = labels(block);
            let (kind, name) = (l[0].as_str(), l[1].as_str());
            let at = format!("{prefix}data.{kind}.{name}");
            let value = per_instance(block, &ctx, &at, |ctx, address| {
                let args = arguments(block.body(), ctx);
                let mut out = Map::new();
                match kind {
                    "aws_caller_identity" => {
                        out.insert("account_id".into(), Value::from(world.account.clone()));
                        out.insert("id".into(), Value::from(world.account.clone()));
                        out.insert(
                            "arn".into(),
                            Value::from(format!(
                                "arn:{}:iam::{}:user/administrator",
                                world.partition, world.account
                            )),
                        );
                    }
                    "aws_region" => {
                        out.insert("region".into(), Value::from(world.region.clone()));
                        out.insert("name".into(), Value::from(world.region.clone()));
                        out.insert("id".into(), Value::from(world.region.clone()));
                    }
                    "aws_partition" => {
                        out.insert("partition".into(), Value::from(world.partition.clone()));
                        out.insert("dns_suffix".into(), Value::from("amazonaws.com"));
                        out.insert("id".into(), Value::from(world.partition.clone()));
                    }
                    "aws_iam_openid_connect_provider" | "aws_iam_policy" | "aws_iam_role" => {
                        out.extend(args.clone());
                        out.extend(computed(kind, &args, world));
                    }
                    "aws_iam_policy_document" => {
                        let mut sources = Vec::new();
                        let json = policy_document::render(block.body(), ctx, &mut sources).ok()?;
                        let text = serde_json::to_string(&json).expect("JSON");
                        out.insert("json".into(), Value::from(text.clone()));
                        out.insert("minified_json".into(), Value::from(text));
                        documents.push(Document {
                            address,
                            json,
                            sources,
                            reasons: BTreeMap::new(),
                        });
                    }
                    _ => return None,
                }
                Some(Value::Object(out))
            });
            if let Some(v) = value {
                Known::insert(&mut next.data, kind, name, v);
            }
        }

        for block in body.blocks().filter(|b| b.identifier() == "resource") {
            let l = labels(block);
            let (kind, name) = (l[0].as_str(), l[1].as_str());
            let at = format!("{prefix}{kind}.{name}");
            let value = per_instance(block, &ctx, &at, |ctx, address| {
                let mut attrs = arguments(block.body(), ctx);
                let assigned = computed(kind, &attrs, world);
                attrs.extend(assigned);
                instances.push(Instance {
                    address,
                    kind: kind.to_owned(),
                    attrs: attrs.clone(),
                });
                Some(Value::Object(attrs))
            });
            if let Some(v) = value {
                Known::insert(&mut next.resources, kind, name, v);
            }
        }

        for block in body.blocks().filter(|b| b.identifier() == "module") {
            let name = labels(block)[0].clone();
            let source = block
                .body()
                .attributes()
                .find(|a| a.key() == "source")
                .and_then(|a| a.expr().evaluate(&ctx).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .expect("a module source");
            let args = arguments(block.body(), &ctx);
            let child = module(
                &dir.join(source),
                root,
                &args,
                &format!("{prefix}module.{name}"),
                world,
            );
            next.modules
                .insert(name, Value::Object(child.outputs.clone()));
            children.push(child);
        }

        for block in body.blocks().filter(|b| b.identifier() == "output") {
            let name = labels(block)[0].clone();
            if let Some(v) = block
                .body()
                .attributes()
                .find(|a| a.key() == "value")
                .and_then(|a| a.expr().evaluate(&ctx).ok())
            {
                next.outputs.insert(name, v);
            }
        }

        let done = next == known;
        known = next;
        result.instances = instances;
        result.documents = documents;
        result.children = children;
        if done {
            break;
        }
    }
    for document in &mut result.documents {
        let name = document
            .address
            .rsplit("data.aws_iam_policy_document.")
            .next()
            .unwrap_or_default()
            .split('[')
            .next()
            .unwrap_or_default()
            .to_owned();
        document.reasons = reasons_in(&text, &name);
    }
    result.outputs = known.outputs;
    result
}
