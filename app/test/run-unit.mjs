// The app's unit-test runner (ctest app_unit): strict type check, then every test/unit/*.test.ts bundled by esbuild and run by node:test.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const app = resolve(here, '..');
const i = process.argv.indexOf('--schema');
const schema = resolve(i > 0 ? process.argv[i + 1] : join(app, '..', 'build', 'app', 'schema.json'));
const out = resolve(app, '..', 'build', 'app', 'unit');

const tsc = spawnSync(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json'), '--noEmit'],
  { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('app_unit: the type check failed');
  process.exit(1);
}
console.log('app_unit: strict type check passed');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const tests = readdirSync(join(here, 'unit')).filter((f) => f.endsWith('.test.ts'));
await build({
  entryPoints: tests.map((f) => join(here, 'unit', f)),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  alias: { 'alfaspark-schema': schema },
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
const files = readdirSync(out).filter((f) => f.endsWith('.mjs')).map((f) => join(out, f));
const r = spawnSync(process.execPath, ['--test', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
