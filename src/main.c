/*
 * main.c — start-up, signals and the FastCGI accept loop.
 *
 * pg_rest is started by spawn-fcgi or mod_fcgid with a listening socket on
 * fd 0 (or with --listen for a standalone test), serves one request at a
 * time and keeps one PostgreSQL connection for its whole life.
 *
 * Signals (handlers only set flags; the loop acts between requests):
 *   SIGTERM, SIGINT  finish the request in flight, then exit 0
 *   SIGHUP           re-read the configuration file
 *   SIGUSR1          reserved for reloading the schema cache
 * They are blocked while a request is served, so a signal never cuts a
 * response short (libfcgi treats EINTR on its socket as an error).
 */
#include "pgr_autoconf.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "dump.h"
#include "handler.h"
#include "worker.h"
#include "log.h"

static volatile sig_atomic_t got_shutdown;
static volatile sig_atomic_t got_reload_config;
static volatile sig_atomic_t got_reload_schema;

static void on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		got_shutdown = 1;
		/* makes FCGX_Accept_r return instead of accepting again */
		FCGX_ShutdownPending();
		break;
	case SIGHUP:
		got_reload_config = 1;
		break;
	case SIGUSR1:
		got_reload_schema = 1;
		break;
	}
}

/*
 * sigaction without SA_RESTART, so that a signal interrupts a blocking
 * accept() and an idle worker exits at once.  Installed before FCGX_Init
 * so that libfcgi keeps its hands off SIGTERM and SIGUSR1.
 */
static void install_signals(sigset_t *served)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* a client that went away shows up as a failed write, not a signal */
	signal(SIGPIPE, SIG_IGN);

	sigemptyset(served);
	sigaddset(served, SIGTERM);
	sigaddset(served, SIGINT);
	sigaddset(served, SIGHUP);
	sigaddset(served, SIGUSR1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pg_rest [--listen PATH|HOST:PORT] [CONFIG_FILE]\n"
		"       pg_rest --check-config [CONFIG_FILE]\n"
		"       pg_rest --dump-schema [CONFIG_FILE]\n"
		"       pg_rest --list-keys | --version | --help\n"
		"\n"
		"A PostgREST-compatible REST API for PostgreSQL, served over FastCGI.\n"
		"Normally started by spawn-fcgi or Apache mod_fcgid, which pass the\n"
		"listening socket on standard input.  The configuration file may also\n"
		"be named by PG_REST_CONFIG; PGRST_* variables override its keys.\n"
		"\n"
		"Options:\n"
		"  --listen PATH|HOST:PORT  open the FastCGI socket itself (unix socket\n"
		"                           path, or IPv4 address and port) instead of\n"
		"                           using the spawner's socket on standard input\n"
		"  --check-config           load and check the configuration, print the\n"
		"                           effective value of every key (secrets masked)\n"
		"                           and exit: 0 when usable, 1 on an error\n"
		"  --check                  the same (older spelling)\n"
		"  --dump-schema            connect, load the schema cache, print it as\n"
		"                           JSON and exit\n"
		"  --list-keys              print every configuration key pg_rest knows\n"
		"                           (name, type, default, old name) and exit\n"
		"  --version                print the version and exit\n"
		"  -h, --help               print this help and exit\n"
		"\n"
		"See pg_rest(8) and pg_rest.conf(5).\n");
}

/* fd 0 is a listening socket when spawn-fcgi, mod_fcgid or systemd started us */
static bool stdin_is_listening_socket(void)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

/*
 * Shared hosting: mod_fcgid started us for an .htaccess, which cannot use
 * FcgidInitialEnv, so neither an argument nor PG_REST_CONFIG in the
 * process environment names the configuration (SetEnv reaches us only as
 * a request param).  Then the first request brings it:
 * worker_config_for_request() takes SetEnv's PG_REST_CONFIG or the
 * .pg_rest.conf next to the program.  Not when PGRST_* variables are set:
 * a configuration from the environment alone works as it always did.
 */
static bool config_comes_with_requests(const char *config_path, const char *listen_addr)
{
	extern char **environ;

	if (config_path != NULL || listen_addr != NULL)
		return false;
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, "PGRST_", 6) == 0)
			return false;
	return stdin_is_listening_socket();
}

/*
 * End a request without waiting for the web server.  libfcgi's own close
 * half-closes the socket and then waits until the web server has closed
 * its end (reading whatever still comes, up to 2 s), so that unread input
 * cannot turn the close into a reset that loses the answer.  That wait
 * costs one more wake-up of the web server per request, during which the
 * worker accepts nothing: a third of the throughput of a one-row GET
 * (bench/README).  When the request's input has been read to its
 * end-of-stream record there is nothing left to reset, and FCGX_Detach
 * makes FCGX_Finish_r close at once.  The input is read on only as far as
 * it has already arrived (the socket is non-blocking meanwhile: a read
 * that would wait fails, which marks the input stream as failed): a body
 * still on its way or never read (413 on CONTENT_LENGTH alone) keeps
 * libfcgi's lingering close, and nothing here ever waits.
 */
static void finish_request(FCGX_Request *req)
{
	char buf[4096];
	int flags = fcntl(req->ipcFd, F_GETFL);

	if (flags >= 0 && fcntl(req->ipcFd, F_SETFL, flags | O_NONBLOCK) == 0) {
		for (int i = 0; i < 16 && !FCGX_HasSeenEOF(req->in); i++)
			if (FCGX_GetStr(buf, (int)sizeof(buf), req->in) < (int)sizeof(buf))
				break;
		/* blocking again before the answer is flushed */
		if (fcntl(req->ipcFd, F_SETFL, flags) == 0 &&
		    FCGX_HasSeenEOF(req->in) && FCGX_GetError(req->in) == 0)
			FCGX_Detach(req);
	}
	FCGX_Finish_r(req);
}

static int serve(struct worker *w, int sock)
{
	FCGX_Request req;
	sigset_t served;

	install_signals(&served);
	if (FCGX_Init() != 0) {
		log_msg(LOG_CRIT, "FCGX_Init failed");
		return 1;
	}
	/*
	 * FCGI_FAIL_ACCEPT_ON_INTR: a signal makes an idle accept() return, so
	 * a SIGHUP takes effect before the next request, not after it.
	 */
	FCGX_InitRequest(&req, sock, FCGI_FAIL_ACCEPT_ON_INTR);

	sigprocmask(SIG_BLOCK, &served, NULL);
	while (!got_shutdown) {
		unsigned want = (got_reload_config ? WANT_CONFIG : 0) |
				(got_reload_schema ? WANT_SCHEMA : 0);

		got_reload_config = got_reload_schema = 0;
		/* no configuration yet: see config_comes_with_requests() */
		if (w->cfg != NULL)
			worker_refresh(w, want);

		sigprocmask(SIG_UNBLOCK, &served, NULL);
		int rc = FCGX_Accept_r(&req);

		sigprocmask(SIG_BLOCK, &served, NULL);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			if (!got_shutdown)
				log_error("FCGX_Accept_r failed: %d", rc);
			break;
		}
		int cr = worker_config_for_request(w, &req);

		if (cr < 0) {
			/* answered with an error: no usable configuration yet */
			FCGX_Finish_r(&req);
			continue;
		}
		/* NOTIFYs that came while we waited in accept() */
		worker_refresh(w, 0);
		handle_request(w, &req);
		finish_request(&req);
	}
	log_info("exiting after %lu requests", w->requests);
	FCGX_Free(&req, 1);
	return 0;
}

/*
 * fds 0, 1 and 2 must be open before anything else is opened.  A spawner
 * or supervisor that closed them (spawn-fcgi -n started by a daemon that
 * closed its own stdout/stderr) would otherwise hand their numbers to the
 * log file, the database connection or an accepted FastCGI connection, and
 * every log line written to "stderr" would land in the PostgreSQL protocol
 * stream (the server drops the connection: "invalid frontend message
 * type") or in a client's answer (t/168_fcgi_wire.t).
 */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

int main(int argc, char **argv)
{
	const char *listen_addr = NULL, *config_path = NULL;
	bool check_only = false, dump_schema = false;

	std_fds_open();

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_addr = argv[++i];
		} else if (strcmp(argv[i], "--check-config") == 0 || strcmp(argv[i], "--check") == 0) {
			check_only = true;
		} else if (strcmp(argv[i], "--list-keys") == 0) {
			config_list_keys(stdout);
			return 0;
		} else if (strcmp(argv[i], "--dump-schema") == 0) {
			dump_schema = true;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("pg_rest %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || config_path != NULL) {
			usage(stderr);
			return 2;
		} else {
			config_path = argv[i];
		}
	}
	if (config_path == NULL) {
		const char *env = getenv("PG_REST_CONFIG");

		if (env != NULL && env[0] != '\0')
			config_path = env;
	}
	log_open(getenv("PG_REST_LOG"));

	struct worker w;

	memset(&w, 0, sizeof(w));
	if (!check_only && !dump_schema && config_comes_with_requests(config_path, listen_addr)) {
		int rc = serve(&w, 0);

		if (w.cfg != NULL)
			worker_stop(&w);
		return rc;
	}
	w.cfg = calloc(1, sizeof(*w.cfg));
	if (w.cfg == NULL || worker_load_config(w.cfg, config_path) < 0) {
		free(w.cfg);
		return 1;
	}
	if (check_only) {
		/* the values on stdout load again as a file; the verdict goes to stderr */
		config_print(w.cfg, stdout);
		fflush(stdout);
		fprintf(stderr, "%s: configuration OK\n", config_path ? config_path : "(environment)");
		config_free(w.cfg);
		free(w.cfg);
		return 0;
	}
	if (dump_schema) {
		int rc = schema_dump_config(w.cfg, stdout);

		config_free(w.cfg);
		free(w.cfg);
		return rc;
	}
	log_set_level(w.cfg->log_level);

	int sock = 0;

	if (listen_addr != NULL) {
		/* FCGX_OpenSocket calls exit() on failure, after printing why */
		sock = FCGX_OpenSocket(listen_addr, 128);
	} else if (!stdin_is_listening_socket()) {
		fprintf(stderr, "pg_rest: not started by a FastCGI spawner (standard input is not a "
				"listening socket); use spawn-fcgi, mod_fcgid or --listen\n");
		sock = -2;
	}
	if (sock < 0) {
		if (sock == -1)
			log_msg(LOG_CRIT, "cannot listen on %s", listen_addr);
		config_free(w.cfg);
		free(w.cfg);
		return sock == -2 ? 2 : 1;
	}

	worker_start(&w, w.cfg, config_path);

	int rc = serve(&w, sock);

	worker_stop(&w);
	return rc;
}
