/* service.h: cellbatchd's flags for running as a service — --log-file, --require-api-key,
 * --check-config — and the API key the second guards; options.c hands them over. */
#ifndef CB_SERVICE_H
#define CB_SERVICE_H

#include <getopt.h>
#include <stdio.h>

#include <stdbool.h>

/* The group's settings; config (options.h) holds one as svc. */
typedef struct service_cfg {
	const char *log_file; /* --log-file; NULL: stderr */
	int require_api_key;  /* --[no-]require-api-key; -1: unless the upstream is local */
	bool check_config;    /* --check-config: check, print, exit */
} service_cfg;

/* getopt_long rows service_long_opts adds. */
#define SERVICE_NOPTS 4

/* Writes SERVICE_NOPTS rows of getopt_long's table to o; returns SERVICE_NOPTS. */
int service_long_opts(struct option *o);

/* Applies getopt's val with arg when it is one of this group's: 0; -1 when it is not one. */
int service_option(int val, const char *arg, service_cfg *sc);

/* The group's part of --help. */
void service_usage(FILE *f);

/*
 * The API key (key_file's first line, else $GEOAPIFY_API_KEY) into
 * *api_key (the caller's to free), and the rule: with --require-api-key (the default
 * unless the upstream is a loopback host, a mock) no key is a usage error.
 * 0, or 2 after saying why on stderr.
 */
int service_finish(const service_cfg *sc, const char *upstream, const char *key_file,
                   char **api_key);

#endif
