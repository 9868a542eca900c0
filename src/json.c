/*
 * json.c — JSON string escaping (RFC 8259 section 7).
 */
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void json_put_string(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (s == NULL) {
		sbuf_puts(b, "null");
		return;
	}
	sbuf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  sbuf_puts(b, "\\\""); break;
		case '\\': sbuf_puts(b, "\\\\"); break;
		case '\n': sbuf_puts(b, "\\n"); break;
		case '\r': sbuf_puts(b, "\\r"); break;
		case '\t': sbuf_puts(b, "\\t"); break;
		case '\b': sbuf_puts(b, "\\b"); break;
		case '\f': sbuf_puts(b, "\\f"); break;
		default:
			if (*p < 0x20) {
				char u[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
				sbuf_puts(b, u);
			} else {
				sbuf_putc(b, (char)*p);
			}
		}
	}
	sbuf_putc(b, '"');
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;                  /* no overlong forms */
		else if (p[0] == 0xed)
			hi = 0x9f;                  /* no surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;                  /* nothing above U+10FFFF */
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

void json_put_mem(struct sbuf *b, const char *s, size_t len, bool repair_utf8)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	sbuf_putc(b, '"');
	while (p < end) {
		size_t n = utf8_seq(p, end);

		if (n == 0) {
			if (repair_utf8) {
				sbuf_puts(b, "\\ufffd");
				p++;
				continue;
			}
			n = 1;              /* PostgreSQL will refuse it, as it should */
		}
		if (n > 1) {
			for (size_t i = 0; i < n; i++)
				sbuf_putc(b, (char)p[i]);
			p += n;
			continue;
		}
		switch (*p) {
		case '"':  sbuf_puts(b, "\\\""); break;
		case '\\': sbuf_puts(b, "\\\\"); break;
		case '\n': sbuf_puts(b, "\\n"); break;
		case '\r': sbuf_puts(b, "\\r"); break;
		case '\t': sbuf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char u[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};

				sbuf_puts(b, u);
			} else {
				sbuf_putc(b, (char)*p);
			}
		}
		p++;
	}
	sbuf_putc(b, '"');
}

void json_put_text(struct sbuf *b, const char *s)
{
	if (s == NULL)
		sbuf_puts(b, "null");
	else
		json_put_mem(b, s, strlen(s), true);
}

/* ------------------------------------------------------------------------
 * Strict JSON check (RFC 8259).  json-c, even in strict mode, takes single
 * quotes, NaN, Infinity, "1." and raw control characters in strings, and
 * decodes lone UTF-16 surrogates; PostgreSQL's json input refuses all of
 * them, and the claims text goes to PostgreSQL as it is.
 */

struct jscan {
	const unsigned char *p;
	const unsigned char *end;
	int depth;
	int max_depth;
};

static bool js_value(struct jscan *s);

static void js_space(struct jscan *s)
{
	while (s->p < s->end &&
	       (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool js_literal(struct jscan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool js_digits(struct jscan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool js_number(struct jscan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!js_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!js_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!js_digits(s))
			return false;
	}
	return true;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80): well-formed, shortest form. */
static bool js_utf8(struct jscan *s)
{
	unsigned char c = *s->p;
	uint32_t cp;
	int more;

	if (c >= 0xc2 && c <= 0xdf) {
		cp = c & 0x1f;
		more = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		cp = c & 0x0f;
		more = 2;
	} else if (c >= 0xf0 && c <= 0xf4) {
		cp = c & 0x07;
		more = 3;
	} else {
		return false;
	}
	if (s->end - s->p <= more)
		return false;
	for (int i = 1; i <= more; i++) {
		if ((s->p[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (s->p[i] & 0x3f);
	}
	if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	s->p += more + 1;
	return true;
}

/* Four hex digits after "\u"; -1 if not. */
static long js_hex4(struct jscan *s)
{
	long v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	s->p += 4;
	return v;
}

/* A \u escape (s->p just past the 'u'); surrogates must come in pairs. */
static bool js_unicode_escape(struct jscan *s)
{
	long u = js_hex4(s);

	if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
		return false;
	if (u >= 0xd800 && u <= 0xdbff) {
		if (!js_literal(s, "\\u"))
			return false;
		u = js_hex4(s);
		if (u < 0xdc00 || u > 0xdfff)
			return false;
	}
	return true;
}

static bool js_string(struct jscan *s)
{
	s->p++;     /* opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return true;
		} else if (c < 0x20) {
			return false;
		} else if (c == '\\') {
			s->p++;
			if (s->p >= s->end)
				return false;
			c = *s->p++;
			if (c == 'u') {
				if (!js_unicode_escape(s))
					return false;
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
				return false;
			}
		} else if (c >= 0x80) {
			if (!js_utf8(s))
				return false;
		} else {
			s->p++;
		}
	}
	return false;
}

/* Members of an object or elements of an array; s->p is past the opener. */
static bool js_container(struct jscan *s, bool is_object)
{
	unsigned char close = is_object ? '}' : ']';

	if (++s->depth > s->max_depth)
		return false;
	js_space(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (is_object) {
			js_space(s);
			if (s->p >= s->end || *s->p != '"' || !js_string(s))
				return false;
			js_space(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
		}
		if (!js_value(s))
			return false;
		js_space(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return true;
		}
		if (*s->p != ',')
			return false;
		s->p++;
	}
}

static bool js_value(struct jscan *s)
{
	js_space(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
		s->p++;
		return js_container(s, true);
	case '[':
		s->p++;
		return js_container(s, false);
	case '"':
		return js_string(s);
	case 't':
		return js_literal(s, "true");
	case 'f':
		return js_literal(s, "false");
	case 'n':
		return js_literal(s, "null");
	default:
		return js_number(s);
	}
}

bool json_is_strict(const char *text, size_t len, int max_depth)
{
	struct jscan s = { (const unsigned char *)text, (const unsigned char *)text + len, 0, max_depth };

	if (!js_value(&s))
		return false;
	js_space(&s);
	return s.p == s.end;
}
