/* excel.c: serves the built Excel add-in at /excel/ — files read once at start, the manifest's
 * URLs filled in; answered on nng's threads (static bytes, like the dashboard). */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "excel.h"
#include "log.h"

#define MAX_FILE  (8u << 20) /* the bundle is ~60 KB; anything this big is not ours */
#define BASE_MARK "@BASE@"

/* What the build (client/excel/build.mjs) writes; nothing else in the directory is served. */
static const struct {
	const char *name, *ctype;
} files[] = {
    {"manifest.xml", "text/xml; charset=utf-8"},
    {"functions.js", "text/javascript; charset=utf-8"},
    {"functions.json", "application/json"},
    {"functions.html", "text/html; charset=utf-8"},
    {"taskpane.html", "text/html; charset=utf-8"},
    {"taskpane.js", "text/javascript; charset=utf-8"},
    {"icon-32.png", "image/png"},
    {"icon-80.png", "image/png"},
};

/* One file's response, owned by its handler. */
typedef struct body {
	const char *ctype; /* static */
	size_t len;
	char data[];
} body;

bool excel_public_url_valid(const char *url)
{
	const char *p = url;

	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else
		return false;
	if (*p == '\0' || *p == '/' || strlen(url) > 400)
		return false;
	for (; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p) || strchr("<>&\"'?#\\", *p) != NULL)
			return false;
	return true;
}

/* dir/name into a malloc'd body (with extra bytes of room), or NULL when unreadable. */
static body *read_file(const char *dir, const char *name, size_t extra)
{
	char path[PATH_MAX];
	FILE *f;
	body *b = NULL;
	long n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    (f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || (size_t)n > MAX_FILE ||
	    fseek(f, 0, SEEK_SET) != 0 || (b = malloc(sizeof(*b) + (size_t)n + extra + 1)) == NULL)
		goto out;
	b->len = fread(b->data, 1, (size_t)n, f);
	b->data[b->len] = '\0';
	if (b->len != (size_t)n) {
		free(b);
		b = NULL;
	}
out:
	fclose(f);
	return b;
}

/* The manifest with every BASE_MARK replaced by base (a new body; frees b), or NULL. */
static body *fill_manifest(body *b, const char *base)
{
	size_t count = 0, blen = strlen(base), mlen = strlen(BASE_MARK);
	body *o = NULL;
	char *w;

	for (const char *p = b->data; (p = strstr(p, BASE_MARK)) != NULL; p += mlen)
		count++;
	if ((o = malloc(sizeof(*o) + b->len + count * blen + 1)) == NULL)
		goto out;
	w = o->data;
	for (const char *p = b->data, *m; *p != '\0'; p = m + mlen) {
		if ((m = strstr(p, BASE_MARK)) == NULL) {
			w = stpcpy(w, p);
			break;
		}
		memcpy(w, p, (size_t)(m - p));
		w = stpcpy(w + (m - p), base);
	}
	o->len = (size_t)(w - o->data);
out:
	free(b);
	return o;
}

/* Whether dir (prefix + suffix, into buf) holds a built add-in. */
static bool has_addin(char *buf, size_t n, const char *prefix, const char *suffix)
{
	char probe[PATH_MAX];

	if (snprintf(buf, n, "%s%s", prefix, suffix) >= (int)n ||
	    snprintf(probe, sizeof(probe), "%s/manifest.xml", buf) >= (int)sizeof(probe))
		return false;
	return access(probe, R_OK) == 0;
}

/* The installed add-in beside the executable (relocatable), else the build tree's; NULL: none. */
static const char *find_dir(char *buf, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (len > 0) {
		exe[len] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (has_addin(buf, n, exe, "/../share/cellbatch/excel"))
			return buf;
	}
#ifdef CB_EXCEL_BUILD_DIR
	if (has_addin(buf, n, CB_EXCEL_BUILD_DIR, ""))
		return buf;
#endif
	return NULL;
}

/* nng's thread: the file's bytes; Excel must not keep an old add-in once the server has a new one.
 */
static void handle(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	const body *b = nng_http_handler_get_data(hd);
	nng_http_res *res = NULL;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", b->ctype)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control", "no-cache")) != 0 ||
	    (rv = nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff")) != 0 ||
	    (rv = nng_http_res_copy_data(res, b->data, b->len)) != 0) {
		if (res != NULL)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Adds the handler for b at path; b is the handler's from here on, whatever happens. */
static int add_handler(nng_http_server *srv, const char *path, body *b)
{
	nng_http_handler *hd;
	int rv;

	if ((rv = nng_http_handler_alloc(&hd, path, handle)) != 0) {
		free(b);
		return rv;
	}
	if ((rv = nng_http_handler_set_data(hd, b, free)) != 0) {
		free(b);
		nng_http_handler_free(hd);
		return rv;
	}
	if ((rv = nng_http_server_add_handler(srv, hd)) != 0)
		nng_http_handler_free(hd); /* frees b through its destructor */
	return rv;
}

int excel_add_routes(nng_http_server *srv, const char *base)
{
	char dir[PATH_MAX], path[128];
	int rv = 0;
	body *b;

	if (find_dir(dir, sizeof(dir)) == NULL) {
		log_warn(
		    "no built Excel add-in (share/cellbatch/excel, or the build tree's; it needs "
		    "node and npm at build time): %s/ answers 404",
		    EXCEL_PATH);
		return 0;
	}
	for (size_t i = 0; rv == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
		if ((b = read_file(dir, files[i].name, 0)) == NULL) {
			log_warn("Excel add-in: cannot read %s/%s: not served", dir, files[i].name);
			continue;
		}
		if (i == 0 && (b = fill_manifest(b, base)) == NULL)
			return NNG_ENOMEM;
		b->ctype = files[i].ctype;
		snprintf(path, sizeof(path), "%s/%s", EXCEL_PATH, files[i].name); /* fits: ours */
		rv = add_handler(srv, path, b);
	}
	if (rv == 0)
		log_info("serving the Excel add-in from %s at %s/manifest.xml", dir, base);
	return rv;
}
