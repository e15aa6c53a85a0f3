/* browser.h: headless Chromium in tests — found on PATH, one page loaded per run (--dump-dom or
 * --screenshot), in its own profile and process group, bounded in time and killed by pid. */
#ifndef BROWSER_H
#define BROWSER_H

#include <stddef.h>

/* $CHROMIUM, else chromium, chromium-browser or google-chrome on PATH (static storage); NULL when
 * there is none. */
const char *browser_find(void);

/*
 * Runs bin headless on url at 1280x800 with mode ("--dump-dom",
 * "--screenshot=PATH"), letting the page's timers run budget_ms of virtual
 * time. profile is a fresh --user-data-dir; stderr goes to log. With out,
 * stdout comes back in *out (malloc'd, NUL-terminated). Waits at most
 * timeout_ms, then kills the browser's process group. Returns its exit
 * status, or -1 (not started, or killed).
 */
int browser_run(const char *bin, const char *profile, const char *log, const char *url,
                const char *mode, int budget_ms, int timeout_ms, char **out);

/*
 * In the serialized DOM: the value of attribute attr of the element whose
 * start tag holds anchor (`id="credits-spent"`, `data-bucket="1024"`), into
 * buf; 0, or -1 when there is no such element or attribute.
 */
int dom_attr(const char *dom, const char *anchor, const char *attr, char *buf, size_t n);
/* The text right after that element's start tag, up to the next tag; 0 or -1. */
int dom_text(const char *dom, const char *anchor, char *buf, size_t n);

#endif
