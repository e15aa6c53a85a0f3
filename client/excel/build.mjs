// build.mjs: builds the Excel add-in into OUT: functions.js bundled by esbuild (with @msgpack/msgpack
// inside), functions.json from its JSDoc by custom-functions-metadata, and the pages and manifest.
// Usage: node build.mjs OUT [NPM_DIR]  (NPM_DIR holds the node_modules of `npm ci`; default: here)
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, 'dist'));
const npmDir = resolve(process.argv[3] ?? here);
const require = createRequire(join(npmDir, 'package.json'));
const esbuild = require('esbuild');
// generate.js directly, not the package's CLI: the CLI reports errors through Office's
// usage-data module and still exits 0
const { generateCustomFunctionsMetadata } = require('custom-functions-metadata/lib/generate.js');

mkdirSync(out, { recursive: true });

// One classic script (no modules: Office loads it with a plain <script>), for the engines Excel
// runs custom functions in: WebView2 (Chromium) on Windows, Safari's WebKit on the Mac.
await esbuild.build({
	entryPoints: [join(here, 'src', 'functions.js')],
	bundle: true,
	format: 'iife',
	target: 'es2020',
	nodePaths: [join(npmDir, 'node_modules')],
	outfile: join(out, 'functions.js'),
	legalComments: 'inline',
	logLevel: 'warning',
});

const meta = await generateCustomFunctionsMetadata(join(here, 'src', 'functions.js'));
if (meta.errors.length > 0) {
	console.error(`functions.json: ${meta.errors.join('\n')}`);
	process.exit(1);
}
writeFileSync(join(out, 'functions.json'), `${meta.metadataJson}\n`);

for (const f of ['manifest.xml', 'functions.html', 'taskpane.html', 'taskpane.js'])
	copyFileSync(join(here, f), join(out, f));

// The ribbon's icons: a square of cellbatch blue with a white grid (four cells), made here so that
// the add-in ships no binary files.
function crc32(buf) { // PNG's CRC (zlib.crc32 is only in Node >= 20.15; Debian 12 has 18)
	let c = 0xffffffff;
	for (const b of buf) {
		c ^= b;
		for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
	}
	return (c ^ 0xffffffff) >>> 0;
}

function png(size) {
	const raw = Buffer.alloc(size * (size * 3 + 1));
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			const line = [Math.floor(size / 2), 0, size - 1].some((c) => x === c || y === c);
			raw.set(line ? [255, 255, 255] : [33, 115, 70], y * (size * 3 + 1) + 1 + x * 3);
		}
	}
	const chunk = (type, data) => {
		const len = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		const td = Buffer.concat([Buffer.from(type), data]);
		const crc = Buffer.alloc(4);
		crc.writeUInt32BE(crc32(td));
		return Buffer.concat([len, td, crc]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(size, 0);
	ihdr.writeUInt32BE(size, 4);
	ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
	return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
for (const size of [32, 80]) writeFileSync(join(out, `icon-${size}.png`), png(size));
