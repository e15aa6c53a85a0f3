/* excel.h: the Excel add-in (client/excel, built by npm) served at /excel/ on the --http listener,
 * its manifest's URLs filled in with the address clients reach the server at. */
#ifndef CB_EXCEL_H
#define CB_EXCEL_H

#include <stdbool.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

/* The path the add-in is served under (a contract: issue 19, README). */
#define EXCEL_PATH "/excel"

/*
 * True when url can be --public-url: http:// or https://, a host, an optional
 * port and path, no query, fragment, whitespace nor a character that would
 * need escaping in XML (it is written into manifest.xml as it is).
 */
bool excel_public_url_valid(const char *url);

/*
 * Adds a handler per file of the built add-in to srv: /excel/manifest.xml,
 * functions.js, functions.json, functions.html, taskpane.html and the rest of
 * its file list. The files are read now from the installed
 * share/cellbatch/excel beside the executable, else from the build tree; in
 * manifest.xml every "@BASE@" becomes base, the URL of /excel without a
 * trailing slash ("http://127.0.0.1:9100/excel"). Each handler owns a copy of
 * its bytes (nng frees it with the handler). When no built add-in is found
 * nothing is added and a warning is logged: /excel/ answers 404. 0, or an
 * nng error.
 */
int excel_add_routes(nng_http_server *srv, const char *base);

#endif
