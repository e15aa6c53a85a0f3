// endpoints.js: which WebSocket endpoints a page can dial, from a list in CELLBATCH_URL's syntax
// (URLs separated by commas) or from /fleet.json (each instance's --public-url).

// The WebSocket endpoint for one entry, or null when a page cannot open it: ws:// and wss:// as
// they are; http(s)://BASE (a --public-url: the add-in at BASE/excel/, the endpoint at
// BASE/cellbatch) as ws(s)://BASE/cellbatch; tcp://, ipc://, tls+tcp:// and bare HOST:PORT (nng's
// transports, which a browser does not speak) null; ws:// from an https page null (mixed
// content: the browser refuses it).
export function endpointOf(text, pageProtocol = 'http:') {
	const t = String(text ?? '').trim();
	let u;
	try {
		u = new URL(t);
	} catch {
		return null;
	}
	if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) return null; // "host:port" parses as a scheme
	if (u.protocol === 'http:' || u.protocol === 'https:') {
		const wss = u.protocol === 'https:';
		u = new URL('cellbatch', u.href.replace(/[?#].*$/, '').replace(/\/?$/, '/'));
		u.protocol = wss ? 'wss:' : 'ws:';
	} else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
		return null;
	}
	u.search = '';
	u.hash = '';
	if (pageProtocol === 'https:' && u.protocol === 'ws:') return null;
	return u.href;
}

// A list as the user types it: {endpoints: the ws(s):// URLs, each once; skipped: the entries
// that cannot be dialled from a page, as typed}.
export function parseServers(text, pageProtocol = 'http:') {
	const endpoints = [];
	const skipped = [];
	for (const entry of String(text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
		const e = endpointOf(entry, pageProtocol);
		if (e === null) skipped.push(entry);
		else if (!endpoints.includes(e)) endpoints.push(e);
	}
	return { endpoints, skipped };
}
