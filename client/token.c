/* token.c: the token libcellbatch sends as auth, for servers started with --auth-token-file. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

/* The token sent as auth: opts->token, else $CELLBATCH_TOKEN; blanks and line ends trimmed. */
cb_err client_token(cb_client *c, const cb_client_options *opts)
{
	const char *tok =
	    opts != NULL && opts->token != NULL ? opts->token : getenv("CELLBATCH_TOKEN");
	size_t n;

	if (tok == NULL)
		return CB_OK;
	n = strlen(tok);
	while (n > 0 && strchr(" \t\r\n", tok[n - 1]) != NULL)
		n--;
	if (n == 0)
		return CB_OK; /* "": no token */
	if (n > CB_AUTH_MAX)
		return CB_EINVAL;
	return (c->token = strndup(tok, n)) != NULL ? CB_OK : CB_ENOMEM;
}
