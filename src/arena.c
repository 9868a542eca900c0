/*
 * arena.c — per-request bump allocator and growable strings.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_SIZE (64 * 1024)
#define ARENA_ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;    /* usable bytes in data[] */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

static void arena_oom(size_t n)
{
	fprintf(stderr, "pg_rest: out of memory (allocating %zu bytes)\n", n);
	abort();
}

static struct arena_chunk *chunk_new(size_t size)
{
	struct arena_chunk *c = malloc(sizeof(*c) + size);

	if (c == NULL)
		arena_oom(size);
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->spare = NULL;
	a->used_total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < n)
		arena_oom(n);
#ifdef PGR_ARENA_MALLOC_EACH
	/*
	 * Fuzz builds (make fuzz): every allocation is a malloc of its own, of
	 * exactly n bytes, so that AddressSanitizer sees a write past the end
	 * of an arena array, which inside a shared chunk it can't.
	 */
	c = chunk_new(n);
	c->used = n;
	c->next = a->head;
	a->head = c;
	a->used_total += need;
	return c->data;
#endif
	if (c == NULL || c->size - c->used < need) {
		/* Oversized requests get a chunk of their own. */
		if (need > ARENA_CHUNK_SIZE / 4) {
			c = chunk_new(need);
		} else if (a->spare != NULL) {
			c = a->spare;
			a->spare = c->next;
			c->used = 0;
		} else {
			c = chunk_new(ARENA_CHUNK_SIZE);
		}
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += need;
	a->used_total += need;
	return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	struct sbuf b;
	va_list ap;

	sbuf_init(&b, a, 64);
	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.data;
}

/*
 * Keep standard-size chunks for reuse, free oversized ones, so that one
 * huge request does not pin its memory for the life of the worker.
 */
void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c != NULL) {
		struct arena_chunk *next = c->next;

		if (c->size == ARENA_CHUNK_SIZE) {
			c->next = a->spare;
			a->spare = c;
		} else {
			free(c);
		}
		c = next;
	}
	a->head = NULL;
	a->used_total = 0;
	/* Keep at most two spare chunks between requests. */
	c = a->spare;
	for (int kept = 0; c != NULL; kept++) {
		struct arena_chunk *next = c->next;

		if (kept == 1) {
			c->next = NULL;
		} else if (kept > 1) {
			free(c);
		}
		c = next;
	}
}

void arena_destroy(struct arena *a)
{
	arena_reset(a);
	while (a->spare != NULL) {
		struct arena_chunk *next = a->spare->next;

		free(a->spare);
		a->spare = next;
	}
}

void sbuf_init(struct sbuf *b, struct arena *a, size_t initial)
{
	if (initial < 16)
		initial = 16;
	b->arena = a;
	b->data = arena_alloc(a, initial);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = initial;
}

static void sbuf_reserve(struct sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap * 2;

	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = arena_alloc(b->arena, cap);

	memcpy(p, b->data, b->len + 1);
	b->data = p;
	b->cap = cap;
}

void sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	sbuf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_putn(b, s, strlen(s));
}

void sbuf_putc(struct sbuf *b, char c)
{
	sbuf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;

	va_copy(ap2, ap);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		sbuf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}
