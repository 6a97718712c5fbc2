/**
 * The OCI image-spec's JSON schemas (copied into test/fixtures/oci-schema/, see its README.md),
 * loaded into ajv for tests. The schemas are draft-04 with `id`s that would send their relative
 * `$ref`s (`defs-descriptor.json#/…`) to opencontainers.org; each is registered under its file
 * name instead, without `id` and `$schema`, so the references resolve to the sibling files.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

const DIR = join(import.meta.dirname, "..", "..", "test", "fixtures", "oci-schema");
const BASE = "https://oci-schema.invalid/";

function stripIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripIds);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === "id" || k === "$schema") && typeof x === "string") continue;
      out[k] = stripIds(x);
    }
    return out;
  }
  return v;
}

let ajv: Ajv | undefined;

/** A validator of `file` (e.g. `image-manifest-schema.json`). */
export function ociSchema(file: string): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    ajv.addFormat("uri", /^[a-z][a-z0-9+.-]*:/i);
    for (const f of readdirSync(DIR).filter((n) => n.endsWith(".json")))
      ajv.addSchema(stripIds(JSON.parse(readFileSync(join(DIR, f), "utf8"))) as object, `${BASE}${f}`);
  }
  const v = ajv.getSchema(`${BASE}${file}`);
  if (!v) throw new Error(`no schema ${file} in ${DIR}`);
  return v;
}
