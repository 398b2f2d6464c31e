// An OpenAPI 3.1 document loaded for checking responses against it: the
// document validated as OpenAPI 3.1, every schema it holds compiled up front
// (so a broken schema fails even when no exchange reaches it), and the
// lookups an exchange needs: its operation (path template + method) and the
// documented response for its status.

import { readFileSync } from "node:fs";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
// Where Ajv finds the document; the name only has to be an absolute URI.
const BASE = "https://troupe.invalid/openapi.yaml";
// Ajv compiles the document's root once to reach "#/..." inside it; its
// top-level OpenAPI fields are declared as annotations so strict mode
// (which still rejects unknown keywords inside real schemas) lets it pass.
const ROOT_FIELDS = ["openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
  "components", "security", "tags"];
// The OpenAPI 3.1 dialect's own keywords (annotations for validation).
const OAS_KEYWORDS = ["discriminator", "xml", "externalDocs", "example"];

export const escapePointer = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");
const unescapePointer = (s) => s.replace(/~1/g, "/").replace(/~0/g, "~");

export const mediaTypeOf = (contentType) =>
  (contentType || "").split(";")[0].trim().toLowerCase();

/// Ajv's errors on one line: "/where what (detail); ...".
export function describeErrors(errors) {
  const all = errors || [];
  const shown = all.slice(0, 6).map((e) => {
    const p = e.params || {};
    const extra = p.additionalProperty !== undefined ? ` (${p.additionalProperty})`
      : p.allowedValues ? ` (${p.allowedValues.join(", ")})` : "";
    return `${e.instancePath || "/"} ${e.message}${extra}`;
  });
  if (all.length > shown.length) shown.push(`${all.length - shown.length} more`);
  return shown.join("; ");
}

export const isJsonMedia = (media) => media === "application/json" || media.endsWith("+json");

/// Splits a path template into segments: { literal } or { re } (a segment
/// holding a {param}, which matches one or more characters there).
function compileTemplate(template) {
  return template.split("/").map((seg) => {
    if (!seg.includes("{")) return { literal: seg };
    const body = seg.split(/(\{[^}]+\})/).map((part) =>
      part.startsWith("{") && part.endsWith("}") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return { re: new RegExp(`^${body.join("")}$`) };
  });
}

export class Spec {
  /// Throws on an unreadable or unparsable file; problems with the document
  /// itself are in `problems` (empty when it is sound).
  static async load(file, peers) {
    const text = readFileSync(file, "utf8");
    const doc = peers.YAML.parse(text);
    if (doc === null || typeof doc !== "object" || Array.isArray(doc))
      throw new Error("not an OpenAPI document (its top level is not a mapping)");
    const spec = new Spec(doc, peers);
    if (await spec.validateDocument(peers.Validator)) {
      for (const { t } of spec.templates) spec.checkPathParameters(t);
      spec.compileAll();
    }
    return spec;
  }

  constructor(doc, { Ajv2020, addFormats }) {
    this.doc = doc;
    this.problems = [];
    this.validators = new Map();
    this.ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
    addFormats(this.ajv);
    for (const f of ["int32", "int64", "float", "double", "password"])
      this.ajv.addFormat(f, true);
    this.ajv.addVocabulary([...ROOT_FIELDS, ...OAS_KEYWORDS]);
    this.ajv.addSchema(doc, BASE, undefined, false);
    this.templates = Object.keys(doc?.paths || {}).map((t) => ({ t, segs: compileTemplate(t) }));
  }

  /// OpenAPI 3.1's own schema (which does not look inside Schema Objects)
  /// and every $ref resolving; false with `problems` when not.
  async validateDocument(Validator) {
    const res = await new Validator().validate(structuredClone(this.doc));
    if (res.valid) return true;
    let errors = Array.isArray(res.errors) ? res.errors : [res.errors];
    // "must match else schema" only repeats, vaguer, what the others say.
    const specific = errors.filter((e) => e?.keyword !== "if");
    if (specific.length > 0) errors = specific;
    for (const e of errors.slice(0, 20))
      this.problems.push(typeof e === "string" ? e : `${e.instancePath || "/"}: ${e.message}` +
        (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""));
    return false;
  }

  /// Every {name} of a template is a declared path parameter and back.
  checkPathParameters(template) {
    const item = this.doc.paths[template];
    const inTemplate = new Set([...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    const declared = (params) => new Set((params || []).map((p) => this.deref(p).obj)
      .filter((p) => p && p.in === "path").map((p) => p.name));
    const common = declared(item.parameters);
    for (const m of this.methodsOf(template)) {
      const names = new Set([...common, ...declared(item[m].parameters)]);
      for (const n of inTemplate)
        if (!names.has(n)) this.problems.push(`${m.toUpperCase()} ${template}: {${n}} is not a declared path parameter`);
      for (const n of names)
        if (!inTemplate.has(n)) this.problems.push(`${m.toUpperCase()} ${template}: path parameter ${n} is not in the path`);
    }
  }

  methodsOf(template) {
    const item = this.doc.paths[template] || {};
    return METHODS.filter((m) => item[m]);
  }

  /// Every operation as "METHOD template".
  operations() {
    return this.templates.flatMap(({ t }) => this.methodsOf(t).map((m) => `${m.toUpperCase()} ${t}`));
  }

  /// What a JSON pointer ("/a/b") points at in the document, or undefined.
  at(pointer) {
    return pointer.slice(1).split("/").map(unescapePointer)
      .reduce((o, k) => (o == null ? undefined : o[k]), this.doc);
  }

  /// Follows local $refs: { obj, pointer } of the object finally reached.
  deref(obj, pointer = "") {
    const seen = new Set();
    while (obj && typeof obj.$ref === "string") {
      const ref = obj.$ref;
      if (!ref.startsWith("#/") || seen.has(ref)) throw new Error(`cannot resolve $ref ${ref}`);
      seen.add(ref);
      pointer = ref.slice(1);
      obj = this.at(pointer);
      if (obj === undefined) throw new Error(`cannot resolve $ref ${ref}`);
    }
    return { obj, pointer };
  }

  /// The path template a concrete path matches; a literal segment wins over
  /// a template segment, leftmost first (OpenAPI: concrete paths before
  /// templated ones). Null when none matches.
  matchPath(path) {
    const parts = path.split("/");
    let best = null;
    for (const { t, segs } of this.templates) {
      if (segs.length !== parts.length) continue;
      const rank = [];
      const ok = segs.every((s, i) => {
        rank.push(s.literal !== undefined ? 1 : 0);
        return s.literal !== undefined ? s.literal === parts[i] : s.re.test(parts[i]);
      });
      if (ok && (!best || rank.join("") > best.rank.join(""))) best = { t, rank };
    }
    return best?.t ?? null;
  }

  /// The documented response of an operation for a status: exact code, then
  /// its range (4XX), then default. { key, obj, pointer } or null.
  response(template, method, status) {
    const responses = this.doc.paths[template][method].responses || {};
    const range = `${Math.floor(status / 100)}XX`;
    const key = [String(status), range, range.toLowerCase(), "default"].find((k) => k in responses);
    return key === undefined ? null : this.responseAt(template, method, key);
  }

  responseAt(template, method, key) {
    const base = `/paths/${escapePointer(template)}/${method}/responses/${escapePointer(key)}`;
    return { key, ...this.deref(this.doc.paths[template][method].responses[key], base) };
  }

  /// The compiled validator of the schema at a JSON pointer into the document.
  validator(pointer) {
    let v = this.validators.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `${BASE}#${pointer}` });
      this.validators.set(pointer, v);
    }
    return v;
  }

  /// The pointer of components/schemas/NAME, or null when absent.
  componentSchema(name) {
    return this.doc.components?.schemas?.[name] ? `/components/schemas/${escapePointer(name)}` : null;
  }

  /// Checks every schema against JSON Schema 2020-12 and compiles it: the
  /// components' schemas and those of each response's content and headers.
  compileAll() {
    const pointers = Object.keys(this.doc.components?.schemas || {})
      .map((n) => this.componentSchema(n));
    for (const op of this.operations()) {
      const [M, t] = op.split(" ");
      const m = M.toLowerCase();
      for (const code of Object.keys(this.doc.paths[t][m].responses || {})) {
        try {
          const resp = this.responseAt(t, m, code);
          for (const media of Object.keys(resp.obj?.content || {}))
            if (resp.obj.content[media].schema)
              pointers.push(`${resp.pointer}/content/${escapePointer(media)}/schema`);
          for (const [h, header] of Object.entries(resp.obj?.headers || {})) {
            const hp = this.deref(header, `${resp.pointer}/headers/${escapePointer(h)}`);
            if (hp.obj?.schema) pointers.push(`${hp.pointer}/schema`);
          }
        } catch (e) {
          this.problems.push(`${op} ${code}: ${e.message}`);
        }
      }
    }
    // A broken schema also breaks each one referring to it: say it once.
    const compileErrors = new Set();
    for (const p of new Set(pointers)) {
      const schema = this.at(p);
      if (!this.ajv.validateSchema(schema))
        this.problems.push(`#${p}: not a JSON Schema 2020-12 schema: ${describeErrors(this.ajv.errors)}`);
      try {
        this.validator(p);
      } catch (e) {
        if (!compileErrors.has(e.message)) this.problems.push(`#${p}: ${e.message}`);
        compileErrors.add(e.message);
      }
    }
  }
}
