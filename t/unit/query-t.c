/*
 * query-t.c — the query-string parser (src/query.c), driven directly.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/query.h"
#include "tap.h"

static struct arena A;

static struct query parse_ok(const char *qs)
{
	struct query q;
	struct http_error err = {0};
	int rc = query_parse(qs, &A, &q, &err);

	ok(rc == 0, "parses: %s%s%s", qs, rc ? " -- " : "", rc ? err.details : "");
	return q;
}

static struct http_error parse_err(const char *qs)
{
	struct query q;
	struct http_error err = {0};
	int rc = query_parse(qs, &A, &q, &err);

	ok(rc == -1, "rejects: %s", qs);
	return err;
}

static void test_decode(void)
{
	is_str(query_decode(&A, "a%20b+c%2Cd", 11), "a b c,d", "percent and plus decoding");
	is_str(query_decode(&A, "100%", 4), "100%", "lone percent kept");
	is_str(query_decode(&A, "%zz%4", 5), "%zz%4", "bad escapes kept");
	is_str(query_decode(&A, "%C3%A9", 6), "\xc3\xa9", "UTF-8 bytes");
}

static void test_select(void)
{
	struct query q = parse_ok("select=id,name");

	is_int(q.n_select, 2, "two columns");
	is_str(q.select[0].field.name, "id", "first column");
	is_int(q.select[1].kind, SEL_FIELD, "a field");

	q = parse_ok("");
	ok(q.select == NULL, "no select means *");
	is_int(q.n_levels, 1, "root level always there");

	q = parse_ok("select=*");
	is_int(q.select[0].kind, SEL_STAR, "star");

	q = parse_ok("select=full_name:name,price::text,total:amount::numeric");
	is_str(q.select[0].alias, "full_name", "alias");
	is_str(q.select[0].field.name, "name", "aliased column");
	is_str(q.select[1].cast, "text", "cast");
	is_str(q.select[2].alias, "total", "alias with cast");
	is_str(q.select[2].cast, "numeric", "cast with alias");

	q = parse_ok("select=data->a->>b,data->phones->0->>num");
	is_int(q.select[0].field.n_path, 2, "json path steps");
	ok(!q.select[0].field.path[0].as_text && q.select[0].field.path[1].as_text, "-> then ->>");
	is_str(q.select[0].field.path[1].key, "b", "json key");
	ok(q.select[1].field.path[1].is_index, "array index");
	is_str(q.select[1].field.path[1].key, "0", "index value");

	q = parse_ok("select=%22my%20col%22,first-name, spaced ");
	is_str(q.select[0].field.name, "my col", "quoted name");
	is_str(q.select[1].field.name, "first-name", "dashed name");
	is_str(q.select[2].field.name, "spaced", "blanks trimmed");

	q = parse_ok("select=id,films(title,actors!inner(name)),dir:directors!fk_dir(*)");
	is_int(q.select[1].kind, SEL_RELATION, "embed");
	is_int(q.select[1].n_children, 2, "embed children");
	ok(q.select[1].children[1].inner, "!inner");
	is_str(q.select[2].alias, "dir", "embed alias");
	is_str(q.select[2].hint, "fk_dir", "embed hint");

	q = parse_ok("select=...directors(name)");
	is_int(q.select[0].kind, SEL_SPREAD, "spread");

	q = parse_ok("select=id,clients()");
	is_int(q.select[1].kind, SEL_RELATION, "empty embed rel()");
	is_int(q.select[1].n_children, 0, "empty embed has no children");

	struct http_error e = parse_err("select=id,");
	is_str(e.code, "PGRST100", "trailing comma is PGRST100");
	is_int(e.status, 400, "status 400");
	e = parse_err("select=name::");
	ok(strstr(e.message, "failed to parse select parameter (name::)") != NULL, "message names the param: %s", e.message);
	parse_err("select=a(b");
	parse_err("select=a;drop");
	parse_err("select=");
}

static void test_filters(void)
{
	struct query q = parse_ok("id=eq.1&name=neq.x&age=gte.18&age=lte.65");
	struct query_level *r = query_root(&q);

	is_int(r->n_filters, 4, "four filters");
	is_int(r->filters[0].op, OP_EQ, "eq");
	is_str(r->filters[0].value, "1", "eq value");
	is_int(r->filters[1].op, OP_NEQ, "neq");
	is_int(r->filters[2].op, OP_GTE, "gte");

	q = parse_ok("name=like.*smith*&x=ilike.A*&y=match.^a&z=imatch.B$");
	r = query_root(&q);
	is_int(r->filters[0].op, OP_LIKE, "like");
	is_str(r->filters[0].value, "*smith*", "like keeps * for the builder");
	is_int(r->filters[3].op, OP_IMATCH, "imatch");

	q = parse_ok("id=not.eq.1&v=not.is.null");
	r = query_root(&q);
	ok(r->filters[0].negate, "not.");
	is_int(r->filters[1].op, OP_IS, "not.is");

	q = parse_ok("id=in.(1,2,3)&name=in.(%22a,b%22,c,%22q%5C%22d%22)&e=in.()");
	r = query_root(&q);
	is_int(r->filters[0].n_list, 3, "in list");
	is_str(r->filters[0].list[2], "3", "in element");
	is_int(r->filters[1].n_list, 3, "quoted element with comma");
	is_str(r->filters[1].list[0], "a,b", "quoted element");
	is_str(r->filters[1].list[2], "q\"d", "escaped quote");
	is_int(r->filters[2].n_list, 1, "in.() is one empty element, as in PostgREST");

	q = parse_ok("a=is.null&b=is.TRUE&c=is.false&d=is.unknown");
	r = query_root(&q);
	is_int(r->filters[0].is, IS_NULL, "is.null");
	is_int(r->filters[1].is, IS_TRUE, "is.TRUE case-insensitive");
	is_int(r->filters[3].is, IS_UNKNOWN, "is.unknown");

	q = parse_ok("t=fts(english).cat&u=plfts.fat%20cat&v=phfts.a&w=wfts.b");
	r = query_root(&q);
	is_int(r->filters[0].op, OP_FTS, "fts");
	is_str(r->filters[0].lang, "english", "fts language");
	is_str(r->filters[1].value, "fat cat", "plfts value");
	is_int(r->filters[3].op, OP_WFTS, "wfts");

	q = parse_ok("a=cs.{1,2}&b=cd.{1}&c=ov.[1,5]&d=sl.(1,10)&e=sr.x&f=nxr.x&g=nxl.x&h=adj.x&i=isdistinct.5");
	r = query_root(&q);
	is_int(r->n_filters, 9, "range and array operators");
	is_str(r->filters[0].value, "{1,2}", "cs value");
	is_int(r->filters[7].op, OP_ADJ, "adj");
	is_int(r->filters[8].op, OP_ISDISTINCT, "isdistinct");

	q = parse_ok("name=like(any).{O*,P*}&n=gt(all).{1,2}");
	r = query_root(&q);
	is_int(r->filters[0].quant, QUANT_ANY, "(any)");
	is_int(r->filters[1].quant, QUANT_ALL, "(all)");

	q = parse_ok("data->>name=eq.x&data->a->0=eq.1");
	r = query_root(&q);
	is_str(r->filters[0].field.name, "data", "filter on json path: column");
	is_int(r->filters[1].field.n_path, 2, "filter json path length");

	q = parse_ok("v=eq.a.b.c&w=eq.&x=eq.%26%3D");
	r = query_root(&q);
	is_str(r->filters[0].value, "a.b.c", "value keeps dots");
	is_str(r->filters[1].value, "", "empty value");
	is_str(r->filters[2].value, "&=", "encoded reserved characters");

	/* params without an operator are RPC arguments, ignored on tables */
	q = parse_ok("foo=bar&id=5&flag");
	is_int(query_root(&q)->n_filters, 0, "no filters");
	is_int(q.n_args, 2, "two arguments");
	is_str(q.arg_names[0], "foo", "argument name");

	struct http_error e = parse_err("id=eq");
	is_str(e.code, "PGRST100", "eq without delimiter");
	ok(strstr(e.message, "failed to parse filter (eq)") != NULL, "message: %s", e.message);
	e = parse_err("id=not.foo.1");
	ok(strstr(e.details, "unknown single value operator foo") != NULL, "details: %s", e.details);
	e = parse_err("id=in.1,2");
	ok(strstr(e.details, "expecting \"(\"") != NULL, "in without parens: %s", e.details);
	parse_err("id=is.maybe");
	parse_err("id=in.(1,2");
	parse_err("a.b=noop.0");
	parse_err("id=neq(any).{1}");
}

static void test_logic(void)
{
	struct query q = parse_ok("or=(a.lt.18,a.gt.21)");
	struct query_level *r = query_root(&q);

	is_int(r->n_logic, 1, "one tree");
	ok(r->logic[0].is_or, "or");
	is_int(r->logic[0].n_children, 2, "two leaves");
	is_str(r->logic[0].children[1].filter.value, "21", "leaf value");

	q = parse_ok("and=(x.eq.1,or(y.is.null,not.and(z.gte.1,z.lte.9)))&not.or=(a.eq.1,b.eq.2)");
	r = query_root(&q);
	is_int(r->n_logic, 2, "two trees");
	ok(!r->logic[0].is_or, "and");
	struct logic_node *inner = &r->logic[0].children[1];

	ok(!inner->is_leaf && inner->is_or, "nested or");
	ok(inner->children[1].negate && !inner->children[1].is_or, "not.and inside");
	ok(r->logic[1].negate, "not.or param");

	q = parse_ok("or=(name.eq.%22a,b%22,tags.cs.{x,y},id.in.(1,2),t.fts(english).cat)");
	r = query_root(&q);
	is_int(r->logic[0].n_children, 4, "quoted value, array, in list, fts in logic");
	is_str(r->logic[0].children[0].filter.value, "a,b", "quoted value in logic");
	is_str(r->logic[0].children[1].filter.value, "{x,y}", "array value in logic");
	is_int(r->logic[0].children[2].filter.n_list, 2, "in list in logic");

	struct http_error e = parse_err("or=()");
	is_str(e.code, "PGRST100", "empty or");
	parse_err("or=(a.eq.1");
	parse_err("or=a.eq.1");
	parse_err("or=(a.eq.1,not.xor(b.eq.2))");
}

static void test_order_range(void)
{
	struct query q = parse_ok("order=name.desc.nullslast,id,age.asc.nullsfirst&limit=10&offset=20");
	struct query_level *r = query_root(&q);

	is_int(r->n_order, 3, "three order terms");
	ok(r->order[0].desc && r->order[0].nulls == 2, "desc nullslast");
	ok(!r->order[1].desc && r->order[1].nulls == 0, "default direction");
	is_int(r->order[2].nulls, 1, "nullsfirst");
	is_int(r->limit, 10, "limit");
	is_int(r->offset, 20, "offset");

	q = parse_ok("order=data->>age.desc,clients(name).asc");
	r = query_root(&q);
	is_int(r->order[0].field.n_path, 1, "order by json path");
	is_str(r->order[1].relation, "clients", "order by embedded column");

	q = parse_ok("limit=abc&offset=-5");
	r = query_root(&q);
	is_int(r->limit, -1, "non-integer limit ignored");
	is_int(r->offset, 0, "negative offset ignored");

	struct http_error e = parse_err("limit=-1");
	is_int(e.status, 416, "negative limit is 416");
	is_str(e.code, "PGRST103", "PGRST103");
	e = parse_err("order=id.ac");
	is_str(e.message, "\"failed to parse order (id.ac)\" (line 1, column 4)", "PostgREST's column for a bad direction");
	is_str(e.details, "unexpected \"c\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"",
	       "Parsec's unexpected character");
	e = parse_err("order=id.asc.nlsfst");
	is_str(e.details, "unexpected \"l\" expecting \"nullsfirst\" or \"nullslast\"", "bad nulls option");
	e = parse_err("order=id.descc");
	is_str(e.details, "unexpected 'c' expecting delimiter (.), \",\" or end of input", "junk after a direction");
	e = parse_err("select=data->>--34");
	is_str(e.message, "\"failed to parse select parameter (data->>--34)\" (line 1, column 9)", "bad negative index column");
	is_str(e.details, "unexpected \"-\" expecting digit", "bad negative index");
	parse_err("order=id.descc");
	parse_err("order=");

	q = parse_ok("actors.order=name&actors.limit=2&actors.name=eq.x");
	is_int(q.n_levels, 2, "embedded level");
	is_str(q.levels[1].path, "actors", "level path");
	is_int(q.levels[1].limit, 2, "embedded limit");
	is_int(q.levels[1].n_filters, 1, "embedded filter");
}

static void test_columns(void)
{
	struct query q = parse_ok("columns=id,name&on_conflict=email");

	is_int(q.n_columns, 2, "columns");
	is_str(q.columns[1], "name", "column name");
	is_int(q.n_on_conflict, 1, "on_conflict");
	parse_err("columns=id,");
}

/* Range header against the query's limit/offset (query_apply_range) */
static struct query_level range(long long offset, long long limit, const char *h, int want_rc)
{
	struct query_level lv = { .path = "", .offset = offset, .limit = limit };
	struct http_error err = {0};

	is_int(query_apply_range(&lv, h, &err), want_rc, "Range %s on offset %lld limit %lld: rc",
	       h ? h : "(none)", offset, limit);
	return lv;
}

static void test_range_header(void)
{
	struct query_level lv = range(0, -1, "0-9", 0);

	ok(lv.offset == 0 && lv.limit == 10, "0-9: ten rows from 0");
	lv = range(0, -1, "items=5-", 0);
	ok(lv.offset == 5 && lv.limit == -1, "items=5-: from 5 on");
	lv = range(10, 5, "0-11", 0);
	ok(lv.offset == 10 && lv.limit == 2, "intersection of 10..14 and 0..11 is 10..11");
	lv = range(0, -1, "0-9;x", 0);
	ok(lv.offset == 0 && lv.limit == -1, "junk after the range: ignored");
	lv = range(3, 4, NULL, 0);
	ok(lv.offset == 3 && lv.limit == 4, "no header: unchanged");
	range(0, -1, "9-1", -1);

	/* fuzz-headers: limit=0 read as "no upper bound" when the offset was 0 */
	lv = range(0, 0, "0-9", 0);
	ok(lv.offset == 0 && lv.limit == 0, "limit=0 with Range: 0-9 is still no rows (got %lld)", lv.limit);
	lv = range(0, 0, "5-", 0);
	ok(lv.limit == 0, "limit=0 with Range: 5- is still no rows (got %lld)", lv.limit);
	/* fuzz-headers: offset + limit and hi - lo + 1 overflowed (UBSan) */
	lv = range(LLONG_MAX, 10, "0-", 0);
	ok(lv.offset == LLONG_MAX && lv.limit >= 0 && lv.limit <= 10, "offset near LLONG_MAX: no overflow");
	lv = range(0, -1, "0-9223372036854775807", 0);
	ok(lv.offset == 0 && lv.limit == LLONG_MAX, "upper bound LLONG_MAX: no overflow");
	lv = range(5, LLONG_MAX, "99999999999999999999-", 0);
	ok(lv.offset == LLONG_MAX && lv.limit == 0, "lower bound beyond LLONG_MAX: empty, no overflow");
}

/* bugs fuzz-query found */
static void test_fuzz_finds(void)
{
	struct query q;
	struct http_error err;

	/* order= given repeatedly: the third term on was written past the array */
	q = parse_ok("order=a,b&order=c&order=d&order=e.desc&order=f&order=g,h,i,j");
	struct query_level *r = query_root(&q);

	is_int(r->n_order, 10, "repeated order= params: all terms kept");
	const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};

	for (int i = 0; i < r->n_order && i < 10; i++)
		is_str(r->order[i].field.name, names[i], "order term %d intact", i);
	ok(r->n_order == 10 && r->order[4].desc, "e.desc kept its direction");

	/* a failed tentative parse left its error behind after a success */
	const char *tentative[] = {
		"id=in.(%22abc)",               /* unterminated quote: raw element */
		"or=(a.eq.%22x,b.eq.1)",        /* the same inside or=() */
	};

	for (size_t i = 0; i < sizeof(tentative) / sizeof(tentative[0]); i++) {
		memset(&err, 0, sizeof(err));
		is_int(query_parse(tentative[i], &A, &q, &err), 0, "parses: %s", tentative[i]);
		is_int(err.status, 0, "no error left behind: %s", tentative[i]);
	}

	/* a cast or fts language of blanks only: "CAST(x AS )" in the SQL */
	err = parse_err("select=id::%20");
	is_str(err.code, "PGRST100", "blank cast refused");
	err = parse_err("select=a:id::++,b");
	is_str(err.code, "PGRST100", "blank cast with alias refused");
	err = parse_err("tsv=fts(%20).cat");
	is_str(err.code, "PGRST100", "blank fts language refused");
	q = parse_ok("select=id::%20text%20");
	is_str(q.select[0].cast, "text", "cast with blanks around still works");

	/* "" names no column or key: PostgreSQL has no zero-length identifier */
	err = parse_err("%22%22=eq.6");
	is_str(err.code, "PGRST100", "empty quoted filter column refused");
	err = parse_err("select=%22%22");
	is_str(err.code, "PGRST100", "empty quoted select column refused");
	err = parse_err("select=data->%22%22");
	is_str(err.code, "PGRST100", "empty quoted JSON key refused");
	err = parse_err("order=%22%22.desc");
	is_str(err.code, "PGRST100", "empty quoted order column refused");
	q = parse_ok("%22a%20b%22=eq.6");
	is_str(query_root(&q)->filters[0].field.name, "a b", "a quoted name with a blank still works");
}

static void test_aggregates(void)
{
	struct query q = parse_ok("select=total:amount::numeric.sum()::int,count(),n:count()::text,day");
	struct http_error err;

	is_int(q.n_select, 4, "aggregates: four items");
	is_int(q.select[0].kind, SEL_FIELD, "col.sum(): a field");
	is_int(q.select[0].agg, AGG_SUM, "col.sum(): sum");
	is_str(q.select[0].alias, "total", "col.sum(): alias");
	is_str(q.select[0].cast, "numeric", "col.sum(): input cast");
	is_str(q.select[0].agg_cast, "int", "col.sum(): result cast");
	is_int(q.select[1].kind, SEL_COUNT, "count(): its own kind");
	is_int(q.select[1].agg, AGG_COUNT, "count(): count");
	is_str(q.select[2].alias, "n", "count() with alias");
	is_str(q.select[2].agg_cast, "text", "count() with a cast");
	is_int(q.select[3].agg, AGG_NONE, "a plain column beside them");
	ok(query_has_aggregates(&q), "query_has_aggregates");

	q = parse_ok("select=data->>k::int.avg(),x.max(),x.min(),x.count()");
	is_int(q.select[0].agg, AGG_AVG, "JSON path .avg()");
	is_int(q.select[0].field.n_path, 1, "JSON path kept");
	is_int(q.select[1].agg, AGG_MAX, "max");
	is_int(q.select[2].agg, AGG_MIN, "min");
	is_int(q.select[3].agg, AGG_COUNT, "col.count()");

	q = parse_ok("select=name,rel(amount.sum(),count())");
	ok(query_has_aggregates(&q), "aggregates inside an embed are found");
	is_int(q.select[1].children[1].kind, SEL_COUNT, "count() inside an embed");
	q = parse_ok("select=count,rel(count)");
	ok(!query_has_aggregates(&q), "bare count is a column, no aggregate");
	q = parse_ok("select=rel()");
	is_int(q.select[0].kind, SEL_RELATION, "rel() is still an embed");

	err = parse_err("select=x.median()");
	is_str(err.code, "PGRST100", "unknown aggregate refused");
	err = parse_err("select=x.sum");
	is_str(err.code, "PGRST100", "aggregate without () refused");
	err = parse_err("select=x.sum()y");
	is_str(err.code, "PGRST100", "junk after an aggregate refused");
	err = parse_err("select=x.sum()::");
	is_str(err.code, "PGRST100", "empty result cast refused");
	err = parse_err("select=count()x");
	is_str(err.code, "PGRST100", "junk after count() refused");
}

int main(void)
{
	arena_init(&A);
	test_decode();
	test_select();
	test_filters();
	test_aggregates();
	test_logic();
	test_order_range();
	test_columns();
	test_range_header();
	test_fuzz_finds();
	arena_destroy(&A);
	return done_testing();
}
