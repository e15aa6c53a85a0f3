// standin.js: Excel's custom-functions runtime as the add-in sees it (CustomFunctions.associate,
// Error, ErrorCode) and a recalculation driver; loaded by sheet.html, or before a page's own scripts.
'use strict';
// The runtime's registry and error type, as Office.js defines them (ErrorCode values are the
// strings Excel shows).
window.CustomFunctions = {
	registry: new Map(),
	associate(id, fn) {
		if (this.registry.has(id)) throw new Error(`${id} associated twice`);
		this.registry.set(id, fn);
	},
	ErrorCode: {
		invalidValue: '#VALUE!', notAvailable: '#N/A', divisionByZero: '#DIV/0!',
		invalidNumber: '#NUM!', nullReference: '#NULL!', invalidName: '#NAME?', invalidReference: '#REF!',
	},
	Error: class CustomFunctionsError {
		constructor(code, message) {
			this.code = code;
			if (message !== undefined) this.message = message;
		}
	},
};

// What a cell shows for a function's outcome: a value, or {error, message}. A matrix is shown
// cell by cell. Anything else thrown is #VALUE!, as Excel does.
function shown(v) {
	if (v instanceof CustomFunctions.Error) return { error: v.code, message: v.message };
	if (Array.isArray(v)) return v.map(shown);
	return v;
}

// A recalculation: every cell's function is invoked, in one go, before any of them can settle;
// then the values as they settle. cells: [[id, ...args]]. Resolves with {values, invokedBefore,
// ms}: invokedBefore is how many cells had been invoked when the first one settled.
window.recalc = async function (cells) {
	let invoked = 0, invokedBefore = null;
	const t0 = performance.now();
	window.settled = 0;
	const promises = cells.map(([id, ...args]) => {
		const fn = CustomFunctions.registry.get(id);
		let p;
		try {
			p = Promise.resolve(fn(...args));
		} catch (e) {
			p = Promise.reject(e);
		}
		invoked++;
		return p.then((v) => ({ value: shown(v) }),
			(e) => (e instanceof CustomFunctions.Error ? shown(e) : { error: '#VALUE!', message: String(e) }))
			.finally(() => {
				if (invokedBefore === null) invokedBefore = invoked;
				window.settled++;
			});
	});
	const values = await Promise.all(promises);
	return { values, invokedBefore, ms: performance.now() - t0 };
};

// Starts a recalculation and keeps its promise (a test restarts the server meanwhile).
window.startRecalc = function (cells) {
	window.running = window.recalc(cells);
	return cells.length;
};
