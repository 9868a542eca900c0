/*
 * fuzz-query.c — libFuzzer target for the query-string grammar
 * (src/query.c): query_parse() on the input as a raw QUERY_STRING, plus
 * query_decode() and the query_url_encode() round trip.
 *
 * Invariants: a successful parse has the root level, a canonical string
 * that is safe in a header, and no NULL where struct query promises a
 * value (names, list elements, values, children); an error is a 4xx with
 * a code and a body that is valid JSON.
 */
#include <ctype.h>

#include "fuzz.h"
#include "query.h"

static void check_field(const struct field *f)
{
	FUZZ_CHECK(fuzz_nonempty(f->name));
	FUZZ_CHECK(f->n_path >= 0 && (f->n_path == 0 || f->path != NULL));
	for (int i = 0; i < f->n_path; i++) {
		const struct json_step *st = &f->path[i];

		FUZZ_CHECK(fuzz_nonempty(st->key));
		if (st->is_index) {
			const char *k = st->key + (st->key[0] == '-');

			FUZZ_CHECK(*k != '\0');
			for (; *k; k++)
				FUZZ_CHECK(isdigit((unsigned char)*k));
		}
	}
}

static void check_select(const struct select_item *items, int n, int depth)
{
	FUZZ_CHECK(depth <= 64);
	FUZZ_CHECK(n >= 0 && (n == 0 || items != NULL));
	for (int i = 0; i < n; i++) {
		const struct select_item *it = &items[i];

		switch (it->kind) {
		case SEL_STAR:
			break;
		case SEL_COUNT:
			FUZZ_CHECK(it->agg == AGG_COUNT && it->n_children == 0);
			break;
		case SEL_FIELD:
			check_field(&it->field);
			FUZZ_CHECK(it->n_children == 0);
			break;
		case SEL_RELATION:
		case SEL_SPREAD:
			FUZZ_CHECK(fuzz_nonempty(it->field.name));
			FUZZ_CHECK(it->field.n_path == 0);
			check_select(it->children, it->n_children, depth + 1);
			break;
		default:
			FUZZ_CHECK(!"select kind out of range");
		}
		if (it->alias != NULL)
			FUZZ_CHECK(it->alias[0] != '\0');
		if (it->hint != NULL)
			FUZZ_CHECK(it->hint[0] != '\0');
		/* casts are spliced as type names: letters, digits, '_' and ' ' only */
		for (int k = 0; k < 2; k++) {
			const char *cast = k == 0 ? it->cast : it->agg_cast;

			if (cast == NULL)
				continue;
			FUZZ_CHECK(cast[0] != '\0');
			for (const char *p = cast; *p; p++)
				FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '_' || *p == ' ');
		}
		FUZZ_CHECK(it->agg >= AGG_NONE && it->agg <= AGG_COUNT);
		FUZZ_CHECK(it->agg_cast == NULL || it->agg != AGG_NONE);
		FUZZ_CHECK(it->agg == AGG_NONE || it->kind == SEL_FIELD || it->kind == SEL_COUNT);
	}
}

static void check_filter(const struct filter *f)
{
	check_field(&f->field);
	FUZZ_CHECK(f->op >= OP_EQ && f->op <= OP_ADJ);
	FUZZ_CHECK(f->quant >= QUANT_NONE && f->quant <= QUANT_ALL);
	switch (f->op) {
	case OP_IN:
		FUZZ_CHECK(f->n_list >= 1 && f->list != NULL);
		for (int i = 0; i < f->n_list; i++)
			FUZZ_CHECK(f->list[i] != NULL);
		break;
	case OP_IS:
		FUZZ_CHECK(f->is >= IS_NULL && f->is <= IS_UNKNOWN);
		break;
	default:
		FUZZ_CHECK(f->value != NULL);
	}
	if (f->lang != NULL) {
		FUZZ_CHECK(f->op >= OP_FTS && f->op <= OP_WFTS && f->lang[0] != '\0');
		for (const char *p = f->lang; *p; p++)
			FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '_' || *p == ' ');
	}
}

static void check_logic(const struct logic_node *n, int depth)
{
	FUZZ_CHECK(depth <= 128);
	if (n->is_leaf) {
		FUZZ_CHECK(n->n_children == 0);
		check_filter(&n->filter);
		return;
	}
	FUZZ_CHECK(n->n_children >= 1 && n->children != NULL);
	for (int i = 0; i < n->n_children; i++)
		check_logic(&n->children[i], depth + 1);
}

static void check_names(const char *const *names, int n)
{
	FUZZ_CHECK(n >= 0 && (n == 0 || names != NULL));
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(fuzz_nonempty(names[i]));
}

static void check_query(const struct query *q)
{
	FUZZ_CHECK(q->n_levels >= 1 && q->levels != NULL);
	FUZZ_CHECK(q->levels[0].path != NULL && q->levels[0].path[0] == '\0');
	/* echoed in Content-Location: percent-encoded, nothing else */
	FUZZ_CHECK(q->canonical != NULL);
	for (const char *p = q->canonical; *p; p++)
		FUZZ_CHECK(isalnum((unsigned char)*p) || strchr("-_.~%&=", *p) != NULL);
	FUZZ_CHECK((q->select == NULL) == (q->n_select == 0));
	check_select(q->select, q->n_select, 0);
	for (int l = 0; l < q->n_levels; l++) {
		const struct query_level *lv = &q->levels[l];

		FUZZ_CHECK(lv->path != NULL);
		for (int m = 0; m < l; m++)
			FUZZ_CHECK(strcmp(q->levels[m].path, lv->path) != 0);
		FUZZ_CHECK(lv->limit >= -1 && lv->offset >= 0);
		FUZZ_CHECK(lv->n_filters >= 0 && (lv->n_filters == 0 || lv->filters != NULL));
		for (int i = 0; i < lv->n_filters; i++)
			check_filter(&lv->filters[i]);
		FUZZ_CHECK(lv->n_logic >= 0 && (lv->n_logic == 0 || lv->logic != NULL));
		for (int i = 0; i < lv->n_logic; i++) {
			FUZZ_CHECK(!lv->logic[i].is_leaf);
			check_logic(&lv->logic[i], 0);
		}
		FUZZ_CHECK(lv->n_order >= 0 && (lv->n_order == 0 || lv->order != NULL));
		for (int i = 0; i < lv->n_order; i++) {
			check_field(&lv->order[i].field);
			FUZZ_CHECK(lv->order[i].nulls >= 0 && lv->order[i].nulls <= 2);
			FUZZ_CHECK(lv->order[i].relation == NULL || lv->order[i].relation[0] != '\0');
		}
	}
	check_names(q->columns, q->n_columns);
	check_names(q->on_conflict, q->n_on_conflict);
	FUZZ_CHECK(q->n_args >= 0);
	for (int i = 0; i < q->n_args; i++)
		FUZZ_CHECK(q->arg_names[i] != NULL && q->arg_values[i] != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct query q;
	struct http_error err;
	char *qs = fuzz_strndup(data, size);

	arena_init(&a);
	memset(&err, 0, sizeof(err));
	if (query_parse(qs, &a, &q, &err) == 0) {
		FUZZ_CHECK(err.status == 0);
		check_query(&q);
	} else {
		FUZZ_CHECK(err.status >= 400 && err.status < 500);
		fuzz_check_error(&err, &a);
	}

	/* percent-decoding of the raw bytes: never longer than the input */
	char *dec = query_decode(&a, (const char *)data, size);

	FUZZ_CHECK(dec != NULL);
	FUZZ_CHECK(memchr(dec, '\0', size + 1) != NULL);

	/* decode(encode(s)) == s for any C string s */
	struct sbuf enc;

	sbuf_init(&enc, &a, 16);
	query_url_encode(&enc, dec);
	FUZZ_CHECK(strcmp(query_decode(&a, enc.data, enc.len), dec) == 0);

	arena_destroy(&a);
	free(qs);
	return 0;
}
