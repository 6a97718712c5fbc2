/**
 * Applies layers one over the other as an image runtime does (OCI image-spec, "Applying
 * changesets"), and counts what a squash would save.
 *
 * Within a layer, whiteouts (`D/.wh.NAME`) and opaque markers (`D/.wh..wh..opq`) apply to the
 * layers below only, so they are applied first; then the layer's entries, in tar order. Every
 * regular file that leaves the file system — deleted by a whiteout or an opaque directory,
 * overwritten by a later entry (even in its own layer), or under a directory replaced by a
 * non-directory — is waste, counted once, in the layer that wrote it. So
 * `waste = bytes of all regular files written − bytes of the final file system`. Directories,
 * symlinks and hardlinks weigh 0.
 */
import type { LayerEntry } from "../oci/layer.js";

export interface FsEntry {
  readonly type: LayerEntry["type"];
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly linkname?: string;
  /** The layer that wrote it. */
  readonly layer: number;
  /** Content of small files the reader was asked to keep (pyvenv.cfg). */
  readonly body?: string;
}

export type RemovedHow = "deleted" | "opaque" | "overwritten" | "replaced";

export interface WasteItem {
  readonly path: string;
  readonly bytes: number;
  readonly writtenIn: number;
  readonly removedIn: number;
  readonly how: RemovedHow;
}

export interface LayerChanges {
  /** Non-directory paths new to the file system. */
  added: number;
  /** Non-directory paths that replaced something of a layer below (or earlier in the same layer). */
  changed: number;
  /** Non-directory paths of layers below removed by this layer's whiteouts and opaque dirs. */
  removed: number;
  whiteouts: number;
  opaqueDirs: number;
  /** Bytes of regular files the layer writes. */
  writtenBytes: number;
  /** Of those, bytes removed by a later layer (or later in this one): this layer's waste. */
  wastedBytes: number;
}

interface Node {
  entry?: FsEntry;
  children?: Map<string, Node>;
}

const WH = ".wh.";
const OPQ = ".wh..wh..opq";

export class Squash {
  private readonly root: Node = { children: new Map() };
  readonly layers: LayerChanges[] = [];
  readonly waste: WasteItem[] = [];
  writtenBytes = 0;
  wastedBytes = 0;

  /** Applies one layer's entries (as read from its tar) with `bodies` of the kept small files. */
  apply(index: number, entries: readonly LayerEntry[], bodies?: ReadonlyMap<string, string>): void {
    const changes: LayerChanges = {
      added: 0,
      changed: 0,
      removed: 0,
      whiteouts: 0,
      opaqueDirs: 0,
      writtenBytes: 0,
      wastedBytes: 0,
    };
    this.layers[index] = changes;
    const adds: LayerEntry[] = [];
    // Deletions first: they apply to the layers below.
    for (const e of entries) {
      const parts = e.path.split("/").filter((p) => p !== "" && p !== ".");
      const base = parts.at(-1) ?? "";
      if (base === OPQ) {
        changes.opaqueDirs++;
        const dir = this.find(parts.slice(0, -1));
        if (dir?.children) {
          const prefix = parts.slice(0, -1).join("/");
          for (const [name, child] of dir.children)
            changes.removed += this.drop(child, prefix ? `${prefix}/${name}` : name, index, "opaque");
          dir.children.clear();
        }
      } else if (base.startsWith(WH)) {
        changes.whiteouts++;
        const target = [...parts.slice(0, -1), base.slice(WH.length)];
        const parent = this.find(target.slice(0, -1));
        const child = parent?.children?.get(target.at(-1)!);
        if (child) {
          changes.removed += this.drop(child, target.join("/"), index, "deleted");
          parent!.children!.delete(target.at(-1)!);
        }
      } else if (parts.length > 0) {
        adds.push(e);
      }
    }
    for (const e of adds) {
      const parts = e.path.split("/").filter((p) => p !== "" && p !== ".");
      const path = parts.join("/");
      let dir = this.root;
      for (const [i, name] of parts.slice(0, -1).entries()) {
        let next = dir.children!.get(name);
        if (!next || (next.entry?.type !== undefined && next.entry.type !== "directory")) {
          // A missing parent is implied; a non-directory in the way is replaced by one.
          if (next) this.drop(next, parts.slice(0, i + 1).join("/"), index, "replaced");
          next = { children: new Map() };
          dir.children!.set(name, next);
        }
        next.children ??= new Map();
        dir = next;
      }
      const name = parts.at(-1)!;
      const existing = dir.children!.get(name);
      const entry: FsEntry = {
        type: e.type,
        size: e.type === "file" ? e.size : 0,
        mode: e.mode,
        uid: e.uid,
        linkname: e.linkname,
        layer: index,
        body: bodies?.get(path),
      };
      if (e.type === "file") {
        changes.writtenBytes += entry.size;
        this.writtenBytes += entry.size;
      }
      if (e.type === "directory") {
        if (existing && (existing.entry === undefined || existing.entry.type === "directory")) {
          existing.entry = entry;
          existing.children ??= new Map();
        } else {
          if (existing) this.drop(existing, path, index, "replaced");
          dir.children!.set(name, { entry, children: new Map() });
        }
        continue;
      }
      if (existing) {
        changes.changed++;
        this.drop(existing, path, index, existing.children ? "replaced" : "overwritten");
      } else {
        changes.added++;
      }
      dir.children!.set(name, { entry });
    }
  }

  private find(parts: readonly string[]): Node | undefined {
    let n: Node | undefined = this.root;
    for (const p of parts) {
      if (p === "" || p === ".") continue;
      n = n?.children?.get(p);
      if (!n) return undefined;
    }
    return n;
  }

  /** Removes a subtree: its regular files become waste. Returns the non-directory paths removed. */
  private drop(node: Node, path: string, removedIn: number, how: RemovedHow): number {
    let count = 0;
    if (node.entry && node.entry.type !== "directory") {
      count++;
      if (node.entry.type === "file") {
        const bytes = node.entry.size;
        this.waste.push({ path, bytes, writtenIn: node.entry.layer, removedIn, how });
        this.wastedBytes += bytes;
        const l = this.layers[node.entry.layer];
        if (l) l.wastedBytes += bytes;
      }
    }
    if (node.children)
      for (const [name, child] of node.children) count += this.drop(child, `${path}/${name}`, removedIn, how);
    return count;
  }

  /** Every entry of the final file system (paths without a leading slash), depth first. */
  *files(): Generator<[string, FsEntry]> {
    const stack: [string, Node][] = [["", this.root]];
    while (stack.length) {
      const [path, node] = stack.pop()!;
      if (node.entry && path) yield [path, node.entry];
      if (node.children)
        for (const [name, child] of node.children) stack.push([path ? `${path}/${name}` : name, child]);
    }
  }

  get(path: string): FsEntry | undefined {
    return this.find(path.replace(/^\/+/, "").split("/"))?.entry;
  }

  /** Whether the path exists (an implied directory counts). */
  has(path: string): boolean {
    return this.find(path.replace(/^\/+/, "").split("/")) !== undefined;
  }
}
