// conn.js: one WebSocket per runtime to cellbatchd's /cellbatch endpoint (proto/PROTOCOL.md,
// "Browsers: WebSocket"): many requests in flight, reconnect with backoff, resend on reconnect.
import { encode, decode } from '@msgpack/msgpack';

const SUBPROTOCOL = 'rep.sp.nanomsg.org';
const ID_BIT = 0x80000000; // the SP request id has its high bit set (PROTOCOL.md)
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
// Closed right after opening, before the first reply, this many times in a row: the server
// refuses this page (its Origin check, PROTOCOL.md), and waiting longer will not change that.
const REFUSALS_TO_GIVE_UP = 2;

// A failure made on this side, shaped like a server's error reply so callers see one shape.
export function localError(code, message) {
	return { v: 1, ok: false, error: { code, message } };
}

export class Connection {
	// url: the ws:// endpoint; timeoutMs: how long a request may wait for its reply, lost
	// connections included; getToken(): the token to send as auth (or '' for none); redial():
	// whether to dial again after a close although nothing waits (a pool keeps its servers
	// connected, so that the next recalculation finds them there to spread over).
	constructor(url, { timeoutMs = 60000, getToken = () => '', redial = () => false } = {}) {
		this.url = url;
		this.timeoutMs = timeoutMs;
		this.getToken = getToken;
		this.redial = redial;
		this.ws = null;
		this.served = false; // this socket has answered something: its origin was let in
		this.wasOpen = false;
		this.pingId = 0; // request id of the ping sent on open
		this.next = 1;
		this.pending = new Map(); // request id -> {map, resolve, timer, deadline, lost}
		this.backoffMs = BACKOFF_MIN_MS;
		this.retryTimer = null;
		this.refusals = 0;
		this.state = 'idle';
		this.detail = '';
		this.listeners = new Set();
	}

	// fn(state, detail) on each change of state: idle, connecting, connected, reconnecting,
	// refused. Returns a function that removes it.
	onState(fn) {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	setState(state, detail = '') {
		if (state === this.state && detail === this.detail) return;
		this.state = state;
		this.detail = detail;
		for (const fn of this.listeners) {
			try {
				fn(state, detail);
			} catch (e) {
				console.error('cellbatch: state listener', e);
			}
		}
	}

	newId() {
		const id = (ID_BIT | this.next) >>> 0;
		this.next = this.next === 0x7fffffff ? 1 : this.next + 1;
		return id;
	}

	// Sends map (a protocol v1 request without auth) and resolves with the reply map, or with a
	// local error: TIMEOUT (answer too late), UNREACHABLE (connection lost and not back in time),
	// ORIGIN_REFUSED. Never rejects. A request moved here from another connection (a pool's)
	// keeps its deadline, whether it was lost already, and its tag (takePending gives it back).
	request(map, { deadline = Date.now() + this.timeoutMs, lost = false, tag } = {}) {
		return new Promise((resolve) => {
			const id = this.newId();
			const p = { map, resolve, deadline, lost, timer: null, tag };
			p.timer = setTimeout(() => this.expire(id), Math.max(0, deadline - Date.now()));
			this.pending.set(id, p);
			if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) this.send(id, p);
			else this.ensure();
		});
	}

	expire(id) {
		const p = this.pending.get(id);
		if (p === undefined) return;
		this.pending.delete(id);
		p.resolve(p.lost
			? localError('UNREACHABLE', `the connection to cellbatchd was lost and not re-established within ${this.timeoutMs} ms`)
			: localError('TIMEOUT', `no answer from cellbatchd within ${this.timeoutMs} ms`));
	}

	settle(id, reply) {
		const p = this.pending.get(id);
		if (p === undefined) return; // a reply after its timeout, or to a request sent twice
		this.pending.delete(id);
		clearTimeout(p.timer);
		p.resolve(reply);
	}

	// Each send carries the time left as deadline_ms, so a resent request does not get a new
	// full deadline on the server.
	send(id, p) {
		const token = this.getToken();
		const left = Math.max(1, p.deadline - Date.now());
		const map = { ...p.map, deadline_ms: left };
		if (token) map.auth = token;
		this.sendFrame(id, map);
	}

	sendFrame(id, map) {
		const body = encode(map);
		const frame = new Uint8Array(4 + body.length);
		new DataView(frame.buffer).setUint32(0, id, false);
		frame.set(body, 4);
		this.ws.send(frame);
	}

	// Opens the socket unless it is open, opening, or waiting for its backoff.
	ensure() {
		if (this.ws !== null || this.retryTimer !== null) return;
		this.open();
	}

	open() {
		let ws;
		this.setState(this.state === 'idle' ? 'connecting' : 'reconnecting', this.detail);
		try {
			ws = new WebSocket(this.url, SUBPROTOCOL);
		} catch (e) {
			this.failAll('UNREACHABLE', `cannot open ${this.url}: ${e.message}`);
			return;
		}
		ws.binaryType = 'arraybuffer';
		this.ws = ws;
		this.served = false;
		this.wasOpen = false; // a refused page gets as far as open; a server that is down does not
		ws.onopen = () => this.opened(ws);
		ws.onmessage = (ev) => this.received(ws, ev.data);
		ws.onclose = (ev) => this.closed(ws, ev);
		ws.onerror = () => {}; // 'close' follows and decides
	}

	// A ping goes first: its reply shows that the server serves this page, even while every
	// call waits on the upstream. Then everything waiting is sent (again) with its request id.
	opened(ws) {
		if (ws !== this.ws) return;
		this.wasOpen = true;
		this.pingId = this.newId();
		this.sendFrame(this.pingId, { v: 1, op: 'ping' });
		for (const [id, p] of this.pending) this.send(id, p);
	}

	received(ws, data) {
		if (ws !== this.ws || !(data instanceof ArrayBuffer) || data.byteLength < 4) return;
		const id = new DataView(data).getUint32(0, false);
		if (!this.served) {
			this.served = true;
			this.refusals = 0;
			this.backoffMs = BACKOFF_MIN_MS;
			this.setState('connected', '');
		}
		if (id === this.pingId) return;
		let reply;
		try {
			reply = decode(new Uint8Array(data, 4));
		} catch (e) {
			reply = localError('INTERNAL', `an undecodable reply: ${e.message}`);
		}
		// the server is stopping: this call is sent again to the server that comes next
		if (reply?.error?.code === 'SHUTTING_DOWN' && this.pending.has(id)) {
			this.pending.get(id).lost = true;
			return;
		}
		this.settle(id, reply);
	}

	closed(ws, ev) {
		if (ws !== this.ws) return;
		this.ws = null;
		// opened and closed before a single reply, not even to the ping: the server refused us
		const refused = this.wasOpen && !this.served;
		for (const p of this.pending.values()) p.lost = true;
		if (refused && ++this.refusals >= REFUSALS_TO_GIVE_UP) {
			this.refusals = 0;
			this.backoffMs = BACKOFF_MIN_MS; // the next recalculation hears it soon
			const why = `cellbatchd closed the connection as it opened, before answering: this page's ` +
				`origin (${location.origin}) is not in its --ws-origin list (or it is at --max-conns)`;
			console.warn(`cellbatch: ${why}`); // the cells show only the code
			this.setState('refused', `${location.origin} is not let in`);
			this.failAll('ORIGIN_REFUSED', why);
			return;
		}
		if (this.pending.size === 0 && !refused && !this.redial()) {
			this.setState('idle', '');
			return;
		}
		this.setState('reconnecting', refused ? 'closed as it opened' : `closed (${ev.code})`);
		this.retryTimer = setTimeout(() => {
			this.retryTimer = null;
			if (this.pending.size > 0 || this.redial()) this.open();
			else this.setState('idle', ''); // its requests went elsewhere (takePending)
		}, this.backoffMs);
		this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
	}

	// Gives up every request waiting here, unanswered, for the caller to send elsewhere: their
	// {map, deadline, lost, tag}. Their promises never settle; a reply that still comes is dropped
	// as one after its timeout is.
	takePending() {
		const out = [...this.pending.values()];
		for (const p of out) clearTimeout(p.timer);
		this.pending.clear();
		return out;
	}

	// Stops for good (its endpoint left the list): no reconnecting. Take its requests first.
	close() {
		this.redial = () => false;
		clearTimeout(this.retryTimer);
		this.retryTimer = null;
		const ws = this.ws;
		this.ws = null; // its close event is then no news
		if (ws !== null) ws.close();
		this.failAll('UNREACHABLE', `${this.url} was removed from the list of servers`);
		this.setState('idle', '');
	}

	failAll(code, message) {
		const all = [...this.pending.keys()];
		for (const id of all) this.settle(id, localError(code, message));
	}
}
