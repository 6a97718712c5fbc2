/**
 * A Python distribution's declared licenses, from its METADATA: PEP 639 `License-Expression` when
 * given; otherwise the `License` field; otherwise the `License ::` classifiers. Each is mapped to
 * an SPDX license id when it names exactly one (the id list is the one CycloneDX's schema accepts,
 * schema/cyclonedx/spdx.schema.json), else kept as a name.
 */
import { readFileSync } from "node:fs";
import type { PythonDistribution } from "./collect.js";

let ids: Map<string, string> | undefined;

/** SPDX license ids by lowercase id (from the vendored CycloneDX copy of the SPDX license list). */
export function spdxLicenseIds(): ReadonlyMap<string, string> {
  if (!ids) {
    const schema = JSON.parse(
      readFileSync(new URL("../../schema/cyclonedx/spdx.schema.json", import.meta.url), "utf8"),
    ) as { enum: string[] };
    ids = new Map(schema.enum.map((id) => [id.toLowerCase(), id]));
  }
  return ids;
}

/** Trove license classifiers (after `License :: `) that name exactly one SPDX license. */
const CLASSIFIERS: Readonly<Record<string, string>> = {
  "OSI Approved :: MIT License": "MIT",
  "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
  "OSI Approved :: Python Software Foundation License": "PSF-2.0",
  "OSI Approved :: ISC License (ISCL)": "ISC",
  "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
  "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
  "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
  "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
  "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
  "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
  "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
  "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
  "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
  "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
  "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
  "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
  "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
  "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
  "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
  "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
  "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
  "OSI Approved :: zlib/libpng License": "Zlib",
  "OSI Approved :: Zope Public License": "ZPL-2.1",
  "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
};

/** The SPDX id a trove classifier (after `License :: `) names, when it names exactly one. */
export const classifierLicense = (classifier: string): string | undefined =>
  Object.hasOwn(CLASSIFIERS, classifier) ? CLASSIFIERS[classifier] : undefined;

/** One declared license: an SPDX id, or a name with the text when the field held a whole license. */
export type DeclaredLicense =
  | { readonly kind: "expression"; readonly expression: string }
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "name"; readonly name: string; readonly text?: string };

/** The distribution's declared licenses: one expression, or a list of ids and names (deduplicated). */
export function declaredLicenses(d: PythonDistribution): DeclaredLicense[] {
  if (d.licenseExpression) {
    if (isSpdxExpression(d.licenseExpression))
      return [{ kind: "expression", expression: d.licenseExpression }];
    // Not an SPDX expression: kept as what it is, a name.
    return [{ kind: "name", name: d.licenseExpression }];
  }
  const out: DeclaredLicense[] = [];
  const seen = new Set<string>();
  const add = (l: DeclaredLicense) => {
    const key = l.kind === "id" ? `id:${l.id}` : l.kind === "name" ? `name:${l.name}` : l.expression;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(l);
    }
  };
  // The License field, when given, is what the author wrote; the classifiers are a vaguer restatement
  // of it (`BSD License` beside `BSD-3-Clause`), read only when it is missing.
  if (d.license) {
    const text = d.license.trim();
    const id = spdxLicenseIds().get(text.toLowerCase());
    if (id) add({ kind: "id", id });
    else if (!text.includes("\n")) add({ kind: "name", name: text });
    else add({ kind: "name", name: text.split("\n")[0]!.trim() || "license text", text });
    return out;
  }
  for (const c of d.licenseClassifiers) {
    const id = CLASSIFIERS[c];
    // "OSI Approved" alone says nothing about which license.
    if (id) add({ kind: "id", id });
    else if (c !== "OSI Approved") add({ kind: "name", name: c.split(" :: ").at(-1)! });
  }
  return out;
}

/**
 * Whether `text` has the syntax of an SPDX license expression (SPDX 2.3 annex D): ids (with an
 * optional `+`), `LicenseRef-`/`DocumentRef-` references, `AND`, `OR`, `WITH` and balanced
 * parentheses, operands and operators alternating. Ids are not checked against the list.
 */
export function isSpdxExpression(text: string): boolean {
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let depth = 0;
  let wantOperand = true;
  for (const t of tokens) {
    if (t === "(") {
      if (!wantOperand) return false;
      depth++;
    } else if (t === ")") {
      if (wantOperand || --depth < 0) return false;
    } else if (t === "AND" || t === "OR" || t === "WITH") {
      if (wantOperand) return false;
      wantOperand = true;
    } else {
      if (!wantOperand || !/^(DocumentRef-[A-Za-z0-9.-]+:)?[A-Za-z0-9.-]+\+?$/.test(t)) return false;
      wantOperand = false;
    }
  }
  return tokens.length > 0 && depth === 0 && !wantOperand;
}
