/* test_startsec.c: what cellbatchd refuses at start, over real processes — a non-loopback
 * listener without --insecure-listen, an upstream that is neither https:// nor a loopback mock,
 * another user squatting the default socket's directory (root only: second users by uid) — and
 * that a crash leaves no core file. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "scrape.h"

#define VICTIM     4242 /* uids with no passwd entry: nothing of anyone's is in their way */
#define SQUATTER   4243
#define VICTIM_DIR "/tmp/cellbatch-4242"
#define VICTIM_URL "ipc://" VICTIM_DIR "/cellbatch.sock"

/* The log holds want, or the test fails showing the log. */
static void log_has(const char *log, const char *want)
{
	char *s = it_slurp(log, NULL);

	assert_non_null(s);
	if (strstr(s, want) == NULL)
		fail_msg("wanted \"%s\" in %s:\n%s", want, log, s);
	free(s);
}

static void test_non_loopback_listen(void **state)
{
	it_env *e = *state;
	char url[64], local[64], log[300];
	uint8_t ping[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	it_reply r;
	pid_t pid;

	snprintf(url, sizeof(url), "tcp://0.0.0.0:%u", free_port());
	snprintf(log, sizeof(log), "%s/refused.log", e->dir);
	assert_true((pid = it_spawn_server(e, log, "--listen", url, NULL)) > 0);
	assert_int_equal(it_stop(&pid, 0, 5000), 2);
	log_has(log, url);
	log_has(log, "--insecure-listen");
	log_has(log, "--auth-token-file");
	/* said out loud, it starts, and warns */
	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_start_server(e, "--listen", url, "--insecure-listen", NULL), 0);
	snprintf(local, sizeof(local), "tcp://127.0.0.1:%s", strrchr(url, ':') + 1);
	assert_int_equal(it_raw(local, ping, sizeof(ping), &r, 5000), 0);
	assert_int_equal(r.rep.err, CB_OK);
	it_replies_free(&r, 1);
	log_has(e->server_log, "without TLS (--insecure-listen)");
	log_has(e->server_log, "anyone who reaches it spends");
}

static void test_upstream_refused(void **state)
{
	it_env *e = *state;
	static const char *const bad[] = {"file:///etc/passwd", "gopher://127.0.0.1:70/",
	                                  "http://example.com", "http://localhost@example.com"};
	char log[300], want[128];
	pid_t pid;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(log, sizeof(log), "%s/upstream%zu.log", e->dir, i);
		assert_true((pid = it_spawn_server(e, log, "--upstream", bad[i], NULL)) > 0);
		assert_int_equal(it_stop(&pid, 0, 5000), 2);
		snprintf(want, sizeof(want), "--upstream %s: refused", bad[i]);
		log_has(log, want);
	}
}

/*
 * argv as uid (0: root, unchanged), in cwd (NULL: here), core size unlimited when core, with
 * nothing of the caller's environment but PATH: no XDG_RUNTIME_DIR, no CELLBATCH_URL.
 */
static pid_t spawn_as(uid_t uid, const char *cwd, int core, const char *log, char **argv)
{
	static char *envp[] = {"PATH=/usr/bin:/bin", "GEOAPIFY_API_KEY=" IT_KEY, NULL};
	struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || (cwd && chdir(cwd) != 0) ||
		    (core && setrlimit(RLIMIT_CORE, &inf) != 0))
			_exit(126);
		if (uid != 0 && (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
		                 setresuid(uid, uid, uid) != 0))
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	return pid;
}

static int ping_ok(const char *url)
{
	uint8_t ping[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	it_reply r;
	int ok = it_raw(url, ping, sizeof(ping), &r, 500) == 0 && r.decoded && r.rep.err == CB_OK;

	it_replies_free(&r, 1);
	return ok;
}

/* Waits until url answers ping (the server pid still running); 0, or -1 after 5 s. */
static int wait_ping(pid_t pid, const char *url)
{
	for (double end = it_now_ms() + 5000; it_now_ms() < end;) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (ping_ok(url))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Whether dir holds a file whose name starts with "core". */
static int has_core(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		found |= strncmp(de->d_name, "core", 4) == 0;
	if (d != NULL)
		closedir(d);
	return found;
}

/* cellbatchd in e->dir with core size unlimited, killed by SIGSEGV; its wait status. */
static int segv_status(it_env *e, const char *extra)
{
	char log[300];
	char *argv[] = {SERVER_BIN,   "--listen",           e->url,        "--no-cache-db",
	                "--upstream", "http://127.0.0.1:1", (char *)extra, NULL};
	int status;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/segv.log", e->dir);
	pid = spawn_as(0, e->dir, 1, log, argv);
	assert_int_equal(wait_ping(pid, e->url), 0);
	kill(pid, SIGSEGV);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	return status;
}

/*
 * WCOREDUMP is the kernel's word that a core was written, wherever core_pattern sends it (a
 * file or a pipe to a handler); with a plain pattern the file itself is checked too.
 */
static void test_no_core_dump(void **state)
{
	it_env *e = *state;
	char *pattern = it_slurp("/proc/sys/kernel/core_pattern", NULL);
	int plain = pattern != NULL && pattern[0] != '|' && strchr(pattern, '/') == NULL;
	int status;

	free(pattern);
#ifdef CB_SANITIZED
	skip(); /* the sanitizer's own SIGSEGV handler reports instead */
#endif
	status = segv_status(e, NULL);
	assert_false(WCOREDUMP(status));
	assert_false(has_core(e->dir));
	/* the control: the same crash with --allow-core-dumps does dump */
	status = segv_status(e, "--allow-core-dumps");
	assert_true(WCOREDUMP(status));
	if (plain)
		assert_true(has_core(e->dir));
	unlink(e->server_log); /* it_fini looks for sanitizer reports only */
}

static void victim_cleanup(void)
{
	assert_int_equal(system("rm -rf " VICTIM_DIR), 0);
}

/* cellbatchd as the victim with defaults only; refused at start saying want. */
static void victim_refused(it_env *e, const char *want)
{
	char log[300];
	char *argv[] = {SERVER_BIN, "--no-cache-db", "--upstream", "http://127.0.0.1:1", NULL};
	pid_t pid;

	snprintf(log, sizeof(log), "%s/victim.log", e->dir);
	unlink(log);
	pid = spawn_as(VICTIM, NULL, 0, log, argv);
	assert_int_equal(it_stop(&pid, 0, 5000), 2);
	log_has(log, want);
}

/* The cellbatch command as the victim, default address; its exit status, its output in log. */
static int victim_cli(const char *log)
{
	char *argv[] = {CLI_BIN, "ping", NULL};
	pid_t pid = spawn_as(VICTIM, NULL, 0, log, argv);

	return it_stop(&pid, 0, 10000);
}

static void test_squatted_default(void **state)
{
	it_env *e = *state;
	char log[300], sqlog[300];
	char *squat[] = {SERVER_BIN,   "--listen",           VICTIM_URL, "--no-cache-db",
	                 "--upstream", "http://127.0.0.1:1", NULL};
	struct stat st;
	pid_t sq;

	if (geteuid() != 0)
		skip(); /* needs root to be two other users */
	victim_cleanup();
	/* another user makes the victim's default directory first and listens in it */
	assert_int_equal(system("setpriv --reuid=4243 --regid=4243 --clear-groups "
	                        "mkdir -m 700 " VICTIM_DIR),
	                 0);
	snprintf(sqlog, sizeof(sqlog), "%s/squatter.log", e->dir);
	sq = spawn_as(SQUATTER, NULL, 0, sqlog, squat);
	assert_int_equal(wait_ping(sq, VICTIM_URL), 0);
	victim_refused(e, VICTIM_DIR " belongs to uid 4243, not to uid 4242");
	/* the victim's client does not talk to the squatter either: it would send its token */
	snprintf(log, sizeof(log), "%s/cli.log", e->dir);
	assert_int_equal(victim_cli(log), 3);
	log_has(log, "refused: " VICTIM_DIR " belongs to uid 4243");
	it_stop(&sq, SIGKILL, 5000);
	victim_cleanup();

	/* the victim's own directory, but open to others */
	assert_int_equal(mkdir(VICTIM_DIR, 0700), 0);
	assert_int_equal(chown(VICTIM_DIR, VICTIM, VICTIM), 0);
	assert_int_equal(chmod(VICTIM_DIR, 0777), 0);
	victim_refused(e, "is open to group or others (mode 777)");
	victim_cleanup();

	/* no directory: the server makes it, 0700, and its client finds it there */
	{
		char *argv[] = {SERVER_BIN, "--no-cache-db", "--upstream", "http://127.0.0.1:1",
		                NULL};
		snprintf(log, sizeof(log), "%s/victim-ok.log", e->dir);
		e->server = spawn_as(VICTIM, NULL, 0, log, argv);
		assert_int_equal(wait_ping(e->server, VICTIM_URL), 0);
		assert_int_equal(lstat(VICTIM_DIR, &st), 0);
		assert_true(S_ISDIR(st.st_mode) && st.st_uid == VICTIM &&
		            (st.st_mode & 0777) == 0700);
		snprintf(log, sizeof(log), "%s/cli-ok.log", e->dir);
		assert_int_equal(victim_cli(log), 0);
		it_stop(&e->server, SIGTERM, 5000);
	}
	victim_cleanup();
}

static int squat_teardown(void **state)
{
	victim_cleanup(); /* whatever a failed assertion left */
	return it_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_non_loopback_listen, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_upstream_refused, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_no_core_dump, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_squatted_default, it_setup, squat_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
