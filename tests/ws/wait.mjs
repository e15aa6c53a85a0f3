// wait.mjs: what the Node suites (tests/ws, tests/excel) share to wait on observable state, pick a
// loopback port and stop a process by pid; no npm package, so any suite can import it.
import { createServer } from 'node:net';

export const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond (async) every 10 ms until it returns a truthy value; fails after ms.
export async function waitFor(what, cond, ms = 10000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await cond().catch(() => undefined);
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await pause(10);
	}
}

// A port free on 127.0.0.1 right now (the OS's pick, released before it is returned).
export function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
		s.on('error', reject);
	});
}

// Sends signal to p (a child process) and resolves once it has exited; SIGKILL after 5 s.
export function stopProcess(p, signal = 'SIGTERM') {
	if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
	const gone = new Promise((r) => p.once('exit', r));
	p.kill(signal);
	const t = setTimeout(() => p.kill('SIGKILL'), 5000);
	return gone.finally(() => clearTimeout(t));
}
