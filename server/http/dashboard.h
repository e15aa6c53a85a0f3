/* dashboard.h: the page served at / — server/http/dashboard.html, embedded by embed.cmake. */
#ifndef CB_DASHBOARD_H
#define CB_DASHBOARD_H

#include <stddef.h>

/* The page's bytes (NUL-terminated) and its length without the NUL. */
extern const unsigned char dashboard_html[];
extern const size_t dashboard_html_len;

#endif
