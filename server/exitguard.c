/* exitguard.c: a deadline on shutdown — a thread that ends the process when teardown (nng_close
 * above all) does not finish in time. nng 1.5.2's nng_close() can wait for ever on a pipe of a
 * killed client (docs/nng.md); a server that was told to stop must stop. */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "exitguard.h"
#include "log.h"

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool started;
static struct timespec deadline; /* CLOCK_MONOTONIC */
static int exit_code;

static void *guard_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mtx);
	/* the deadline only moves earlier, each move signalled: wait until it passes */
	while (pthread_cond_timedwait(&cv, &mtx, &deadline) == 0)
		;
	log_warn("shutdown did not finish in time (nng_close blocked); exiting with %d", exit_code);
	_exit(exit_code);
	return NULL;
}

static int start(void)
{
	pthread_condattr_t ca;
	pthread_t t;
	int rv;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = pthread_create(&t, NULL, guard_main, NULL)) != 0)
		return -1;
	pthread_detach(t);
	started = true;
	return 0;
}

int exitguard_arm(uint64_t ms, int code)
{
	struct timespec now, d;
	int rv = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	d.tv_sec = now.tv_sec + (time_t)(ms / 1000);
	d.tv_nsec = now.tv_nsec + (long)(ms % 1000) * 1000000;
	if (d.tv_nsec >= 1000000000) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&mtx);
	exit_code = code;
	if (!started || d.tv_sec < deadline.tv_sec ||
	    (d.tv_sec == deadline.tv_sec && d.tv_nsec < deadline.tv_nsec))
		deadline = d;
	if (!started)
		rv = start();
	else
		pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mtx);
	return rv;
}
