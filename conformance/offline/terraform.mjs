// Offline checks of the Terraform code, without a Terraform binary or provider plugins:
//   1. every .tf file parses with HashiCorp's HCL parser (@cdktf/hcl2json);
//   2. every .tf file is formatted as `terraform fmt` writes it (hclwrite's Format, from
//      @cdktf/hcl-tools, plus the two rewrites terraform fmt adds on top of it);
//   3. every resource, data source and provider block, and every nested block, uses only
//      arguments that exist in the pinned provider's schema, and every required one. The schema
//      comes from the provider bindings' .jsii manifest (@cdktf/provider-aws and -random): each
//      property's doc link carries its exact Terraform name. It is extracted once into a cache.
//
// Usage: node terraform.mjs <terraform dir> <node_modules dir> <schema cache dir>
// Exits 1 and names each problem (file, block, argument) if any check fails.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [tfDir, modulesDir, cacheDir] = process.argv.slice(2);
if (!tfDir || !modulesDir || !cacheDir) {
  console.error("usage: node terraform.mjs <terraform dir> <node_modules dir> <schema cache dir>");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(modulesDir), "noop.js"));
const hcl2json = require("@cdktf/hcl2json");
const hclTools = require("@cdktf/hcl-tools");

const PROVIDERS = {
  aws: "@cdktf/provider-aws",
  random: "@cdktf/provider-random",
};

const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

function tfFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== ".terraform") out.push(...tfFiles(full));
    } else if (entry.name.endsWith(".tf")) {
      out.push(full);
    }
  }
  return out.sort();
}

// ---------------------------------------------------------------- schema extraction

function linkName(docs) {
  const text = `${docs?.summary ?? ""} ${docs?.remarks ?? ""}`;
  const m = text.match(/\{@link https:\/\/registry\.terraform\.io\/[^\s#}]+#([a-z0-9_]+) /);
  if (m) return m[1];
  const block = (docs?.summary ?? "").match(/^([a-z0-9_]+) block\.$/);
  return block ? block[1] : null;
}

function structFqn(type, types) {
  // A nested block is a struct (datatype interface), alone or in a list, maybe in a union with
  // cdktf.IResolvable.
  if (!type) return null;
  if (type.fqn && types[type.fqn]?.datatype) return { fqn: type.fqn, list: false };
  if (type.collection?.elementtype) {
    const inner = structFqn(type.collection.elementtype, types);
    return inner ? { fqn: inner.fqn, list: true } : null;
  }
  if (type.union) {
    for (const t of type.union.types) {
      const inner = structFqn(t, types);
      if (inner) return inner;
    }
  }
  return null;
}

function properties(fqn, types) {
  const type = types[fqn];
  if (!type) return [];
  const own = type.properties ?? [];
  const inherited = (type.interfaces ?? [])
    .filter((i) => !i.startsWith("cdktf."))
    .flatMap((i) => properties(i, types));
  return [...inherited, ...own];
}

function schemaOf(fqn, types, depth = 0) {
  const schema = { attrs: {}, blocks: {} };
  if (depth > 12) return schema;
  for (const prop of properties(fqn, types)) {
    const name = linkName(prop.docs);
    if (!name) continue;
    const required = !prop.optional;
    const struct = structFqn(prop.type, types);
    const isBlock = /^[a-z0-9_]+ block\.$/.test(prop.docs?.summary ?? "");
    if (struct && isBlock) {
      schema.blocks[name] = { required, list: struct.list, schema: schemaOf(struct.fqn, types, depth + 1) };
    } else {
      schema.attrs[name] = { required };
    }
  }
  return schema;
}

function extract(pkg) {
  const pkgDir = path.dirname(require.resolve(`${pkg}/package.json`));
  const meta = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const version = meta.cdktf.provider.version;
  const cache = path.join(cacheDir, `${pkg.replace(/[@/]/g, "_")}-${meta.version}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, "utf8"));

  const jsii = JSON.parse(fs.readFileSync(path.join(pkgDir, ".jsii"), "utf8"));
  const types = jsii.types;
  const out = { provider_version: version, resources: {}, data: {}, provider: null };
  for (const type of Object.values(types)) {
    if (type.kind !== "class") continue;
    const m = (type.docs?.summary ?? "").match(
      /^Represents a \{@link https:\/\/registry\.terraform\.io\/providers\/[^/]+\/[^/]+\/[^/]+\/docs(?:\/(resources|data-sources)\/[a-z0-9_]+)? ([a-z0-9_]+)\}/,
    );
    if (!m) continue;
    const config = type.initializer?.parameters?.[2]?.type?.fqn ?? type.initializer?.parameters?.[1]?.type?.fqn;
    if (!config) continue;
    const schema = schemaOf(config, types);
    if (m[1] === "resources") out.resources[m[2]] = schema;
    else if (m[1] === "data-sources") out.data[m[2]] = schema;
    else out.provider = schema;
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(cache, JSON.stringify(out));
  return out;
}

// ---------------------------------------------------------------- schema check

const RESOURCE_META = new Set(["count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"]);
const DATA_META = new Set(["count", "for_each", "depends_on", "provider", "lifecycle"]);
const PROVIDER_META = new Set(["alias"]);

function checkBody(where, body, schema, meta) {
  const present = new Set();
  for (const [key, value] of Object.entries(body)) {
    if (meta.has(key)) continue;
    if (key === "dynamic") {
      for (const [name, dyns] of Object.entries(value)) {
        const block = schema.blocks[name];
        if (!block) {
          problem(where, `dynamic "${name}": no such block`);
          continue;
        }
        present.add(name);
        for (const dyn of dyns) {
          for (const key of Object.keys(dyn)) {
            if (!["for_each", "iterator", "labels", "content"].includes(key)) problem(`${where} > dynamic ${name}`, `unexpected "${key}"`);
          }
          for (const content of dyn.content ?? []) checkBody(`${where} > ${name}`, content, block.schema, new Set());
        }
      }
      continue;
    }
    if (schema.attrs[key]) {
      present.add(key);
      continue;
    }
    const block = schema.blocks[key];
    if (block) {
      present.add(key);
      if (!Array.isArray(value)) {
        problem(where, `"${key}" is a block, written as an attribute`);
        continue;
      }
      if (!block.list && value.length > 1) problem(where, `block "${key}" given ${value.length} times; it takes one`);
      for (const item of value) checkBody(`${where} > ${key}`, item, block.schema, new Set());
      continue;
    }
    problem(where, `unknown argument or block "${key}"`);
  }
  for (const [name, attr] of Object.entries(schema.attrs)) {
    if (attr.required && !present.has(name)) problem(where, `missing required argument "${name}"`);
  }
  for (const [name, block] of Object.entries(schema.blocks)) {
    if (block.required && !present.has(name)) problem(where, `missing required block "${name}"`);
  }
}

function providerOf(type) {
  return type.split("_")[0];
}

// ---------------------------------------------------------------- main

const schemas = Object.fromEntries(Object.entries(PROVIDERS).map(([name, pkg]) => [name, extract(pkg)]));
// The provider versions this check validates, stated once (package.json's terraformProviders):
// they must be the bindings' own, and every required_providers pin must be exactly them.
const stated = JSON.parse(fs.readFileSync(new URL("./package.json", import.meta.url), "utf8")).terraformProviders ?? {};
for (const [name, schema] of Object.entries(schemas)) {
  if (stated[name] !== schema.provider_version) {
    problem("conformance/offline/package.json", `terraformProviders.${name} is ${stated[name]}; ${PROVIDERS[name]} carries the schema of ${schema.provider_version}`);
  }
}
const files = tfFiles(tfDir);
if (files.length === 0) {
  console.error(`no .tf files under ${tfDir}`);
  process.exit(1);
}

let blocks = 0;
for (const file of files) {
  const rel = path.relative(process.cwd(), file);
  const src = fs.readFileSync(file, "utf8");

  let json;
  try {
    json = await hcl2json.parse(rel, src);
  } catch (err) {
    problem(rel, `does not parse: ${err.message ?? err}`);
    continue;
  }

  const formatted = await hclTools.format(src);
  if (formatted !== src) {
    const a = src.split("\n");
    const b = formatted.split("\n");
    const line = a.findIndex((l, i) => l !== b[i]);
    problem(`${rel}:${line + 1}`, `not as terraform fmt writes it:\n    have: ${JSON.stringify(a[line])}\n    want: ${JSON.stringify(b[line])}`);
  }
  // terraform fmt also unwraps interpolation-only strings and unquotes legacy type names.
  src.split("\n").forEach((l, i) => {
    if (/=\s*"\$\{[^"]*\}"\s*(#.*)?$/.test(l) && !/\}[^"]*\$\{/.test(l)) problem(`${rel}:${i + 1}`, `interpolation-only string (terraform fmt unwraps it): ${l.trim()}`);
    if (/^\s*type\s*=\s*"(string|number|bool|list|map)"/.test(l)) problem(`${rel}:${i + 1}`, `quoted type name (terraform fmt unquotes it): ${l.trim()}`);
  });

  for (const terraform of json.terraform ?? []) {
    for (const required of terraform.required_providers ?? []) {
      for (const [name, req] of Object.entries(required)) {
        if (req?.version !== stated[name]) problem(`${rel}: required_providers.${name}`, `version ${JSON.stringify(req?.version)}, but the schemas checked are of ${stated[name]}`);
      }
    }
  }

  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    const schema = schemas[providerOf(type)]?.resources[type];
    for (const [name, bodies] of Object.entries(byName)) {
      blocks += 1;
      const where = `${rel}: resource "${type}" "${name}"`;
      if (!schema) {
        problem(where, `no such resource type in the pinned providers`);
        continue;
      }
      for (const body of bodies) checkBody(where, body, schema, RESOURCE_META);
    }
  }
  for (const [type, byName] of Object.entries(json.data ?? {})) {
    const schema = schemas[providerOf(type)]?.data[type];
    for (const [name, bodies] of Object.entries(byName)) {
      blocks += 1;
      const where = `${rel}: data "${type}" "${name}"`;
      if (!schema) {
        problem(where, `no such data source in the pinned providers`);
        continue;
      }
      for (const body of bodies) checkBody(where, body, schema, DATA_META);
    }
  }
  for (const [name, bodies] of Object.entries(json.provider ?? {})) {
    blocks += 1;
    const schema = schemas[name]?.provider;
    const where = `${rel}: provider "${name}"`;
    if (!schema) {
      problem(where, "no schema for this provider");
      continue;
    }
    for (const body of bodies) checkBody(where, body, schema, PROVIDER_META);
  }
}

const versions = Object.entries(schemas).map(([n, s]) => `${n} ${s.provider_version}`).join(", ");
if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`terraform: ${problems.length} problem(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`terraform: ${files.length} files parse and are formatted; ${blocks} resource, data and provider blocks match the schemas of ${versions}`);
