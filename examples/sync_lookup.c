/* sync_lookup.c: the smallest use of libcellbatch — one synchronous geocode. */
#include <stdio.h>

#include <cellbatch.h>

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "Tour Eiffel Champ de Mars, Paris";
	cb_client *c;
	cb_result r;
	cb_err rv;

	/* NULL: $CELLBATCH_URL, else the server's default ipc socket */
	if ((rv = cb_client_open(&c, NULL, NULL)) != CB_OK) {
		fprintf(stderr, "cannot reach cellbatchd: %s\n", cb_strerror(rv));
		return 3;
	}
	if ((rv = cb_geocode(c, text, &r)) == CB_OK)
		printf("%.6f, %.6f  %s\n", r.lat, r.lon, r.formatted);
	else
		fprintf(stderr, "%s: %s\n", cb_err_name(rv) ? cb_err_name(rv) : "error", r.message);
	cb_result_free(&r);
	cb_client_close(c);
	return rv == CB_OK ? 0 : 1;
}
