// test_pool.mjs: the Excel add-in's pool of connections (client/excel/src/pool.js) over fake
// connections the test drives by hand — where requests go, what moves when a connection is lost
// or refuses the page, that each request is answered once — and the server lists
// (client/excel/src/endpoints.js). No browser, no server.
// Usage: node test_pool.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from '../../client/excel/src/pool.js';
import { endpointOf, parseServers } from '../../client/excel/src/endpoints.js';
import { waitFor } from '../ws/wait.mjs';

// conn.js's Connection as the pool sees it; the test opens, drops and answers it.
class FakeConnection {
	constructor(url, { redial }) {
		this.url = url;
		this.redial = redial;
		this.state = 'idle';
		this.detail = '';
		this.pending = new Map(); // id -> {map, deadline, lost, tag, resolve}
		this.next = 1;
		this.listeners = new Set();
		this.sent = []; // every request this connection was given
		this.ensured = 0;
		this.closed = false;
	}

	onState(fn) {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	setState(state, detail = '') {
		this.state = state;
		this.detail = detail;
		for (const fn of this.listeners) fn(state, detail);
	}

	request(map, { deadline, lost = false, tag } = {}) {
		return new Promise((resolve) => {
			const id = this.next++;
			this.pending.set(id, { map, deadline, lost, tag, resolve });
			this.sent.push({ id, map, deadline, lost });
			if (this.state === 'idle') this.ensure();
		});
	}

	ensure() {
		this.ensured++;
		if (this.state === 'idle') this.setState('connecting');
		else if (this.state === 'refused') this.setState('reconnecting');
	}

	takePending() {
		const out = [...this.pending.values()];
		this.pending.clear();
		return out;
	}

	close() {
		this.closed = true;
		this.setState('idle');
	}

	// the server's reply to every request waiting here (reply(map) makes it)
	answerAll(reply = (map) => ({ v: 1, ok: true, result: map.args })) {
		const all = [...this.pending.values()];
		this.pending.clear();
		for (const p of all) p.resolve(reply(p.map));
	}

	// conn.js on a close: everything waiting is lost, and waits for the connection to return
	drop() {
		for (const p of this.pending.values()) p.lost = true;
		this.setState('reconnecting', 'closed (1006)');
	}

	// conn.js after a second refusal in a row
	refuse() {
		this.setState('refused', 'not let in');
		const all = [...this.pending.values()];
		this.pending.clear();
		for (const p of all) p.resolve({ v: 1, ok: false, error: { code: 'ORIGIN_REFUSED', message: 'refused' } });
	}
}

function makePool(urls, options = { connectGraceMs: 200 }) {
	const made = new Map();
	const pool = new Pool((url, opts) => {
		const c = new FakeConnection(url, opts);
		made.set(url, c);
		return c;
	}, options);
	pool.setEndpoints(urls);
	return { pool, conn: (url) => made.get(url) };
}

const call = (i) => ({ v: 1, op: 'call', fn: 'geocode', args: [`${i} Pool Street`] });
const flush = () => new Promise((r) => setImmediate(r));

// Requests that count how often each settles: a second settlement is the bug this guards against.
function track(pool, n, timeoutMs = 60000) {
	const settled = Array(n).fill(0);
	const replies = Array(n).fill(null);
	const all = Promise.all(Array.from({ length: n }, (_, i) => pool.request(call(i), timeoutMs).then((r) => {
		settled[i]++;
		replies[i] = r;
	})));
	return { settled, replies, all };
}

test('connected endpoints share the requests: fewest waiting first, ties in turn', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch']);
	const [a, b] = [conn('ws://a/cellbatch'), conn('ws://b/cellbatch')];
	a.setState('connected');
	b.setState('connected');
	track(pool, 10);
	assert.equal(a.pending.size, 5);
	assert.equal(b.pending.size, 5);
	a.answerAll();
	await flush();
	track(pool, 4); // a has none waiting, b five: all four go to a
	assert.equal(a.pending.size, 4);
	assert.equal(b.pending.size, 5);
});

test('the first recalculation dials every endpoint and spreads over them before any is connected', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch', 'ws://c/cellbatch']);
	const cs = ['a', 'b', 'c'].map((h) => conn(`ws://${h}/cellbatch`));
	assert.ok(cs.every((c) => c.state === 'idle'), 'nothing dialled before the first request');
	const t = track(pool, 9);
	assert.deepEqual(cs.map((c) => c.pending.size), [3, 3, 3]);
	assert.ok(cs.every((c) => c.state === 'connecting'));
	for (const c of cs) c.setState('connected');
	for (const c of cs) c.answerAll();
	await t.all;
	assert.deepEqual(t.settled, Array(9).fill(1));
	assert.ok(cs.every((c) => c.redial()), 'once used, every endpoint is kept dialled');
});

test('a lost connection: its requests move to a connected one, keep their deadline, and are answered once', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch']);
	const [a, b] = [conn('ws://a/cellbatch'), conn('ws://b/cellbatch')];
	a.setState('connected');
	b.setState('connected');
	const t = track(pool, 100);
	assert.equal(b.pending.size, 50);
	const onB = [...b.pending.values()];
	b.drop();
	assert.equal(b.pending.size, 0, 'nothing left waiting on the lost connection');
	assert.equal(a.pending.size, 100);
	const moved = a.sent.slice(50);
	assert.deepEqual(moved.map((s) => s.deadline), onB.map((p) => p.deadline), 'deadlines kept');
	assert.ok(moved.every((s) => s.lost), 'a moved request counts as lost: UNREACHABLE if it never gets through');
	// b's answers that arrive after all (its promises were given up) reach no cell
	for (const p of onB) p.resolve({ v: 1, ok: false, error: { code: 'STALE', message: 'from b' } });
	a.answerAll();
	await t.all;
	await flush();
	assert.deepEqual(t.settled, Array(100).fill(1));
	assert.ok(t.replies.every((r) => r.ok), JSON.stringify(t.replies.find((r) => !r.ok)));
	assert.deepEqual(t.replies.map((r) => r.result[0]), Array.from({ length: 100 }, (_, i) => `${i} Pool Street`));
});

test('with nothing connected requests wait where they are; the first connection to come takes those of the lost', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch'], { connectGraceMs: 1000 });
	const [a, b] = [conn('ws://a/cellbatch'), conn('ws://b/cellbatch')];
	const t = track(pool, 6);
	a.drop(); // a's first dial failed: "reconnecting"
	assert.equal(a.pending.size, 3, 'no connected endpoint to move to: they wait on a');
	assert.equal(b.pending.size, 3, 'b is still making its first connection: within its grace');
	b.setState('connected');
	assert.equal(a.pending.size, 0);
	assert.equal(b.pending.size, 6);
	b.answerAll();
	await t.all;
	assert.deepEqual(t.settled, Array(6).fill(1));
});

test('a first connection slower than the grace counts as lost while another is connected', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://slow/cellbatch'], { connectGraceMs: 50 });
	const [a, slow] = [conn('ws://a/cellbatch'), conn('ws://slow/cellbatch')];
	const t = track(pool, 4);
	a.setState('connected');
	assert.equal(slow.pending.size, 2, 'still within its grace');
	await waitFor('the slow endpoint\'s requests moved (the pool\'s grace timer)', async () => slow.pending.size === 0, 5000);
	assert.equal(a.pending.size, 4);
	a.answerAll();
	await t.all;
	assert.deepEqual(t.settled, Array(4).fill(1));
});

test('an endpoint that refuses the page is skipped while another works; alone, its refusal reaches the cells', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch']);
	const [a, b] = [conn('ws://a/cellbatch'), conn('ws://b/cellbatch')];
	const t = track(pool, 4);
	a.refuse(); // its two requests are answered ORIGIN_REFUSED: moved to b instead
	await flush();
	assert.equal(b.pending.size, 4);
	track(pool, 2);
	assert.equal(a.pending.size, 0, 'a refused endpoint gets nothing new');
	assert.equal(b.pending.size, 6);
	const dials = a.ensured;
	pool.retryRefused(); // the next refresh of the list asks it again
	assert.equal(a.ensured, dials + 1);
	b.setState('connected');
	b.answerAll();
	await t.all;
	assert.ok(t.replies.every((r) => r.ok));
	assert.deepEqual(t.settled, Array(4).fill(1));

	const alone = makePool(['ws://x/cellbatch']);
	const u = track(alone.pool, 2);
	alone.conn('ws://x/cellbatch').refuse();
	await u.all;
	assert.ok(u.replies.every((r) => r.error.code === 'ORIGIN_REFUSED'));
	assert.deepEqual(alone.pool.state().state, 'refused');
});

test('an endpoint that leaves the list is closed and its requests go to the others', async () => {
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch']);
	const [a, b] = [conn('ws://a/cellbatch'), conn('ws://b/cellbatch')];
	a.setState('connected');
	b.setState('connected');
	const t = track(pool, 6);
	pool.setEndpoints(['ws://a/cellbatch']);
	assert.ok(b.closed);
	assert.equal(b.redial(), false, 'not dialled again');
	assert.equal(a.pending.size, 6);
	a.answerAll();
	await t.all;
	assert.deepEqual(t.settled, Array(6).fill(1));
	assert.deepEqual(pool.endpoints().map((e) => e.url), ['ws://a/cellbatch']);
});

test('state(): one endpoint as conn.js showed it; several: the best of them, and how many are connected', () => {
	const one = makePool(['ws://a/cellbatch']);
	assert.deepEqual(one.pool.state(), { state: 'idle', detail: '', pending: 0 });
	const { pool, conn } = makePool(['ws://a/cellbatch', 'ws://b/cellbatch']);
	conn('ws://b/cellbatch').setState('connected');
	assert.deepEqual(pool.state(), { state: 'connected', detail: '1 of 2 servers connected', pending: 0 });
});

test('server lists: CELLBATCH_URL syntax, the entries a page can open, each once', () => {
	assert.equal(endpointOf('ws://10.0.0.5:9100/cellbatch'), 'ws://10.0.0.5:9100/cellbatch');
	assert.equal(endpointOf(' wss://cells.example.com/cellbatch '), 'wss://cells.example.com/cellbatch');
	assert.equal(endpointOf('http://127.0.0.1:9101'), 'ws://127.0.0.1:9101/cellbatch');
	assert.equal(endpointOf('https://cells.example.com/cb/'), 'wss://cells.example.com/cb/cellbatch');
	assert.equal(endpointOf('https://cells.example.com/cb'), 'wss://cells.example.com/cb/cellbatch');
	for (const nng of ['tcp://127.0.0.1:5551', 'ipc:///run/cellbatch.sock', 'tls+tcp://h:5551', '127.0.0.1:5551', 'localhost:5551', '5551', ''])
		assert.equal(endpointOf(nng), null, nng);
	assert.equal(endpointOf('ws://h:1/cellbatch', 'https:'), null, 'mixed content');
	assert.equal(endpointOf('http://h:1', 'https:'), null, 'mixed content');
	assert.deepEqual(parseServers('ws://a:1/cellbatch, tcp://b:2,http://a:1/ ,, wss://c/cellbatch'), {
		endpoints: ['ws://a:1/cellbatch', 'wss://c/cellbatch'],
		skipped: ['tcp://b:2'],
	});
});
