/* usage.h: cellbatchd's --help text. */
#ifndef CB_USAGE_H
#define CB_USAGE_H

#include <stdio.h>

/* Prints every flag with its default to f. */
void options_usage(FILE *f);

#endif
