/*
 * openapi-t.c — the OpenAPI document of GET / (src/openapi.c) without a
 * database.
 *
 * A schema cache read from JSON (schema_from_json(), the layout of the
 * introspection query) goes through openapi_document(); json-c parses the
 * result and the tests look at it: paths and their operations, the
 * definitions with PostgREST's type mapping and key notes, the functions,
 * privileges, the proxy URI and the base path.  The expected values are
 * PostgREST v12's (test/spec/Feature/OpenApi/OpenApiSpec.hs and documents
 * v12 servers publish).  Documents are written with ' for " (see q()).
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* by path: a build's own config.h (autoconf) may come first on -I */
#include "../../src/openapi.h"
#include "tap.h"

static struct arena A;
static struct schema_cache *sc;

/* The text with every ' turned into " ; \' stands for a real '. */
static const char *q(const char *s)
{
	static char buf[32768];
	size_t n = 0;

	for (; *s; s++) {
		if (n + 2 >= sizeof(buf)) {
			fprintf(stderr, "openapi-t: document too long\n");
			exit(2);
		}
		if (s[0] == '\\' && s[1] == '\'')
			buf[n++] = *++s;
		else
			buf[n++] = *s == '\'' ? '"' : *s;
	}
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* the fixture                                                        */

#define COL(name, type, base, nullable, def, descr, en) \
	"{'name':'" name "','type':'" type "','base_type':'" base "','nullable':" nullable "," \
	"'default':" def ",'description':" descr ",'enum':" en "}"
#define C(name, type) COL(name, type, type, "true", "null", "null", "null")
#define REL(schema, name, kind, w, descr, pk, cols) \
	"{'schema':'" schema "','name':'" name "','kind':'" kind "','insertable':" w "," \
	"'updatable':" w ",'deletable':" w ",'description':" descr ",'pk':" pk "," \
	"'columns':[" cols "]}"
#define FK(name, from, fcol, to, tcol) \
	"{'name':'" name "','from_schema':'api','from_name':'" from "','from_cols':['" fcol "']," \
	"'to_schema':'api','to_name':'" to "','to_cols':['" tcol "'],'from_unique':false}"
#define ARG(name, type, mode, def) \
	"{'name':'" name "','type':'" type "','mode':'" mode "','has_default':" def "}"
#define FN(schema, name, args, vol, descr) \
	"{'schema':'" schema "','name':'" name "','args':[" args "],'return_type':'integer'," \
	"'return_type_schema':null,'return_type_name':null,'returns_set':false," \
	"'returns_composite':false,'returns_void':false,'volatility':'" vol "'," \
	"'description':" descr "}"

static const char fixture[] =
	"{'relations':["
	REL("api", "clients", "table", "true", "'Clients\\n\\n\\nEveryone who pays.'", "['id']",
	    COL("id", "integer", "integer", "false",
		"'nextval(\\'api.clients_id_seq\\'::regclass)'", "'The id'", "null") ","
	    COL("name", "character varying(50)", "character varying", "false",
		"'\\'nobody\\'::character varying'", "null", "null") ","
	    C("code", "character(3)")) ","
	REL("api", "clients_view", "view", "false", "null", "['id']",
	    C("id", "integer") "," C("name", "character varying(50)")) ","
	REL("api", "projects", "table", "true", "'Projects'", "['id']",
	    COL("id", "bigint", "bigint", "false", "null", "null", "null") ","
	    C("client_id", "integer") ","
	    COL("status", "api.status", "api.status", "false", "'\\'open\\'::api.status'", "null",
		"['open','closed']") ","
	    C("tags", "text[]") ","
	    C("data", "jsonb") ","
	    C("meta", "json[]") ","
	    COL("price", "numeric(10,2)", "numeric", "true", "'42.2'", "null", "null") ","
	    COL("created", "timestamp(3) with time zone", "timestamp with time zone", "false",
		"'now()'", "null", "null") ","
	    COL("done", "boolean", "boolean", "true", "'false'", "null", "null") ","
	    COL("born", "date", "date", "true", "'\\'1900-01-01\\'::date'", "null", "null") ","
	    COL("settings", "jsonb", "jsonb", "true", "'\\'{}\\'::jsonb'", "null", "null") ","
	    COL("positive", "api.posint", "integer", "true", "null", "null", "null") ","
	    C("moods", "api.status[]") ","
	    C("ints", "integer[]")) ","
	REL("api", "projects_view", "view", "false", "'Read only'", "['id']",
	    C("id", "bigint") "," C("client_id", "integer")) ","
	REL("api", "secrets", "table", "true", "null", "[]", C("value", "text")) ","
	REL("alt", "other_table", "table", "true", "null", "[]", C("x", "integer"))
	"],'fkeys':["
	FK("projects_client_id_fkey", "projects", "client_id", "clients", "id") ","
	FK("projects_view_client_view", "projects_view", "client_id", "clients_view", "id") ","
	FK("projects_client_id_fkey", "projects_view", "client_id", "clients", "id")
	"],'functions':["
	FN("api", "add", ARG("a", "integer", "i", "false") "," ARG("b", "integer", "i", "true"),
	   "i", "'Adds\\nTwo numbers.'") ","
	FN("api", "reset", "", "v", "null") ","
	FN("api", "sum_all", ARG("v", "integer[]", "v", "false"), "s", "null") ","
	FN("api", "body_fn", ARG("", "json", "i", "false"), "v", "null") ","
	FN("api", "bad", ARG("", "integer", "i", "false") "," ARG("", "integer", "i", "false"),
	   "i", "null") ","
	FN("api", "outs", ARG("x", "text[]", "i", "false") "," ARG("y", "integer", "o", "false") ","
	   ARG("z", "integer", "b", "false"), "s", "null") ","
	FN("api", "over", ARG("a", "integer", "i", "false"), "s", "null") ","
	FN("api", "over", ARG("a", "integer", "i", "false") "," ARG("b", "jsonb", "i", "false"),
	   "s", "null") ","
	FN("api", "hidden", "", "s", "null") ","
	FN("api", "sorted", ARG("zeta", "text", "i", "false") "," ARG("alpha", "text", "i", "false"),
	   "s", "null") ","
	FN("alt", "other_fn", "", "s", "null")
	"]}";

/* ------------------------------------------------------------------ */
/* looking into the document                                          */

/* root -> key1 -> key2 ... (NULL-terminated); NULL when absent */
static json_object *jget(json_object *o, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, o);
	while (o != NULL && (k = va_arg(ap, const char *)) != NULL) {
		if (json_object_is_type(o, json_type_array)) {
			int i = atoi(k);

			o = i < (int)json_object_array_length(o) ? json_object_array_get_idx(o, (size_t)i)
								 : NULL;
		} else if (!json_object_object_get_ex(o, k, &o)) {
			o = NULL;
		}
	}
	va_end(ap);
	return o;
}

/* the compact JSON text of a part, for comparisons */
static const char *text(json_object *o)
{
	return o == NULL ? "(absent)"
			 : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
}

static const char *str(json_object *o)
{
	return o != NULL && json_object_is_type(o, json_type_string) ? json_object_get_string(o)
								      : NULL;
}

/* the member names of an object, comma-separated, in document order */
static const char *keys(json_object *o)
{
	static char buf[4096];
	size_t n = 0;

	buf[0] = '\0';
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return "(not an object)";
	json_object_object_foreach(o, k, v) {
		(void)v;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "," : "", k);
		if (n >= sizeof(buf))
			break;
	}
	return buf;
}

static struct config cfg;

static json_object *doc_for(const char *schema, const char *base,
			    const struct openapi_privileges *priv, const char **raw)
{
	char *s = openapi_document(sc, &cfg, schema, base, priv, &A);
	json_object *o = json_tokener_parse(s);

	if (raw != NULL)
		*raw = s;
	if (!ok(o != NULL && json_object_is_type(o, json_type_object), "%s document parses",
		schema))
		printf("# %.300s\n", s);
	return o;
}

/* ------------------------------------------------------------------ */

static void test_top(void)
{
	const char *raw;
	json_object *d = doc_for("api", "", NULL, &raw);

	ok(strncmp(raw, "{\"swagger\":\"2.0\",\"info\":{\"description\":", 38) == 0,
	   "starts like PostgREST's: swagger, info with sorted keys");
	is_str(keys(d), "swagger,info,basePath,consumes,produces,paths,definitions,parameters,externalDocs",
	       "top-level keys in swagger2 order, no host/schemes without a proxy");
	is_str(str(jget(d, "info", "title", NULL)), "PostgREST API", "default title");
	is_str(str(jget(d, "info", "description", NULL)), "This is a dynamic API generated by PostgREST",
	       "default description");
	ok(str(jget(d, "info", "version", NULL)) != NULL, "a version");
	is_str(str(jget(d, "basePath", NULL)), "/", "basePath / at the root");
	is_str(text(jget(d, "consumes", NULL)),
	       "[\"application/json\",\"application/vnd.pgrst.object+json;nulls=stripped\","
	       "\"application/vnd.pgrst.object+json\",\"text/csv\"]", "consumes");
	is_str(text(jget(d, "produces", NULL)), text(jget(d, "consumes", NULL)), "produces the same");
	is_str(text(jget(d, "externalDocs", NULL)),
	       "{\"description\":\"PostgREST Documentation\",\"url\":\"https://postgrest.org/en/v12/references/api.html\"}",
	       "externalDocs");
	is_str(text(jget(d, "paths", "/", NULL)),
	       "{\"get\":{\"produces\":[\"application/openapi+json\",\"application/json\"],"
	       "\"responses\":{\"200\":{\"description\":\"OK\"}},"
	       "\"summary\":\"OpenAPI description (this document)\",\"tags\":[\"Introspection\"]}}",
	       "the root path");
	is_str(keys(jget(d, "paths", NULL)),
	       "/,/clients,/clients_view,/projects,/projects_view,/secrets,"
	       "/rpc/add,/rpc/body_fn,/rpc/hidden,/rpc/outs,/rpc/over,/rpc/reset,/rpc/sorted,/rpc/sum_all",
	       "paths: root, relations, callable functions of the schema, one per name");
	ok(jget(d, "securityDefinitions", NULL) == NULL && jget(d, "security", NULL) == NULL,
	   "no security definitions");
	json_object_put(d);

	d = doc_for("api", "/api", NULL, NULL);
	is_str(str(jget(d, "basePath", NULL)), "/api", "basePath is the mount prefix");
	json_object_put(d);
}

static void test_table_paths(void)
{
	json_object *d = doc_for("api", "", NULL, NULL);
	json_object *p = jget(d, "paths", "/clients", NULL);

	is_str(keys(p), "get,post,delete,patch", "writable table: get, post, delete, patch");
	is_str(keys(jget(p, "get", NULL)), "description,parameters,responses,summary,tags",
	       "operation keys sorted");
	is_str(str(jget(p, "get", "summary", NULL)), "Clients", "summary: first line of the comment");
	is_str(str(jget(p, "get", "description", NULL)), "Everyone who pays.",
	       "description: the rest without leading newlines");
	is_str(text(jget(p, "get", "parameters", NULL)),
	       "[{\"$ref\":\"#/parameters/rowFilter.clients.id\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.name\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.code\"},"
	       "{\"$ref\":\"#/parameters/select\"},{\"$ref\":\"#/parameters/order\"},"
	       "{\"$ref\":\"#/parameters/range\"},{\"$ref\":\"#/parameters/rangeUnit\"},"
	       "{\"$ref\":\"#/parameters/offset\"},{\"$ref\":\"#/parameters/limit\"},"
	       "{\"$ref\":\"#/parameters/preferCount\"}]", "get parameters");
	is_str(text(jget(p, "get", "responses", NULL)),
	       "{\"200\":{\"description\":\"OK\",\"schema\":{\"items\":{\"$ref\":\"#/definitions/clients\"},"
	       "\"type\":\"array\"}},\"206\":{\"description\":\"Partial Content\"}}", "get responses");
	is_str(text(jget(p, "get", "tags", NULL)), "[\"clients\"]", "tag: the relation");
	is_str(text(jget(p, "post", "parameters", NULL)),
	       "[{\"$ref\":\"#/parameters/body.clients\"},{\"$ref\":\"#/parameters/select\"},"
	       "{\"$ref\":\"#/parameters/preferPost\"}]", "post parameters");
	is_str(text(jget(p, "post", "responses", NULL)), "{\"201\":{\"description\":\"Created\"}}",
	       "post: 201 Created");
	is_str(text(jget(p, "patch", "parameters", NULL)),
	       "[{\"$ref\":\"#/parameters/rowFilter.clients.id\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.name\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.code\"},"
	       "{\"$ref\":\"#/parameters/body.clients\"},{\"$ref\":\"#/parameters/preferReturn\"}]",
	       "patch parameters");
	is_str(text(jget(p, "delete", "parameters", NULL)),
	       "[{\"$ref\":\"#/parameters/rowFilter.clients.id\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.name\"},"
	       "{\"$ref\":\"#/parameters/rowFilter.clients.code\"},"
	       "{\"$ref\":\"#/parameters/preferReturn\"}]", "delete parameters");
	is_str(text(jget(p, "delete", "responses", NULL)), "{\"204\":{\"description\":\"No Content\"}}",
	       "delete: 204");
	is_str(text(jget(p, "patch", "responses", NULL)), "{\"204\":{\"description\":\"No Content\"}}",
	       "patch: 204");

	p = jget(d, "paths", "/projects_view", NULL);
	is_str(keys(p), "get", "read-only view: get only");
	is_str(str(jget(p, "get", "summary", NULL)), "Read only", "one-line comment: summary");
	ok(jget(p, "get", "description", NULL) == NULL, "... and no description");
	p = jget(d, "paths", "/secrets", NULL);
	ok(jget(p, "get", "summary", NULL) == NULL, "no comment: no summary");
	ok(jget(d, "paths", "/other_table", NULL) == NULL, "another schema's table is not shown");
	json_object_put(d);
}

static void test_definitions(void)
{
	json_object *d = doc_for("api", "", NULL, NULL);
	json_object *c = jget(d, "definitions", "clients", NULL);
	json_object *p = jget(d, "definitions", "projects", "properties", NULL);

	is_str(keys(jget(d, "definitions", NULL)),
	       "clients,clients_view,projects,projects_view,secrets", "a definition per relation");
	is_str(keys(c), "description,required,properties,type", "definition keys in swagger2 order");
	is_str(str(jget(c, "description", NULL)), "Clients\n\n\nEveryone who pays.",
	       "definition description: the whole comment");
	is_str(text(jget(c, "required", NULL)), "[\"id\",\"name\"]", "required: the NOT NULL columns");
	is_str(text(jget(c, "properties", "id", NULL)),
	       "{\"description\":\"The id\\n\\nNote:\\nThis is a Primary Key.<pk/>\","
	       "\"format\":\"integer\",\"type\":\"integer\"}",
	       "pk column: comment, then the note; nextval() default left out");
	is_str(text(jget(c, "properties", "name", NULL)),
	       "{\"default\":\"nobody\",\"format\":\"character varying\",\"maxLength\":50,\"type\":\"string\"}",
	       "varchar(50): format without modifier, maxLength, default without cast and quotes");
	is_str(text(jget(c, "properties", "code", NULL)),
	       "{\"format\":\"character\",\"maxLength\":3,\"type\":\"string\"}", "character(3)");
	is_str(text(jget(c, "type", NULL)), "\"object\"", "type object");

	is_str(text(jget(p, "id", NULL)),
	       "{\"description\":\"Note:\\nThis is a Primary Key.<pk/>\",\"format\":\"bigint\",\"type\":\"integer\"}",
	       "bigint pk");
	is_str(text(jget(p, "client_id", NULL)),
	       "{\"description\":\"Note:\\nThis is a Foreign Key to `clients.id`.<fk table='clients' column='id'/>\","
	       "\"format\":\"integer\",\"type\":\"integer\"}", "fk note");
	is_str(text(jget(p, "status", NULL)),
	       "{\"default\":\"open\",\"enum\":[\"open\",\"closed\"],\"format\":\"api.status\",\"type\":\"string\"}",
	       "enum: values, qualified format, default");
	is_str(text(jget(p, "tags", NULL)),
	       "{\"format\":\"text[]\",\"items\":{\"type\":\"string\"},\"type\":\"array\"}", "text[]");
	is_str(text(jget(p, "ints", NULL)),
	       "{\"format\":\"integer[]\",\"items\":{\"type\":\"integer\"},\"type\":\"array\"}", "integer[]");
	is_str(text(jget(p, "data", NULL)), "{\"format\":\"jsonb\"}", "jsonb: any (no type)");
	is_str(text(jget(p, "meta", NULL)), "{\"format\":\"json[]\",\"items\":{},\"type\":\"array\"}",
	       "json[]: items of any type");
	is_str(text(jget(p, "price", NULL)), "{\"default\":42.2,\"format\":\"numeric\",\"type\":\"number\"}",
	       "numeric(10,2): number, numeric default");
	is_str(text(jget(p, "created", NULL)),
	       "{\"default\":\"now()\",\"format\":\"timestamp with time zone\",\"type\":\"string\"}",
	       "timestamptz(3): format without modifier, now() as a string default");
	is_str(text(jget(p, "done", NULL)), "{\"default\":false,\"format\":\"boolean\",\"type\":\"boolean\"}",
	       "boolean default");
	is_str(text(jget(p, "born", NULL)), "{\"default\":\"1900-01-01\",\"format\":\"date\",\"type\":\"string\"}",
	       "date default");
	is_str(text(jget(p, "settings", NULL)), "{\"format\":\"jsonb\"}", "a jsonb default that is not JSON is left out");
	is_str(text(jget(p, "positive", NULL)), "{\"format\":\"integer\",\"type\":\"integer\"}",
	       "domain over integer: the base type");
	is_str(text(jget(p, "moods", NULL)),
	       "{\"format\":\"api.status[]\",\"items\":{\"type\":\"string\"},\"type\":\"array\"}", "enum array");
	is_str(text(jget(d, "definitions", "projects", "required", NULL)), "[\"id\",\"status\",\"created\"]",
	       "required includes NOT NULL columns with defaults, as PostgREST does");

	p = jget(d, "definitions", "projects_view", NULL);
	is_str(keys(p), "description,properties,type", "no NOT NULL columns: no required");
	is_str(str(jget(p, "properties", "client_id", "description", NULL)),
	       "Note:\nThis is a Foreign Key to `clients.id`.<fk table='clients' column='id'/>",
	       "a view's fk note points at the table rather than the view");
	json_object_put(d);
}

static void test_parameters(void)
{
	json_object *d = doc_for("api", "", NULL, NULL);
	json_object *p = jget(d, "parameters", NULL);
	const char *k = keys(p);

	ok(strncmp(k, "preferParams,preferReturn,preferCount,preferPost,select,on_conflict,order,"
		   "range,rangeUnit,offset,limit,body.clients,rowFilter.clients.id,", 117) == 0,
	   "shared parameters first, then body and row filters per relation: %s", k);
	is_str(text(jget(p, "preferParams", NULL)),
	       "{\"name\":\"Prefer\",\"description\":\"Preference\",\"required\":false,"
	       "\"enum\":[\"params=single-object\"],\"in\":\"header\",\"type\":\"string\"}", "preferParams");
	is_str(text(jget(p, "preferPost", "enum", NULL)),
	       "[\"return=representation\",\"return=minimal\",\"return=none\","
	       "\"resolution=ignore-duplicates\",\"resolution=merge-duplicates\"]", "preferPost values");
	is_str(text(jget(p, "preferReturn", "enum", NULL)),
	       "[\"return=representation\",\"return=minimal\",\"return=none\"]", "preferReturn values");
	is_str(text(jget(p, "preferCount", "enum", NULL)), "[\"count=none\"]", "preferCount values");
	is_str(text(jget(p, "rangeUnit", NULL)),
	       "{\"name\":\"Range-Unit\",\"description\":\"Limiting and Pagination\",\"required\":false,"
	       "\"default\":\"items\",\"in\":\"header\",\"type\":\"string\"}", "rangeUnit");
	is_str(text(jget(p, "select", NULL)),
	       "{\"name\":\"select\",\"description\":\"Filtering Columns\",\"required\":false,"
	       "\"in\":\"query\",\"type\":\"string\"}", "select");
	is_str(str(jget(p, "on_conflict", "description", NULL)), "On Conflict", "on_conflict");
	is_str(str(jget(p, "order", "description", NULL)), "Ordering", "order");
	is_str(str(jget(p, "range", "name", NULL)), "Range", "range is the Range header");
	is_str(str(jget(p, "limit", "in", NULL)), "query", "limit in the query");
	is_str(text(jget(p, "body.clients", NULL)),
	       "{\"name\":\"clients\",\"description\":\"clients\",\"required\":false,\"in\":\"body\","
	       "\"schema\":{\"$ref\":\"#/definitions/clients\"}}", "body.clients");
	is_str(text(jget(p, "rowFilter.clients.id", NULL)),
	       "{\"name\":\"id\",\"description\":\"The id\",\"required\":false,"
	       "\"in\":\"query\",\"type\":\"string\"}", "row filter with the column comment");
	is_str(text(jget(p, "rowFilter.clients.name", NULL)),
	       "{\"name\":\"name\",\"required\":false,\"in\":\"query\",\"type\":\"string\"}",
	       "row filter without comment (no format since v12.2)");
	ok(jget(p, "rowFilter.other_table.x", NULL) == NULL, "nothing of another schema");
	json_object_put(d);
}

static void test_functions(void)
{
	json_object *d = doc_for("api", "", NULL, NULL);
	json_object *p = jget(d, "paths", "/rpc/add", NULL);

	is_str(keys(p), "get,post", "immutable function: get and post");
	is_str(keys(jget(p, "get", NULL)), "description,parameters,produces,responses,summary,tags",
	       "rpc operation keys sorted");
	is_str(str(jget(p, "post", "summary", NULL)), "Adds", "summary");
	is_str(str(jget(p, "post", "description", NULL)), "Two numbers.", "description");
	is_str(text(jget(p, "get", "tags", NULL)), "[\"(rpc) add\"]", "tag");
	is_str(text(jget(p, "get", "produces", NULL)),
	       "[\"application/json\",\"application/vnd.pgrst.object+json;nulls=stripped\","
	       "\"application/vnd.pgrst.object+json\"]", "produces");
	is_str(text(jget(p, "get", "responses", NULL)), "{\"200\":{\"description\":\"OK\"}}", "200 OK");
	is_str(text(jget(p, "get", "parameters", NULL)),
	       "[{\"format\":\"integer\",\"in\":\"query\",\"name\":\"a\",\"required\":true,\"type\":\"integer\"},"
	       "{\"format\":\"integer\",\"in\":\"query\",\"name\":\"b\",\"required\":false,\"type\":\"integer\"}]",
	       "get: the arguments as query parameters, required unless defaulted");
	is_str(text(jget(p, "post", "parameters", NULL)),
	       "[{\"in\":\"body\",\"name\":\"args\",\"required\":true,\"schema\":{"
	       "\"description\":\"Adds\\nTwo numbers.\",\"properties\":{"
	       "\"a\":{\"format\":\"integer\",\"type\":\"integer\"},"
	       "\"b\":{\"format\":\"integer\",\"type\":\"integer\"}},"
	       "\"required\":[\"a\"],\"type\":\"object\"}},"
	       "{\"$ref\":\"#/parameters/preferParams\"}]", "post: the arguments as a body schema");

	p = jget(d, "paths", "/rpc/reset", NULL);
	is_str(keys(p), "post", "volatile function: post only");
	is_str(text(jget(p, "post", "parameters", "0", "schema", NULL)), "{\"type\":\"object\"}",
	       "no arguments: an empty object schema");
	p = jget(d, "paths", "/rpc/hidden", "get", NULL);
	ok(p != NULL && jget(p, "parameters", NULL) == NULL, "get without arguments: no parameters");

	is_str(text(jget(d, "paths", "/rpc/sum_all", "get", "parameters", NULL)),
	       "[{\"collectionFormat\":\"multi\",\"in\":\"query\",\"items\":{\"format\":\"integer\","
	       "\"type\":\"integer\"},\"name\":\"v\",\"required\":true,\"type\":\"array\"}]",
	       "variadic: a repeated query parameter");
	is_str(text(jget(d, "paths", "/rpc/outs", "post", "parameters", "0", "schema", NULL)),
	       "{\"properties\":{\"x\":{\"format\":\"text[]\",\"items\":{\"type\":\"string\"},\"type\":\"array\"},"
	       "\"z\":{\"format\":\"integer\",\"type\":\"integer\"}},\"required\":[\"x\",\"z\"],\"type\":\"object\"}",
	       "OUT arguments are not parameters, INOUT are");
	is_str(text(jget(d, "paths", "/rpc/outs", "get", "parameters", "0", NULL)),
	       "{\"format\":\"text[]\",\"in\":\"query\",\"name\":\"x\",\"required\":true,\"type\":\"string\"}",
	       "an array query parameter is a string");
	is_str(keys(jget(d, "paths", "/rpc/over", "post", "parameters", "0", "schema", "properties", NULL)),
	       "a,b", "overloads share a path: the last one");
	is_str(text(jget(d, "paths", "/rpc/over", "get", "parameters", "1", NULL)),
	       "{\"format\":\"jsonb\",\"in\":\"query\",\"name\":\"b\",\"required\":true,\"type\":\"string\"}",
	       "a json query parameter is a string");
	is_str(text(jget(d, "paths", "/rpc/body_fn", "post", "parameters", "0", "schema", "properties", NULL)),
	       "{\"\":{\"format\":\"json\"}}", "one unnamed json argument: callable");
	p = jget(d, "paths", "/rpc/sorted", NULL);
	is_str(keys(jget(p, "post", "parameters", "0", "schema", "properties", NULL)), "alpha,zeta",
	       "body properties sorted by name (an inline schema: swagger2 sorts it)");
	is_str(text(jget(p, "post", "parameters", "0", "schema", "required", NULL)),
	       "[\"zeta\",\"alpha\"]", "... required in argument order");
	is_str(text(jget(p, "get", "parameters", NULL)),
	       "[{\"format\":\"text\",\"in\":\"query\",\"name\":\"zeta\",\"required\":true,\"type\":\"string\"},"
	       "{\"format\":\"text\",\"in\":\"query\",\"name\":\"alpha\",\"required\":true,\"type\":\"string\"}]",
	       "... query parameters in argument order");
	ok(jget(d, "paths", "/rpc/bad", NULL) == NULL, "two unnamed arguments: not callable, not shown");
	ok(jget(d, "paths", "/rpc/other_fn", NULL) == NULL, "another schema's function is not shown");
	json_object_put(d);

	d = doc_for("alt", "", NULL, NULL);
	is_str(keys(jget(d, "paths", NULL)), "/,/other_table,/rpc/other_fn", "the alt schema's document");
	is_str(keys(jget(d, "definitions", NULL)), "other_table", "... and its definitions");
	json_object_put(d);
}

static void test_privileges(void)
{
	struct openapi_grant rels[] = {
		{.name = "clients", .can_select = true},
		{.name = "projects", .can_insert = true},
	};
	struct openapi_grant fns[] = {
		{.name = "add", .can_execute = true},
		{.name = "reset", .can_execute = false},
	};
	struct openapi_privileges priv = {
		.schema_description = "My API\nAll of it.",
		.relations = rels, .n_relations = 2, .functions = fns, .n_functions = 2,
	};
	json_object *d = doc_for("api", "", &priv, NULL);

	is_str(keys(jget(d, "paths", NULL)), "/,/clients,/projects,/rpc/add",
	       "follow-privileges: only what the role may use");
	is_str(keys(jget(d, "definitions", NULL)), "clients,projects", "... in the definitions too");
	ok(jget(d, "parameters", "body.clients_view", NULL) == NULL, "... and the parameters");
	is_str(str(jget(d, "info", "title", NULL)), "My API", "schema comment: first line is the title");
	is_str(str(jget(d, "info", "description", NULL)), "All of it.", "... the rest the description");
	json_object_put(d);

	priv.schema_description = "Just a title";
	cfg.openapi_mode = "ignore-privileges";
	d = doc_for("api", "", &priv, NULL);
	is_str(keys(jget(d, "paths", NULL)),
	       "/,/clients,/clients_view,/projects,/projects_view,/secrets,"
	       "/rpc/add,/rpc/body_fn,/rpc/hidden,/rpc/outs,/rpc/over,/rpc/reset,/rpc/sorted,/rpc/sum_all",
	       "ignore-privileges: everything");
	is_str(str(jget(d, "info", "title", NULL)), "Just a title", "one-line schema comment: title");
	is_str(str(jget(d, "info", "description", NULL)), "", "... and an empty description");
	cfg.openapi_mode = "follow-privileges";
	json_object_put(d);
}

static PGresult *make_result(const char *const rows[][8], int n)
{
	PGresAttDesc attrs[8];
	static const char *const names[] = {
		"kind", "name", "can_select", "can_insert", "can_update", "can_delete",
		"can_execute", "description",
	};
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < 8; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typid = i >= 2 && i <= 6 ? 16 : 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	PQsetResultAttrs(res, 8, attrs);
	for (int r = 0; r < n; r++)
		for (int c = 0; c < 8; c++)
			PQsetvalue(res, r, c, (char *)rows[r][c], rows[r][c] ? (int)strlen(rows[r][c]) : -1);
	return res;
}

static void test_privileges_result(void)
{
	static const char *const rows[][8] = {
		{"schema", "api", NULL, NULL, NULL, NULL, NULL, "Our API"},
		{"relation", "projects", "t", "f", "f", "f", NULL, NULL},
		{"relation", "clients", "f", "t", "t", "t", NULL, NULL},
		{"function", "add", NULL, NULL, NULL, NULL, "t", NULL},
	};
	struct openapi_privileges priv;
	PGresult *res = make_result(rows, 4);
	json_object *d;

	is_int(openapi_privileges_from_result(res, &A, &priv), 0, "rows read");
	is_str(priv.schema_description, "Our API", "schema comment");
	is_int(priv.n_relations, 2, "two relations");
	is_str(priv.relations[0].name, "clients", "sorted by name");
	ok(!priv.relations[0].can_select && priv.relations[0].can_insert && priv.relations[0].can_delete,
	   "flags read");
	ok(priv.n_functions == 1 && priv.functions[0].can_execute, "the function");
	d = doc_for("api", "", &priv, NULL);
	is_str(keys(jget(d, "paths", NULL)), "/,/clients,/projects,/rpc/add", "the document they give");
	json_object_put(d);
	PQclear(res);

	res = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
	is_int(openapi_privileges_from_result(res, &A, &priv), -1, "not rows: -1");
	PQclear(res);
	ok(strstr(openapi_privileges_sql(), "$1") != NULL &&
	   strstr(openapi_privileges_sql(), "has_function_privilege") != NULL, "the statement");
}

static void proxy_case(const char *uri, const char *want_host, const char *want_base,
		       const char *want_schemes, const char *name)
{
	json_object *d;

	cfg.openapi_server_proxy_uri = (char *)uri;
	d = doc_for("api", "/mount", NULL, NULL);
	is_str(str(jget(d, "host", NULL)), want_host, "%s: host", name);
	is_str(str(jget(d, "basePath", NULL)), want_base, "%s: basePath", name);
	is_str(want_schemes ? text(jget(d, "schemes", NULL)) : NULL,
	       want_schemes ? want_schemes : NULL, "%s: schemes", name);
	if (want_host != NULL)
		is_str(keys(d), "swagger,info,host,basePath,schemes,consumes,produces,paths,definitions,"
		       "parameters,externalDocs", "%s: key order", name);
	json_object_put(d);
	cfg.openapi_server_proxy_uri = NULL;
}

static void test_proxy(void)
{
	proxy_case("https://example.com/api", "example.com:443", "/api", "[\"https\"]", "https");
	proxy_case("HTTP://example.com:8080", "example.com:8080", "/", "[\"http\"]", "http with a port");
	proxy_case("http://[::1]:3000/v1/", "[::1]:3000", "/v1/", "[\"http\"]", "IPv6");
	proxy_case("http://example.com", "example.com:80", "/", "[\"http\"]", "http, default port");
	proxy_case("ftp://example.com/x", NULL, "/mount", NULL, "not http: request's prefix");
	proxy_case("https://example.com/api?x=1", NULL, "/mount", NULL, "a query: ignored");
	proxy_case("https://user@example.com/", NULL, "/mount", NULL, "user info: ignored");
	proxy_case("https://example.com:0/", NULL, "/mount", NULL, "port 0: ignored");
	proxy_case("https://:443/", NULL, "/mount", NULL, "no host: ignored");
}

static void test_empty(void)
{
	struct schema_cache *saved = sc;
	json_object *d;

	sc = NULL;
	d = doc_for("api", "", NULL, NULL);
	is_str(keys(jget(d, "paths", NULL)), "/", "no cache: the root path only");
	ok(jget(d, "definitions", NULL) == NULL, "no definitions");
	json_object_put(d);
	sc = saved;
}

static void test_security(void)
{
	json_object *d = doc_for("api", "", NULL, NULL);

	ok(jget(d, "securityDefinitions", NULL) == NULL, "security off: no securityDefinitions");
	ok(jget(d, "security", NULL) == NULL, "security off: no security");
	json_object_put(d);

	cfg.openapi_security_active = true;
	d = doc_for("api", "", NULL, NULL);
	is_str(json_object_to_json_string_ext(jget(d, "securityDefinitions", NULL), JSON_C_TO_STRING_PLAIN),
	       "{\"JWT\":{\"description\":\"Add the token prepending \\\"Bearer \\\" (without quotes) to it\","
	       "\"in\":\"header\",\"name\":\"Authorization\",\"type\":\"apiKey\"}}",
	       "openapi-security-active: the JWT API key scheme");
	is_str(json_object_to_json_string_ext(jget(d, "security", NULL), JSON_C_TO_STRING_PLAIN),
	       "[{\"JWT\":[]}]", "openapi-security-active: required everywhere");
	is_str(keys(d), "swagger,info,basePath,consumes,produces,paths,definitions,parameters,"
	       "securityDefinitions,security,externalDocs", "openapi-security-active: swagger2's order");
	json_object_put(d);
	cfg.openapi_security_active = false;
}

int main(void)
{
	char err[256];

	arena_init(&A);
	cfg.openapi_mode = "follow-privileges";
	sc = schema_from_json(q(fixture), err, sizeof(err));
	if (!ok(sc != NULL, "fixture loads: %s", sc ? "" : err))
		return done_testing();

	test_top();
	test_table_paths();
	test_definitions();
	test_parameters();
	test_functions();
	test_privileges();
	test_privileges_result();
	test_proxy();
	test_empty();
	test_security();

	schema_free(sc);
	arena_destroy(&A);
	return done_testing();
}
