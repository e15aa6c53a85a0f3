// test_wss.mjs: cellbatchd's WebSocket endpoint over TLS (wss://, --http with --tls-cert) with a
// certificate made here by openssl: the CA trusted or not, the https:// default Origin, tokens.
// Usage: node test_wss.mjs MOCK_BIN SERVER_BIN GAZETTEER_CSV
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CellbatchSocket } from './cellbatch_ws.mjs';
import { freePort, stopProcess, waitFor } from './wait.mjs';

const [MOCK_BIN, SERVER_BIN, GAZETTEER] = process.argv.slice(2);
const KEY = 'wss-test-key-8a2d';
const TOKEN = 'wss-team-token-41c7';
// A mock and a cellbatchd serving https and wss on 127.0.0.1 with a fresh self-signed certificate.
async function startEnv() {
	const dir = mkdtempSync(join(tmpdir(), 'cb-wss-'));
	const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext',
		'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1', '-keyout', key, '-out', cert],
		{ stdio: 'ignore' });
	writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`, { mode: 0o600 });
	const log = (name) => openSync(join(dir, name), 'w');
	const mock = spawn(MOCK_BIN, ['--port', '0', '--port-file', join(dir, 'mock.port'),
		'--gazetteer', GAZETTEER, '--api-key', KEY], { stdio: ['ignore', log('mock.log'), log('mock.log')] });
	const mockPort = await waitFor('the mock', async () => Number(readFileSync(join(dir, 'mock.port'), 'utf8')));
	const http = `127.0.0.1:${await freePort()}`;
	const server = spawn(SERVER_BIN, ['--listen', `ipc://${dir}/cb.sock`, '--upstream', `http://127.0.0.1:${mockPort}`,
		'--cache-db', join(dir, 'cache.db'), '--http', http, '--tls-cert', cert, '--tls-key', key,
		'--auth-token-file', join(dir, 'tokens')],
		{ env: { ...process.env, GEOAPIFY_API_KEY: KEY }, stdio: ['ignore', log('server.log'), log('server.log')] });
	const serverLog = () => readFileSync(join(dir, 'server.log'), 'utf8');
	const env = {
		dir, http, ca: readFileSync(cert, 'utf8'), wssUrl: `wss://${http}/cellbatch`, serverLog,
		async stop() {
			for (const p of [server, mock]) await stopProcess(p);
			if (/Sanitizer|runtime error/.test(serverLog())) throw new Error(`sanitizer report, logs kept in ${dir}`);
			if (server.exitCode !== 0) throw new Error(`cellbatchd did not exit 0 on SIGTERM; logs in ${dir}`);
			rmSync(dir, { recursive: true, force: true });
		},
	};
	// the log line comes after the https server started: observable, no fixed sleep
	await waitFor('cellbatchd serving https', async () => {
		if (server.exitCode !== null) throw new Error(`cellbatchd exited:\n${serverLog()}`);
		return /serving the dashboard .* on https:\/\//.test(serverLog());
	}).catch(async (e) => { const l = serverLog(); await env.stop(); throw new Error(`${e.message}\n${l}`); });
	return env;
}

test('wss:// with the CA: the https:// origin served, http:// refused, tokens asked; no CA: refused', { timeout: 60000 }, async () => {
	const env = await startEnv();
	try {
		await assert.rejects(CellbatchSocket.open(env.wssUrl, {}), /self.signed|certificate/i);
		const s = await CellbatchSocket.open(env.wssUrl, { ca: env.ca, origin: `https://${env.http}` });
		const without = await s.call('geocode', ['11 Wall Street New York, NY'], { id: 1 });
		assert.equal(without.error?.code, 'UNAUTHORIZED');
		const withToken = await s.call('geocode', ['11 Wall Street New York, NY'], { id: 2, auth: TOKEN });
		assert.equal(withToken.ok, true);
		assert.equal(withToken.result.lat, 40.7069);
		await s.close();
		// the page of a plain-http origin is another origin once the server speaks https
		const plain = await CellbatchSocket.open(env.wssUrl, { ca: env.ca, origin: `http://${env.http}` });
		await assert.rejects(plain.call('geocode', ['x'], { auth: TOKEN }), /connection closed/);
		assert.equal(plain.received, 0);
	} finally {
		await env.stop();
	}
});
