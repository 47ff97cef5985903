#!/usr/bin/env node
// The `rampart` command. Rampart runs its TypeScript sources directly on Node.js 24 (type
// stripping); `npx rampart` finds the pinned Node 24 from node_modules/.bin first on PATH.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`rampart: Node.js ${process.versions.node} is too old; run it through npx (the project pins Node.js 24)\n`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
