/**
 * Every test file that neither starts a server nor runs a child process, in this one process
 * (see groups.ts): cdktf and the providers load once for all of them.
 */
import { join } from "node:path";
import { inProcessFiles } from "./groups";

for (const file of inProcessFiles()) require(join(__dirname, file));
