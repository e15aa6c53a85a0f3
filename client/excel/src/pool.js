// pool.js: the add-in's connections to several cellbatchd (a fleet, docs/fleet.md "Excel"): one
// Connection (conn.js) per endpoint; each request goes to a connected one, and the requests of a
// connection that is lost move to another, so that a dead server costs no cell its value.
// Knows nothing of WebSocket itself: make() builds the connections (a test passes fakes).

// A first connect this slow, while another server answers, counts as lost: a host that drops
// packets keeps a browser's WebSocket "connecting" for minutes.
const CONNECT_GRACE_MS = 3000;
// Per request: enough tries for every endpoint to refuse it twice, never a loop between them.
const MOVES_PER_ENDPOINT = 2;

export class Pool {
	// make(url, {redial}): a Connection (or anything with its request, takePending, ensure,
	// close, onState, state, detail, pending and url).
	constructor(make, { connectGraceMs = CONNECT_GRACE_MS } = {}) {
		this.make = make;
		this.connectGraceMs = connectGraceMs;
		this.conns = []; // in the order of the list: the serving origin's first
		this.rr = 0; // where the next tie is broken
		this.used = false; // a request was made: keep every endpoint dialled from now on
		this.listeners = new Set();
	}

	// fn() on any change of an endpoint's state or of the list. Returns a function removing it.
	onState(fn) {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	changed() {
		for (const fn of this.listeners) {
			try {
				fn();
			} catch (e) {
				console.error('cellbatch: state listener', e);
			}
		}
	}

	// The endpoints (ws:// URLs, each once) to dial from now on. A connection whose endpoint
	// left the list is closed, and what waited on it sent elsewhere.
	setEndpoints(urls) {
		const keep = new Map(this.conns.map((c) => [c.url, c]));
		const next = [...new Set(urls)].map((url) => keep.get(url) ?? this.add(url));
		const gone = this.conns.filter((c) => !next.includes(c));
		this.conns = next;
		for (const c of gone) {
			const moved = c.takePending();
			c.close();
			for (const p of moved) this.dispatch(p.tag);
		}
		if (this.used) for (const c of this.conns) if (c.state !== 'refused') c.ensure();
		this.changed();
	}

	add(url) {
		const c = this.make(url, { redial: () => this.used && this.conns.includes(c) });
		c.connectingSince = 0;
		c.onState((state) => {
			if (state === 'connecting') {
				c.connectingSince = Date.now();
				setTimeout(() => this.rebalance(), this.connectGraceMs + 1);
			}
			this.rebalance();
			this.changed();
		});
		return c;
	}

	// Endpoints that refused this page are asked again (once in use): an instance learns the
	// origins of its fleet's pages from Redis a few seconds after the page learnt of it.
	retryRefused() {
		if (this.used) for (const c of this.conns) if (c.state === 'refused') c.ensure();
	}

	// Sends map on one of the connections; resolves once with its reply (or a local error,
	// conn.js's: TIMEOUT, UNREACHABLE, ORIGIN_REFUSED when no endpoint lets this page in).
	request(map, timeoutMs) {
		if (!this.used) {
			this.used = true;
			// the first recalculation dials every endpoint, so that it can spread over them
			for (const c of this.conns) if (c.state !== 'refused') c.ensure();
		}
		return new Promise((resolve) => {
			const e = { map, resolve, deadline: Date.now() + timeoutMs, lost: false, conn: null, moves: 0, done: false };
			this.dispatch(e);
		});
	}

	// Connected endpoints first, the fewest requests waiting, ties in turn; with none connected,
	// those not known to refuse this page (they wait for their connection), else any.
	pick(except) {
		const others = this.conns.filter((c) => c !== except);
		const open = others.filter((c) => c.state !== 'refused');
		const live = open.filter((c) => c.state === 'connected');
		const from = live.length > 0 ? live : open.length > 0 ? open : others.length > 0 ? others : this.conns;
		let best = null;
		for (let k = 0; k < from.length; k++) {
			const c = from[(this.rr + k) % from.length];
			if (best === null || c.pending.size < best.pending.size) best = c;
		}
		this.rr = (this.rr + 1) % Math.max(1, from.length);
		return best;
	}

	dispatch(e, except = null) {
		const c = this.pick(except);
		e.conn = c;
		c.request(e.map, { deadline: e.deadline, lost: e.lost, tag: e }).then((reply) => this.answered(e, c, reply));
	}

	// A connection that could not deliver before the deadline (it refused this page, or could
	// not be opened) hands the request on while another endpoint might take it.
	answered(e, c, reply) {
		if (e.done || e.conn !== c) return; // moved: another connection answers it
		const code = reply?.ok === false ? reply.error?.code : null;
		const elsewhere = this.conns.some((o) => o !== c && o.state !== 'refused');
		if ((code === 'ORIGIN_REFUSED' || code === 'UNREACHABLE') && elsewhere && Date.now() < e.deadline &&
		    ++e.moves <= MOVES_PER_ENDPOINT * this.conns.length) {
			e.lost = true;
			this.dispatch(e, c);
			return;
		}
		e.done = true;
		e.resolve(reply);
	}

	// While some endpoint is connected, requests waiting on one that is not (lost, refused, or
	// slow to make its first connection) go to the connected ones, with their ids anew.
	rebalance() {
		if (!this.conns.some((c) => c.state === 'connected')) return;
		const now = Date.now();
		for (const c of this.conns) {
			if (c.state === 'connected' || c.pending.size === 0) continue;
			if (c.state === 'connecting' && now - c.connectingSince < this.connectGraceMs) continue;
			for (const p of c.takePending()) {
				p.tag.lost = p.tag.lost || p.lost;
				this.dispatch(p.tag);
			}
		}
	}

	get pending() {
		return this.conns.reduce((n, c) => n + c.pending.size, 0);
	}

	endpoints() {
		return this.conns.map((c) => ({ url: c.url, state: c.state, detail: c.detail, pending: c.pending.size }));
	}

	// One state for them all, as one connection's (conn.js): connected when any is.
	state() {
		const states = this.conns.map((c) => c.state);
		const n = states.length;
		const connected = states.filter((s) => s === 'connected').length;
		const pending = this.pending;
		if (n === 1) return { state: states[0], detail: this.conns[0].detail, pending };
		const detail = `${connected} of ${n} servers connected`;
		for (const s of ['connected', 'reconnecting', 'connecting', 'refused'])
			if (states.includes(s)) return { state: s, detail, pending };
		return { state: 'idle', detail: '', pending };
	}
}
