// cellbatch_ws.mjs: a cellbatch client over WebSocket, written from proto/PROTOCOL.md ("Browsers:
// WebSocket") alone, as a browser add-in would be; Node's `ws` stands in for the browser's WebSocket.
import WebSocket from 'ws';
import { encode, decode } from '@msgpack/msgpack';

// The SP request id: 4 bytes, big-endian, high bit set (PROTOCOL.md). 31 bits of counter.
const ID_BIT = 0x80000000;

export class CellbatchSocket {
	// Resolves once the connection is open; `origin` is the Origin header a browser page would
	// send (undefined: none, as a program that is not a browser); `ca` the PEM text of the CAs a
	// wss:// server's certificate must chain to (undefined: Node's own).
	static open(url, { origin, ca } = {}) {
		return new Promise((resolve, reject) => {
			const opts = { ...(origin ? { origin } : {}), ...(ca ? { ca } : {}) };
			const ws = new WebSocket(url, 'rep.sp.nanomsg.org', opts);
			ws.binaryType = 'nodebuffer';
			ws.once('open', () => resolve(new CellbatchSocket(ws)));
			ws.once('error', reject);
		});
	}

	constructor(ws) {
		this.ws = ws;
		this.next = 1;
		this.waiting = new Map(); // request id -> {resolve, reject}
		this.received = 0; // messages of any kind, matched or not
		this.unmatched = []; // request ids of replies nobody waited for
		this.closed = new Promise((resolve) => {
			ws.on('close', (code) => {
				for (const w of this.waiting.values())
					w.reject(new Error(`connection closed (${code}) before the reply`));
				this.waiting.clear();
				resolve(code);
			});
		});
		ws.on('error', () => {}); // 'close' follows and settles everything
		ws.on('message', (data) => this.onMessage(data));
	}

	// A reply to no request waiting means the ids got mixed up: nothing on this connection can be
	// trusted, so it is dropped and every request still waiting fails.
	onMessage(data) {
		this.received++;
		const id = data.length >= 4 ? data.readUInt32BE(0) : null;
		const w = this.waiting.get(id);
		if (w === undefined) {
			this.unmatched.push(id);
			this.ws.terminate();
			return;
		}
		this.waiting.delete(id);
		w.resolve(decode(data.subarray(4)));
	}

	// Sends one request (a protocol v1 map) and resolves with its reply map. `frameId` forces the
	// 4-byte prefix (tests of the framing); by default each request gets the next free id.
	request(msg, frameId) {
		const id = frameId ?? (ID_BIT | this.next);
		this.next = this.next === 0x7fffffff ? 1 : this.next + 1;
		const body = encode(msg);
		const frame = Buffer.alloc(4 + body.length);
		frame.writeUInt32BE(id >>> 0, 0);
		frame.set(body, 4);
		return new Promise((resolve, reject) => {
			this.waiting.set(id >>> 0, { resolve, reject });
			this.ws.send(frame);
		});
	}

	// Sends bytes as they are (a malformed frame); no reply is waited for.
	sendRaw(bytes) {
		this.ws.send(Buffer.from(bytes));
	}

	call(fn, args, extra = {}) {
		return this.request({ v: 1, ...extra, op: 'call', fn, args });
	}

	close() {
		this.ws.close();
		return this.closed;
	}
}
