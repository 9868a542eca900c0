/*
 * fcgi-min.c — the smallest FastCGI worker: the transport limit for
 * bench/run.
 *
 * It does what every FastCGI worker has to do and nothing else: accept a
 * request from the listening socket on fd 0 (spawn-fcgi), read the whole
 * body, answer with a fixed status and JSON body, finish.  bench/run runs
 * it behind the same nginx, with the same number of workers and the same
 * wrk load as pg_rest, so its requests/s is what nginx + libfcgi + the
 * loopback allow on this machine, with no database and no pg_rest work.
 *
 *   fcgi-min [BODY_FILE [STATUS]]
 *
 * BODY_FILE holds the body to answer with (bench/run passes the body
 * pg_rest answered for the same request, so both move the same bytes);
 * without it the body is a small JSON array.  STATUS defaults to 200.
 * With FCGI_MIN_LINGER set in the environment it ends each request with
 * libfcgi's own lingering close (see bench/README), as pg_rest did before.
 *
 * Built by bench/run with: cc -O2 -o fcgi-min fcgi-min.c -lfcgi
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n + 65536 > cap) {
			cap = (n + 65536) * 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				exit(1);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	static char fallback[] = "[{\"id\":1,\"name\":\"item 1\",\"price\":1.5,\"created\":\"2026-01-02\"}]";
	char *body = fallback;
	size_t body_len = strlen(fallback);
	int status = argc > 2 ? atoi(argv[2]) : 200;
	char head[256];
	int head_len;
	static char sink[65536];
	FCGX_Request req;
	const char *linger = getenv("FCGI_MIN_LINGER");   /* set: libfcgi's own close */

	if (argc > 1 && (body = slurp(argv[1], &body_len)) == NULL) {
		perror(argv[1]);
		return 1;
	}
	head_len = snprintf(head, sizeof(head),
			    "Status: %d\r\nContent-Type: application/json; charset=utf-8\r\n\r\n",
			    status);
	if (FCGX_Init() != 0)
		return 1;
	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		/* read the body as a real worker must (POST cases), to its end */
		while (FCGX_GetStr(sink, sizeof(sink), req.in) > 0)
			;
		FCGX_PutStr(head, head_len, req.out);
		if (status != 204 && body_len > 0)
			FCGX_PutStr(body, (int)body_len, req.out);
		/*
		 * As pg_rest does (src/main.c, finish_request): with the input
		 * read to its end, close at once instead of libfcgi's half-close
		 * and wait for the web server to close first.
		 */
		if (linger == NULL && FCGX_HasSeenEOF(req.in))
			FCGX_Detach(&req);
		FCGX_Finish_r(&req);
	}
	return 0;
}
