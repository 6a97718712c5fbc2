/**
 * The published SBOM schemas, loaded into ajv for tests: CycloneDX 1.6 (schema/cyclonedx/: the
 * BOM schema with the SPDX license-id and JSF schemas it references, each under its own `$id`)
 * and SPDX 2.3 (test/fixtures/spdx-schema/). Both are draft-07. ajv knows no formats by itself;
 * the ones these schemas use are defined here (date-time strictly, as RFC 3339 writes it).
 *
 * The SPDX 2.3 schema checks little beyond shapes, so `spdxProblems` adds what the SPDX 2.3
 * specification says and the schema does not: id syntax, uniqueness, relationships and license
 * references that resolve, the `created` time format, a namespace URI without `#`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (...p: string[]) => JSON.parse(readFileSync(join(ROOT, ...p), "utf8")) as object;

function ajv(): Ajv {
  const a = new Ajv({ strict: false, allErrors: true });
  a.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  a.addFormat("iri-reference", /^\S*$/);
  a.addFormat("uri", /^[a-z][a-z0-9+.-]*:\S*$/i);
  a.addFormat("idn-email", /^[^@\s]+@[^@\s]+$/);
  return a;
}

let cdx: ValidateFunction | undefined;
let spdx: ValidateFunction | undefined;

export function cyclonedxSchema(): ValidateFunction {
  if (!cdx) {
    const a = ajv();
    a.addSchema(read("schema", "cyclonedx", "spdx.schema.json"));
    a.addSchema(read("schema", "cyclonedx", "jsf-0.82.schema.json"));
    cdx = a.compile(read("schema", "cyclonedx", "bom-1.6.schema.json"));
  }
  return cdx;
}

export function spdxSchema(): ValidateFunction {
  spdx ??= ajv().compile(read("test", "fixtures", "spdx-schema", "spdx-schema.json"));
  return spdx;
}

/** What the SPDX 2.3 specification requires beyond its JSON schema (empty when none). */
export function spdxProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const packages = (doc.packages ?? []) as Record<string, unknown>[];
  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  for (const p of packages) {
    const id = String(p.SPDXID);
    if (!/^SPDXRef-[A-Za-z0-9.-]+$/.test(id)) problems.push(`bad SPDXID ${id}`);
    if (ids.has(id)) problems.push(`duplicate SPDXID ${id}`);
    ids.add(id);
  }
  for (const r of (doc.relationships ?? []) as Record<string, string>[])
    for (const end of [r.spdxElementId, r.relatedSpdxElement])
      if (!ids.has(end!)) problems.push(`relationship names unknown ${end}`);
  for (const d of (doc.documentDescribes ?? []) as string[])
    if (!ids.has(d)) problems.push(`documentDescribes names unknown ${d}`);
  const refs = new Set(
    ((doc.hasExtractedLicensingInfos ?? []) as Record<string, string>[]).map((l) => l.licenseId),
  );
  for (const l of refs) if (!/^LicenseRef-[A-Za-z0-9.-]+$/.test(l!)) problems.push(`bad licenseId ${l}`);
  for (const p of packages)
    for (const m of String(p.licenseDeclared).matchAll(/LicenseRef-[A-Za-z0-9.-]+/g))
      if (!refs.has(m[0])) problems.push(`${p.SPDXID}: ${m[0]} is not in hasExtractedLicensingInfos`);
  const created = (doc.creationInfo as Record<string, string> | undefined)?.created ?? "";
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(created))
    problems.push(`created is not YYYY-MM-DDThh:mm:ssZ: ${created}`);
  const ns = String(doc.documentNamespace);
  if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(ns) || ns.includes("#")) problems.push(`bad documentNamespace ${ns}`);
  return problems;
}

/** CycloneDX: every bom-ref unique, every dependency ref names a component. */
export function cyclonedxProblems(bom: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const refs = new Set<string>();
  const meta = (bom.metadata as Record<string, Record<string, string>>).component;
  const all = [meta, ...((bom.components ?? []) as Record<string, string>[])];
  for (const c of all) {
    const r = c?.["bom-ref"];
    if (r === undefined) continue;
    if (refs.has(r)) problems.push(`duplicate bom-ref ${r}`);
    refs.add(r);
  }
  for (const d of (bom.dependencies ?? []) as { ref: string; dependsOn?: string[] }[])
    for (const r of [d.ref, ...(d.dependsOn ?? [])])
      if (!refs.has(r)) problems.push(`dependency on unknown ${r}`);
  return problems;
}
