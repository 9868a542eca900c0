/*
 * json.c — JSON string escaping (RFC 8259 section 7).
 */
#include "json.h"

#include <stdio.h>

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
