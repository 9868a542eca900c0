/*
 * rpc.c — /rpc/<function>: call a function of the exposed schema.
 *
 * The function is picked from the schema cache by its name and the names
 * of the arguments given (PostgREST's rule: every argument given is a
 * parameter, every parameter without a default is given).  Arguments
 * reach SQL as one JSON object ($1) read with json_to_record() into the
 * parameter types, so no value is ever spliced into the call.  The result
 * is then read like a table: select, filters, order, ranges, counts and
 * media types apply to it.
 */
#include "context.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "payload.h"

static bool is_in_arg(const struct sc_arg *a)
{
	return a->mode == 'i' || a->mode == 'b' || a->mode == 'v';
}

static bool is_json_type(const char *t)
{
	return strcmp(t, "json") == 0 || strcmp(t, "jsonb") == 0;
}

/* the one unnamed json/jsonb parameter that takes the whole body */
static bool single_json_param(const struct sc_function *f)
{
	int n = 0;
	const struct sc_arg *only = NULL;

	for (int i = 0; i < f->n_args; i++)
		if (is_in_arg(&f->args[i])) {
			n++;
			only = &f->args[i];
		}
	return n == 1 && is_json_type(only->type);
}

/*
 * The one unnamed parameter of type want (text, xml, bytea) that a
 * text/plain, text/xml or application/octet-stream body is passed to.
 */
static bool single_raw_param(const struct sc_function *f, const char *want)
{
	int n = 0;
	const struct sc_arg *only = NULL;

	for (int i = 0; i < f->n_args; i++)
		if (is_in_arg(&f->args[i])) {
			n++;
			only = &f->args[i];
		}
	return n == 1 && only->name[0] == '\0' && strcmp(only->type, want) == 0;
}

/* the parameter type a raw body's Content-Type goes to, else NULL */
static const char *raw_body_type(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return NULL;
	n = strcspn(ct, "; ");
	if (n == 10 && strncasecmp(ct, "text/plain", n) == 0)
		return "text";
	if (n == 8 && strncasecmp(ct, "text/xml", n) == 0)
		return "xml";
	if (n == 24 && strncasecmp(ct, "application/octet-stream", n) == 0)
		return "bytea";
	return NULL;
}

static const struct sc_arg *find_arg(const struct sc_function *f, const char *name)
{
	for (int i = 0; i < f->n_args; i++)
		if (is_in_arg(&f->args[i]) && f->args[i].name[0] != '\0' &&
		    strcmp(f->args[i].name, name) == 0)
			return &f->args[i];
	return NULL;
}

/* every key names a parameter, every parameter without a default is a key */
static bool args_match(const struct sc_function *f, const char *const *keys, int n_keys)
{
	for (int i = 0; i < n_keys; i++)
		if (find_arg(f, keys[i]) == NULL)
			return false;
	for (int i = 0; i < f->n_args; i++) {
		const struct sc_arg *a = &f->args[i];
		bool given = false;

		if (!is_in_arg(a) || a->has_default)
			continue;
		for (int k = 0; k < n_keys && !given; k++)
			given = a->name[0] != '\0' && strcmp(a->name, keys[k]) == 0;
		if (!given)
			return false;
	}
	return true;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const char *sorted_list(struct arena *a, const char *const *keys, int n, const char *sep)
{
	const char **k = arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
	struct sbuf b;

	/* memcpy and qsort want real pointers even for nothing (UBSan) */
	if (n > 0) {
		memcpy(k, keys, sizeof(char *) * (size_t)n);
		qsort(k, (size_t)n, sizeof(char *), by_name);
	}
	sbuf_init(&b, a, 64);
	for (int i = 0; i < n; i++)
		sbuf_printf(&b, "%s%s", i ? sep : "", k[i]);
	return b.data;
}

static const char *signature(struct arena *a, const struct sc_function *f, bool with_types)
{
	struct sbuf b;
	int n = 0;

	sbuf_init(&b, a, 64);
	sbuf_printf(&b, "%s.%s(", f->schema, f->name);
	for (int i = 0; i < f->n_args; i++) {
		if (!is_in_arg(&f->args[i]))
			continue;
		sbuf_printf(&b, "%s%s", n++ ? ", " : "", f->args[i].name);
		if (with_types)
			sbuf_printf(&b, " => %s", f->args[i].type);
	}
	sbuf_putc(&b, ')');
	return b.data;
}

/* PGRST202, worded as PostgREST v12 does */
static int no_function(struct ctx *c, const char *name, const char *const *keys, int n_keys,
		       bool post, const char *raw_type, int first, int count)
{
	const char *list = sorted_list(c->a, keys, n_keys, ", ");
	const char *func = arena_printf(c->a, "%s.%s", c->schema, name);
	const char *params = n_keys == 0 ? " without parameters"
			   : arena_printf(c->a, " with parameter%s %s", n_keys > 1 ? "s" : "", list);
	const char *hint = NULL;

	if (count > 0)
		hint = arena_printf(c->a, "Perhaps you meant to call the function %s",
				    signature(c->a, &c->w->schema->functions[first], false));
	if (raw_type != NULL)
		return ctx_fail_with(c, 404, "PGRST202",
				     arena_printf(c->a, "Could not find the function %s in the schema cache", func),
				     arena_printf(c->a, "Searched for the function %s with a single unnamed %s parameter, "
						  "but no matches were found in the schema cache.", func, raw_type),
				     hint);
	return ctx_fail_with(c, 404, "PGRST202",
			     arena_printf(c->a, "Could not find the function %s(%s) in the schema cache",
					  func, list),
			     arena_printf(c->a, "Searched for the function %s%s%s, but no matches were found in the schema cache.",
					  func, params, post ? " or with a single unnamed json/jsonb parameter" : ""),
			     hint);
}

struct call {
	const struct sc_function *f;
	bool whole_body;            /* the body is the single json argument */
	const char *raw_type;       /* text, xml or bytea: the body is the single unnamed argument */
	const char *args_json;      /* the arguments as one JSON object */
	const char *const *keys;
	int n_keys;
};

static int choose_function(struct ctx *c, const char *name, struct call *call, bool post,
			   bool single_object)
{
	int count, first = schema_functions(c->w->schema, c->schema, name, &count);
	const struct sc_function *named = NULL, *whole = NULL;
	int n_named = 0;

	if (call->raw_type != NULL) {
		for (int i = 0; first >= 0 && i < count; i++)
			if (single_raw_param(&c->w->schema->functions[first + i], call->raw_type)) {
				call->f = &c->w->schema->functions[first + i];
				call->whole_body = true;
				return 0;
			}
		return no_function(c, name, NULL, 0, post, call->raw_type, first, count);
	}

	for (int i = 0; first >= 0 && i < count; i++) {
		const struct sc_function *f = &c->w->schema->functions[first + i];

		if (post && single_json_param(f) &&
		    (single_object || f->args[0].name[0] == '\0' || call->n_keys == 0 ||
		     !args_match(f, call->keys, call->n_keys)))
			whole = f;
		if (args_match(f, call->keys, call->n_keys)) {
			n_named++;
			named = f;
		}
	}
	if (n_named > 1) {
		struct sbuf list;

		sbuf_init(&list, c->a, 128);
		for (int i = 0; i < count; i++) {
			const struct sc_function *f = &c->w->schema->functions[first + i];

			if (args_match(f, call->keys, call->n_keys))
				sbuf_printf(&list, "%s%s", list.len ? ", " : "", signature(c->a, f, true));
		}
		return ctx_fail_with(c, 300, "PGRST203",
				     arena_printf(c->a, "Could not choose the best candidate function between: %s", list.data),
				     NULL,
				     "Try renaming the parameters or the function itself in the database so function overloading can be resolved");
	}
	if (named != NULL && !(single_object && whole != NULL)) {
		call->f = named;
		return 0;
	}
	if (whole != NULL) {
		call->f = whole;
		call->whole_body = true;
		return 0;
	}
	return no_function(c, name, call->keys, call->n_keys, post, NULL, first, count);
}

/* GET: name=value params are the arguments; a repeated name is an array */
static void args_from_query(struct ctx *c, const struct query *q, struct call *call)
{
	struct sbuf b;
	const char **keys = arena_alloc(c->a, sizeof(char *) * (size_t)(q->n_args + 1));
	int n = 0;

	sbuf_init(&b, c->a, 128);
	sbuf_putc(&b, '{');
	for (int i = 0; i < q->n_args; i++) {
		bool seen = false;

		for (int k = 0; k < n && !seen; k++)
			seen = strcmp(keys[k], q->arg_names[i]) == 0;
		if (seen)
			continue;
		keys[n++] = q->arg_names[i];

		int reps = 0;

		for (int k = i; k < q->n_args; k++)
			reps += strcmp(q->arg_names[k], q->arg_names[i]) == 0;
		if (n > 1)
			sbuf_putc(&b, ',');
		json_put_string(&b, q->arg_names[i]);
		sbuf_putc(&b, ':');
		if (reps == 1) {
			json_put_string(&b, q->arg_values[i]);
			continue;
		}
		sbuf_putc(&b, '[');
		for (int k = i, m = 0; k < q->n_args; k++)
			if (strcmp(q->arg_names[k], q->arg_names[i]) == 0) {
				if (m++)
					sbuf_putc(&b, ',');
				json_put_string(&b, q->arg_values[k]);
			}
		sbuf_putc(&b, ']');
	}
	sbuf_putc(&b, '}');
	call->args_json = b.data;
	call->keys = keys;
	call->n_keys = n;
}

/*
 * A raw body as the text of its parameter: text and xml as they are
 * (PostgreSQL checks the encoding and the XML), bytea in hex format so
 * that any byte, NUL included, survives a text parameter.
 */
static const char *raw_body_value(struct ctx *c, bool as_hex)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)c->req.body;
	char *out;

	if (!as_hex)
		return arena_strndup(c->a, c->req.body ? c->req.body : "", c->req.body_len);
	out = arena_alloc(c->a, 2 * c->req.body_len + 3);
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < c->req.body_len; i++) {
		out[2 + 2 * i] = hex[p[i] >> 4];
		out[3 + 2 * i] = hex[p[i] & 15];
	}
	out[2 + 2 * c->req.body_len] = '\0';
	return out;
}

/* POST: a JSON object of named arguments (an empty body is {}) */
static int args_from_body(struct ctx *c, struct call *call)
{
	struct payload p;
	int type = payload_type_of(c->req.content_type);

	if ((call->raw_type = raw_body_type(c->req.content_type)) != NULL) {
		bool bytea = call->raw_type[0] == 'b';    /* "bytea" */

		/* what PostgreSQL would say; a text parameter cannot carry NUL */
		if (!bytea && c->req.body_len > 0 &&
		    memchr(c->req.body, '\0', c->req.body_len) != NULL)
			return ctx_fail_with(c, 400, "22021",
					     "invalid byte sequence for encoding \"UTF8\": 0x00", NULL, NULL);
		call->args_json = raw_body_value(c, bytea);
		return 0;
	}
	if (c->req.body_len == 0) {
		call->args_json = "{}";
		return 0;
	}
	if (type < 0)
		return ctx_fail_with(c, 400, "PGRST102",
				     arena_printf(c->a, "Content-Type not acceptable: %s", c->req.content_type),
				     NULL, NULL);
	if (payload_parse(type, c->req.body, c->req.body_len, true, c->a, &p, &c->err) < 0)
		return ctx_fail(c);
	if (p.is_array)
		return ctx_fail_with(c, 400, "PGRST102",
				     "A function takes one JSON object of named arguments", NULL, NULL);
	call->args_json = p.json;
	call->keys = p.keys;
	call->n_keys = p.n_keys;
	return 0;
}

/*
 * The FROM item: json_to_record($1) into the parameter types, the call
 * with named arguments, its rows (or its value as "pgrst_scalar").
 */
static const char *call_sql(struct ctx *c, const struct call *call, const char *alias, bool scalar)
{
	const struct sc_function *f = call->f;
	struct sbuf b;

	sbuf_init(&b, c->a, 256);
	sbuf_printf(&b, "(SELECT pgrst_call.%s FROM ", scalar ? "pgrst_scalar" : "*");
	if (call->whole_body) {
		sbuf_puts(&b, "LATERAL ");
		sql_qualified(&b, f->schema, f->name);
		sbuf_printf(&b, "($1::%s)", f->args[0].type);
	} else {
		sbuf_puts(&b, "pg_catalog.json_to_record($1::json) AS pgrst_args(");
		for (int i = 0; i < call->n_keys; i++) {
			if (i > 0)
				sbuf_puts(&b, ", ");
			sql_ident(&b, call->keys[i]);
			sbuf_printf(&b, " %s", find_arg(f, call->keys[i])->type);
		}
		if (call->n_keys == 0)
			sbuf_puts(&b, "pgrst_none text");
		sbuf_puts(&b, "), LATERAL ");
		sql_qualified(&b, f->schema, f->name);
		sbuf_putc(&b, '(');
		for (int i = 0; i < call->n_keys; i++) {
			if (i > 0)
				sbuf_puts(&b, ", ");
			if (find_arg(f, call->keys[i])->variadic)
				sbuf_puts(&b, "VARIADIC ");
			sql_ident(&b, call->keys[i]);
			sbuf_puts(&b, " := pgrst_args.");
			sql_ident(&b, call->keys[i]);
		}
		sbuf_putc(&b, ')');
	}
	sbuf_printf(&b, " AS pgrst_call%s) AS %s", scalar ? "(pgrst_scalar)" : "", alias);
	return b.data;
}

/*
 * Does f return one row of jwt-claims-type ("name" or "schema.name")?
 * Only then is its result signed (PostgREST 0.3's internal tokens).
 */
static bool returns_claims(const struct config *cfg, const struct sc_function *f)
{
	const char *want = cfg->jwt_claims_type, *dot;

	if (want == NULL || want[0] == '\0' || !f->returns_composite || f->returns_set ||
	    f->return_type_name == NULL)
		return false;
	dot = strchr(want, '.');
	if (dot == NULL)
		return strcmp(want, f->return_type_name) == 0;
	return f->return_type_schema != NULL &&
	       strlen(f->return_type_schema) == (size_t)(dot - want) &&
	       strncmp(want, f->return_type_schema, dot - want) == 0 &&
	       strcmp(dot + 1, f->return_type_name) == 0;
}

/* a claims row whose columns are all NULL: the function returned NULL */
static bool all_null(const char *claims)
{
	json_object *o = json_tokener_parse(claims);
	bool empty = true;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return false;
	}
	json_object_object_foreach(o, key, val) {
		(void)key;
		if (val != NULL)
			empty = false;
	}
	json_object_put(o);
	return empty;
}

const char *rpc_token_body(struct ctx *c, const char *claims)
{
	struct sbuf b;
	const char *err;
	char *token;

	if (strcmp(claims, "null") == 0 || all_null(claims))
		return "{\"token\":null}";
	token = auth_sign_token(c->cfg, claims, c->a, &err);
	if (token == NULL) {
		ctx_fail_with(c, 500, "PGRST300", "Server lacks JWT secret",
			      arena_printf(c->a, "Cannot sign the %s result: %s",
					   c->cfg->jwt_claims_type, err), NULL);
		return NULL;
	}
	sbuf_init(&b, c->a, strlen(token) + 16);
	sbuf_puts(&b, "{\"token\":");
	json_put_string(&b, token);
	sbuf_putc(&b, '}');
	return b.data;
}

/*
 * db-hoisted-tx-settings: the function's SET clauses for the settings in
 * that list apply to the whole transaction (ctx_preamble sets them), as in
 * PostgREST: a function's own SET statement_timeout would come too late to
 * bound the statement calling it.
 */
static void hoist_settings(struct ctx *c, const struct sc_function *f)
{
	const char **names, **values;
	int n = 0;

	if (f->n_settings == 0 || c->cfg->n_db_hoisted_tx_settings == 0)
		return;
	names = arena_alloc(c->a, sizeof(*names) * (size_t)f->n_settings);
	values = arena_alloc(c->a, sizeof(*values) * (size_t)f->n_settings);
	for (int i = 0; i < f->n_settings; i++) {
		const char *eq = strchr(f->settings[i], '=');

		if (eq == NULL)
			continue;
		for (int k = 0; k < c->cfg->n_db_hoisted_tx_settings; k++) {
			const char *h = c->cfg->db_hoisted_tx_settings[k];

			if (strlen(h) == (size_t)(eq - f->settings[i]) &&
			    strncasecmp(h, f->settings[i], (size_t)(eq - f->settings[i])) == 0) {
				names[n] = h;
				values[n] = eq + 1;
				n++;
				break;
			}
		}
	}
	if (n == 0)
		return;
	c->hoisted_names = sql_array_literal(c->a, names, n);
	c->hoisted_values = sql_array_literal(c->a, values, n);
}

/*
 * Media type handlers (PostgREST v12): a function returning a domain named
 * like a media type answers with its value as that type when Accept asks
 * for it.  The Content-Type to answer with, or NULL for the usual media.
 */
static const char *handler_type(struct ctx *c, const char *name)
{
	int count, first = schema_functions(c->w->schema, c->schema, name, &count);
	const char *ct;

	for (int i = 0; first >= 0 && i < count; i++) {
		const struct sc_function *f = &c->w->schema->functions[first + i];

		if (f->handler != NULL &&
		    media_handler_accepts(request_header(&c->req, "accept"), f->handler, c->a, &ct))
			return ct;
	}
	return NULL;
}

int handle_rpc(struct ctx *c, const char *name, bool head)
{
	bool post = strcmp(c->req.method, "POST") == 0;
	struct read_request r;
	struct call call;

	memset(&r, 0, sizeof(r));
	memset(&call, 0, sizeof(call));
	if (c->w->schema == NULL)
		return ctx_fail_with(c, 503, "PGRST002",
				     "Could not query the database for the schema cache. Retrying.", NULL, NULL);
	r.handler_type = handler_type(c, name);
	if (read_prepare(c, &r) < 0)
		return -1;
	if (post ? args_from_body(c, &call) < 0 : (args_from_query(c, &r.q, &call), 0))
		return -1;
	if (choose_function(c, name, &call, post, r.pf.single_object) < 0)
		return -1;
	if (call.whole_body && call.raw_type == NULL)
		call.args_json = c->req.body_len ? arena_strndup(c->a, c->req.body, c->req.body_len) : "{}";
	hoist_settings(c, call.f);

	const struct sc_function *f = call.f;
	bool scalar = !f->returns_composite;
	struct sbuf alias;

	sbuf_init(&alias, c->a, 32);
	sql_ident(&alias, f->name);

	struct read_spec spec = {
		.schema = c->schema,
		.relation = f->name,
		.sc = c->w->schema,
		.max_rows = c->cfg->db_max_rows,
		.head = head,
		.from_sql = call_sql(c, &call, alias.data, scalar),
		.from_qual = alias.data,
		.from_rel = (f->return_type_name && f->return_type_schema)
			? schema_relation_index(c->w->schema, f->return_type_schema, f->return_type_name) : -1,
		.scalar = scalar,
		.returns_set = f->returns_set,
		.single_row = f->returns_composite && !f->returns_set,
		.returns_void = f->returns_void,
		.handler_type = f->handler != NULL ? r.handler_type : NULL,
		.handler_binary = f->handler_binary,
	};

	r.pre_values = &call.args_json;
	r.n_pre_values = 1;
	/* a JSON answer only: CSV or a plan shows the claims row as it is */
	r.sign_claims = returns_claims(c->cfg, f) && (r.media == MEDIA_JSON || media_is_object(r.media));
	/* only a volatile function may write, and only when POSTed */
	return read_run(c, &r, &spec, !(post && f->volatility == 'v'),
			arena_printf(c->a, "rpc/%s", name));
}
