/* corpus_from_md.c: writes each request example of PROTOCOL.md as one seed file for the fuzzer. */
#include <stdio.h>

#include "mdhex.h"

int main(int argc, char **argv)
{
	mdhex_example *ex;
	int n, written = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PROTOCOL.md OUTDIR\n", argv[0]);
		return 2;
	}
	if ((n = mdhex_load(argv[1], &ex)) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		FILE *f;
		snprintf(path, sizeof(path), "%s/example-%02d-%s", argv[2], i,
		         ex[i].is_request ? "request" : "reply");
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(ex[i].bytes, 1, ex[i].len, f) != ex[i].len) {
			perror(path);
			return 1;
		}
		fclose(f);
		written++;
	}
	mdhex_free(ex, n);
	printf("%d seeds in %s\n", written, argv[2]);
	return 0;
}
