// taskpane.js: the task pane's view of the shared runtime: each server's connection state, the
// token, the user's list of servers, and the numbers of the server that served the pane.
(function () {
	'use strict';
	const cb = window.cellbatch;
	const $ = (id) => document.getElementById(id);
	const LABELS = {
		idle: 'idle: no call waiting',
		connecting: 'connecting…',
		connected: 'connected',
		reconnecting: 'reconnecting (calls wait and are sent again)',
		refused: 'refused by the server',
	};

	function show() {
		const s = cb.state();
		const el = $('state');
		el.dataset.state = s.state;
		const waiting = s.state === 'idle' ? '' : `; ${s.pending} calls waiting`;
		el.textContent = `${LABELS[s.state] || s.state}${s.detail ? `: ${s.detail}` : ''}${waiting}`;
		$('token-form').hidden = !s.needsToken;
		showEndpoints();
	}

	// One line per server: where it came from, its state, and the calls waiting on it.
	function showEndpoints() {
		const items = cb.endpoints().map((e) => {
			const li = document.createElement('li');
			li.dataset.state = e.state;
			li.dataset.url = e.url;
			const waiting = e.pending > 0 ? `, ${e.pending} waiting` : '';
			li.textContent = `${e.url} (${e.source}): ${LABELS[e.state] || e.state}${e.detail ? `: ${e.detail}` : ''}${waiting}`;
			return li;
		});
		for (const entry of cb.servers().skipped) {
			const li = document.createElement('li');
			li.dataset.state = 'skipped';
			li.textContent = `${entry}: skipped (a page can open only ws://, wss:// or a server's http(s):// address; ws:// not from an https page)`;
			items.push(li);
		}
		$('endpoints').replaceChildren(...items);
	}

	const rows = [
		['calls in flight', (j) => j.calls_in_flight],
		['calls answered', (j) => j.calls_answered],
		['batches sent upstream', (j) => j.batches_sent],
		['mean batch size', (j) => j.batch_size_mean],
		['cache hits', (j) => j.cache?.hits],
		['credits saved', (j) => j.credits?.saved],
	];

	// The dashboard's own source, /stats.json beside /excel/; a missing number shows as "–".
	async function stats() {
		try {
			const j = await (await fetch('../stats.json', { cache: 'no-store' })).json();
			const dl = $('stats');
			dl.replaceChildren();
			for (const [label, get] of rows) {
				const dt = document.createElement('dt');
				const dd = document.createElement('dd');
				dt.textContent = label;
				const v = get(j);
				dd.textContent = typeof v === 'number' ? v.toLocaleString() : '–';
				dl.append(dt, dd);
			}
		} catch (e) {
			$('stats').textContent = `no numbers: ${e.message}`;
		}
	}

	$('endpoint').textContent = cb.endpoint;
	$('token-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		await cb.setToken($('token').value);
		$('token').value = '';
		$('token-saved').textContent = 'saved; recalculate (Ctrl+Alt+F9)';
	});
	cb.ready.then(() => { $('servers').value = cb.servers().text; });
	$('servers-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		await cb.setServers($('servers').value);
		$('servers-saved').textContent = 'saved';
		show();
	});
	cb.onChange(show);
	show();
	stats();
	setInterval(stats, 2000);
	setInterval(show, 1000);
})();
