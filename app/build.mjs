// Builds the app into a folder of static files: esbuild bundles (the chart in its own chunk), index.html, manifest, icons, service worker.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const schema = resolve(opt('--schema', join(here, '..', 'build', 'app', 'schema.json')));
const out = resolve(opt('--out', join(here, '..', 'build', 'app', 'dist')));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

// uPlot's stylesheet goes into the chart chunk as text, so the first screen never loads it
const cssAsText = {
  name: 'css-as-text',
  setup(b) {
    b.onResolve({ filter: /uPlot\.min\.css$/ }, (a) => ({ path: resolve(here, 'node_modules', a.path), namespace: 'css-text' }));
    b.onLoad({ filter: /.*/, namespace: 'css-text' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};

const common = {
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: false,
  target: ['es2020', 'chrome100', 'safari15', 'firefox100'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
};
// Classic scripts, not modules: Mosquitto's http_dir sends no Content-Type, and browsers refuse
// module scripts (and import()) without a JavaScript one. The chart is its own bundle, loaded
// with a script tag when History opens.
const chart = await build({
  ...common,
  entryPoints: { chart: join(here, 'src', 'ui', 'chart-entry.ts') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  plugins: [cssAsText],
});
const chartJs = Object.keys(chart.metafile.outputs).find((k) => k.endsWith('.js'));
const rel = (p) => relative(out, resolve(p)).split('\\').join('/');
const main = await build({
  ...common,
  entryPoints: { main: join(here, 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  alias: { 'alfaspark-schema': schema },
  loader: { '.json': 'json' },
  define: { __CHART_URL__: JSON.stringify(rel(chartJs)) },
});
const outputs = main.metafile.outputs;
const mainJs = Object.keys(outputs).find((k) => k.endsWith('.js'));
const mainCssFile = Object.keys(outputs).find((k) => k.endsWith('.css'));
// the stylesheet goes inline (no Content-Type from http_dir either), and so does not cost a request
const mainCss = mainCssFile ? readFileSync(mainCssFile, 'utf8') : '';
if (mainCssFile) rmSync(mainCssFile);
const first = new Set([rel(mainJs)]);

// icons: a white bolt on the brand colour, drawn here so no binary is committed
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function inPoly(x, y, pts) {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i], [xj, yj] = pts[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function icon(size) {
  const bolt = [[0.56, 0.14], [0.3, 0.55], [0.47, 0.55], [0.42, 0.86], [0.71, 0.43], [0.53, 0.43], [0.6, 0.14]];
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const o = y * (size * 4 + 1) + 1 + x * 4;
      const white = inPoly((x + 0.5) / size, (y + 0.5) / size, bolt);
      raw[o] = white ? 255 : 15;
      raw[o + 1] = white ? 255 : 123;
      raw[o + 2] = white ? 255 : 108;
      raw[o + 3] = 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
writeFileSync(join(out, 'icon-192.png'), icon(192));
writeFileSync(join(out, 'icon-512.png'), icon(512));

writeFileSync(join(out, 'manifest.webmanifest'), JSON.stringify({
  name: 'Alfaspark', short_name: 'Alfaspark', description: 'Your energy packs: live power, control and history',
  start_url: './', scope: './', display: 'standalone', orientation: 'portrait', background_color: '#0e1419', theme_color: '#0f7b6c',
  icons: [
    { src: 'icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any maskable' },
    { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
  ],
}, null, 1));

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0f7b6c">
<title>Alfaspark</title>
<link rel="manifest" href="manifest.webmanifest">
<link rel="icon" href="icon-192.png">
<link rel="apple-touch-icon" href="icon-192.png">
<style>${mainCss}</style>
</head>
<body><div id="app"></div><noscript>Alfaspark needs JavaScript.</noscript>
<script src="${rel(mainJs)}"></script>
</body>
</html>
`;
writeFileSync(join(out, 'index.html'), html);

// the offline shell: every built file, cache named by their hash (a new build replaces the old)
const files = [];
const list = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) list(p);
    else files.push(rel(p));
  }
};
list(out);
const h = createHash('sha256');
for (const f of files.sort()) h.update(f).update(readFileSync(join(out, f)));
const version = h.digest('hex').slice(0, 12);
writeFileSync(join(out, 'sw.js'), `// Alfaspark offline shell (generated by app/build.mjs): the app's files are served from the cache when the gateway is out of reach.
const CACHE = 'alfaspark-${version}';
const FILES = ${JSON.stringify(['./', ...files.filter((f) => f !== 'first-load.json')])};
self.addEventListener('install', (e) => { e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting())); });
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});
self.addEventListener('fetch', (e) => {
  const r = e.request;
  if (r.method !== 'GET' || new URL(r.url).origin !== location.origin) return;
  if (r.mode === 'navigate') {
    // the page: the newest when the gateway answers, the cached shell when it does not
    e.respondWith(fetch(r).catch(() => caches.match('./')));
    return;
  }
  e.respondWith(caches.match(r).then((hit) => hit || fetch(r)));
});
`);

const firstLoad = [...first, 'index.html'];
const gz = firstLoad.reduce((a, f) => a + gzipSync(readFileSync(join(out, f)), { level: 9 }).length, 0);
writeFileSync(join(out, 'first-load.json'), JSON.stringify({ files: firstLoad, gzip_bytes: gz }, null, 1));
console.log(`app: built into ${out} (first screen ${(gz / 1024).toFixed(1)} KB gzip: ${firstLoad.join(', ')})`);
