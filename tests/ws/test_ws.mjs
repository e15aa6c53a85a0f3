// test_ws.mjs: cellbatchd's WebSocket endpoint against a real mock and server on 127.0.0.1: 1,000
// calls in flight on one connection (one upstream submit), error replies, the Origin rules and tokens.
// Usage: node test_ws.mjs MOCK_BIN SERVER_BIN GAZETTEER_CSV
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CellbatchSocket } from './cellbatch_ws.mjs';
import { freePort, stopProcess, waitFor } from './wait.mjs';

const [MOCK_BIN, SERVER_BIN, GAZETTEER] = process.argv.slice(2);
const KEY = 'ws-test-key-5c1e';
const N = 1000;

// A mock and a cellbatchd (extra args after the harness's; a function of the temp dir gives them
// after writing what they name) in a temp dir; stop() ends both by pid.
async function startEnv(extraArgs = []) {
	const dir = mkdtempSync(join(tmpdir(), 'cb-ws-'));
	const extra = typeof extraArgs === 'function' ? extraArgs(dir) : extraArgs;
	const log = (name) => openSync(join(dir, name), 'w');
	const mock = spawn(MOCK_BIN, ['--port', '0', '--port-file', join(dir, 'mock.port'),
		'--gazetteer', GAZETTEER, '--api-key', KEY], { stdio: ['ignore', log('mock.log'), log('mock.log')] });
	const mockPort = await waitFor('the mock', async () => Number(readFileSync(join(dir, 'mock.port'), 'utf8')));
	const httpPort = await freePort();
	const http = `127.0.0.1:${httpPort}`;
	const server = spawn(SERVER_BIN, ['--listen', `ipc://${dir}/cb.sock`, '--upstream', `http://127.0.0.1:${mockPort}`,
		'--cache-db', join(dir, 'cache.db'), '--http', http, '--batch-wait', '2s', '--batch-idle', '500ms', ...extra],
		{ env: { ...process.env, GEOAPIFY_API_KEY: KEY }, stdio: ['ignore', log('server.log'), log('server.log')] });
	let exited = null;
	server.on('exit', (code) => { exited = code; });
	const env = {
		dir, mockPort, http, server,
		wsUrl: `ws://${http}/cellbatch`,
		mockStats: () => fetch(`http://127.0.0.1:${mockPort}/mock/stats`).then((r) => r.json()),
		stats: () => fetch(`http://${http}/stats.json`).then((r) => r.json()),
		serverLog: () => readFileSync(join(dir, 'server.log'), 'utf8'),
		// SIGTERM (the server drains and exits), SIGKILL after 5 s; sanitizer reports fail the test
		async stop() {
			for (const p of [server, mock]) await stopProcess(p);
			const logs = env.serverLog() + readFileSync(join(dir, 'mock.log'), 'utf8');
			if (/Sanitizer|runtime error/.test(logs)) throw new Error(`sanitizer report, logs kept in ${dir}`);
			if (server.exitCode !== 0) throw new Error(`cellbatchd did not drain and exit 0 on SIGTERM (${server.exitCode ?? server.signalCode}); logs in ${dir}`);
			rmSync(dir, { recursive: true, force: true });
		},
	};
	await waitFor('cellbatchd /healthz', async () => {
		if (exited !== null) throw new Error(`cellbatchd exited (${exited}):\n${env.serverLog()}`);
		return (await fetch(`http://${http}/healthz`)).ok;
	}).catch(async (e) => { const l = env.serverLog(); await env.stop(); throw new Error(`${e.message}\n${l}`); });
	return env;
}

// The mock's own single-lookup answer for text (what the batch must have returned).
async function mockLookup(env, text) {
	const u = `http://127.0.0.1:${env.mockPort}/v1/geocode/search?format=json&apiKey=${KEY}&text=${encodeURIComponent(text)}`;
	return (await (await fetch(u)).json()).results[0];
}

function rssKb(pid) {
	const s = readFileSync(`/proc/${pid}/status`, 'utf8');
	return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) };
}

// Opens a connection with origin and sends a ping at once, as a page would; resolves with what
// happened: the reply, or the close without one.
async function tryOrigin(env, origin) {
	const s = await CellbatchSocket.open(env.wsUrl, { origin });
	const reply = s.request({ v: 1, op: 'ping' }).catch(() => null);
	const r = await Promise.race([reply, s.closed.then(() => null)]);
	if (r !== null) await s.close();
	await s.closed;
	return { reply: r, received: s.received };
}

test(`${N} calls in flight on one WebSocket connection: every reply matched, one upstream submit`, { timeout: 60000 }, async () => {
	const env = await startEnv(['--ws-origin', 'http://app.example']);
	try {
		const s = await CellbatchSocket.open(env.wsUrl, { origin: 'http://app.example' });
		const texts = Array.from({ length: N }, (_, i) => `${i + 1} WebSocket Lane, Testville ${i % 7}`);
		const rss0 = rssKb(env.server.pid);
		const t0 = performance.now();
		// every request is sent before any reply can be read: N in flight on the one connection
		const replies = await Promise.all(texts.map((t, i) => s.call('geocode', [t], { id: i + 1 })));
		const ms = performance.now() - t0;
		const rss1 = rssKb(env.server.pid);
		assert.deepEqual(s.unmatched, [], 'replies whose request id matched no request');
		assert.equal(s.received, N);
		for (let i = 0; i < N; i++) {
			const r = replies[i];
			assert.equal(r.id, i + 1, `reply ${i}: protocol id`);
			assert.equal(r.ok, true, `reply ${i}: ${JSON.stringify(r.error)}`);
			assert.equal(r.result.formatted, `${texts[i]} (mock)`);
			assert.equal(r.meta.batch_size, N);
		}
		for (let i = 0; i < N; i += 1) {
			const want = await mockLookup(env, texts[i]);
			assert.equal(replies[i].result.lat, want.lat, `${texts[i]}: lat`);
			assert.equal(replies[i].result.lon, want.lon, `${texts[i]}: lon`);
		}
		// the same 1,000 again: cache hits answered on nng's threads, the ws path alone
		const t1 = performance.now();
		const again = await Promise.all(texts.map((t, i) => s.call('geocode', [t], { id: N + i + 1 })));
		const msHits = performance.now() - t1;
		again.forEach((r, i) => {
			assert.equal(r.id, N + i + 1);
			assert.equal(r.meta.cached, true);
			assert.equal(r.result.lat, replies[i].result.lat);
		});
		const ms1 = await env.mockStats();
		assert.equal(ms1.submits, 1, `upstream submits: ${JSON.stringify(ms1)}`);
		const st = await env.stats();
		assert.equal(st.calls_in_flight_max, N);
		assert.equal(st.connections.ws_origin_refused, 0);
		console.log(`# ${N} calls in flight on one connection: ${ms.toFixed(0)} ms wall (mock job pending 300 ms), ` +
			`again as cache hits ${msHits.toFixed(0)} ms; server RSS ${rss0.rss} -> ${rss1.rss} kB (peak ${rss1.hwm} kB)`);
		await s.close();
	} finally {
		await env.stop();
	}
});

test('error replies come back framed with their request id; a frame without one closes the connection', { timeout: 60000 }, async () => {
	const env = await startEnv();
	try {
		const s = await CellbatchSocket.open(env.wsUrl); // no Origin: not a browser, served
		const bad = await s.request({ v: 2, id: 9, op: 'ping' });
		assert.equal(bad.ok, false);
		assert.equal(bad.error.code, 'UNSUPPORTED_VERSION');
		const unknown = await s.call('teleport', ['x'], { id: 10 });
		assert.equal(unknown.error.code, 'UNKNOWN_FN');
		const garbled = await s.request({ v: 1, op: 'ping', id: 'seven' });
		assert.equal(garbled.error.code, 'BAD_REQUEST');
		await s.close();
		// no 4-byte word with the high bit set: nng's rep0 takes the peer for broken
		for (const raw of [[0x00, 0x00, 0x00, 0x01], [0x80, 0x00, 0x01]]) {
			const g = await CellbatchSocket.open(env.wsUrl);
			g.sendRaw(raw);
			await assert.rejects(g.request({ v: 1, op: 'ping' }), /connection closed/);
			assert.equal(g.received, 0);
		}
	} finally {
		await env.stop();
	}
});

test('--ws-origin: the configured origin is served; https://evil.example is closed without an answer', { timeout: 60000 }, async () => {
	const env = await startEnv(['--ws-origin', 'http://app.example']);
	try {
		const evil = await tryOrigin(env, 'https://evil.example');
		assert.equal(evil.reply, null);
		assert.equal(evil.received, 0);
		const app = await tryOrigin(env, 'http://app.example');
		assert.equal(app.reply?.ok, true);
		// the server's own origin is no longer implied once --ws-origin is given
		assert.equal((await tryOrigin(env, `http://${env.http}`)).reply, null);
		await waitFor('ws_origin_refused 2', async () => (await env.stats()).connections.ws_origin_refused === 2);
		assert.match(env.serverLog(), /Origin 'https:\/\/evil\.example' is not allowed/);
	} finally {
		await env.stop();
	}
});

test('default origins: the server\'s own (127.0.0.1 and localhost spellings) served, evil refused', { timeout: 60000 }, async () => {
	const env = await startEnv();
	try {
		const port = env.http.split(':')[1];
		assert.equal((await tryOrigin(env, `http://127.0.0.1:${port}`)).reply?.ok, true);
		assert.equal((await tryOrigin(env, `http://localhost:${port}`)).reply?.ok, true);
		assert.equal((await tryOrigin(env, undefined)).reply?.ok, true);
		const evil = await tryOrigin(env, 'https://evil.example');
		assert.equal(evil.reply, null);
		assert.equal(evil.received, 0);
		assert.equal((await tryOrigin(env, `https://127.0.0.1:${port}`)).reply, null, 'another scheme');
		await waitFor('ws_origin_refused 2', async () => (await env.stats()).connections.ws_origin_refused === 2);
		const metrics = await (await fetch(`http://${env.http}/metrics`)).text();
		assert.match(metrics, /^cellbatch_ws_origin_refused_total 2$/m);
	} finally {
		await env.stop();
	}
});

test('--auth-token-file: over WebSocket a call needs auth; a refused origin never gets that far', { timeout: 60000 }, async () => {
	const token = 'ws-team-token-0d9b';
	const env = await startEnv((dir) => {
		writeFileSync(join(dir, 'tokens'), `${token}\n`, { mode: 0o600 });
		return ['--auth-token-file', join(dir, 'tokens')];
	});
	try {
		const s = await CellbatchSocket.open(env.wsUrl, { origin: `http://${env.http}` });
		const without = await s.call('geocode', ['11 Wall Street New York, NY'], { id: 1 });
		assert.equal(without.error?.code, 'UNAUTHORIZED');
		const withToken = await s.call('geocode', ['11 Wall Street New York, NY'], { id: 2, auth: token });
		assert.equal(withToken.ok, true);
		assert.equal(withToken.result.lat, 40.7069);
		await s.close();
		const evil = await CellbatchSocket.open(env.wsUrl, { origin: 'https://evil.example' });
		await assert.rejects(evil.call('geocode', ['x'], { auth: token }), /connection closed/);
		assert.equal(evil.received, 0);
	} finally {
		await env.stop();
	}
});
