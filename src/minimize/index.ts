export { type AssembleRoots, writeLayerTrees, writeLdSoCache } from "./assemble.js";
export {
  type AppUser,
  type Closure,
  type ClosureOptions,
  computeClosure,
  DROP_GROUPS,
  type DropGroup,
  type DroppedGroup,
  type GeneratedFile,
  type KeepReason,
  type KeptFile,
  LAYER_ROLES,
  type Layer,
  type LayerRole,
  PYTHON_TOOLING,
  STDLIB_EXCLUDED,
  type Unresolved,
} from "./closure.js";
export { parseStatus, trimStatus } from "./dpkg.js";
export { diskRoot, type RootFs, resolveIn } from "./rootfs.js";
