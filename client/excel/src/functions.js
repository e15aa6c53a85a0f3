// functions.js: the Excel custom functions CELLBATCH.GEOCODE, REVERSE and GEOCODE_RANGE, with the
// Calc add-in's semantics, over WebSockets to the cellbatchd that served this script and the
// other servers of its fleet (/fleet.json) or of the user's list (pool.js).
import { Connection, localError } from './conn.js';
import { endpointOf, parseServers } from './endpoints.js';
import { Pool } from './pool.js';

const FIELDS = ['lat', 'lon', 'formatted', 'confidence'];
const MAX_MULTI = 10000; // calls in one multi message (PROTOCOL.md)
const TOKEN_KEY = 'cellbatch.token';
const SERVERS_KEY = 'cellbatch.servers';
const TIMEOUT_MS = 60000; // a request's whole life, lost connections and moves included
const FLEET_EVERY_MS = 30000; // instances join and leave a fleet; each reports every 5 s
const FLEET_FETCH_MS = 5000;

// Where this script came from: its server's endpoint is beside it, and /fleet.json names the rest.
const scriptUrl = (typeof document !== 'undefined' && document.currentScript?.src) || location.href;
const pageProtocol = new URL(scriptUrl).protocol;
// the endpoint beside the script: .../excel/functions.js -> ws(s)://.../cellbatch (under the same
// prefix when a proxy serves the add-in under one: --public-url)
const own = endpointOf(new URL('..', scriptUrl).href, pageProtocol);

let token = '';
const pool = new Pool((url, { redial }) => new Connection(url, { timeoutMs: TIMEOUT_MS, getToken: () => token, redial }));
// where each endpoint came from: the serving origin's, the fleet's, or the user's list
const lists = { fleet: [], user: [], userText: '', skipped: [] };
const inflight = new Map(); // "fn\0args" -> Promise of the reply: one call for cells alike
const status = { needsToken: false, listeners: new Set() };
pool.setEndpoints([own]);

// The shared runtime's storage when Office gives one (the task pane sees it too), else the page's.
function storage() {
	if (typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage) return OfficeRuntime.storage;
	return {
		getItem: async (k) => localStorage.getItem(k),
		setItem: async (k, v) => localStorage.setItem(k, v),
	};
}

const tokenLoaded = storage().getItem(TOKEN_KEY).then((t) => { token = t || ''; }, () => {});

function applyEndpoints() {
	pool.setEndpoints([own, ...lists.fleet, ...lists.user]);
}

function setUserServers(text) {
	const { endpoints, skipped } = parseServers(text, pageProtocol);
	lists.userText = text;
	lists.user = endpoints;
	lists.skipped = skipped;
	applyEndpoints();
}

// The servers the user typed (the task pane may have changed them in another runtime), and the
// fleet's as its server lists them; a failed fetch (an older server: 404) keeps what we have.
async function refresh() {
	pool.retryRefused();
	try {
		const text = (await storage().getItem(SERVERS_KEY)) || '';
		if (text !== lists.userText) setUserServers(text);
	} catch (e) {
		console.warn(`cellbatch: the list of servers cannot be read: ${e.message}`);
	}
	// a server that accepts and never answers must not hold the first recalculation for long
	const abort = new AbortController();
	const timer = setTimeout(() => abort.abort(), FLEET_FETCH_MS);
	try {
		const r = await fetch(new URL('../fleet.json', scriptUrl), { cache: 'no-store', signal: abort.signal });
		const j = r.ok ? await r.json() : null;
		if (!Array.isArray(j?.servers)) return;
		lists.fleet = j.servers.map((u) => endpointOf(u, pageProtocol)).filter((e) => e !== null);
		applyEndpoints();
	} catch (e) {
		console.warn(`cellbatch: no list of the fleet's servers: ${e.message}`);
	} finally {
		clearTimeout(timer);
	}
}

// The first recalculation waits for the first refresh: the fleet is known before it is spread.
const loaded = Promise.all([tokenLoaded, refresh()]);
setInterval(refresh, FLEET_EVERY_MS);

function changed() {
	for (const fn of status.listeners) fn();
}

// An Excel error value: #N/A for NOT_FOUND and every failure that is not the input's fault,
// #VALUE! for BAD_REQUEST (with the server's reason).
function excelError(err) {
	const E = CustomFunctions.ErrorCode;
	if (err.code === 'BAD_REQUEST') return new CustomFunctions.Error(E.invalidValue, err.message);
	return new CustomFunctions.Error(E.notAvailable, err.code);
}

function badInput(message) {
	return new CustomFunctions.Error(CustomFunctions.ErrorCode.invalidValue, message);
}

async function call(fn, args) {
	await loaded;
	const key = `${fn}\0${JSON.stringify(args)}`;
	let p = inflight.get(key);
	if (p === undefined) {
		p = pool.request({ v: 1, op: 'call', fn, args }, TIMEOUT_MS).finally(() => inflight.delete(key));
		inflight.set(key, p);
	}
	return noteAuth(await p);
}

function noteAuth(reply) {
	const unauthorized = reply?.error?.code === 'UNAUTHORIZED';
	if (unauthorized !== status.needsToken && (unauthorized || reply.ok)) {
		status.needsToken = unauthorized;
		changed();
	}
	return reply;
}

// null for the default shape, else one of FIELDS; anything else is the user's mistake.
function parseField(field) {
	if (field === null || field === undefined || field === '') return null;
	const f = String(field).trim().toLowerCase();
	if (!FIELDS.includes(f)) throw badInput('field must be lat, lon, formatted or confidence');
	return f;
}

// A cell's value as address text: 10115 -> "10115"; an empty cell -> "".
function cellText(v) {
	if (v === null || v === undefined) return '';
	return String(v).trim();
}

function pick(result, field, fallback) {
	switch (field ?? fallback) {
	case 'lat': return result.lat;
	case 'lon': return result.lon;
	case 'formatted': return result.formatted ?? '';
	case 'confidence':
		if (typeof result.confidence !== 'number')
			return new CustomFunctions.Error(CustomFunctions.ErrorCode.notAvailable, 'NO_CONFIDENCE');
		return result.confidence;
	default: return `${result.lat}, ${result.lon}`;
	}
}

function valueOf(reply, field, fallback) {
	if (!reply.ok) return excelError(reply.error);
	return pick(reply.result, field, fallback);
}

function settle(value) {
	if (value instanceof CustomFunctions.Error) throw value;
	return value;
}

/**
 * Location of an address, from cellbatchd: "lat, lon" as text, or the one field asked for.
 * Cells across every workbook meet in the server's batch window.
 * @customfunction GEOCODE
 * @param {any} address The address (an empty cell gives an empty cell)
 * @param {string} [field] "lat", "lon", "formatted" or "confidence"; omitted: "lat, lon" as text
 * @returns {Promise<any>} The location, or #N/A (NOT_FOUND, ...) and #VALUE! for a bad address
 */
export async function geocode(address, field) {
	const f = parseField(field);
	const text = cellText(address);
	if (text === '') return '';
	return settle(valueOf(await call('geocode', [text]), f, null));
}

/**
 * Formatted address at a location, from cellbatchd, or the one field asked for.
 * @customfunction REVERSE
 * @param {number} lat Latitude in degrees
 * @param {number} lon Longitude in degrees
 * @param {string} [field] "formatted" (omitted), "lat", "lon" or "confidence"
 * @returns {Promise<any>} The address, or #N/A (NOT_FOUND, ...) and #VALUE! for bad coordinates
 */
export async function reverse(lat, lon, field) {
	const f = parseField(field);
	const la = Number(lat), lo = Number(lon);
	if (lat === '' || lon === '' || !Number.isFinite(la) || !Number.isFinite(lo))
		throw badInput('lat and lon must be numbers');
	return settle(valueOf(await call('reverse', [la, lo]), f, 'formatted'));
}

// One multi message per MAX_MULTI texts; resolves with one reply map per text.
async function multi(texts) {
	await loaded;
	const out = [];
	for (let i = 0; i < texts.length; i += MAX_MULTI) {
		const part = texts.slice(i, i + MAX_MULTI);
		const calls = part.map((t) => ({ fn: 'geocode', args: [t] }));
		const reply = noteAuth(await pool.request({ v: 1, op: 'multi', calls }, TIMEOUT_MS));
		if (!reply.ok) return texts.map(() => reply);
		if (!Array.isArray(reply.results) || reply.results.length !== part.length)
			return texts.map(() => localError('INTERNAL', 'a multi reply of the wrong length'));
		out.push(...reply.results);
	}
	return out;
}

/**
 * Locations of a range of addresses, sent to cellbatchd as one message; spills one row per
 * address (cells of a row are joined by ", "): lat and lon columns, or the one field asked for.
 * @customfunction GEOCODE_RANGE
 * @param {any[][]} range The addresses
 * @param {string} [field] "lat", "lon", "formatted" or "confidence"; omitted: lat and lon columns
 * @returns {Promise<any[][]>} One row per address
 */
export async function geocodeRange(range, field) {
	const f = parseField(field);
	const texts = range.map((row) => row.map(cellText).filter((t) => t !== '').join(', '));
	const asked = texts.filter((t) => t !== '');
	const replies = asked.length > 0 ? await multi(asked) : [];
	const width = f === null ? 2 : 1;
	let next = 0;
	return texts.map((t) => {
		if (t === '') return Array(width).fill('');
		const r = replies[next++];
		if (f !== null) return [valueOf(r, f, null)];
		if (!r.ok) return [excelError(r.error), ''];
		return [r.result.lat, r.result.lon];
	});
}

// For the task pane (same runtime): the connections' state, the token and the list of servers.
// endpoint and state() are what they were with one server (state() the best of them all);
// endpoints() has each.
export const cellbatch = {
	endpoint: own,
	ready: loaded, // the stored list of servers and the fleet's first list are in
	state: () => ({ ...pool.state(), needsToken: status.needsToken, endpoints: cellbatch.endpoints() }),
	endpoints: () => pool.endpoints().map((e) => ({
		...e, source: e.url === own ? 'this server' : lists.fleet.includes(e.url) ? 'fleet' : 'yours',
	})),
	servers: () => ({ text: lists.userText, skipped: [...lists.skipped] }),
	onChange(fn) {
		status.listeners.add(fn);
		const off = pool.onState(() => fn());
		return () => { status.listeners.delete(fn); off(); };
	},
	async setToken(t) {
		token = String(t ?? '').trim();
		await storage().setItem(TOKEN_KEY, token);
		status.needsToken = false;
		changed();
	},
	// text: URLs separated by commas, as CELLBATCH_URL (ws://, wss://, or a server's http(s)://
	// --public-url); kept in the runtime's storage as the token is.
	async setServers(text) {
		const t = String(text ?? '').trim();
		await storage().setItem(SERVERS_KEY, t);
		setUserServers(t);
		changed();
	},
};

globalThis.cellbatch = cellbatch;
// outside Excel (the task pane opened in a browser) there is nothing to register with
if (typeof CustomFunctions !== 'undefined') {
	CustomFunctions.associate('GEOCODE', geocode);
	CustomFunctions.associate('REVERSE', reverse);
	CustomFunctions.associate('GEOCODE_RANGE', geocodeRange);
}
