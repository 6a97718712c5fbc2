export { FINDING_IDS, type Finding, type FindingId, findIssues } from "./findings.js";
export { failures, formatInspect, inspectHtml, parseFailOn } from "./format.js";
export { INSPECT_SCHEMA_VERSION, type InspectLayer, type InspectReport, inspectImage } from "./inspect.js";
export { Squash } from "./squash.js";
