/* mdhex.c: reads the hex-dump examples out of PROTOCOL.md, for tests and the fuzz corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdhex.h"

static int append_hex(mdhex_example *ex, const char *line, size_t *cap)
{
	const char *p = line;
	unsigned v;
	int used;

	while (sscanf(p, " %2x%n", &v, &used) == 1) {
		if (ex->len == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			uint8_t *nb = realloc(ex->bytes, ncap);
			if (nb == NULL)
				return -1;
			ex->bytes = nb;
			*cap = ncap;
		}
		ex->bytes[ex->len++] = (uint8_t)v;
		p += used;
	}
	return 0;
}

int mdhex_load(const char *path, mdhex_example **out)
{
	FILE *f = fopen(path, "r");
	char line[512], title[128] = "";
	mdhex_example *ex = NULL;
	int n = 0, rv = -1;
	size_t cap = 0;
	bool in = false;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "#### ", 5) == 0) {
			snprintf(title, sizeof(title), "%.120s", line + 5);
			title[strcspn(title, "\n")] = '\0';
		} else if (!in && strncmp(line, "```hex ", 7) == 0) {
			mdhex_example *nex = realloc(ex, (size_t)(n + 1) * sizeof(*ex));
			if (nex == NULL)
				goto out;
			ex = nex;
			memset(&ex[n], 0, sizeof(ex[n]));
			ex[n].is_request = strncmp(line + 7, "request", 7) == 0;
			memcpy(ex[n].title, title, sizeof(title));
			n++;
			cap = 0;
			in = true;
		} else if (in && strncmp(line, "```", 3) == 0) {
			in = false;
		} else if (in && append_hex(&ex[n - 1], line, &cap) != 0) {
			goto out;
		}
	}
	rv = n;
out:
	fclose(f);
	if (rv < 0)
		mdhex_free(ex, n);
	else
		*out = ex;
	return rv;
}

void mdhex_free(mdhex_example *ex, int n)
{
	for (int i = 0; i < n; i++)
		free(ex[i].bytes);
	free(ex);
}
