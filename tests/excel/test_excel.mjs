// test_excel.mjs: the Excel add-in (/excel/functions.js, served by a real cellbatchd with the mock
// upstream) in Debian's headless Chromium, driven by playwright-core: a recalculation of 400 cells,
// errors as Excel shows them, GEOCODE_RANGE, a server restart under pending cells, a refused origin,
// and the manifest. Exit 77 (skipped): no Chromium to run it in.
// Also a fleet (issue 21): two cellbatchd on one redis-server, the page of one dialling both.
// Usage: node test_excel.mjs MOCK_BIN SERVER_BIN GAZETTEER_CSV [REDIS_SERVER_BIN]
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import nodeHttp, { createServer as createHttpServer } from 'node:http';
import https from 'node:https';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, stopProcess, waitFor as waitUpTo } from '../ws/wait.mjs';

const [MOCK_BIN, SERVER_BIN, GAZETTEER, REDIS_BIN = '/usr/bin/redis-server'] = process.argv.slice(2);
const HERE = dirname(fileURLToPath(import.meta.url));
const KEY = 'excel-test-key-7a2f';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

try {
	accessSync(CHROMIUM, constants.X_OK);
} catch {
	console.log(`# SKIP: no Chromium at ${CHROMIUM} (scripts/bootstrap installs Debian's chromium)`);
	process.exit(77);
}
// a browser and a server restart take longer than the ws suites' default 10 s
const waitFor = (what, cond, ms = 15000) => waitUpTo(what, cond, ms);
// missing playwright-core is a bootstrap that did not run: a failure, not a skip
const { chromium } = await import('playwright-core').catch((e) => {
	console.error(`playwright-core is not installed in tests/excel (run scripts/bootstrap): ${e.message}`);
	process.exit(1);
});

// A mock and a cellbatchd in a temp dir on 127.0.0.1; restart() kills the server (SIGKILL, as a
// crash) and starts it again on the same addresses; stop() ends both by pid.
async function startEnv(extraArgs = [], { tls = false } = {}) {
	const dir = mkdtempSync(join(tmpdir(), 'cb-excel-'));
	// a function of the temp dir gives the extra flags after writing what they name
	const extra = typeof extraArgs === 'function' ? extraArgs(dir) : [...extraArgs];
	let ca = null;
	if (tls) { // --http serves https and wss with a certificate made here
		const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
		execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
			'-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext',
			'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
		ca = readFileSync(cert);
		extra.push('--tls-cert', cert, '--tls-key', key);
	}
	const log = (name) => openSync(join(dir, name), 'a');
	const mock = spawn(MOCK_BIN, ['--port', '0', '--port-file', join(dir, 'mock.port'),
		'--gazetteer', GAZETTEER, '--api-key', KEY], { stdio: ['ignore', log('mock.log'), log('mock.log')] });
	const mockPort = await waitFor('the mock', async () => Number(readFileSync(join(dir, 'mock.port'), 'utf8')));
	const http = `127.0.0.1:${await freePort()}`;
	const args = ['--listen', `ipc://${dir}/cb.sock`, '--upstream', `http://127.0.0.1:${mockPort}`,
		'--cache-db', join(dir, 'cache.db'), '--http', http, ...extra];
	const env = {
		dir, mockPort, http, base: `${tls ? 'https' : 'http'}://${http}`, server: null, exited: null,
		mockStats: () => fetch(`http://127.0.0.1:${mockPort}/mock/stats`).then((r) => r.json()),
		// GET from cellbatchd (with the test's CA over TLS): {status, text}
		get: (path) => new Promise((resolve, reject) => {
			const mod = tls ? https : nodeHttp;
			mod.get(`${env.base}${path}`, { ca }, (res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (d) => { text += d; });
				res.on('end', () => resolve({ status: res.statusCode, text }));
			}).on('error', reject);
		}),
		stats: async () => JSON.parse((await env.get('/stats.json')).text),
		serverLog: () => readFileSync(join(dir, 'server.log'), 'utf8'),
		async launch() {
			env.exited = null;
			env.server = spawn(SERVER_BIN, args, { env: { ...process.env, GEOAPIFY_API_KEY: KEY },
				stdio: ['ignore', log('server.log'), log('server.log')] });
			env.server.on('exit', (code, sig) => { env.exited = code ?? sig; });
			await waitFor('cellbatchd /healthz', async () => {
				if (env.exited !== null) throw new Error(`cellbatchd exited (${env.exited}):\n${env.serverLog()}`);
				return (await env.get('/healthz')).status === 200;
			});
		},
		// between the stop and the start, between() runs (a check while no server is up)
		async restart(signal = 'SIGKILL', between = async () => {}) {
			await stopProcess(env.server, signal);
			await between();
			await env.launch();
		},
		async stop() {
			await stopProcess(env.server);
			await stopProcess(mock);
			const logs = env.serverLog() + readFileSync(join(dir, 'mock.log'), 'utf8');
			if (/Sanitizer|runtime error/.test(logs)) throw new Error(`sanitizer report, logs kept in ${dir}`);
			if (env.server.exitCode !== 0) throw new Error(`cellbatchd did not exit 0 on SIGTERM (${env.exited}); logs in ${dir}`);
			rmSync(dir, { recursive: true, force: true });
		},
	};
	try {
		await env.launch();
	} catch (e) {
		await stopProcess(mock);
		throw e;
	}
	return env;
}

let browser = null;
let context = null;
let sheetServer = null;
after(() => Promise.all([browser?.close(), new Promise((r) => (sheetServer ? sheetServer.close(r) : r()))]));

// sheet.html from a server of our own on 127.0.0.1 (the page's origin is still cellbatchd's, see
// openSheet): Chromium's local-network checks refuse a loopback WebSocket to a page whose bytes came
// from nowhere (a fulfilled route), as they would to a page on the internet.
async function sheetPort() {
	if (sheetServer === null) {
		const files = { '/sheet.html': 'text/html', '/standin.js': 'text/javascript' };
		sheetServer = createHttpServer((req, res) => {
			const type = files[req.url];
			res.writeHead(type ? 200 : 404, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
			res.end(type ? readFileSync(join(HERE, req.url.slice(1))) : '');
		});
		await new Promise((r) => sheetServer.listen(0, '127.0.0.1', r));
	}
	return sheetServer.address().port;
}

// A browser profile whose pages reach loopback only: they name Office's CDN (office.js), which a
// test must not reach.
async function newContext(options = {}) {
	browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
	const ctx = await browser.newContext(options);
	await ctx.route('**/*', (r) => (new URL(r.request().url()).hostname === '127.0.0.1' ? r.continue() : r.abort()));
	return ctx;
}

// A page at cellbatchd's own origin (where Excel loads the add-in from: /excel/taskpane.html)
// showing tests/excel/sheet.html, which loads the server's real /excel/functions.js; resolves once
// the add-in has associated its functions.
async function openSheet(env) {
	// one profile for every page, as one Excel keeps its storage (each test's server has its own origin)
	context ??= await newContext();
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	const sheetUrl = `${env.base}/tests/sheet.html`;
	const port = await sheetPort();
	await page.route(`${env.base}/tests/*`, (r) =>
		r.continue({ url: `http://127.0.0.1:${port}/${new URL(r.request().url()).pathname.split('/').pop()}` }));
	await page.goto(sheetUrl);
	await page.waitForFunction(() => window.CustomFunctions.registry.size === 3);
	assert.deepEqual(errors, []);
	return page;
}

const gazetteer = readFileSync(GAZETTEER, 'utf8').trim().split('\n').slice(1).map((line) => {
	const m = /^"(.*)",([-\d.]+),([-\d.]+)$/.exec(line);
	return { address: m[1], lat: Number(m[2]), lon: Number(m[3]) };
});

// The mock's own single-lookup answer for text: what the batch must have given.
async function expected(env, text) {
	const g = gazetteer.find((p) => p.address === text);
	if (g) return g;
	const u = `http://127.0.0.1:${env.mockPort}/v1/geocode/search?format=json&apiKey=${KEY}&text=${encodeURIComponent(text)}`;
	return (await (await fetch(u)).json()).results[0];
}

// 200 addresses: the gazetteer's, then made-up streets (the mock answers those by a hash).
const ADDRESSES = [...gazetteer.map((g) => g.address),
	...Array.from({ length: 200 - gazetteer.length }, (_, i) => `${i + 1} Spreadsheet Row, Excelsior ${i % 9}`)];

test('400 cells (200 addresses x lat, lon) in one recalculation: every value right, 1 upstream submit of 200 items; errors; GEOCODE_RANGE', { timeout: 90000 }, async () => {
	const env = await startEnv(['--batch-wait', '2s', '--batch-idle', '500ms']);
	try {
		const page = await openSheet(env);
		const cells = ADDRESSES.flatMap((a) => [['GEOCODE', a, 'lat'], ['GEOCODE', a, 'lon']]);
		const r = await page.evaluate((c) => window.recalc(c), cells);
		assert.equal(r.invokedBefore, 400, 'every cell invoked before the first one settled');
		for (let i = 0; i < ADDRESSES.length; i++) {
			const want = await expected(env, ADDRESSES[i]);
			assert.equal(r.values[2 * i].value, want.lat, `${ADDRESSES[i]}: lat ${JSON.stringify(r.values[2 * i])}`);
			assert.equal(r.values[2 * i + 1].value, want.lon, `${ADDRESSES[i]}: lon`);
		}
		const mock = await env.mockStats();
		const st = await env.stats();
		assert.equal(mock.submits, 1, `upstream submits: ${JSON.stringify(mock)}`);
		assert.equal(st.upstream_submits, 1);
		assert.equal(mock.items, 200, 'items in the one submit, as the mock counted them');
		assert.equal(st.credits.items_submitted, 200, 'items in the one submit, as the server counted them');
		console.log(`# 400 cells: ${r.ms.toFixed(0)} ms wall (batch-idle 500 ms, mock job 300 ms); ` +
			`${mock.submits} submit of ${mock.items} items, ${st.calls_answered} calls answered (cells alike share one)`);

		// the default shape and the errors, as Excel shows them
		const long = `${'x'.repeat(1090)} Long Road`;
		assert.equal(Buffer.byteLength(long), 1100);
		const range = Array.from({ length: 20 }, (_, i) => [`${i + 1} Range Street, Matrixville`]);
		const e = await page.evaluate((c) => window.recalc(c), [
			['GEOCODE', gazetteer[1].address], ['GEOCODE', '1 Nowhere Road, Atlantis'], ['GEOCODE', long],
			['GEOCODE', ''], ['GEOCODE', gazetteer[1].address, 'colour'], ['GEOCODE', gazetteer[1].address, 'formatted'],
			['REVERSE', gazetteer[1].lat, gazetteer[1].lon], ['REVERSE', 91, 0], ['GEOCODE_RANGE', range],
		]);
		const [dflt, notFound, tooLong, empty, badField, formatted, rev, badLat, matrix] = e.values;
		assert.equal(dflt.value, `${gazetteer[1].lat}, ${gazetteer[1].lon}`);
		assert.deepEqual(notFound, { error: '#N/A', message: 'NOT_FOUND' });
		assert.equal(tooLong.error, '#VALUE!');
		assert.match(tooLong.message, /1024 bytes, got 1100/);
		assert.deepEqual(empty, { value: '' });
		assert.equal(badField.error, '#VALUE!');
		assert.equal(formatted.value, gazetteer[1].address);
		assert.equal(typeof rev.value, 'string');
		assert.ok(rev.value.length > 0);
		assert.equal(badLat.error, '#VALUE!');
		assert.match(badLat.message, /latitude/);
		assert.equal(matrix.value.length, 20, JSON.stringify(matrix));
		for (let i = 0; i < 20; i++) {
			const want = await expected(env, range[i][0]);
			assert.deepEqual(matrix.value[i], [want.lat, want.lon], `row ${i}`);
		}
		await page.close();
	} finally {
		await env.stop();
	}
});

test('the server restarted (killed) while 200 cells are pending: all 200 resolve once it is back', { timeout: 90000 }, async () => {
	// a long window: the cells are still waiting in it when the server dies (killed within tens of
	// milliseconds of the 200th call; the margin is for a loaded machine)
	const env = await startEnv(['--batch-wait', '6s', '--batch-idle', '3s']);
	try {
		const page = await openSheet(env);
		const addrs = ADDRESSES.map((a) => `${a} (restart)`);
		await page.evaluate((c) => window.startRecalc(c), addrs.map((a) => ['GEOCODE', a, 'lat']));
		await waitFor('200 calls in flight', async () => (await env.stats()).calls_in_flight === 200);
		assert.equal(await page.evaluate(() => window.settled), 0, 'cells settled before the kill');
		const t0 = performance.now();
		await env.restart();
		const tBack = performance.now() - t0;
		const r = await page.evaluate(() => window.running);
		const ms = performance.now() - t0;
		for (let i = 0; i < addrs.length; i++)
			assert.equal(r.values[i].value, (await expected(env, addrs[i])).lat, `${addrs[i]}: ${JSON.stringify(r.values[i])}`);
		const mock = await env.mockStats();
		console.log(`# restart: server back in ${tBack.toFixed(0)} ms, all 200 cells resolved ` +
			`${ms.toFixed(0)} ms after the kill (its window: 3 s idle); upstream submits ${mock.submits}`);
		assert.equal(mock.submits, 1, 'the killed server had submitted nothing');
		await page.close();
	} finally {
		await env.stop();
	}
});

test('a server stopped with SIGTERM while cells wait (drain timeout 0): SHUTTING_DOWN is not shown, the cells go to the next server', { timeout: 90000 }, async () => {
	const env = await startEnv(['--batch-wait', '6s', '--batch-idle', '3s', '--drain-timeout', '0']);
	try {
		const page = await openSheet(env);
		const addrs = ADDRESSES.slice(0, 100).map((a) => `${a} (drain)`);
		await page.evaluate((c) => window.startRecalc(c), addrs.map((a) => ['GEOCODE', a, 'lon']));
		await waitFor('100 calls in flight', async () => (await env.stats()).calls_in_flight === 100);
		await env.restart('SIGTERM', async () => {
			assert.match(env.serverLog(), /answering 100 waiting calls with SHUTTING_DOWN/);
			assert.equal(await page.evaluate(() => window.settled), 0, 'a cell showed SHUTTING_DOWN');
		});
		const r = await page.evaluate(() => window.running);
		for (let i = 0; i < addrs.length; i++)
			assert.equal(r.values[i].value, (await expected(env, addrs[i])).lon, `${addrs[i]}: ${JSON.stringify(r.values[i])}`);
		await page.close();
	} finally {
		await env.stop();
	}
});

test('a page whose origin is not allowed: the connection is refused, cells show #N/A ORIGIN_REFUSED', { timeout: 60000 }, async () => {
	const env = await startEnv(['--ws-origin', 'https://addin.example.com']);
	try {
		const page = await openSheet(env);
		const t0 = performance.now();
		const r = await page.evaluate((c) => window.recalc(c), [['GEOCODE', gazetteer[0].address, 'lat'], ['GEOCODE', gazetteer[2].address]]);
		for (const v of r.values) {
			assert.equal(v.error, '#N/A', JSON.stringify(v));
			assert.equal(v.message, 'ORIGIN_REFUSED');
		}
		const st = await env.stats();
		assert.ok(st.connections.ws_origin_refused >= 2, JSON.stringify(st.connections));
		assert.equal((await env.mockStats()).submits, 0);
		assert.match(env.serverLog(), /Origin 'http:\/\/127\.0\.0\.1:\d+' is not allowed/);
		console.log(`# refused origin: cells #N/A ORIGIN_REFUSED in ${(performance.now() - t0).toFixed(0)} ms ` +
			`(${st.connections.ws_origin_refused} connections refused)`);
		await page.close();
	} finally {
		await env.stop();
	}
});

test('manifest.xml is well-formed, points at this server, and its functions match functions.json and functions.js', { timeout: 60000 }, async () => {
	const env = await startEnv();
	try {
		const page = await openSheet(env);
		const m = await page.evaluate(async () => {
			const text = await (await fetch('../excel/manifest.xml')).text();
			const doc = new DOMParser().parseFromString(text, 'application/xml');
			const err = doc.getElementsByTagName('parsererror')[0];
			const byId = (tag, id) => [...doc.getElementsByTagNameNS('*', tag)].find((e) => e.getAttribute('id') === id)?.getAttribute('DefaultValue');
			const urls = [...doc.querySelectorAll('[DefaultValue]')].map((e) => e.getAttribute('DefaultValue')).filter((v) => /^https?:/.test(v));
			return {
				parseError: err ? err.textContent : null,
				root: doc.documentElement.localName,
				namespace: byId('String', doc.getElementsByTagNameNS('*', 'Namespace')[0]?.getAttribute('resid')),
				metadata: byId('Url', 'Functions.Metadata.Url'),
				script: byId('Url', 'Functions.Script.Url'),
				urls,
				associated: [...window.CustomFunctions.registry.keys()].sort(),
			};
		});
		assert.equal(m.parseError, null);
		assert.equal(m.root, 'OfficeApp');
		assert.equal(m.namespace, 'CELLBATCH');
		assert.equal(m.metadata, `${env.base}/excel/functions.json`);
		assert.equal(m.script, `${env.base}/excel/functions.js`);
		for (const u of m.urls) {
			assert.ok(u.startsWith(`${env.base}/excel/`), u);
			assert.equal((await fetch(u)).status, 200, u);
		}
		const meta = await (await fetch(m.metadata)).json();
		const ids = meta.functions.map((f) => f.id).sort();
		assert.deepEqual(ids, ['GEOCODE', 'GEOCODE_RANGE', 'REVERSE']);
		assert.deepEqual(m.associated, ids);
		const range = meta.functions.find((f) => f.id === 'GEOCODE_RANGE');
		assert.equal(range.result.dimensionality, 'matrix');
		await page.close();
		// the task pane, as served (office.js cannot load here: functions.js runs without a host)
		const pane = await context.newPage();
		await pane.goto(`${env.base}/excel/taskpane.html`);
		assert.equal(await pane.textContent('#endpoint'), `ws://${env.http}/cellbatch`);
		await pane.waitForFunction(() => document.querySelectorAll('#stats dd').length === 6);
		assert.equal(await pane.getAttribute('#state', 'data-state'), 'idle');
		// the user's servers: kept in the runtime's storage, each shown with its state; what a page
		// cannot dial (nng's tcp://) shown as skipped
		await pane.waitForFunction(() => document.querySelectorAll('#endpoints li').length === 1);
		await pane.fill('#servers', 'ws://127.0.0.1:9/cellbatch, tcp://127.0.0.1:5551');
		await pane.click('#servers-form button');
		await pane.waitForFunction(() => document.querySelectorAll('#endpoints li').length === 3);
		const shown = async () => pane.$$eval('#endpoints li', (li) => li.map((e) => [e.dataset.url ?? null, e.dataset.state]));
		assert.deepEqual(await shown(), [[`ws://${env.http}/cellbatch`, 'idle'], ['ws://127.0.0.1:9/cellbatch', 'idle'],
			[null, 'skipped']]);
		await pane.reload();
		await pane.waitForFunction(() => document.querySelectorAll('#endpoints li').length === 3);
		assert.equal(await pane.inputValue('#servers'), 'ws://127.0.0.1:9/cellbatch, tcp://127.0.0.1:5551');
		await pane.fill('#servers', '');
		await pane.click('#servers-form button');
		await pane.waitForFunction(() => document.querySelectorAll('#endpoints li').length === 1);
		await pane.close();
	} finally {
		await env.stop();
	}
	// behind a proxy: the manifest names the public URL, and pages from there may open the socket
	const proxied = await startEnv(['--public-url', 'https://cells.example.com/cb/']);
	try {
		const text = await (await fetch(`${proxied.base}/excel/manifest.xml`)).text();
		const urls = [...text.matchAll(/DefaultValue="(https?:[^"]*)"/g)].map((x) => x[1]);
		assert.ok(urls.length >= 8);
		for (const u of urls) assert.ok(u.startsWith('https://cells.example.com/cb/excel/'), u);
		// no --redis: the fleet is this server alone, as the public reach it
		assert.deepEqual(JSON.parse((await proxied.get('/fleet.json')).text), { servers: ['https://cells.example.com/cb/'] });
	} finally {
		await proxied.stop();
	}
});

test('a server with --auth-token-file: cells show #N/A UNAUTHORIZED and the runtime asks for a token; with it they resolve', { timeout: 60000 }, async () => {
	const token = 'excel-team-token-51c3';
	const env = await startEnv((dir) => {
		writeFileSync(join(dir, 'tokens'), `${token}\n`, { mode: 0o600 });
		return ['--auth-token-file', join(dir, 'tokens')];
	});
	try {
		const page = await openSheet(env);
		const cell = [['GEOCODE', gazetteer[3].address, 'lat']];
		const before = await page.evaluate((c) => window.recalc(c), cell);
		assert.deepEqual(before.values[0], { error: '#N/A', message: 'UNAUTHORIZED' });
		assert.equal(await page.evaluate(() => window.cellbatch.state().needsToken), true);
		await page.evaluate((t) => window.cellbatch.setToken(t), token);
		const after = await page.evaluate((c) => window.recalc(c), cell);
		assert.deepEqual(after.values[0], { value: gazetteer[3].lat });
		assert.equal(await page.evaluate(() => window.cellbatch.state().needsToken), false);
		// kept in the runtime's storage: a new runtime (page) of the same origin has it
		const again = await openSheet(env);
		assert.deepEqual((await again.evaluate((c) => window.recalc(c), cell)).values[0], { value: gazetteer[3].lat });
		await page.close();
		await again.close();
	} finally {
		await env.stop();
	}
});

test('over TLS (--tls-cert): the manifest names https://; taskpane.html, the runtime Excel loads, computes cells over wss://', { timeout: 60000 }, async () => {
	const env = await startEnv([], { tls: true });
	try {
		const manifest = (await env.get('/excel/manifest.xml')).text;
		const urls = [...manifest.matchAll(/DefaultValue="(https?:[^"]*)"/g)].map((x) => x[1]);
		assert.ok(urls.length >= 8);
		for (const u of urls) assert.ok(u.startsWith(`https://${env.http}/excel/`), u);
		// the real task pane from the server, the runtime stand-in put in before its scripts run
		const ctx = await newContext({ ignoreHTTPSErrors: true });
		await ctx.addInitScript({ path: join(HERE, 'standin.js') });
		const pane = await ctx.newPage();
		await pane.goto(`${env.base}/excel/taskpane.html`);
		await pane.waitForFunction(() => window.CustomFunctions.registry.size === 3);
		assert.equal(await pane.evaluate(() => window.cellbatch.endpoint), `wss://${env.http}/cellbatch`);
		const r = await pane.evaluate((c) => window.recalc(c), gazetteer.map((g) => ['GEOCODE', g.address]));
		gazetteer.forEach((g, i) => assert.deepEqual(r.values[i], { value: `${g.lat}, ${g.lon}` }, g.address));
		await pane.waitForFunction(() => document.getElementById('state').dataset.state === 'connected');
		await ctx.close();
	} finally {
		await env.stop();
	}
});

// PONG from the redis-server on unix socket sock, or false.
function redisPing(sock) {
	return new Promise((resolve) => {
		const c = createConnection(sock);
		c.on('error', () => resolve(false));
		c.on('connect', () => c.write('PING\r\n'));
		c.on('data', (d) => {
			resolve(d.toString().startsWith('+PONG'));
			c.destroy();
		});
	});
}

// A redis-server on a unix socket in a temp dir, one mock, and two cellbatchd sharing both
// (--redis), each with --http on a port of its own and --public-url naming it, and no
// --ws-origin: each lets in the pages of the fleet's public URLs (docs/fleet.md "Excel"), so the
// page Excel loads from A opens B's WebSocket too. kill(i) SIGKILLs instance i; stop() ends the
// rest, each by its pid.
async function startFleet(extra) {
	const dir = mkdtempSync(join(tmpdir(), 'cb-excel-fleet-'));
	const log = (name) => openSync(join(dir, name), 'a');
	const sock = join(dir, 'redis.sock');
	const procs = [];
	const fleet = { dir, servers: [], mockPort: 0 };
	fleet.kill = (i) => stopProcess(fleet.servers[i].server, 'SIGKILL');
	fleet.stop = async () => {
		const clean = [];
		for (const s of fleet.servers) {
			if (s.server.exitCode !== null || s.server.signalCode !== null) continue; // killed by the test
			await stopProcess(s.server);
			clean.push(s.server.exitCode === 0 ? '' : `${s.base} exited ${s.exited}`);
		}
		for (const p of procs) await stopProcess(p);
		const logs = fleet.servers.map((s) => s.log()).join('') + readFileSync(join(dir, 'mock.log'), 'utf8');
		if (/Sanitizer|runtime error/.test(logs)) throw new Error(`sanitizer report, logs kept in ${dir}`);
		if (clean.join('') !== '') throw new Error(`not a clean exit on SIGTERM: ${clean.join(' ')}; logs in ${dir}`);
		rmSync(dir, { recursive: true, force: true });
	};
	try {
		procs.push(spawn(REDIS_BIN, ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no',
			'--dir', dir], { stdio: ['ignore', log('redis.log'), log('redis.log')] }));
		await waitFor('redis-server', () => redisPing(sock));
		procs.push(spawn(MOCK_BIN, ['--port', '0', '--port-file', join(dir, 'mock.port'), '--gazetteer', GAZETTEER,
			'--api-key', KEY], { stdio: ['ignore', log('mock.log'), log('mock.log')] }));
		fleet.mockPort = await waitFor('the mock', async () => Number(readFileSync(join(dir, 'mock.port'), 'utf8')));
		const ports = [await freePort(), await freePort()];
		for (const [i, port] of ports.entries()) {
			const s = { base: `http://127.0.0.1:${port}`, http: `127.0.0.1:${port}`, exited: null };
			s.server = spawn(SERVER_BIN, ['--listen', `ipc://${dir}/cb${i}.sock`, '--upstream', `http://127.0.0.1:${fleet.mockPort}`,
				'--cache-db', join(dir, `cache${i}.db`), '--http', s.http, '--public-url', s.base, '--redis', `unix://${sock}`,
				...extra], { env: { ...process.env, GEOAPIFY_API_KEY: KEY }, stdio: ['ignore', log(`server${i}.log`), log(`server${i}.log`)] });
			s.server.on('exit', (code, sig) => { s.exited = code ?? sig; });
			s.log = () => readFileSync(join(dir, `server${i}.log`), 'utf8');
			s.json = async (path) => (await fetch(`${s.base}${path}`, { cache: 'no-store' })).json();
			fleet.servers.push(s);
		}
		for (const s of fleet.servers)
			await waitFor(`${s.base}/healthz`, async () => s.exited === null && (await fetch(`${s.base}/healthz`)).ok);
	} catch (e) {
		for (const s of fleet.servers) await stopProcess(s.server);
		for (const p of procs) await stopProcess(p);
		throw new Error(`${e.message}; logs in ${dir}`);
	}
	return fleet;
}

test('a fleet of two on one Redis: the page of one dials both (fleet.json), spreads a recalculation over them, and moves the cells of the one killed to the other', { timeout: 120000 }, async () => {
	// a long window: cells still wait in both when B dies (as in the restart test)
	const fleet = await startFleet(['--batch-wait', '6s', '--batch-idle', '3s']);
	try {
		const [a, b] = fleet.servers;
		// each reports to Redis a second after its start, then every 5 s, and learns the others'
		// public URLs (B's fleet.json listing A: B lets in A's pages)
		for (const [x, y] of [[a, b], [b, a]])
			await waitFor(`${x.base}/fleet.json listing itself, then ${y.base}`, async () =>
				JSON.stringify((await x.json('/fleet.json')).servers) === JSON.stringify([x.base, y.base]));
		assert.match(b.log(), new RegExp(`WebSocket: pages from ${a.base.replace(/\./g, '\\.')} let in`));
		const page = await openSheet(a);
		const want = [`ws://${a.http}/cellbatch`, `ws://${b.http}/cellbatch`];
		await page.waitForFunction((w) => JSON.stringify(window.cellbatch.endpoints().map((e) => e.url)) === JSON.stringify(w), want);
		assert.deepEqual(await page.evaluate(() => window.cellbatch.endpoints().map((e) => e.source)), ['this server', 'fleet']);
		assert.equal(await page.evaluate(() => window.cellbatch.endpoint), want[0], 'endpoint: still the serving origin\'s');

		const spread = Array.from({ length: 300 }, (_, i) => `${i + 1} Fleet Row, Spreadville ${i % 7}`);
		const r = await page.evaluate((c) => window.recalc(c), spread.map((t) => ['GEOCODE', t, 'lat']));
		for (let i = 0; i < spread.length; i++)
			assert.equal(r.values[i].value, (await expected(fleet, spread[i])).lat, `${spread[i]}: ${JSON.stringify(r.values[i])}`);
		const [sa, sb] = [await a.json('/stats.json'), await b.json('/stats.json')];
		assert.ok(sa.calls_answered > 0 && sb.calls_answered > 0, `calls answered: A ${sa.calls_answered}, B ${sb.calls_answered}`);
		assert.equal(sa.calls_answered + sb.calls_answered, spread.length, 'each cell asked of one server, once');
		assert.deepEqual(await page.evaluate(() => window.cellbatch.endpoints().map((e) => e.state)), ['connected', 'connected']);
		console.log(`# fleet: ${spread.length} cells in ${r.ms.toFixed(0)} ms, A answered ${sa.calls_answered}, B ${sb.calls_answered}`);

		const kill = Array.from({ length: 200 }, (_, i) => `${i + 1} Failover Lane, Killingworth ${i % 5}`);
		await page.evaluate((c) => window.startRecalc(c), kill.map((t) => ['GEOCODE', t, 'lon']));
		const waiting = await waitFor('200 calls in flight on the two', async () => {
			const n = [(await a.json('/stats.json')).calls_in_flight, (await b.json('/stats.json')).calls_in_flight];
			return n[0] + n[1] === kill.length && n;
		});
		assert.ok(waiting[1] > 0, `B has cells waiting: ${waiting}`);
		assert.equal(await page.evaluate(() => window.settled), 0, 'cells settled before the kill');
		const t0 = performance.now();
		await fleet.kill(1);
		const k = await page.evaluate(() => window.running);
		const ms = performance.now() - t0;
		for (let i = 0; i < kill.length; i++)
			assert.equal(k.values[i].value, (await expected(fleet, kill[i])).lon, `${kill[i]}: ${JSON.stringify(k.values[i])}`);
		assert.equal(await page.evaluate(() => window.settled), kill.length);
		const after = await a.json('/stats.json');
		assert.equal(after.calls_answered - sa.calls_answered, kill.length, 'A answered every cell of the second recalculation, each once');
		assert.deepEqual(Object.keys(after.answered_by_code), ['OK']);
		const states = await page.evaluate(() => window.cellbatch.endpoints().map((e) => e.state));
		assert.equal(states[0], 'connected');
		assert.notEqual(states[1], 'connected', 'B is dead');
		// the task pane lists both (B stays in fleet.json for a minute after its last report)
		const pane = await context.newPage();
		await pane.goto(`${a.base}/excel/taskpane.html`);
		await pane.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('#endpoints li')]
			.map((li) => li.dataset.url)) === JSON.stringify(w), want);
		await pane.close();
		console.log(`# fleet: B killed with ${waiting[1]} of ${kill.length} cells waiting on it; all resolved by A ` +
			`${ms.toFixed(0)} ms after the kill (B's leases expire within 10 s; window 3 s idle), A lease waits ` +
			`${after.fleet.lease_waits}`);
		await page.close();
	} finally {
		await fleet.stop();
	}
});
