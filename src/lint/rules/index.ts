/** The rule registry: every lint rule, one module each. Order is the order of docs/lint.md. */
import type { Rule } from "../types.js";
import { rule as addLocalFile } from "./add-local-file.js";
import { rule as aptInstallRecommends } from "./apt-install-recommends.js";
import { rule as aptListsKept } from "./apt-lists-kept.js";
import { rule as buildToolsRemovedLater } from "./build-tools-removed-later.js";
import { rule as depsAfterCopyAll } from "./deps-after-copy-all.js";
import { rule as fullPythonFinal } from "./full-python-final.js";
import { rule as glibcIntoMusl } from "./glibc-into-musl.js";
import { rule as pipCacheInLayer } from "./pip-cache-in-layer.js";
import { rule as runsAsRoot } from "./runs-as-root.js";
import { rule as secretInEnvArg } from "./secret-in-env-arg.js";
import { rule as unpinnedBaseImage } from "./unpinned-base-image.js";
import { rule as venvActivate } from "./venv-activate.js";
import { rule as wheelsStoredTwice } from "./wheels-stored-twice.js";

export const rules: readonly Rule[] = [
  buildToolsRemovedLater,
  pipCacheInLayer,
  depsAfterCopyAll,
  wheelsStoredTwice,
  venvActivate,
  glibcIntoMusl,
  aptInstallRecommends,
  aptListsKept,
  fullPythonFinal,
  runsAsRoot,
  addLocalFile,
  unpinnedBaseImage,
  secretInEnvArg,
];

export const ruleById = (id: string): Rule | undefined => rules.find((r) => r.id === id);
