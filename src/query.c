/*
 * query.c — parse the URL query string into struct query.
 *
 * A hand-written recursive-descent version of PostgREST's Parsec grammar
 * (QueryParams.hs).  Errors are PGRST100 with PostgREST's message shape:
 * message "\"failed to parse filter (eq)\" (line 1, column 3)", details
 * saying what was unexpected and what was expected.
 */
#include "query.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* small growable arrays in the arena                                 */

#define GROW(a, arr, n, cap)                                                  \
	do {                                                                  \
		if ((n) == (cap)) {                                           \
			int ncap_ = (cap) ? (cap) * 2 : 4;                    \
			void *p_ = arena_alloc((a), sizeof(*(arr)) * (size_t)ncap_); \
			if (n)                                                \
				memcpy(p_, (arr), sizeof(*(arr)) * (size_t)(n)); \
			(arr) = p_;                                           \
			(cap) = ncap_;                                        \
		}                                                             \
	} while (0)

/* ------------------------------------------------------------------ */
/* percent-decoding                                                   */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *query_decode(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* the cursor and error reporting                                     */

struct cursor {
	struct arena *a;
	const char *s;              /* text being parsed */
	size_t pos;
	const char *what;           /* "filter", "select parameter", ... */
	const char *input;          /* shown in the message */
	struct http_error *err;
	bool failed;
};

static void cur_init(struct cursor *c, struct arena *a, const char *s, const char *what,
		     struct http_error *err)
{
	c->a = a;
	c->s = s;
	c->pos = 0;
	c->what = what;
	c->input = s;
	c->err = err;
	c->failed = false;
}

static char peek(const struct cursor *c)
{
	return c->s[c->pos];
}

static bool at(const struct cursor *c, const char *lit)
{
	return strncmp(c->s + c->pos, lit, strlen(lit)) == 0;
}

static bool eat(struct cursor *c, const char *lit)
{
	if (!at(c, lit))
		return false;
	c->pos += strlen(lit);
	return true;
}

/* Record the first error only; later ones are consequences. */
static bool fail(struct cursor *c, const char *expecting)
{
	if (c->failed)
		return false;
	c->failed = true;

	const char *unexpected;
	char ch = peek(c);

	if (ch == '\0')
		unexpected = "end of input";
	else
		unexpected = arena_printf(c->a, "\"%c\"", ch);
	http_error_set(c->err, 400, "PGRST100",
		       arena_printf(c->a, "\"failed to parse %s (%s)\" (line 1, column %zu)",
				    c->what, c->input, c->pos + 1),
		       expecting ? arena_printf(c->a, "unexpected %s expecting %s",
						unexpected, expecting)
				 : arena_printf(c->a, "unexpected %s", unexpected),
		       NULL);
	return false;
}

/* A Parsec-style error at a given position with a given unexpected text. */
static bool fail_at(struct cursor *c, size_t pos, const char *unexpected, const char *expecting)
{
	if (c->failed)
		return false;
	c->failed = true;
	http_error_set(c->err, 400, "PGRST100",
		       arena_printf(c->a, "\"failed to parse %s (%s)\" (line 1, column %zu)",
				    c->what, c->input, pos + 1),
		       arena_printf(c->a, "unexpected %s expecting %s", unexpected, expecting), NULL);
	return false;
}

/*
 * Parsec reports a failed literal at the literal's start, naming the first
 * character that differs from it: "ac" against "asc" is unexpected "c".
 */
static const char *literal_mismatch(struct cursor *c, size_t pos, const char *lit)
{
	size_t i = 0;

	while (lit[i] && c->s[pos + i] == lit[i])
		i++;
	return c->s[pos + i] ? arena_printf(c->a, "\"%c\"", c->s[pos + i]) : "end of input";
}

static bool fail_msg(struct cursor *c, const char *details)
{
	if (c->failed)
		return false;
	c->failed = true;
	http_error_set(c->err, 400, "PGRST100",
		       arena_printf(c->a, "\"failed to parse %s (%s)\" (line 1, column %zu)",
				    c->what, c->input, c->pos + 1),
		       details, NULL);
	return false;
}

/*
 * Give up a tentative parse (an alias, a quoted list element or value, a
 * rel(col) order term) and go on from pos.  The failure it recorded is
 * forgotten too: fuzz-query found that a parse which then succeeded still
 * left that PGRST100 in *err (query_parse returned 0 with err->status 400).
 */
static void backtrack(struct cursor *c, size_t pos)
{
	c->pos = pos;
	c->failed = false;
	memset(c->err, 0, sizeof(*c->err));
}

static void skip_ws(struct cursor *c)
{
	while (peek(c) == ' ' || peek(c) == '\t')
		c->pos++;
}

/* ------------------------------------------------------------------ */
/* names                                                              */

/* identifier characters: letters (incl. UTF-8), digits, '_', ' ', '$' */
static bool ident_char(char ch)
{
	unsigned char u = (unsigned char)ch;

	return isalnum(u) || u >= 0x80 || ch == '_' || ch == ' ' || ch == '$';
}

static char *strip(struct arena *a, const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return arena_strndup(a, s, n);
}

/* "…" with \-escapes */
static bool parse_quoted(struct cursor *c, const char **out)
{
	struct sbuf b;

	if (!eat(c, "\""))
		return fail(c, "\"\\\"\"");
	sbuf_init(&b, c->a, 32);
	while (peek(c) != '"') {
		if (peek(c) == '\0')
			return fail(c, "\"\\\"\"");
		if (peek(c) == '\\') {
			c->pos++;
			if (peek(c) == '\0')
				return fail(c, "any character");
		}
		sbuf_putc(&b, peek(c));
		c->pos++;
	}
	c->pos++;
	*out = b.data;
	return true;
}

/*
 * A field name: a quoted value, or identifiers joined by '-' (a '-' that
 * starts "->" ends the name).  Leading and trailing blanks are dropped.
 */
static bool parse_name(struct cursor *c, const char **out)
{
	if (peek(c) == '"') {
		size_t start = c->pos;

		if (!parse_quoted(c, out))
			return false;
		/* "" names nothing: PostgreSQL has no zero-length identifier */
		if ((*out)[0] == '\0') {
			c->pos = start;
			return fail(c, "field name (* or [a..z0..9_$])");
		}
		return true;
	}

	size_t start = c->pos;

	for (;;) {
		size_t word = c->pos;

		while (ident_char(peek(c)))
			c->pos++;
		if (c->pos == word) {
			c->pos = word;
			return fail(c, "field name (* or [a..z0..9_$])");
		}
		if (peek(c) == '-' && c->s[c->pos + 1] != '>') {
			c->pos++;
			continue;
		}
		break;
	}
	*out = strip(c->a, c->s + start, c->pos - start);
	if ((*out)[0] == '\0') {
		c->pos = start;
		return fail(c, "field name (* or [a..z0..9_$])");
	}
	return true;
}

/* Does the text at the cursor end a JSON index operand? */
static bool at_operand_end(const struct cursor *c)
{
	return at(c, "->") || at(c, "::") || peek(c) == '.' || peek(c) == ',' ||
	       peek(c) == '\0' || peek(c) == ')' || peek(c) == '=';
}

static bool parse_json_path(struct cursor *c, struct field *f)
{
	int cap = 0;

	while (at(c, "->")) {
		struct json_step st = {0};

		st.as_text = at(c, "->>");
		c->pos += st.as_text ? 3 : 2;

		/* an integer index, if digits run to the end of the operand */
		size_t save = c->pos;

		if (peek(c) == '-')
			c->pos++;
		size_t digits = c->pos;

		while (isdigit((unsigned char)peek(c)))
			c->pos++;
		if (c->pos > digits && at_operand_end(c)) {
			st.is_index = true;
			st.key = arena_strndup(c->a, c->s + save, c->pos - save);
		} else if (c->pos == digits && c->pos > save) {
			/* "-" must start a negative index */
			return fail_at(c, c->pos, peek(c) ? arena_printf(c->a, "\"%c\"", peek(c))
							   : "end of input", "digit");
		} else {
			c->pos = save;
			if (!parse_name(c, &st.key))
				return false;
		}
		GROW(c->a, f->path, f->n_path, cap);
		f->path[f->n_path++] = st;
	}
	return true;
}

/* name[->json path], blanks around */
static bool parse_field(struct cursor *c, struct field *f)
{
	memset(f, 0, sizeof(*f));
	skip_ws(c);
	if (!parse_name(c, &f->name) || !parse_json_path(c, f))
		return false;
	skip_ws(c);
	return true;
}

/* ------------------------------------------------------------------ */
/* select=                                                            */

static bool parse_select_list(struct cursor *c, struct select_item **items, int *n, int depth);

static bool at_item_end(const struct cursor *c)
{
	return peek(c) == ',' || peek(c) == ')' || peek(c) == '\0';
}

/* !hint and !inner / !left after a relation name */
static bool parse_embed_params(struct cursor *c, struct select_item *it)
{
	for (int i = 0; i < 2 && peek(c) == '!'; i++) {
		c->pos++;
		if (eat(c, "inner")) {
			it->inner = true;
		} else if (eat(c, "left")) {
			it->inner = false;
		} else if (!parse_name(c, &it->hint)) {
			return false;
		}
	}
	return true;
}

static bool parse_cast(struct cursor *c, const char **cast)
{
	size_t start = c->pos;

	while (isalnum((unsigned char)peek(c)) || peek(c) == '_' || peek(c) == ' ')
		c->pos++;
	if (c->pos == start)
		return fail(c, "letter or digit");
	*cast = strip(c->a, c->s + start, c->pos - start);
	/*
	 * Only blanks: fuzz-query found "select=id:: " gave the cast "", which
	 * sqlbuild.c turned into "CAST(... AS )", SQL that can't parse
	 * (fts( ) likewise gave the language "").
	 */
	if ((*cast)[0] == '\0') {
		c->pos = start;
		return fail(c, "letter or digit");
	}
	return true;
}

static const char *const aggregate_names[] = {
	[AGG_NONE] = NULL, [AGG_SUM] = "sum", [AGG_AVG] = "avg", [AGG_MAX] = "max",
	[AGG_MIN] = "min", [AGG_COUNT] = "count",
};

const char *aggregate_name(enum aggregate agg)
{
	return aggregate_names[agg];
}

/* ".sum()" and the rest after a field (and its cast) */
static bool parse_aggregate(struct cursor *c, enum aggregate *agg)
{
	for (int i = AGG_SUM; i <= AGG_COUNT; i++) {
		size_t save = c->pos;

		if (eat(c, ".") && eat(c, aggregate_names[i]) && eat(c, "()")) {
			*agg = (enum aggregate)i;
			return true;
		}
		c->pos = save;
	}
	return fail(c, "\"sum()\", \"avg()\", \"max()\", \"min()\" or \"count()\"");
}

/* [::cast] after an aggregate: the cast of its result */
static bool parse_aggregate_tail(struct cursor *c, struct select_item *it)
{
	if (eat(c, "::") && !parse_cast(c, &it->agg_cast))
		return false;
	skip_ws(c);
	return at_item_end(c) ? true : fail(c, "\"::\", \")\", \",\" or end of input");
}

static bool parse_select_item(struct cursor *c, struct select_item *it, int depth)
{
	memset(it, 0, sizeof(*it));
	skip_ws(c);

	if (peek(c) == '*') {
		c->pos++;
		skip_ws(c);
		it->kind = SEL_STAR;
		return at_item_end(c) ? true : fail(c, "\")\", \",\" or end of input");
	}
	if (eat(c, "...")) {
		it->kind = SEL_SPREAD;
		if (!parse_name(c, &it->field.name) || !parse_embed_params(c, it))
			return false;
		if (peek(c) != '(')
			return fail(c, "\"(\"");
		c->pos++;
		if (peek(c) != ')' &&
		    !parse_select_list(c, &it->children, &it->n_children, depth + 1))
			return false;
		return eat(c, ")") ? true : fail(c, "\")\"");
	}

	/* [alias:] — a ':' not followed by ':' */
	size_t save = c->pos;
	const char *name;

	if (parse_name(c, &name) && peek(c) == ':' && c->s[c->pos + 1] != ':') {
		it->alias = name;
		c->pos++;
	} else {
		backtrack(c, save);
	}

	/* count() counts rows; a relation named count would need count!hint() */
	save = c->pos;
	skip_ws(c);
	if (eat(c, "count()")) {
		it->kind = SEL_COUNT;
		it->agg = AGG_COUNT;
		it->field.name = "count";
		return parse_aggregate_tail(c, it);
	}
	backtrack(c, save);

	if (!parse_field(c, &it->field))
		return false;

	if (peek(c) == '!' || peek(c) == '(') {
		if (it->field.n_path > 0)
			return fail(c, NULL);
		it->kind = SEL_RELATION;
		if (!parse_embed_params(c, it))
			return false;
		if (!eat(c, "("))
			return fail(c, "\"(\"");
		/* rel() selects nothing: the embed only filters */
		if (peek(c) != ')' &&
		    !parse_select_list(c, &it->children, &it->n_children, depth + 1))
			return false;
		if (!eat(c, ")"))
			return fail(c, "\")\"");
		skip_ws(c);
		return true;
	}

	it->kind = SEL_FIELD;
	if (eat(c, "::") && !parse_cast(c, &it->cast))
		return false;
	if (peek(c) == '.') {
		if (!parse_aggregate(c, &it->agg))
			return false;
		return parse_aggregate_tail(c, it);
	}
	skip_ws(c);
	return at_item_end(c) ? true
			      : fail(c, "letter, digit, \"-\", \"->>\", \"->\", \"::\", \".\", \")\", \",\" or end of input");
}

static bool items_have_aggregates(const struct select_item *items, int n)
{
	for (int i = 0; i < n; i++)
		if (items[i].agg != AGG_NONE ||
		    items_have_aggregates(items[i].children, items[i].n_children))
			return true;
	return false;
}

bool query_has_aggregates(const struct query *q)
{
	return items_have_aggregates(q->select, q->n_select);
}

static bool parse_select_list(struct cursor *c, struct select_item **items, int *n, int depth)
{
	int cap = 0;

	if (depth > 32)
		return fail_msg(c, "select is nested too deeply");
	*items = NULL;
	*n = 0;
	do {
		GROW(c->a, *items, *n, cap);
		if (!parse_select_item(c, &(*items)[*n], depth))
			return false;
		(*n)++;
	} while (eat(c, ","));
	return true;
}

/* ------------------------------------------------------------------ */
/* filters: [not.]op.value                                            */

static const struct {
	const char *name;
	enum filter_op op;
	bool quantifiable;
} simple_ops[] = {
	{"eq", OP_EQ, true}, {"neq", OP_NEQ, false}, {"gt", OP_GT, true},
	{"gte", OP_GTE, true}, {"lt", OP_LT, true}, {"lte", OP_LTE, true},
	{"like", OP_LIKE, true}, {"ilike", OP_ILIKE, true}, {"match", OP_MATCH, true},
	{"imatch", OP_IMATCH, true}, {"isdistinct", OP_ISDISTINCT, false},
	{"cs", OP_CS, false}, {"cd", OP_CD, false}, {"ov", OP_OV, false},
	{"sl", OP_SL, false}, {"sr", OP_SR, false}, {"nxr", OP_NXR, false},
	{"nxl", OP_NXL, false}, {"adj", OP_ADJ, false},
};

static const struct {
	const char *name;
	enum filter_op op;
} fts_ops[] = {
	{"fts", OP_FTS}, {"plfts", OP_PLFTS}, {"phfts", OP_PHFTS}, {"wfts", OP_WFTS},
};

static bool lookup_simple_op(const char *s, size_t n, enum filter_op *op, bool *quantifiable)
{
	for (size_t i = 0; i < sizeof(simple_ops) / sizeof(simple_ops[0]); i++)
		if (strlen(simple_ops[i].name) == n && memcmp(simple_ops[i].name, s, n) == 0) {
			*op = simple_ops[i].op;
			*quantifiable = simple_ops[i].quantifiable;
			return true;
		}
	return false;
}

static bool lookup_fts_op(const char *s, size_t n, enum filter_op *op)
{
	for (size_t i = 0; i < sizeof(fts_ops) / sizeof(fts_ops[0]); i++)
		if (strlen(fts_ops[i].name) == n && memcmp(fts_ops[i].name, s, n) == 0) {
			*op = fts_ops[i].op;
			return true;
		}
	return false;
}

/* one element of in.(…): "quoted" or raw up to ',' or ')' */
static bool parse_list_element(struct cursor *c, const char **out)
{
	size_t save = c->pos;

	if (peek(c) == '"') {
		if (parse_quoted(c, out) && (peek(c) == ',' || peek(c) == ')'))
			return true;
		backtrack(c, save);
	}
	while (peek(c) != ',' && peek(c) != ')' && peek(c) != '\0')
		c->pos++;
	*out = arena_strndup(c->a, c->s + save, c->pos - save);
	return true;
}

static bool parse_list(struct cursor *c, struct filter *f)
{
	int cap = 0;

	skip_ws(c);
	if (!eat(c, "("))
		return fail(c, "\"(\"");
	skip_ws(c);
	do {
		GROW(c->a, f->list, f->n_list, cap);
		if (!parse_list_element(c, &f->list[f->n_list]))
			return false;
		f->n_list++;
	} while (eat(c, ","));
	skip_ws(c);
	if (!eat(c, ")"))
		return fail(c, "\",\" or \")\"");
	skip_ws(c);
	return true;
}

static bool ci_eat(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	if (strncasecmp(c->s + c->pos, word, n) != 0)
		return false;
	c->pos += n;
	return true;
}

static bool parse_is_value(struct cursor *c, struct filter *f)
{
	if (ci_eat(c, "null"))
		f->is = IS_NULL;
	else if (ci_eat(c, "unknown"))
		f->is = IS_UNKNOWN;
	else if (ci_eat(c, "true"))
		f->is = IS_TRUE;
	else if (ci_eat(c, "false"))
		f->is = IS_FALSE;
	else
		return fail(c, "null or trilean value (unknown, true, false)");
	return true;
}

/*
 * Values inside or=(…) stop at ',' and ')' unless quoted or a {…} array
 * literal; a top-level filter value is the rest of the string.
 */
static bool parse_value(struct cursor *c, bool in_logic, const char **out)
{
	size_t start = c->pos;

	if (!in_logic) {
		*out = c->s + c->pos;
		c->pos += strlen(c->s + c->pos);
		return true;
	}
	if (peek(c) == '"') {
		if (parse_quoted(c, out) && (peek(c) == ',' || peek(c) == ')'))
			return true;
		backtrack(c, start);
	}
	if (peek(c) == '{') {
		const char *close = strchr(c->s + c->pos, '}');
		const char *open2 = strchr(c->s + c->pos + 1, '{');

		if (close != NULL && (open2 == NULL || open2 > close)) {
			c->pos = (size_t)(close - c->s) + 1;
			*out = arena_strndup(c->a, c->s + start, c->pos - start);
			return true;
		}
	}
	while (peek(c) != ',' && peek(c) != ')' && peek(c) != '\0')
		c->pos++;
	*out = arena_strndup(c->a, c->s + start, c->pos - start);
	return true;
}

static bool parse_operation(struct cursor *c, struct filter *f, bool in_logic)
{
	if (eat(c, "in.")) {
		f->op = OP_IN;
		return parse_list(c, f);
	}
	if (eat(c, "is.")) {
		f->op = OP_IS;
		return parse_is_value(c, f);
	}

	/* the operator name runs up to '.' or '(' */
	size_t start = c->pos;

	while (peek(c) != '.' && peek(c) != '(' && peek(c) != '\0' &&
	       !(in_logic && (peek(c) == ',' || peek(c) == ')')))
		c->pos++;
	const char *name = c->s + start;
	size_t n = c->pos - start;
	bool quantifiable = false;

	if (lookup_fts_op(name, n, &f->op)) {
		if (eat(c, "(")) {
			if (!parse_cast(c, &f->lang))
				return false;
			if (!eat(c, ")"))
				return fail(c, "\")\"");
		}
	} else if (lookup_simple_op(name, n, &f->op, &quantifiable)) {
		if (peek(c) == '(') {
			if (!quantifiable)
				return fail(c, "delimiter (.)");
			if (eat(c, "(any)"))
				f->quant = QUANT_ANY;
			else if (eat(c, "(all)"))
				f->quant = QUANT_ALL;
			else
				return fail_msg(c, "unknown modifier: use (any) or (all)");
		}
	} else {
		c->pos = start;
		if (n == 0)
			return fail(c, "operator (eq, gt, ...)");
		return fail_msg(c, arena_printf(c->a, "unknown single value operator %.*s",
						(int)n, name));
	}
	if (!eat(c, "."))
		return fail(c, "delimiter (.)");
	return parse_value(c, in_logic, &f->value);
}

static bool parse_op_expr(struct cursor *c, struct filter *f, bool in_logic)
{
	size_t save = c->pos;

	if (eat(c, "not.")) {
		f->negate = true;
		/* "not.eq" could in theory be an operator named "not": PostgREST tries not. first */
		if (parse_operation(c, f, in_logic))
			return true;
		if (c->failed)
			return false;
		c->pos = save;
		f->negate = false;
	}
	return parse_operation(c, f, in_logic);
}

/* ------------------------------------------------------------------ */
/* and/or trees                                                       */

static bool parse_logic_tree(struct cursor *c, struct logic_node *node, int depth);

static bool parse_logic_children(struct cursor *c, struct logic_node *node, int depth)
{
	int cap = 0;

	skip_ws(c);
	if (!eat(c, "("))
		return fail(c, "\"(\"");
	do {
		skip_ws(c);
		GROW(c->a, node->children, node->n_children, cap);
		if (!parse_logic_tree(c, &node->children[node->n_children], depth + 1))
			return false;
		node->n_children++;
		skip_ws(c);
	} while (eat(c, ","));
	if (!eat(c, ")"))
		return fail(c, "\",\" or \")\"");
	skip_ws(c);
	return true;
}

/* [not.]and(…) | [not.]or(…) | field.op.value */
static bool parse_logic_tree(struct cursor *c, struct logic_node *node, int depth)
{
	memset(node, 0, sizeof(*node));
	if (depth > 64)
		return fail_msg(c, "logic tree is nested too deeply");

	size_t save = c->pos;
	bool negate = eat(c, "not.");

	if (at(c, "and(") || at(c, "or(") || at(c, "and (") || at(c, "or (")) {
		node->negate = negate;
		node->is_or = eat(c, "or");
		if (!node->is_or)
			eat(c, "and");
		return parse_logic_children(c, node, depth);
	}
	c->pos = save;
	node->is_leaf = true;
	if (!parse_field(c, &node->filter.field))
		return false;
	if (!eat(c, "."))
		return fail(c, "delimiter (.)");
	return parse_op_expr(c, &node->filter, true);
}

/* ------------------------------------------------------------------ */
/* order=                                                             */

static bool parse_order(struct cursor *c, struct query_level *lv)
{
	/*
	 * The level may have terms of an earlier order= already (order=a&order=b):
	 * an exact-size array, grown by copying.  fuzz-query found that cap = 0
	 * here let a third or later term be written past the array.
	 */
	int cap = lv->n_order;

	do {
		struct order_term t;

		memset(&t, 0, sizeof(t));
		skip_ws(c);

		/* rel(col) — a name directly followed by '(' */
		size_t save = c->pos;
		const char *rel;

		if (parse_name(c, &rel) && peek(c) == '(') {
			c->pos++;
			t.relation = rel;
			if (!parse_field(c, &t.field))
				return false;
			if (!eat(c, ")"))
				return fail(c, "\")\"");
		} else {
			backtrack(c, save);
			if (!parse_field(c, &t.field))
				return false;
		}
		bool dir = false, nulls = false;

		if (eat(c, ".asc")) {
			dir = true;
		} else if (eat(c, ".desc")) {
			t.desc = dir = true;
		}
		if (eat(c, ".nullsfirst")) {
			t.nulls = 1;
			nulls = true;
		} else if (eat(c, ".nullslast")) {
			t.nulls = 2;
			nulls = true;
		}
		skip_ws(c);
		if (peek(c) == '.' && !nulls)
			return dir ? fail_at(c, c->pos + 1, literal_mismatch(c, c->pos + 1, "nullsfirst"),
					     "\"nullsfirst\" or \"nullslast\"")
				   : fail_at(c, c->pos + 1, literal_mismatch(c, c->pos + 1, "asc"),
					     "\"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"");
		if (peek(c) != ',' && peek(c) != '\0')
			return fail_at(c, c->pos, arena_printf(c->a, "'%c'", peek(c)),
				       nulls ? "\",\" or end of input"
					     : "delimiter (.), \",\" or end of input");
		GROW(c->a, lv->order, lv->n_order, cap);
		lv->order[lv->n_order++] = t;
	} while (eat(c, ","));
	return true;
}

/* ------------------------------------------------------------------ */
/* the whole query string                                             */

struct param {
	const char *key;
	const char *value;          /* NULL when the param had no '=' */
};

static int split_params(const char *qs, struct arena *a, struct param **out)
{
	int n = 0, cap = 0;
	struct param *ps = NULL;

	while (*qs) {
		size_t len = strcspn(qs, "&");

		if (len > 0) {
			const char *eq = memchr(qs, '=', len);

			GROW(a, ps, n, cap);
			if (eq) {
				ps[n].key = query_decode(a, qs, (size_t)(eq - qs));
				ps[n].value = query_decode(a, eq + 1, len - (size_t)(eq - qs) - 1);
			} else {
				ps[n].key = query_decode(a, qs, len);
				ps[n].value = NULL;
			}
			n++;
		}
		qs += len;
		if (*qs == '&')
			qs++;
	}
	*out = ps;
	return n;
}

static struct query_level *level_for(struct query *q, struct arena *a, const char *path, int *cap)
{
	for (int i = 0; i < q->n_levels; i++)
		if (strcmp(q->levels[i].path, path) == 0)
			return &q->levels[i];
	GROW(a, q->levels, q->n_levels, *cap);

	struct query_level *lv = &q->levels[q->n_levels++];

	memset(lv, 0, sizeof(*lv));
	lv->path = path;
	lv->limit = -1;
	return lv;
}

/* "actors.order" -> ("actors", "order"); "order" -> ("", "order") */
static void split_last(struct arena *a, const char *key, const char **path, const char **last)
{
	const char *dot = strrchr(key, '.');

	if (dot == NULL) {
		*path = "";
		*last = key;
	} else {
		*path = arena_strndup(a, key, (size_t)(dot - key));
		*last = dot + 1;
	}
}

/* Does a value look like an operator expression?  (QueryParams.hs hasOperator) */
static bool has_operator(const char *v)
{
	size_t n = strcspn(v, ".");
	enum filter_op op;
	bool q;

	if (v[n] == '.' && n == 3 && memcmp(v, "not", 3) == 0)
		return true;
	if ((n == 2 && memcmp(v, "is", 2) == 0) || (n == 2 && memcmp(v, "in", 2) == 0))
		return true;
	/* an operator name may carry a modifier or language: eq(any), fts(english) */
	size_t m = strcspn(v, ".(");

	return lookup_simple_op(v, m < n ? m : n, &op, &q) || lookup_fts_op(v, m < n ? m : n, &op);
}

static bool parse_long(const char *s, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool parse_columns(struct cursor *c, const char ***out, int *n)
{
	int cap = 0;

	*out = NULL;
	*n = 0;
	do {
		skip_ws(c);
		GROW(c->a, *out, *n, cap);
		if (!parse_name(c, &(*out)[*n]))
			return false;
		(*n)++;
		skip_ws(c);
	} while (eat(c, ","));
	return peek(c) == '\0' ? true : fail(c, "\",\" or end of input");
}

static int parse_filter_param(struct query *q, struct arena *a, const char *key,
			      const char *value, int *lvcap, struct http_error *err)
{
	struct cursor kc, vc;
	struct filter f;
	const char *path = "";

	memset(&f, 0, sizeof(f));

	/* key: [embed.path.]field[->json] */
	cur_init(&kc, a, key, "tree path", err);
	for (;;) {
		const char *name;
		size_t save = kc.pos;

		if (!parse_name(&kc, &name))
			return -1;
		if (peek(&kc) == '.') {
			kc.pos++;
			path = path[0] ? arena_printf(a, "%s.%s", path, name) : name;
			continue;
		}
		kc.pos = save;
		break;
	}
	if (!parse_field(&kc, &f.field))
		return -1;
	if (peek(&kc) != '\0')
		return fail(&kc, "\"->\", delimiter (.) or end of input"), -1;

	cur_init(&vc, a, value, "filter", err);
	if (!parse_op_expr(&vc, &f, false))
		return -1;

	struct query_level *lv = level_for(q, a, path, lvcap);
	int fcap = lv->n_filters;   /* exact-size arrays: grow by copying */

	GROW(a, lv->filters, lv->n_filters, fcap);
	lv->filters[lv->n_filters++] = f;
	return 0;
}

static int parse_logic_param(struct query *q, struct arena *a, const char *key,
			     const char *value, int *lvcap, struct http_error *err)
{
	/* key: [path.][not.](and|or) */
	const char *path = "", *last;
	bool negate = false;

	split_last(a, key, &path, &last);
	if (strcmp(path, "not") == 0) {
		negate = true;
		path = "";
	} else if (strlen(path) > 4 && strcmp(path + strlen(path) - 4, ".not") == 0) {
		negate = true;
		path = arena_strndup(a, path, strlen(path) - 4);
	}

	struct logic_node node;
	struct cursor c;
	const char *text = arena_printf(a, "%s%s", last, value);

	cur_init(&c, a, text, "logic tree", err);
	c.input = value;
	memset(&node, 0, sizeof(node));
	node.negate = negate;
	node.is_or = strcmp(last, "or") == 0;
	c.pos = strlen(last);
	if (!parse_logic_children(&c, &node, 0))
		return -1;
	if (peek(&c) != '\0')
		return fail(&c, "end of input"), -1;

	struct query_level *lv = level_for(q, a, path, lvcap);
	int cap = lv->n_logic;

	GROW(a, lv->logic, lv->n_logic, cap);
	lv->logic[lv->n_logic++] = node;
	return 0;
}

static void add_arg(struct query *q, struct arena *a, const char *k, const char *v, int *cap)
{
	if (q->n_args == *cap) {
		int ncap = *cap ? *cap * 2 : 4;
		const char **nk = arena_alloc(a, sizeof(*nk) * (size_t)ncap);
		const char **nv = arena_alloc(a, sizeof(*nv) * (size_t)ncap);

		if (q->n_args) {
			memcpy(nk, q->arg_names, sizeof(*nk) * (size_t)q->n_args);
			memcpy(nv, q->arg_values, sizeof(*nv) * (size_t)q->n_args);
		}
		q->arg_names = nk;
		q->arg_values = nv;
		*cap = ncap;
	}
	q->arg_names[q->n_args] = k;
	q->arg_values[q->n_args] = v;
	q->n_args++;
}

static int parse_one_param(struct query *q, struct arena *a, const struct param *p,
			   int *lvcap, int *argcap, struct http_error *err)
{
	const char *path, *last;
	struct cursor c;

	if (strcmp(p->key, "select") == 0) {
		cur_init(&c, a, p->value, "select parameter", err);
		if (!parse_select_list(&c, &q->select, &q->n_select, 0))
			return -1;
		return peek(&c) == '\0' ? 0 : (fail(&c, "\",\" or end of input"), -1);
	}
	if (strcmp(p->key, "columns") == 0) {
		cur_init(&c, a, p->value, "columns parameter", err);
		return parse_columns(&c, &q->columns, &q->n_columns) ? 0 : -1;
	}
	if (strcmp(p->key, "on_conflict") == 0) {
		cur_init(&c, a, p->value, "on_conflict parameter", err);
		return parse_columns(&c, &q->on_conflict, &q->n_on_conflict) ? 0 : -1;
	}

	split_last(a, p->key, &path, &last);
	if (strcmp(last, "order") == 0) {
		struct query_level *lv = level_for(q, a, path, lvcap);

		cur_init(&c, a, p->value, "order", err);
		return parse_order(&c, lv) ? 0 : -1;
	}
	if (strcmp(last, "limit") == 0 || strcmp(last, "offset") == 0) {
		struct query_level *lv = level_for(q, a, path, lvcap);
		long long v;

		/* PostgREST ignores a limit or offset that is not an integer */
		if (!parse_long(p->value, &v))
			return 0;
		if (last[0] == 'l') {
			if (v < 0) {
				http_error_set(err, 416, "PGRST103", "Requested range not satisfiable",
					       "Limit should be greater than or equal to zero.", NULL);
				return -1;
			}
			lv->limit = v;
		} else if (v >= 0) {
			lv->offset = v;
		}
		return 0;
	}
	if (strcmp(last, "and") == 0 || strcmp(last, "or") == 0)
		return parse_logic_param(q, a, p->key, p->value, lvcap, err);

	if (strchr(p->key, '.') != NULL || has_operator(p->value))
		return parse_filter_param(q, a, p->key, p->value, lvcap, err);

	add_arg(q, a, p->key, p->value, argcap);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the Range header                                                   */

int query_apply_range(struct query_level *root, const char *h, struct http_error *err)
{
	long long lo, hi = -1;
	char *end;

	if (h == NULL)
		return 0;
	if (strncasecmp(h, "items=", 6) == 0)
		h += 6;
	if (!isdigit((unsigned char)*h))
		return 0;
	lo = strtoll(h, &end, 10);
	if (*end++ != '-')
		return 0;
	if (isdigit((unsigned char)*end)) {
		hi = strtoll(end, &end, 10);
		if (hi < lo) {
			http_error_set(err, 416, "PGRST103", "Requested range not satisfiable",
				       "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
				       NULL);
			return -1;
		}
	}
	if (*end != '\0')
		return 0;

	/*
	 * Both ranges as [lo, end) with end = -1 for "no end", saturating at
	 * LLONG_MAX.  fuzz-headers found two bugs in the inclusive arithmetic
	 * this replaces: limit=0 made the query's upper bound offset - 1,
	 * which for offset 0 read as "no bound" (limit=0 with Range: 0-9
	 * returned 10 rows, with Range: 5- all of them), and offset + limit,
	 * hi - lo + 1 overflowed near LLONG_MAX (undefined behaviour).
	 */
	long long q_end = root->limit < 0 ? -1
			: root->limit > LLONG_MAX - root->offset ? LLONG_MAX
			: root->offset + root->limit;
	long long h_end = hi < 0 ? -1 : hi == LLONG_MAX ? LLONG_MAX : hi + 1;
	long long n_lo = lo > root->offset ? lo : root->offset;
	long long n_end = q_end < 0 ? h_end : h_end < 0 || q_end < h_end ? q_end : h_end;

	root->offset = n_lo;
	root->limit = n_end < 0 ? -1 : n_end > n_lo ? n_end - n_lo : 0;
	return 0;
}

/* Percent-encode all but A-Z a-z 0-9 - _ . ~ (Network.HTTP's urlEncode). */
void query_url_encode(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			sbuf_putc(b, (char)*p);
		} else {
			char e[4] = {'%', hex[*p >> 4], hex[*p & 15], 0};

			sbuf_puts(b, e);
		}
	}
}

/*
 * The params sorted by name (stable), re-encoded: PostgREST's canonical
 * query string, sent back in Content-Location.
 */
static const char *canonical(struct param *ps, int n, struct arena *a)
{
	struct sbuf b;
	int *order = arena_alloc(a, sizeof(int) * (size_t)(n + 1));

	for (int i = 0; i < n; i++) {
		int j = i;

		/* insertion sort: few params, and it is stable */
		while (j > 0 && strcmp(ps[order[j - 1]].key, ps[i].key) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	sbuf_init(&b, a, 64);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			sbuf_putc(&b, '&');
		query_url_encode(&b, ps[order[i]].key);
		sbuf_putc(&b, '=');
		query_url_encode(&b, ps[order[i]].value ? ps[order[i]].value : "");
	}
	return b.data;
}

/*
 * %00 decodes to a NUL byte, which silently ends the C string there:
 * "name=eq.admin%00x" would match "admin", "select=id%00,secret" would
 * select id.  PostgreSQL refuses NUL in text, so PostgREST (which sends
 * the bytes as they are) answers PostgreSQL's error; so does pg_rest,
 * before anything is parsed.
 */
static bool has_encoded_nul(const char *s)
{
	for (; *s; s++)
		if (s[0] == '%' && s[1] == '0' && s[2] == '0')
			return true;
	return false;
}

int query_parse(const char *qs, struct arena *a, struct query *q, struct http_error *err)
{
	struct param *ps;
	int n, lvcap = 0, argcap = 0;

	memset(q, 0, sizeof(*q));
	if (qs != NULL && has_encoded_nul(qs)) {
		http_error_set(err, 400, "22021", "invalid byte sequence for encoding \"UTF8\": 0x00",
			       NULL, NULL);
		return -1;
	}
	n = split_params(qs ? qs : "", a, &ps);
	q->canonical = canonical(ps, n, a);
	level_for(q, a, "", &lvcap);
	for (int i = 0; i < n; i++) {
		/* a param without '=' is dropped, as PostgREST does */
		if (ps[i].value == NULL)
			continue;
		if (parse_one_param(q, a, &ps[i], &lvcap, &argcap, err) < 0)
			return -1;
	}
	return 0;
}
