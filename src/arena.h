/*
 * arena.h — per-request memory.
 *
 * Everything that lives only as long as one HTTP request (copied FastCGI
 * params, the parsed plan, the SQL text, parameter values, error strings)
 * is allocated from one arena and released in one go by arena_reset() at
 * the end of the request, as PostgreSQL's MessageContext is.  The chunks
 * are kept for the next request, so a steady load does no malloc at all.
 *
 * Allocation never returns NULL: running out of memory aborts the worker
 * (the spawner or web server starts a new one), which is simpler and safer
 * than threading ENOMEM through every parser.
 */
#ifndef PGR_ARENA_H
#define PGR_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;   /* chunk being filled */
	struct arena_chunk *spare;  /* chunks kept from earlier requests */
	size_t used_total;          /* bytes handed out since the last reset */
};

void arena_init(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);           /* 16-byte aligned, uninitialised */
void *arena_zalloc(struct arena *a, size_t n);          /* zeroed */
char *arena_strdup(struct arena *a, const char *s);     /* NULL stays NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_reset(struct arena *a);    /* free everything, keep one chunk */
void arena_destroy(struct arena *a);  /* give all memory back */

/*
 * sbuf — a growable string in an arena (PostgreSQL's StringInfo).
 * data is always NUL-terminated.
 */
struct sbuf {
	struct arena *arena;
	char *data;
	size_t len;
	size_t cap;
};

void sbuf_init(struct sbuf *b, struct arena *a, size_t initial);
void sbuf_putn(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
