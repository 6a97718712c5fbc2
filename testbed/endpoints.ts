import { readFile } from "node:fs/promises";
import { SlimwheelError } from "../src/errors.js";
import { layout, testbedDir } from "./paths.js";

export interface ImageEndpoint {
  /** Tag reference, e.g. 127.0.0.1:5000/slimwheel-testbed/python:3.11-slim */
  readonly ref: string;
  /** Manifest digest. */
  readonly digest: string;
  /** Reference pinned by digest: ref-without-tag@digest. */
  readonly pinned: string;
}

/** What `testbed up` started and built; written to <testbed>/endpoints.json, read by the tests. */
export interface Endpoints {
  readonly version: 1;
  readonly dir: string;
  readonly registry: { readonly host: string; readonly url: string; readonly pid: number };
  readonly index: { readonly url: string; readonly host: string; readonly pid: number; readonly dir: string };
  readonly images: {
    readonly builder: ImageEndpoint;
    readonly runtime: ImageEndpoint;
  };
  readonly python: string;
  readonly debian: { readonly suite: string; readonly mirror: string; readonly security?: string };
  readonly docker?: { readonly host: string; readonly pid: number };
  readonly engines: Readonly<Record<string, string>>;
}

export async function readEndpoints(env = process.env): Promise<Endpoints> {
  const file = layout(testbedDir(env)).endpoints;
  try {
    return JSON.parse(await readFile(file, "utf8")) as Endpoints;
  } catch (e) {
    throw new SlimwheelError("not-found", `reading the test bed's endpoints from ${file}`, {
      cause: e,
      hint: "bring the test bed up first: npm run testbed -- up",
    });
  }
}
