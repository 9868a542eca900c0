/*
 * embed.c — find the relationship an embedded resource names.
 */
#include "embed.h"

#include <string.h>

#include "json.h"

#define MAX_CANDIDATES 64

/* ------------------------------------------------------------------ */
/* all relationships of one relation                                  */

struct rel_list {
	struct relationship *items;
	int n;
	int cap;
	struct arena *a;
};

static void rel_add(struct rel_list *l, const struct relationship *r)
{
	if (l->n == l->cap) {
		int ncap = l->cap ? l->cap * 2 : 16;
		struct relationship *p = arena_alloc(l->a, sizeof(*p) * (size_t)ncap);

		if (l->n)
			memcpy(p, l->items, sizeof(*p) * (size_t)l->n);
		l->items = p;
		l->cap = ncap;
	}
	l->items[l->n++] = *r;
}

static bool has_string(char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* Are the fk's (from-side) columns all part of rel's primary key? */
static bool cols_in_pk(const struct sc_relation *rel, const struct sc_fkey *fk)
{
	for (int i = 0; i < fk->n_cols; i++)
		if (!has_string(rel->pk, rel->n_pk, fk->from_cols[i]))
			return false;
	return true;
}

static void collect(const struct schema_cache *sc, int origin, struct rel_list *l)
{
	for (int i = 0; i < sc->n_fkeys; i++) {
		const struct sc_fkey *f = &sc->fkeys[i];
		struct relationship r;

		memset(&r, 0, sizeof(r));
		r.origin = origin;
		r.junction = -1;
		r.fk = f;
		if (f->from == origin) {
			r.card = f->from_unique ? CARD_O2O : CARD_M2O;
			r.target = f->to;
			r.fk_from_origin = true;
			rel_add(l, &r);
		}
		if (f->to == origin) {
			r.card = f->from_unique ? CARD_O2O : CARD_O2M;
			r.target = f->from;
			r.fk_from_origin = false;
			rel_add(l, &r);
		}
	}
	/* many-to-many: a junction J with f1: J -> origin and f2: J -> target */
	for (int i = 0; i < sc->n_fkeys; i++) {
		const struct sc_fkey *f1 = &sc->fkeys[i];

		if (f1->to != origin || f1->from == origin)
			continue;
		const struct sc_relation *j = &sc->relations[f1->from];

		if (!cols_in_pk(j, f1))
			continue;
		for (int k = 0; k < sc->n_fkeys; k++) {
			const struct sc_fkey *f2 = &sc->fkeys[k];

			if (k == i || f2->from != f1->from || f2->to == f2->from || !cols_in_pk(j, f2))
				continue;
			struct relationship r;

			memset(&r, 0, sizeof(r));
			r.card = CARD_M2M;
			r.origin = origin;
			r.target = f2->to;
			r.junction = f1->from;
			r.fk1 = f1;
			r.fk2 = f2;
			rel_add(l, &r);
		}
	}
}

/*
 * Computed relationships: functions whose only argument is origin's row
 * and whose result is the row type of a relation in the cache.
 */
static void collect_computed(const struct schema_cache *sc, int origin, struct rel_list *l)
{
	const struct sc_relation *o = &sc->relations[origin];

	for (int i = 0; i < sc->n_functions; i++) {
		const struct sc_function *f = &sc->functions[i];
		struct relationship r;
		int target;

		if (f->row_schema == NULL || f->row_name == NULL || f->return_type_name == NULL ||
		    strcmp(f->row_schema, o->schema) != 0 || strcmp(f->row_name, o->name) != 0)
			continue;
		target = schema_relation_index(sc, f->return_type_schema, f->return_type_name);
		if (target < 0)
			continue;
		memset(&r, 0, sizeof(r));
		r.card = f->returns_set && !f->rows_one ? CARD_O2M : CARD_M2O;
		r.origin = origin;
		r.target = target;
		r.junction = -1;
		r.computed = f;
		rel_add(l, &r);
	}
}

/* ------------------------------------------------------------------ */
/* PostgREST's matching rules                                         */

/* the origin-side column of a single-column non-M2M relationship */
static const char *single_col(const struct relationship *r, bool origin_side)
{
	if (r->card == CARD_M2M || r->computed != NULL || r->fk->n_cols != 1)
		return NULL;
	/* "relColumns" pairs are (origin column, target column) */
	bool from = r->fk_from_origin == origin_side;

	return from ? r->fk->from_cols[0] : r->fk->to_cols[0];
}

static bool match_fk_col(const struct relationship *r, const char *s)
{
	const char *c = single_col(r, true);

	return c != NULL && strcmp(c, s) == 0;
}

static bool match_fk_ref_col(const struct relationship *r, const char *s)
{
	const char *c = single_col(r, false);

	return c != NULL && strcmp(c, s) == 0;
}

static bool match_constraint(const struct relationship *r, const char *s)
{
	return r->card != CARD_M2M && r->computed == NULL && strcmp(r->fk->name, s) == 0;
}

static bool match_junction(const struct schema_cache *sc, const struct relationship *r,
			   const char *s)
{
	return r->card == CARD_M2M && strcmp(sc->relations[r->junction].name, s) == 0;
}

static bool matches(const struct schema_cache *sc, const struct relationship *r,
		    const char *target, const char *hint)
{
	const struct sc_relation *t = &sc->relations[r->target];
	const struct sc_relation *o = &sc->relations[r->origin];
	bool same_name = strcmp(t->name, target) == 0 && strcmp(t->schema, o->schema) == 0;
	bool is_self = r->card != CARD_M2M && r->target == r->origin;

	if (strcmp(t->schema, o->schema) != 0)
		return false;
	if (is_self) {
		/* one foreign key, two relationships: the table name gives the
		 * one-to-many (children), the column name the many-to-one (parent) */
		if (hint == NULL)
			return (same_name && r->card == CARD_O2M) ||
			       (match_fk_col(r, target) && r->card == CARD_M2O);
		return same_name && r->card == CARD_O2M && match_fk_ref_col(r, hint);
	}
	if (hint == NULL)
		return same_name ||
		       (t->kind != SC_VIEW && match_constraint(r, target)) ||
		       (t->kind != SC_VIEW && match_fk_col(r, target));
	return same_name && (match_constraint(r, hint) || match_fk_col(r, hint) ||
			     match_fk_ref_col(r, hint) || match_junction(sc, r, hint));
}

/* ------------------------------------------------------------------ */
/* errors                                                             */

static const char *card_name(enum cardinality c)
{
	switch (c) {
	case CARD_M2O: return "many-to-one";
	case CARD_O2M: return "one-to-many";
	case CARD_O2O: return "one-to-one";
	default:       return "many-to-many";
	}
}

static void put_cols(struct sbuf *b, char *const *cols, int n)
{
	sbuf_putc(b, '(');
	for (int i = 0; i < n; i++)
		sbuf_printf(b, "%s%s", i ? ", " : "", cols[i]);
	sbuf_putc(b, ')');
}

/* PostgREST's compressedRel: {"cardinality","embedding","relationship"} */
static void put_candidate(struct sbuf *b, const struct schema_cache *sc,
			  const struct relationship *r)
{
	struct sbuf rel;
	const char *origin = sc->relations[r->origin].name;
	const char *target = sc->relations[r->target].name;

	sbuf_init(&rel, b->arena, 128);
	if (r->card == CARD_M2M) {
		sbuf_printf(&rel, "%s using %s", sc->relations[r->junction].name, r->fk1->name);
		put_cols(&rel, r->fk1->from_cols, r->fk1->n_cols);
		sbuf_printf(&rel, " and %s", r->fk2->name);
		put_cols(&rel, r->fk2->from_cols, r->fk2->n_cols);
	} else {
		char *const *ocols = r->fk_from_origin ? r->fk->from_cols : r->fk->to_cols;
		char *const *tcols = r->fk_from_origin ? r->fk->to_cols : r->fk->from_cols;

		sbuf_printf(&rel, "%s using %s", r->fk->name, origin);
		put_cols(&rel, ocols, r->fk->n_cols);
		sbuf_printf(&rel, " and %s", target);
		put_cols(&rel, tcols, r->fk->n_cols);
	}
	sbuf_puts(b, "{\"cardinality\":");
	json_put_string(b, card_name(r->card));
	sbuf_puts(b, ",\"embedding\":");
	json_put_string(b, arena_printf(b->arena, "%s with %s", origin, target));
	sbuf_puts(b, ",\"relationship\":");
	json_put_string(b, rel.data);
	sbuf_putc(b, '}');
}

static int ambiguous(const struct schema_cache *sc, int origin, const char *target,
		     struct relationship *c, int n, struct arena *a, struct http_error *err)
{
	struct sbuf details, hint;

	sbuf_init(&details, a, 512);
	sbuf_init(&hint, a, 256);
	sbuf_putc(&details, '[');
	for (int i = 0; i < n; i++) {
		if (i > 0) {
			sbuf_putc(&details, ',');
			sbuf_puts(&hint, ", ");
		}
		put_candidate(&details, sc, &c[i]);
		sbuf_printf(&hint, "'%s!%s'", sc->relations[c[i].target].name,
			    c[i].card == CARD_M2M ? sc->relations[c[i].junction].name : c[i].fk->name);
	}
	sbuf_putc(&details, ']');
	http_error_set(err, 300, "PGRST201",
		       arena_printf(a, "Could not embed because more than one relationship was found for '%s' and '%s'",
				    sc->relations[origin].name, target),
		       details.data,
		       arena_printf(a, "Try changing '%s' to one of the following: %s. Find the desired relationship in the 'details' key.",
				    target, hint.data));
	err->details_json = true;
	return -1;
}

static int not_found(const struct schema_cache *sc, int origin, const char *target,
		     const char *hint, struct arena *a, struct http_error *err)
{
	const struct sc_relation *o = &sc->relations[origin];

	http_error_set(err, 400, "PGRST200",
		       arena_printf(a, "Could not find a relationship between '%s' and '%s' in the schema cache",
				    o->name, target),
		       arena_printf(a, "Searched for a foreign key relationship between '%s' and '%s'%s%s%s in the schema '%s', but no matches were found.",
				    o->name, target, hint ? " using the hint '" : "", hint ? hint : "",
				    hint ? "'" : "", o->schema),
		       NULL);
	return -1;
}

int embed_find(const struct schema_cache *sc, int origin, const char *target,
	       const char *hint, struct relationship *out, struct arena *a,
	       struct http_error *err)
{
	struct rel_list all = {NULL, 0, 0, a};
	struct relationship found[MAX_CANDIDATES];
	int n = 0;

	/* a computed relationship of that name (in origin's schema) wins */
	collect_computed(sc, origin, &all);
	for (int i = 0; i < all.n; i++) {
		const struct sc_function *f = all.items[i].computed;

		if (hint == NULL && strcmp(f->name, target) == 0 &&
		    strcmp(f->schema, sc->relations[origin].schema) == 0) {
			*out = all.items[i];
			return 0;
		}
	}
	all.n = 0;
	collect(sc, origin, &all);
	for (int i = 0; i < all.n && n < MAX_CANDIDATES; i++)
		if (matches(sc, &all.items[i], target, hint))
			found[n++] = all.items[i];
	if (n == 0)
		return not_found(sc, origin, target, hint, a, err);
	if (n > 1)
		return ambiguous(sc, origin, target, found, n, a, err);
	*out = found[0];
	return 0;
}
