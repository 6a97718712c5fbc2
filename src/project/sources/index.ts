/**
 * The explicit registry of project source formats. Order within a role is the documented
 * preference order (docs/plan.md): the first lock found wins over everything else.
 */
import type { SourceFormat } from "../types.js";
import { pipfile, pipfileLock } from "./pipfile/index.js";
import { poetryLock } from "./poetry-lock/index.js";
import { pylock } from "./pylock/index.js";
import { pyproject } from "./pyproject/index.js";
import { pythonVersionFile, runtimeTxt } from "./python-version/index.js";
import { requirementsTxt } from "./requirements/index.js";
import { setupCfg } from "./setup-cfg/index.js";
import { setupPy } from "./setup-py/index.js";
import { uvLock } from "./uv-lock/index.js";

export const sourceFormats: readonly SourceFormat[] = [
  pylock,
  uvLock,
  poetryLock,
  pipfileLock,
  requirementsTxt,
  pyproject,
  pipfile,
  setupCfg,
  setupPy,
  pythonVersionFile,
  runtimeTxt,
];
