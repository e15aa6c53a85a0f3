/* geoapify_mock.c: a Geoapify-compatible batch geocoding server with fault knobs and call counters,
 * for tests and the demo. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#define MAX_ITEMS  1000
#define MAX_FAULTS 32
#define MAX_BODY   (8u << 20)

typedef enum fault_kind {
	F_STATUS,      /* answer with a status and Geoapify's error body */
	F_TRUNCATE,    /* a 200 whose JSON is cut in half */
	F_WRONG_COUNT, /* a result array one item short */
	F_CLOSE,       /* close the connection without an answer */
	F_STUCK,       /* the job this submit creates never finishes */
	F_SLOW,        /* answer normally after slow_ms */
	F_NUL_ITEM,    /* the first result's formatted carries a NUL ("\u0000") */
	F_BAD_ITEM,    /* the first result's formatted carries a byte that is not UTF-8 */
} fault_kind;

typedef enum fault_when { W_REQUEST, W_SUBMIT, W_POLL, W_RESULT } fault_when;

typedef struct fault {
	fault_kind kind;
	fault_when when;
	unsigned long n; /* the Nth of its kind since the last reset; 0: every one */
	int status;
	long retry_after; /* -1: no header */
	long slow_ms;
	char message[128];
} fault;

typedef struct job {
	char id[33];
	bool reverse;
	bool stuck;
	bool forgotten;    /* as after a restart of the upstream: polls get 404 */
	bool before_reset; /* made before the counters' last reset: not in items_never_polled */
	unsigned long polls;
	size_t nitems;
	double done_at_ms;
	json_t *input; /* the submitted array, until the worker has turned it into results */
	char *results; /* JSON array; NULL while the worker is still producing it */
	struct job *next;
} job;

typedef struct place {
	char *address;
	double lat, lon;
} place;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t results_ready; /* signalled, under mu, when a job's results are set */
	const char *api_key;          /* NULL: any non-empty key */
	long pending_ms, latency_ms;
	bool immediate;
	fault faults[MAX_FAULTS];
	int nfaults;
	/* counters since the last reset */
	unsigned long requests, submits, polls, results, items, faults_fired, jobs_made;
	unsigned long accepted;    /* submits that created a job, since the last reset */
	unsigned long window[256]; /* request times (ms), a ring: enough for any rate under test */
	unsigned long max_per_second;
	long min_interval_ms;    /* --min-interval: a request sooner after the last one gets 429 */
	long per_second;         /* --per-second: a request that makes more in 1 s gets 429 */
	double last_admitted_ms; /* when the last request was let through */
	long quota_items;        /* --quota: items billable in all; -1: no quota */
	unsigned long refused_429;
	json_t *submit_sizes;
	json_t *seen;                 /* every item submitted since the last reset, as a set */
	unsigned long items_repeated; /* items submitted that had been submitted before */
	job *jobs;
	place *places;
	size_t nplaces;
	uint64_t id_seed;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .results_ready = PTHREAD_COND_INITIALIZER,
       .pending_ms = 300,
       .quota_items = -1};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int parse_ms(const char *s, long *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		*out = (long)v;
	else if (strcmp(end, "s") == 0)
		*out = (long)(v * 1000);
	else
		return -1;
	return 0;
}

/*
 * KIND[,key=value...][@WHEN:N]. KIND: status=CODE, truncate, wrong-count,
 * close, stuck, slow=DUR, quota (429 "Quota exceeded"), nul-item, bad-item. WHEN: request,
 * submit, poll or result (default submit); N: 1-based, or * for every one.
 */
static int parse_fault(const char *spec, fault *f)
{
	char buf[256], *at, *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
	f->when = W_SUBMIT;
	f->n = 1;
	if ((at = strchr(buf, '@')) != NULL) {
		char *colon;
		*at++ = '\0';
		colon = strchr(at, ':');
		if (colon != NULL) {
			*colon++ = '\0';
			f->n = strcmp(colon, "*") == 0 ? 0 : strtoul(colon, NULL, 10);
		}
		if (strcmp(at, "request") == 0)
			f->when = W_REQUEST;
		else if (strcmp(at, "submit") == 0)
			f->when = W_SUBMIT;
		else if (strcmp(at, "poll") == 0)
			f->when = W_POLL;
		else if (strcmp(at, "result") == 0)
			f->when = W_RESULT;
		else
			return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "status=", 7) == 0) {
			f->kind = F_STATUS;
			f->status = atoi(tok + 7);
		} else if (strcmp(tok, "quota") == 0) {
			f->kind = F_STATUS;
			f->status = 429;
			snprintf(f->message, sizeof(f->message), "Quota exceeded");
		} else if (strncmp(tok, "retry-after=", 12) == 0) {
			f->retry_after = atol(tok + 12);
		} else if (strncmp(tok, "message=", 8) == 0) {
			snprintf(f->message, sizeof(f->message), "%s", tok + 8);
		} else if (strcmp(tok, "truncate") == 0) {
			f->kind = F_TRUNCATE;
		} else if (strcmp(tok, "wrong-count") == 0) {
			f->kind = F_WRONG_COUNT;
		} else if (strcmp(tok, "nul-item") == 0) {
			f->kind = F_NUL_ITEM;
		} else if (strcmp(tok, "bad-item") == 0) {
			f->kind = F_BAD_ITEM;
		} else if (strcmp(tok, "close") == 0) {
			f->kind = F_CLOSE;
		} else if (strcmp(tok, "stuck") == 0) {
			f->kind = F_STUCK;
		} else if (strncmp(tok, "slow=", 5) == 0) {
			f->kind = F_SLOW;
			if (parse_ms(tok + 5, &f->slow_ms) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Under M.mu: the fault for the event just counted, or NULL. */
static const fault *fault_for(fault_when when, unsigned long count)
{
	for (int i = 0; i < M.nfaults; i++) {
		const fault *f = &M.faults[i];
		if (f->when == when && (f->n == 0 || f->n == count)) {
			M.faults_fired++;
			return f;
		}
	}
	return NULL;
}

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static const char *default_message(int status)
{
	switch (status) {
	case 401:
		return "Invalid apiKey";
	case 404:
		return "Not found";
	case 429:
		return "Too many requests";
	default:
		return "Request failed, please try again later";
	}
}

/* ------------------------------------------------------------ the gazetteer */

static char *csv_field(char **p)
{
	char *s = *p, *out = s, *w = s;

	if (*s == '"') {
		s++;
		while (*s && !(*s == '"' && s[1] != '"')) {
			if (*s == '"')
				s++;
			*w++ = *s++;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s && *s != ',' && *s != '\n' && *s != '\r')
			*w++ = *s++;
	}
	if (*s == ',')
		s++;
	*p = s;
	*w = '\0';
	return out;
}

static int load_gazetteer(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2048];

	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) { /* header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line;
		char *addr = csv_field(&p);
		char *lat = csv_field(&p);
		char *lon = csv_field(&p);
		place *np = realloc(M.places, (M.nplaces + 1) * sizeof(*np));
		if (np == NULL || addr[0] == '\0')
			break;
		M.places = np;
		M.places[M.nplaces].address = strdup(addr);
		M.places[M.nplaces].lat = atof(lat);
		M.places[M.nplaces].lon = atof(lon);
		M.nplaces++;
	}
	fclose(f);
	return 0;
}

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Case-insensitive, whitespace-trimmed equality (ASCII folding is enough for the gazetteer). */
static bool same_address(const char *a, const char *b)
{
	while (isspace((unsigned char)*a))
		a++;
	while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
		a++;
		b++;
	}
	while (isspace((unsigned char)*a))
		a++;
	return *a == '\0' && *b == '\0';
}

static json_t *forward_item(const char *text)
{
	json_t *o = json_pack("{s:{s:s, s:{}}}", "query", "text", text, "parsed");
	double lat, lon, conf = 0.9;
	const char *formatted = NULL, *type = "building";
	char buf[1200];

	if (strcasestr(text, "nowhere") != NULL)
		return o; /* not found: the query only, as Geoapify does */
	for (size_t i = 0; i < M.nplaces; i++) {
		if (same_address(text, M.places[i].address)) {
			lat = M.places[i].lat;
			lon = M.places[i].lon;
			formatted = M.places[i].address;
			type = "amenity";
			conf = 1.0;
			break;
		}
	}
	if (formatted == NULL) {
		uint64_t h = fnv(text, strlen(text));
		lat = -60.0 + (double)(h % 130000) / 1000.0;
		lon = -180.0 + (double)((h >> 20) % 360000) / 1000.0;
		snprintf(buf, sizeof(buf), "%s (mock)", text);
		formatted = buf;
	}
	json_object_set_new(o, "lat", json_real(lat));
	json_object_set_new(o, "lon", json_real(lon));
	json_object_set_new(o, "formatted", json_string(formatted));
	json_object_set_new(o, "result_type", json_string(type));
	json_object_set_new(
	    o, "rank", json_pack("{s:f, s:s}", "confidence", conf, "match_type", "full_match"));
	json_object_set_new(o, "country_code", json_string("xx"));
	return o;
}

static json_t *reverse_item(double lat, double lon)
{
	json_t *o = json_pack("{s:{s:f, s:f}}", "query", "lat", lat, "lon", lon);
	char buf[128];
	const char *formatted = NULL;

	if (lat < -85.0)
		return o; /* nothing to find on the ice */
	for (size_t i = 0; i < M.nplaces; i++)
		if (fabs(M.places[i].lat - lat) < 1e-4 && fabs(M.places[i].lon - lon) < 1e-4)
			formatted = M.places[i].address;
	if (formatted == NULL) {
		snprintf(buf, sizeof(buf), "Mock Street, near %.4f %.4f", lat, lon);
		formatted = buf;
	}
	json_object_set_new(o, "lat", json_real(lat));
	json_object_set_new(o, "lon", json_real(lon));
	json_object_set_new(o, "formatted", json_string(formatted));
	json_object_set_new(o, "result_type", json_string("building"));
	json_object_set_new(o, "rank", json_pack("{s:f}", "confidence", 0.8));
	json_object_set_new(o, "distance", json_real(3.5));
	return o;
}

/* ------------------------------------------------------------ HTTP plumbing */

typedef struct conn {
	char *body;
	size_t len;
	bool too_big;
} conn;

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *body, size_t len,
                                 long retry_after)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rv;

	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after >= 0) {
		char v[32];
		snprintf(v, sizeof(v), "%ld", retry_after);
		MHD_add_response_header(r, "Retry-After", v);
	}
	rv = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rv;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	enum MHD_Result rv = send_text(c, status, s ? s : "null", s ? strlen(s) : 4, -1);
	free(s);
	json_decref(j);
	return rv;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *message,
                                  long retry_after)
{
	json_t *j = json_pack("{s:i, s:s, s:s}", "statusCode", status, "error", status_text(status),
	                      "message", message ? message : default_message(status));
	char *s = json_dumps(j, JSON_COMPACT);
	enum MHD_Result rv = send_text(c, status, s, strlen(s), retry_after);
	free(s);
	json_decref(j);
	return rv;
}

/* Applies a fault that replaces the answer; returns true when it did. */
static bool apply_fault(struct MHD_Connection *c, const fault *f, enum MHD_Result *rv)
{
	if (f == NULL)
		return false;
	switch (f->kind) {
	case F_STATUS:
		*rv = send_error(c, f->status, f->message[0] ? f->message : NULL, f->retry_after);
		return true;
	case F_CLOSE:
		*rv = MHD_NO;
		return true;
	case F_SLOW:
		sleep_ms(f->slow_ms);
		return false;
	default:
		return false;
	}
}

/* The results with the first item's formatted damaged: a NUL in it, or a byte 0xff. */
static enum MHD_Result send_damaged_item(struct MHD_Connection *c, const char *results,
                                         fault_kind kind)
{
	const char *at = strstr(results, "\"formatted\":\"");
	size_t len = strlen(results), cut;
	char *out;
	enum MHD_Result rv;

	if (at == NULL)
		return send_text(c, 200, results, len, -1);
	cut = (size_t)(at - results) + strlen("\"formatted\":\"");
	if ((out = malloc(len + 8)) == NULL)
		return MHD_NO;
	memcpy(out, results, cut);
	len = (size_t)snprintf(out + cut, 8, "%s", kind == F_NUL_ITEM ? "\\u0000" : "\xff");
	strcpy(out + cut + len, results + cut);
	rv = send_text(c, 200, out, strlen(out), -1);
	free(out);
	return rv;
}

/* Sends a job's results, honouring result faults; M.mu is not held. */
static enum MHD_Result send_results(struct MHD_Connection *c, const char *results, const fault *f)
{
	enum MHD_Result rv;

	if (f != NULL && f->kind == F_TRUNCATE)
		return send_text(c, 200, results, strlen(results) / 2, -1);
	if (f != NULL && f->kind == F_WRONG_COUNT) {
		json_t *arr = json_loads(results, 0, NULL);
		json_array_remove(arr, json_array_size(arr) - 1);
		return send_json(c, 200, arr);
	}
	if (f != NULL && (f->kind == F_NUL_ITEM || f->kind == F_BAD_ITEM))
		return send_damaged_item(c, results, f->kind);
	if (apply_fault(c, f, &rv))
		return rv;
	return send_text(c, 200, results, strlen(results), -1);
}

static bool key_ok(struct MHD_Connection *c)
{
	const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "apiKey");
	if (k == NULL)
		k = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
	if (k == NULL || k[0] == '\0')
		return false;
	return M.api_key == NULL || strcmp(k, M.api_key) == 0;
}

/*
 * Under M.mu: a request less than --min-interval after the last admitted one,
 * which a strict per-request limiter refuses with the words of the real
 * API's quota answer (a 429 "Quota exceeded" that is not about the quota).
 */
static bool too_soon(void)
{
	double now = now_ms();

	if (M.min_interval_ms <= 0)
		return false;
	if (M.last_admitted_ms > 0 && now - M.last_admitted_ms < (double)M.min_interval_ms)
		return true;
	M.last_admitted_ms = now;
	return false;
}

/* Counts a request; returns how many arrived in the last second, this one included. */
static unsigned long count_request(void)
{
	unsigned long now = (unsigned long)now_ms(), in_window = 0;
	size_t slot = M.requests % 256;

	M.requests++;
	M.window[slot] = now;
	for (size_t i = 0; i < 256 && i < M.requests; i++)
		if (now - M.window[i] < 1000)
			in_window++;
	if (in_window > M.max_per_second)
		M.max_per_second = in_window;
	return in_window;
}

/* A job's results, built from its input; the gazetteer is read-only once loaded, so no lock. */
static char *job_results(json_t *in, bool reverse)
{
	json_t *out = json_array();
	char *s;

	for (size_t i = 0; i < json_array_size(in); i++) {
		json_t *v = json_array_get(in, i);
		if (!reverse)
			json_array_append_new(out, forward_item(json_string_value(v)));
		else if (json_is_array(v))
			json_array_append_new(
			    out, reverse_item(json_number_value(json_array_get(v, 1)),
			                      json_number_value(json_array_get(v, 0))));
		else
			json_array_append_new(
			    out, reverse_item(json_number_value(json_object_get(v, "lat")),
			                      json_number_value(json_object_get(v, "lon"))));
	}
	s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return s;
}

static void job_set_results(job *jb)
{
	char *r = job_results(jb->input, jb->reverse);
	pthread_mutex_lock(&M.mu);
	jb->results = r;
	json_decref(jb->input);
	jb->input = NULL;
	pthread_cond_broadcast(&M.results_ready);
	pthread_mutex_unlock(&M.mu);
}

/* The real service answers a submit at once and geocodes while the job is pending; building 1,000
 * results before the 202 would add the mock's own CPU time to every submit the server makes. */
static void *job_worker(void *arg)
{
	job_set_results(arg);
	return NULL;
}

/* Whether an item has a shape the upstream accepts. */
static bool item_ok(json_t *v, bool reverse)
{
	if (!reverse)
		return json_is_string(v);
	return (json_is_array(v) && json_array_size(v) == 2) || json_is_object(v);
}

/* Under M.mu: items of a submit seen in an earlier one (a fleet must submit each once). */
static void count_repeats(json_t *in, bool reverse)
{
	for (size_t i = 0; i < json_array_size(in); i++) {
		json_t *v = json_array_get(in, i);
		char *k = reverse ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
		                  : strdup(json_string_value(v));
		size_t n = 0;

		if (k == NULL)
			continue;
		/* as a server's dedup key: case and runs of spaces do not make another address */
		for (size_t j = 0; !reverse && k[j] != '\0'; j++)
			if (!(isspace((unsigned char)k[j]) && (n == 0 || k[n - 1] == ' ')))
				k[n++] = isspace((unsigned char)k[j])
				             ? ' '
				             : (char)tolower((unsigned char)k[j]);
		if (!reverse) {
			while (n > 0 && k[n - 1] == ' ')
				n--;
			k[n] = '\0';
		}
		if (json_object_get(M.seen, k) != NULL)
			M.items_repeated++;
		else
			json_object_set_new(M.seen, k, json_true());
		free(k);
	}
}

static enum MHD_Result submit(struct MHD_Connection *c, bool reverse, const conn *cn)
{
	json_error_t jerr;
	json_t *in = json_loadb(cn->body ? cn->body : "", cn->len, 0, &jerr);
	const fault *f;
	job *jb;
	size_t n, i;
	char msg[160];
	pthread_t worker;
	pthread_attr_t attr;
	bool started = false;

	if (in == NULL)
		return send_error(c, 400, "Invalid JSON body", -1);
	if (!json_is_array(in) || json_array_size(in) < 1) {
		json_decref(in);
		return send_error(c, 400, "\"body\" must contain at least 1 items", -1);
	}
	if ((n = json_array_size(in)) > MAX_ITEMS) {
		json_decref(in);
		snprintf(msg, sizeof(msg), "\"body\" must contain less than or equal to %d items",
		         MAX_ITEMS);
		return send_error(c, 400, msg, -1);
	}
	for (i = 0; i < n; i++) {
		if (!item_ok(json_array_get(in, i), reverse)) {
			snprintf(msg, sizeof(msg), "\"[%zu]\" has an invalid value", i);
			json_decref(in);
			return send_error(c, 400, msg, -1);
		}
	}
	pthread_mutex_lock(&M.mu);
	if (M.quota_items >= 0 && M.items + n > (unsigned long)M.quota_items) {
		/* the day's credits are gone: nothing is billed, as with the real API */
		M.refused_429++;
		pthread_mutex_unlock(&M.mu);
		json_decref(in);
		return send_error(c, 429, "Quota exceeded", -1);
	}
	M.submits++;
	M.items += n;
	count_repeats(in, reverse);
	json_array_append_new(M.submit_sizes, json_integer((json_int_t)n));
	f = fault_for(W_SUBMIT, M.submits);
	if (f != NULL && f->kind == F_STATUS) {
		/* refused: no job exists, as with the real API */
		enum MHD_Result rv;
		pthread_mutex_unlock(&M.mu);
		json_decref(in);
		apply_fault(c, f, &rv);
		return rv;
	}
	/* accepted: a close or slow fault below loses the answer, not the job */
	M.accepted++;
	jb = calloc(1, sizeof(*jb));
	snprintf(jb->id, sizeof(jb->id), "%016llx%016llx", (unsigned long long)M.id_seed,
	         (unsigned long long)++M.jobs_made);
	jb->reverse = reverse;
	jb->stuck = f != NULL && f->kind == F_STUCK;
	jb->done_at_ms = now_ms() + (double)M.pending_ms;
	jb->nitems = json_array_size(in);
	jb->input = in;
	jb->next = M.jobs;
	M.jobs = jb;
	pthread_mutex_unlock(&M.mu);

	if (!M.immediate && pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&worker, &attr, job_worker, jb) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started)
		job_set_results(jb); /* immediate answers need them now; so does a failed thread */

	{
		enum MHD_Result rv;
		char url[256];
		if (apply_fault(c, f, &rv))
			return rv;
		if (M.immediate && !jb->stuck) {
			const fault *rf;
			pthread_mutex_lock(&M.mu);
			rf = fault_for(W_RESULT, ++M.results);
			pthread_mutex_unlock(&M.mu);
			return send_results(c, jb->results,
			                    rf); /* set above, never changed after */
		}
		snprintf(url, sizeof(url), "http://mock/v1/batch/geocode/%s?id=%s",
		         reverse ? "reverse" : "search", jb->id);
		return send_json(
		    c, 202,
		    json_pack("{s:s, s:s, s:s}", "id", jb->id, "status", "pending", "url", url));
	}
}

static enum MHD_Result poll(struct MHD_Connection *c, bool reverse)
{
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
	const fault *f, *rf = NULL;
	enum MHD_Result rv;
	char *results = NULL;
	bool pending = false, found = false;

	if (id == NULL)
		return send_error(c, 400, "\"id\" is required", -1);
	pthread_mutex_lock(&M.mu);
	M.polls++;
	f = fault_for(W_POLL, M.polls);
	for (job *j = M.jobs; j != NULL; j = j->next) {
		if (strcmp(j->id, id) == 0 && j->reverse == reverse && !j->forgotten) {
			found = true;
			j->polls++;
			pending = j->stuck || now_ms() < j->done_at_ms;
			if (!pending) {
				/* done by the clock; the worker may still be writing (pending 0) */
				while (j->results == NULL)
					pthread_cond_wait(&M.results_ready, &M.mu);
				results = strdup(j->results);
				rf = fault_for(W_RESULT, ++M.results);
			}
			break;
		}
	}
	pthread_mutex_unlock(&M.mu);
	if (apply_fault(c, f, &rv)) {
		free(results);
		return rv;
	}
	if (!found)
		return send_error(c, 404, "Job not found", -1);
	if (pending) {
		char url[256];
		snprintf(url, sizeof(url), "http://mock/v1/batch/geocode/%s?id=%s",
		         reverse ? "reverse" : "search", id);
		return send_json(
		    c, 202,
		    json_pack("{s:s, s:s, s:s}", "id", id, "status", "pending", "url", url));
	}
	rv = send_results(c, results, rf);
	free(results);
	return rv;
}

/* GET /v1/geocode/search?text=...: the single lookup, which tests use as the expected answer. */
static enum MHD_Result single_search(struct MHD_Connection *c)
{
	const char *text = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "text");
	json_t *item, *results = json_array();

	if (text == NULL)
		return send_error(c, 400, "\"text\" is required", -1);
	pthread_mutex_lock(&M.mu);
	item = forward_item(text);
	pthread_mutex_unlock(&M.mu);
	if (json_object_get(item, "lat") != NULL)
		json_array_append(results, item);
	return send_json(c, 200, json_pack("{s:o, s:o}", "results", results, "query", item));
}

static json_t *stats_json(void)
{
	json_t *j;
	unsigned long never_polled = 0;

	pthread_mutex_lock(&M.mu);
	/* billed, but nobody asked for the results: a client that died before it noted the job */
	for (const job *jb = M.jobs; jb != NULL; jb = jb->next)
		never_polled += jb->polls == 0 && !jb->before_reset ? jb->nitems : 0;
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I}", "refused_429",
	              (json_int_t)M.refused_429, "jobs", (json_int_t)M.accepted, "requests",
	              (json_int_t)M.requests, "submits", (json_int_t)M.submits, "polls",
	              (json_int_t)M.polls, "items", (json_int_t)M.items, "results",
	              (json_int_t)M.results, "faults_fired", (json_int_t)M.faults_fired,
	              "max_requests_per_second", (json_int_t)M.max_per_second, "submit_sizes",
	              M.submit_sizes, "items_repeated", (json_int_t)M.items_repeated,
	              "items_unique", (json_int_t)json_object_size(M.seen));
	if (j != NULL)
		json_object_set_new(j, "items_never_polled",
		                    json_integer((json_int_t)never_polled));
	pthread_mutex_unlock(&M.mu);
	return j;
}

static void reset_counters(void)
{
	M.requests = M.submits = M.polls = M.results = M.items = M.faults_fired = M.accepted = 0;
	M.max_per_second = 0;
	M.refused_429 = 0;
	memset(M.window, 0, sizeof(M.window));
	json_array_clear(M.submit_sizes);
	json_object_clear(M.seen);
	M.items_repeated = 0;
	for (job *jb = M.jobs; jb != NULL; jb = jb->next)
		jb->before_reset = true;
}

/*
 * POST /mock/config {"pending_ms", "latency_ms", "immediate", "faults": [...], "reset": true,
 * "forget": true (every job so far is unknown from now on, as after a restart)}
 */
static enum MHD_Result configure(struct MHD_Connection *c, const conn *cn)
{
	json_t *j = json_loadb(cn->body ? cn->body : "", cn->len, 0, NULL), *v;
	size_t i;

	if (!json_is_object(j)) {
		json_decref(j);
		return send_error(c, 400, "expected a JSON object", -1);
	}
	pthread_mutex_lock(&M.mu);
	if ((v = json_object_get(j, "pending_ms")) != NULL)
		M.pending_ms = (long)json_integer_value(v);
	if ((v = json_object_get(j, "latency_ms")) != NULL)
		M.latency_ms = (long)json_integer_value(v);
	if ((v = json_object_get(j, "immediate")) != NULL)
		M.immediate = json_is_true(v);
	if ((v = json_object_get(j, "faults")) != NULL) {
		M.nfaults = 0;
		for (i = 0; i < json_array_size(v) && M.nfaults < MAX_FAULTS; i++) {
			const char *spec = json_string_value(json_array_get(v, i));
			if (spec == NULL || parse_fault(spec, &M.faults[M.nfaults]) != 0) {
				pthread_mutex_unlock(&M.mu);
				json_decref(j);
				return send_error(c, 400, "bad fault spec", -1);
			}
			M.nfaults++;
		}
	}
	if (json_is_true(json_object_get(j, "reset")))
		reset_counters();
	if (json_is_true(json_object_get(j, "forget")))
		for (job *jb = M.jobs; jb != NULL; jb = jb->next)
			jb->forgotten = true;
	pthread_mutex_unlock(&M.mu);
	json_decref(j);
	return send_json(c, 200, stats_json());
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	conn *cn = *con_cls;
	bool post = strcmp(method, "POST") == 0;
	bool search = strcmp(url, "/v1/batch/geocode/search") == 0;
	bool reverse = strcmp(url, "/v1/batch/geocode/reverse") == 0;
	const fault *f;
	enum MHD_Result rv;
	unsigned long in_second;

	(void)cls;
	(void)version;
	if (cn == NULL) {
		if ((cn = calloc(1, sizeof(*cn))) == NULL)
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (cn->len + *upload_size > MAX_BODY) {
			cn->too_big = true;
		} else {
			char *b = realloc(cn->body, cn->len + *upload_size + 1);
			if (b == NULL)
				return MHD_NO;
			memcpy(b + cn->len, upload, *upload_size);
			cn->body = b;
			cn->len += *upload_size;
			cn->body[cn->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}

	if (strcmp(url, "/mock/stats") == 0)
		return send_json(c, 200, stats_json());
	if (strcmp(url, "/mock/config") == 0 && post)
		return configure(c, cn);
	if (strcmp(url, "/v1/geocode/search") == 0)
		return single_search(c);
	if (!search && !reverse)
		return send_error(c, 404, "Not found", -1);

	pthread_mutex_lock(&M.mu);
	in_second = count_request();
	f = fault_for(W_REQUEST, M.requests);
	if (too_soon() || (M.per_second > 0 && in_second > (unsigned long)M.per_second)) {
		M.refused_429++;
		pthread_mutex_unlock(&M.mu);
		return send_error(c, 429, "Quota exceeded", -1);
	}
	pthread_mutex_unlock(&M.mu);
	if (M.latency_ms > 0)
		sleep_ms(M.latency_ms);
	if (apply_fault(c, f, &rv))
		return rv;
	if (!key_ok(c))
		return send_error(c, 401, "Invalid apiKey", -1);
	if (cn->too_big)
		return send_error(c, 413, "Payload too large", -1);
	if (post)
		return submit(c, reverse, cn);
	if (strcmp(method, "GET") == 0)
		return poll(c, reverse);
	return send_error(c, 405, "Method not allowed", -1);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	conn *cn = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (cn != NULL) {
		free(cn->body);
		free(cn);
		*con_cls = NULL;
	}
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: geoapify-mock [OPTION]...\n"
	    "A Geoapify-compatible batch geocoding server for tests and demos.\n"
	    "\n"
	    "  --port N            TCP port on 127.0.0.1; 0 picks a free one (0)\n"
	    "  --port-file FILE    write the port here once listening\n"
	    "  --gazetteer FILE    CSV address,lat,lon of known places\n"
	    "  --api-key KEY       the only key accepted (default: any non-empty key)\n"
	    "  --pending DUR       how long a job stays pending (300ms)\n"
	    "  --latency DUR       delay added to every API answer (0)\n"
	    "  --immediate         answer submits with 200 and the results at once\n"
	    "  --min-interval DUR  a request sooner than DUR after the last one let through\n"
	    "                      gets 429 \"Quota exceeded\" (a strict per-request limit)\n"
	    "  --per-second N      a request that makes more than N in the last second gets\n"
	    "                      429 (a plan's per-second limit on one API key)\n"
	    "  --quota N           items billable in all; a submit beyond gets 429 \"Quota\n"
	    "                      exceeded\" and is not billed (an exhausted daily quota)\n"
	    "  --fault SPEC        inject a fault; repeatable. SPEC is KIND[,OPT...][@WHEN[:N]]\n"
	    "                      KIND: status=CODE, quota, truncate, wrong-count, close,\n"
	    "                      stuck, slow=DUR, nul-item, bad-item; OPT: retry-after=S,\n"
	    "                      message=TEXT;\n"
	    "                      WHEN: request, submit (default), poll, result; N: 1-based,\n"
	    "                      * for every one (default 1)\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "GET /mock/stats gives the counters; POST /mock/config takes\n"
	    "{\"pending_ms\",\"latency_ms\",\"immediate\",\"faults\":[SPEC...],\"reset\":true}.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"port-file", required_argument, NULL, 'f'},
	    {"gazetteer", required_argument, NULL, 'g'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"pending", required_argument, NULL, 'P'},
	    {"latency", required_argument, NULL, 'L'},
	    {"immediate", no_argument, NULL, 'i'},
	    {"fault", required_argument, NULL, 'F'},
	    {"min-interval", required_argument, NULL, 'm'},
	    {"quota", required_argument, NULL, 'q'},
	    {"per-second", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *port_file = NULL;
	unsigned port = 0;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	sigset_t set;
	int o, sig;

	M.submit_sizes = json_array();
	M.seen = json_object();
	M.id_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'g':
			if (load_gazetteer(optarg) != 0) {
				fprintf(stderr, "geoapify-mock: %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		case 'k':
			M.api_key = optarg;
			break;
		case 'P':
		case 'L':
			if (parse_ms(optarg, o == 'P' ? &M.pending_ms : &M.latency_ms) != 0) {
				fprintf(stderr, "geoapify-mock: bad duration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'i':
			M.immediate = true;
			break;
		case 'm':
			if (parse_ms(optarg, &M.min_interval_ms) != 0) {
				fprintf(stderr, "geoapify-mock: bad duration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'q':
			M.quota_items = atol(optarg);
			break;
		case 's':
			M.per_second = atol(optarg);
			break;
		case 'F':
			if (M.nfaults == MAX_FAULTS ||
			    parse_fault(optarg, &M.faults[M.nfaults]) != 0) {
				fprintf(stderr, "geoapify-mock: bad fault '%s'\n", optarg);
				return 2;
			}
			M.nfaults++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	/* block the signals before MHD starts its threads, so sigwait gets them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(0x7f000001);
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
	    completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "geoapify-mock: cannot listen on 127.0.0.1:%u\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : port;
	if (port_file != NULL) {
		/* write then rename, so a reader never sees half a number */
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%u\n", port) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0) {
			fprintf(stderr, "geoapify-mock: %s: %s\n", port_file, strerror(errno));
			return 1;
		}
	}
	fprintf(stderr, "geoapify-mock: listening on http://127.0.0.1:%u (pending %ld ms)\n", port,
	        M.pending_ms);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
