/*
 * schema.c — the schema cache: what the exposed schemas contain.
 *
 * input:  a connection (idle, as the authenticator) and db-schemas
 * output: struct schema_cache (schema.h), malloc'd, freed by schema_free()
 *
 * One round trip: PostgreSQL builds the whole cache as one JSON document
 * (the query below) and json-c reads it (schema_from_json(), which the
 * unit tests drive without a database).  The document is
 *   {"relations": [...], "fkeys": [...], "functions": [...]}
 * with the fields of schema.h under the same names (dump.c shows the
 * whole layout; a dump adds is_pk, variadic and load_ms, which are
 * derived).  Foreign keys name their relations by schema and name; the
 * reader turns those into indexes.  The query is sent in pipeline mode
 * after a statement of settings, both in the implicit transaction that
 * ends at the Sync:
 *   - search_path = '' makes format_type(), regclass and pg_get_expr()
 *     qualify every name outside pg_catalog ("api.mood", not "mood"), so
 *     type names mean the same whatever search_path a request runs with;
 *   - jit = off: the planner cannot estimate the CTEs and would JIT-compile
 *     the query, which costs seconds, not milliseconds; no parallel
 *     workers either (each would be a fresh backend with cold caches).
 *
 * What the cache holds and where PostgREST's rules come from
 * (src/PostgREST/SchemaCache.hs, read for the facts, not the code):
 *   - relations: tables (r, p; partitions only through their parent),
 *     views (v, m), foreign tables (f) of the exposed schemas, with their
 *     columns, primary key and whether they take INSERT/UPDATE/DELETE;
 *   - foreign keys with both ends in the cache, also as seen through
 *     views (see the view section of the query);
 *   - functions (prokind 'f', not trigger functions) with their arguments.
 */
#include "schema.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* the introspection query ($1: the exposed schemas, text[])           */

static const char schema_query[] =
	"WITH RECURSIVE\n"
	"-- the exposed schemas ($1)\n"
	"nsp AS NOT MATERIALIZED (\n"
	"  SELECT n.oid, n.nspname\n"
	"  FROM pg_catalog.pg_namespace n\n"
	"  WHERE n.nspname = ANY ($1::pg_catalog.text[])\n"
	"),\n"
	"-- tables (r, p), views (v, m) and foreign tables (f); partitions only\n"
	"-- through their parent\n"
	"rels AS NOT MATERIALIZED (\n"
	"  SELECT c.oid, n.nspname, c.relname, c.relkind\n"
	"  FROM pg_catalog.pg_class c\n"
	"  JOIN nsp n ON n.oid = c.relnamespace\n"
	"  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition\n"
	"),\n"
	"-- every domain with the type it finally stands for (domains over domains)\n"
	"dom_chain AS (\n"
	"  SELECT t.oid, t.typbasetype AS base\n"
	"  FROM pg_catalog.pg_type t\n"
	"  WHERE t.typtype = 'd'\n"
	"  UNION ALL\n"
	"  SELECT d.oid, t.typbasetype\n"
	"  FROM dom_chain d\n"
	"  JOIN pg_catalog.pg_type t ON t.oid = d.base\n"
	"  WHERE t.typtype = 'd'\n"
	"),\n"
	"dom_base AS (\n"
	"  SELECT d.oid, d.base\n"
	"  FROM dom_chain d\n"
	"  JOIN pg_catalog.pg_type t ON t.oid = d.base\n"
	"  WHERE t.typtype <> 'd'\n"
	"),\n"
	"enums AS (\n"
	"  SELECT e.enumtypid,\n"
	"    pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels\n"
	"  FROM pg_catalog.pg_enum e\n"
	"  GROUP BY e.enumtypid\n"
	"),\n"
	"------------------------------------------------------------------------\n"
	"-- columns\n"
	"------------------------------------------------------------------------\n"
	"-- t1: the column's type without domains; elem: for an array, its\n"
	"-- element type without domains\n"
	"cols AS (\n"
	"  SELECT a.attrelid, a.attnum, a.attname,\n"
	"    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,\n"
	"    t1.oid AS t1,\n"
	"    COALESCE(d2.base, t1.typelem) AS elem,\n"
	"    t1.typelem <> 0 AND t1.typlen = -1 AS is_array,\n"
	"    NOT (a.attnotnull OR (t0.typtype = 'd' AND t0.typnotnull)) AS nullable,\n"
	"    CASE\n"
	"      -- a generated column's expression is no default\n"
	"      WHEN a.attgenerated <> '' THEN NULL\n"
	"      -- an identity column's default is its sequence\n"
	"      WHEN a.attidentity <> '' THEN (\n"
	"        SELECT pg_catalog.format('nextval(%L::regclass)', dep.objid::pg_catalog.regclass)\n"
	"        FROM pg_catalog.pg_depend dep\n"
	"        WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"          AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"          AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum\n"
	"          AND dep.deptype = 'i'\n"
	"        LIMIT 1)\n"
	"      -- no relation for pg_get_expr: a default has no column references\n"
	"      -- (PostgreSQL forbids them; generated columns are out above), and\n"
	"      -- opening every table's relcache entry for it cost a tenth of the\n"
	"      -- load in a fresh backend (bench/README)\n"
	"      WHEN ad.adbin IS NOT NULL THEN pg_catalog.pg_get_expr(ad.adbin, 0)\n"
	"      -- a domain's default applies when the column has none\n"
	"      ELSE pg_catalog.pg_get_expr(t0.typdefaultbin, 0)\n"
	"    END AS default_expr,\n"
	"    ds.description\n"
	"  FROM rels r\n"
	"  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid\n"
	"  JOIN pg_catalog.pg_type t0 ON t0.oid = a.atttypid\n"
	"  LEFT JOIN dom_base d1 ON d1.oid = t0.oid\n"
	"  JOIN pg_catalog.pg_type t1 ON t1.oid = COALESCE(d1.base, t0.oid)\n"
	"  LEFT JOIN dom_base d2 ON d2.oid = t1.typelem\n"
	"  LEFT JOIN pg_catalog.pg_attrdef ad\n"
	"    ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum\n"
	"  LEFT JOIN pg_catalog.pg_description ds\n"
	"    ON ds.objoid = a.attrelid AND ds.objsubid = a.attnum\n"
	"    AND ds.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"  WHERE a.attnum > 0 AND NOT a.attisdropped\n"
	"),\n"
	"cols_json AS (\n"
	"  SELECT c.attrelid,\n"
	"    pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'name', c.attname,\n"
	"      'type', c.type,\n"
	"      'base_type',\n"
	"        pg_catalog.format_type(CASE WHEN c.is_array THEN c.elem ELSE c.t1 END, NULL),\n"
	"      'nullable', c.nullable,\n"
	"      'default', c.default_expr,\n"
	"      'description', c.description,\n"
	"      'enum', CASE WHEN c.is_array THEN NULL ELSE en.labels END\n"
	"    ) ORDER BY c.attnum) AS columns\n"
	"  FROM cols c\n"
	"  LEFT JOIN enums en ON en.enumtypid = c.t1\n"
	"  GROUP BY c.attrelid\n"
	"),\n"
	"-- primary and foreign keys of tables in any schema: views and foreign\n"
	"-- keys can lead out of the exposed schemas and back.  Foreign keys that\n"
	"-- PostgreSQL copies onto partitions (conparentid <> 0) are left out.\n"
	"keys AS NOT MATERIALIZED (\n"
	"  SELECT k.oid, k.contype, k.conname, k.conrelid, k.conkey, k.confrelid, k.confkey\n"
	"  FROM pg_catalog.pg_constraint k\n"
	"  WHERE k.contype IN ('p', 'f') AND k.conparentid = 0\n"
	"),\n"
	"------------------------------------------------------------------------\n"
	"-- Which view columns show which table columns.  The parser marks every\n"
	"-- output column of a view that is a plain column reference with the\n"
	"-- relation and column it reads (resorigtbl, resorigcol of the\n"
	"-- TARGETENTRY in the view's _RETURN rule; for a view on a view that is\n"
	"-- the inner view, hence the recursion below).  pg_rewrite keeps the rule\n"
	"-- as pg_node_tree text, which is read here without a parser:\n"
	"--  * escaped characters in names (\\\\, \\{, \\}) are dropped, so that every\n"
	"--    brace left is a node boundary;\n"
	"--  * the text is cut at each \"{TARGETENTRY \"; the brace depth where a\n"
	"--    piece starts tells the view's own target list (depth 1: inside the\n"
	"--    top-level {QUERY) from those of subqueries, CTEs and sublinks;\n"
	"--  * a piece that starts with a plain {VAR} is an output column read\n"
	"--    straight from a relation; its resno, resorigtbl and resorigcol\n"
	"--    follow the VAR's closing brace.\n"
	"------------------------------------------------------------------------\n"
	"-- the views to read: the exposed ones and every view they read from,\n"
	"-- transitively (pg_depend records the relations a view's rule uses)\n"
	"views AS (\n"
	"  SELECT r.oid FROM rels r WHERE r.relkind IN ('v', 'm')\n"
	"  UNION\n"
	"  SELECT d.refobjid\n"
	"  FROM views v\n"
	"  JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'\n"
	"  JOIN pg_catalog.pg_depend d\n"
	"    ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid\n"
	"    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"  JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')\n"
	"),\n"
	"view_pieces AS (\n"
	"  SELECT v.oid AS view_oid, p.i, p.piece,\n"
	"    -- the depth where this piece's TARGETENTRY starts: the braces of the\n"
	"    -- pieces before it, plus the TARGETENTRY braces the cut removed\n"
	"    COALESCE(pg_catalog.sum(pg_catalog.length(pg_catalog.replace(p.piece, '}', ''))\n"
	"                            - pg_catalog.length(pg_catalog.replace(p.piece, '{', '')))\n"
	"               OVER (PARTITION BY v.oid ORDER BY p.i\n"
	"                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)\n"
	"      + p.i - 2 AS depth\n"
	"  FROM views v\n"
	"  JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN',\n"
	"  LATERAL pg_catalog.unnest(pg_catalog.string_to_array(\n"
	"      pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(\n"
	"        rw.ev_action::pg_catalog.text, '\\\\', ''), '\\{', ''), '\\}', ''),\n"
	"      '{TARGETENTRY ')) WITH ORDINALITY AS p(piece, i)\n"
	"),\n"
	"-- f: the fields after the VAR, \" :resno N :resname X :ressortgroupref N\n"
	"-- :resorigtbl N :resorigcol N :resjunk B\" (X has its blanks escaped, so\n"
	"-- \" :resorigtbl \" cannot occur inside it)\n"
	"view_tles AS (\n"
	"  SELECT v.view_oid, pg_catalog.split_part(v.piece, '}', 2) AS f\n"
	"  FROM view_pieces v\n"
	"  WHERE v.i > 1 AND v.depth = 1 AND pg_catalog.starts_with(v.piece, ':expr {VAR ')\n"
	"),\n"
	"view_cols AS (\n"
	"  SELECT c.view_oid, c.vcol, c.tbl, c.tcol\n"
	"  FROM (\n"
	"    SELECT t.view_oid,\n"
	"      NULLIF(pg_catalog.split_part(pg_catalog.split_part(t.f, ' :resno ', 2), ' ', 1),\n"
	"             '')::pg_catalog.int2 AS vcol,\n"
	"      NULLIF(pg_catalog.split_part(pg_catalog.split_part(t.f, ' :resorigtbl ', 2), ' ', 1),\n"
	"             '')::pg_catalog.oid AS tbl,\n"
	"      NULLIF(pg_catalog.split_part(pg_catalog.split_part(t.f, ' :resorigcol ', 2), ' ', 1),\n"
	"             '')::pg_catalog.int2 AS tcol\n"
	"    FROM view_tles t\n"
	"    WHERE t.f LIKE '% :resjunk false') c\n"
	"  WHERE c.tbl <> 0 AND c.vcol IS NOT NULL AND c.tcol IS NOT NULL\n"
	"),\n"
	"------------------------------------------------------------------------\n"
	"-- From here on lookups go through jsonb objects built once (read with\n"
	"-- ->, a binary search) rather than joins between CTEs: the planner cannot\n"
	"-- estimate the CTEs and joins them with nested loops, quadratic in the\n"
	"-- number of view columns (seconds for a thousand views).\n"
	"------------------------------------------------------------------------\n"
	"-- {\"<view oid>.<attnum>\": [relation oid, attnum]} for every view column\n"
	"-- read straight from a relation\n"
	"view_col_map AS (\n"
	"  SELECT pg_catalog.jsonb_object_agg(\n"
	"           vc.view_oid::pg_catalog.text || '.' || vc.vcol::pg_catalog.text,\n"
	"           pg_catalog.jsonb_build_array(vc.tbl, vc.tcol)) AS map\n"
	"  FROM view_cols vc\n"
	"),\n"
	"-- for each exposed view column, the relation columns it shows, through\n"
	"-- views on views (bounded, in case of a cycle)\n"
	"view_origin AS (\n"
	"  SELECT vc.view_oid, vc.vcol, vc.tbl, vc.tcol, 1 AS level\n"
	"  FROM view_cols vc\n"
	"  JOIN rels r ON r.oid = vc.view_oid\n"
	"  UNION ALL\n"
	"  SELECT o.view_oid, o.vcol,\n"
	"    (x.n ->> 0)::pg_catalog.oid, (x.n ->> 1)::pg_catalog.int2, o.level + 1\n"
	"  FROM view_origin o,\n"
	"  LATERAL (SELECT (SELECT m.map FROM view_col_map m)\n"
	"                  -> (o.tbl::pg_catalog.text || '.' || o.tcol::pg_catalog.text) AS n) x\n"
	"  WHERE x.n IS NOT NULL AND o.level < 32\n"
	"),\n"
	"-- {\"<table oid>.<attnum>\": [[view oid, column name, attnum], ...]}: the\n"
	"-- exposed view columns that show a table column\n"
	"view_key_map AS (\n"
	"  SELECT pg_catalog.jsonb_object_agg(x.k, x.v) AS map\n"
	"  FROM (\n"
	"    SELECT o.tbl::pg_catalog.text || '.' || o.tcol::pg_catalog.text AS k,\n"
	"      pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(o.view_oid, a.attname, o.vcol)\n"
	"                           ORDER BY o.view_oid, o.vcol) AS v\n"
	"    FROM view_origin o\n"
	"    JOIN pg_catalog.pg_attribute a ON a.attrelid = o.view_oid AND a.attnum = o.vcol\n"
	"    GROUP BY o.tbl, o.tcol) x\n"
	"),\n"
	"------------------------------------------------------------------------\n"
	"-- Each key (the columns of a PK, or the referencing or the referenced\n"
	"-- columns of an FK) as it can be seen: on its table, and on every\n"
	"-- exposed view that shows all its columns.  A view that shows a key\n"
	"-- column twice gives one combination per choice, as PostgREST does.\n"
	"------------------------------------------------------------------------\n"
	"-- side: p = a primary key, f = referencing columns, t = referenced ones\n"
	"key_sides AS NOT MATERIALIZED (\n"
	"  SELECT k.oid AS con, 'p' AS side, k.conrelid AS tbl, k.conkey AS key\n"
	"  FROM keys k WHERE k.contype = 'p'\n"
	"  UNION ALL\n"
	"  SELECT k.oid, 'f', k.conrelid, k.conkey FROM keys k WHERE k.contype = 'f'\n"
	"  UNION ALL\n"
	"  SELECT k.oid, 't', k.confrelid, k.confkey FROM keys k WHERE k.contype = 'f'\n"
	"),\n"
	"-- per key, view and key position: the names of the view's columns\n"
	"-- showing that key column\n"
	"key_view_cols AS (\n"
	"  SELECT s.con, s.side, s.key, (e.v ->> 0)::pg_catalog.oid AS rel, k.i AS pos,\n"
	"    pg_catalog.jsonb_agg(e.v -> 1 ORDER BY (e.v ->> 2)::pg_catalog.int4) AS names\n"
	"  FROM key_sides s\n"
	"  CROSS JOIN LATERAL pg_catalog.unnest(s.key) WITH ORDINALITY AS k(num, i)\n"
	"  CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(\n"
	"    (SELECT m.map FROM view_key_map m)\n"
	"    -> (s.tbl::pg_catalog.text || '.' || k.num::pg_catalog.text)) AS e(v)\n"
	"  GROUP BY s.con, s.side, s.key, (e.v ->> 0)::pg_catalog.oid, k.i\n"
	"),\n"
	"-- views that show every column of a key: [[names at position 1], ...]\n"
	"key_view_all AS (\n"
	"  SELECT c.con, c.side, c.rel, pg_catalog.jsonb_agg(c.names ORDER BY c.pos) AS names\n"
	"  FROM key_view_cols c\n"
	"  GROUP BY c.con, c.side, c.rel, c.key\n"
	"  HAVING pg_catalog.count(*) = pg_catalog.cardinality(c.key)\n"
	"),\n"
	"-- every combination, one key position at a time; ord: the choice taken\n"
	"-- at each position (1 = the first of the view's columns showing it)\n"
	"key_combos AS (\n"
	"  SELECT a.con, a.side, a.rel, a.names, 0 AS n,\n"
	"    '{}'::pg_catalog.text[] AS cols, '{}'::pg_catalog.int8[] AS ord\n"
	"  FROM key_view_all a\n"
	"  UNION ALL\n"
	"  SELECT c.con, c.side, c.rel, c.names, c.n + 1, c.cols || e.name, c.ord || e.i\n"
	"  FROM key_combos c,\n"
	"  LATERAL pg_catalog.jsonb_array_elements_text(c.names -> c.n) WITH ORDINALITY AS e(name, i)\n"
	"  WHERE c.n < pg_catalog.jsonb_array_length(c.names)\n"
	"),\n"
	"key_views AS (\n"
	"  SELECT c.con, c.side, c.rel, c.cols, c.ord\n"
	"  FROM key_combos c\n"
	"  WHERE c.n = pg_catalog.jsonb_array_length(c.names)\n"
	"),\n"
	"-- the key on its own table, when that table is exposed (a key names a\n"
	"-- column once; attnum = ANY keeps the planner from hashing pg_attribute\n"
	"-- once per key, as it did for a join with unnest)\n"
	"key_tables AS (\n"
	"  SELECT s.con, s.side, s.tbl AS rel,\n"
	"    pg_catalog.array_agg(a.attname::pg_catalog.text\n"
	"                         ORDER BY pg_catalog.array_position(s.key, a.attnum)) AS cols\n"
	"  FROM key_sides s\n"
	"  JOIN rels r ON r.oid = s.tbl\n"
	"  JOIN pg_catalog.pg_attribute a ON a.attrelid = s.tbl AND a.attnum = ANY (s.key)\n"
	"  GROUP BY s.con, s.side, s.tbl\n"
	"),\n"
	"-- primary keys: a table's own; for a view, the first combination of\n"
	"-- each table PK it shows in full (several for a join view)\n"
	"pks AS (\n"
	"  SELECT t.rel, t.con, t.cols FROM key_tables t WHERE t.side = 'p'\n"
	"  UNION ALL\n"
	"  (SELECT DISTINCT ON (v.rel, v.con) v.rel, v.con, v.cols\n"
	"   FROM key_views v\n"
	"   WHERE v.side = 'p'\n"
	"   ORDER BY v.rel, v.con, v.ord)\n"
	"),\n"
	"pks_agg AS (\n"
	"  SELECT p.rel, pg_catalog.array_agg(u.c ORDER BY p.con, u.o) AS pk\n"
	"  FROM pks p, pg_catalog.unnest(p.cols) WITH ORDINALITY AS u(c, o)\n"
	"  GROUP BY p.rel\n"
	"),\n"
	"-- foreign keys: every way the referencing side can be seen, paired with\n"
	"-- every way the referenced side can be seen, both in the cache (grouped\n"
	"-- per constraint and paired by expanding the two lists, not by a join,\n"
	"-- for the reason above)\n"
	"fk_sides AS (\n"
	"  SELECT x.con,\n"
	"    pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'schema', r.nspname, 'name', r.relname, 'cols', x.cols))\n"
	"      FILTER (WHERE x.side = 'f') AS froms,\n"
	"    pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'schema', r.nspname, 'name', r.relname, 'cols', x.cols))\n"
	"      FILTER (WHERE x.side = 't') AS tos\n"
	"  FROM (\n"
	"    SELECT t.con, t.side, t.rel, t.cols FROM key_tables t WHERE t.side <> 'p'\n"
	"    UNION ALL\n"
	"    SELECT v.con, v.side, v.rel, v.cols FROM key_views v WHERE v.side <> 'p') x\n"
	"  JOIN rels r ON r.oid = x.rel\n"
	"  GROUP BY x.con\n"
	"),\n"
	"fkeys_json AS (\n"
	"  SELECT pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'name', k.conname,\n"
	"      'from_schema', f -> 'schema', 'from_name', f -> 'name', 'from_cols', f -> 'cols',\n"
	"      'to_schema', t -> 'schema', 'to_name', t -> 'name', 'to_cols', t -> 'cols',\n"
	"      -- one-to-one: the referencing columns are (as a set) the PK or a\n"
	"      -- unique constraint of the referencing table\n"
	"      'from_unique', EXISTS (\n"
	"        SELECT 1 FROM pg_catalog.pg_constraint u\n"
	"        WHERE u.conrelid = k.conrelid AND u.contype IN ('p', 'u')\n"
	"          AND u.conkey @> k.conkey AND u.conkey <@ k.conkey))\n"
	"    ORDER BY f ->> 'schema' COLLATE \"C\", f ->> 'name' COLLATE \"C\", k.conname,\n"
	"             t ->> 'schema' COLLATE \"C\", t ->> 'name' COLLATE \"C\",\n"
	"             (f -> 'cols')::pg_catalog.text COLLATE \"C\",\n"
	"             (t -> 'cols')::pg_catalog.text COLLATE \"C\") AS j\n"
	"  FROM fk_sides s\n"
	"  JOIN pg_catalog.pg_constraint k ON k.oid = s.con,\n"
	"  LATERAL pg_catalog.json_array_elements(s.froms) f,\n"
	"  LATERAL pg_catalog.json_array_elements(s.tos) t\n"
	"),\n"
	"relations_json AS (\n"
	"  SELECT pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'schema', r.nspname,\n"
	"      'name', r.relname,\n"
	"      'kind', CASE WHEN r.relkind IN ('r', 'p') THEN 'table'\n"
	"                   WHEN r.relkind = 'f' THEN 'foreign' ELSE 'view' END,\n"
	"      -- tables take every write; for views and foreign tables PostgreSQL\n"
	"      -- answers, counting INSTEAD OF triggers and rules (bits 1 << CMD_x)\n"
	"      'insertable', r.relkind IN ('r', 'p') OR (u.upd & 8) = 8,\n"
	"      'updatable', r.relkind IN ('r', 'p') OR (u.upd & 4) = 4,\n"
	"      'deletable', r.relkind IN ('r', 'p') OR (u.upd & 16) = 16,\n"
	"      'description', ds.description,\n"
	"      'pk', COALESCE(pk.pk, '{}'),\n"
	"      'columns', COALESCE(cj.columns, '[]'))\n"
	"    ORDER BY r.nspname, r.relname) AS j\n"
	"  FROM rels r\n"
	"  CROSS JOIN LATERAL (\n"
	"    SELECT CASE WHEN r.relkind IN ('v', 'f')\n"
	"                THEN pg_catalog.pg_relation_is_updatable(r.oid, true)\n"
	"                ELSE 0 END AS upd) u\n"
	"  LEFT JOIN pks_agg pk ON pk.rel = r.oid\n"
	"  LEFT JOIN cols_json cj ON cj.attrelid = r.oid\n"
	"  LEFT JOIN pg_catalog.pg_description ds\n"
	"    ON ds.objoid = r.oid AND ds.objsubid = 0\n"
	"    AND ds.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"),\n"
	"------------------------------------------------------------------------\n"
	"-- functions: not aggregates, window functions or procedures (prokind),\n"
	"-- nor trigger functions, which cannot be called\n"
	"------------------------------------------------------------------------\n"
	"procs AS (\n"
	"  SELECT p.oid, n.nspname, p.proname, p.pronargs, p.pronargdefaults, p.prorettype,\n"
	"    p.proretset, p.prorows, p.provolatile, p.proargmodes, p.proargnames, p.proconfig,\n"
	"    COALESCE(p.proallargtypes, p.proargtypes::pg_catalog.oid[]) AS argtypes,\n"
	"    -- the one input argument, when there is only one (computed fields)\n"
	"    CASE WHEN p.pronargs = 1 AND p.proallargtypes IS NULL THEN p.proargtypes[0] END AS only_arg\n"
	"  FROM pg_catalog.pg_proc p\n"
	"  JOIN nsp n ON n.oid = p.pronamespace\n"
	"  WHERE p.prokind = 'f'\n"
	"    AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype,\n"
	"                             'pg_catalog.event_trigger'::pg_catalog.regtype)\n"
	"),\n"
	"-- in_pos: the position among the input arguments (modes i, b, v)\n"
	"proc_args AS (\n"
	"  SELECT p.oid, a.i, a.typ, p.pronargs, p.pronargdefaults,\n"
	"    COALESCE(p.proargnames[a.i], '') AS name,\n"
	"    COALESCE(p.proargmodes[a.i], 'i') AS mode,\n"
	"    pg_catalog.count(*) FILTER (WHERE COALESCE(p.proargmodes[a.i], 'i') IN ('i', 'b', 'v'))\n"
	"      OVER (PARTITION BY p.oid ORDER BY a.i) AS in_pos\n"
	"  FROM procs p, pg_catalog.unnest(p.argtypes) WITH ORDINALITY AS a(typ, i)\n"
	"),\n"
	"proc_args_json AS (\n"
	"  SELECT x.oid,\n"
	"    pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'name', x.name,\n"
	"      'type', pg_catalog.format_type(x.typ, NULL),\n"
	"      'mode', x.mode,\n"
	"      -- the last pronargdefaults input arguments have defaults\n"
	"      'has_default', x.mode IN ('i', 'b', 'v')\n"
	"                     AND x.in_pos > x.pronargs - x.pronargdefaults)\n"
	"    ORDER BY x.i) AS args\n"
	"  FROM proc_args x\n"
	"  GROUP BY x.oid\n"
	"),\n"
	"functions_json AS (\n"
	"  SELECT pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"      'schema', p.nspname,\n"
	"      'name', p.proname,\n"
	"      'args', COALESCE(aj.args, '[]'),\n"
	"      'return_type', pg_catalog.format_type(p.prorettype, NULL),\n"
	"      'return_type_schema', CASE WHEN rt.typtype = 'c' THEN rn.nspname END,\n"
	"      'return_type_name', CASE WHEN rt.typtype = 'c' THEN rc.relname END,\n"
	"      'returns_set', p.proretset,\n"
	"      -- SETOF ... ROWS 1: one row (a to-one computed relationship)\n"
	"      'rows_one', p.proretset AND p.prorows = 1,\n"
	"      -- a row type (also through a domain), or a record made of OUT,\n"
	"      -- INOUT or TABLE arguments\n"
	"      'returns_composite', rt.typtype = 'c'\n"
	"        OR COALESCE(p.proargmodes::pg_catalog.text[] && '{o,b,t}', false),\n"
	"      'returns_void', p.prorettype = 'pg_catalog.void'::pg_catalog.regtype,\n"
	"      'volatility', p.provolatile,\n"
	"      -- f(a_table_row): a computed field of that table or view\n"
	"      'row_schema', an.nspname,\n"
	"      'row_name', ac.relname,\n"
	"      -- a domain named like a media type: a media type handler\n"
	"      'handler', ht.typname,\n"
	"      'handler_binary', rt.oid = 'pg_catalog.bytea'::pg_catalog.regtype,\n"
	"      -- its SET clauses, \"name=value\" (db-hoisted-tx-settings)\n"
	"      'settings', COALESCE(p.proconfig, '{}'),\n"
	"      'description', ds.description)\n"
	"    ORDER BY p.nspname, p.proname, p.pronargs, p.oid) AS j\n"
	"  FROM procs p\n"
	"  LEFT JOIN proc_args_json aj ON aj.oid = p.oid\n"
	"  LEFT JOIN dom_base db ON db.oid = p.prorettype\n"
	"  LEFT JOIN pg_catalog.pg_type ht ON ht.oid = p.prorettype AND ht.typtype = 'd'\n"
	"    AND pg_catalog.strpos(ht.typname, '/') > 0\n"
	"  JOIN pg_catalog.pg_type rt ON rt.oid = COALESCE(db.base, p.prorettype)\n"
	"  JOIN pg_catalog.pg_namespace rn ON rn.oid = rt.typnamespace\n"
	"  LEFT JOIN pg_catalog.pg_class rc ON rc.oid = rt.typrelid\n"	"  LEFT JOIN pg_catalog.pg_type at ON at.oid = p.only_arg AND at.typrelid <> 0\n"
	"  LEFT JOIN pg_catalog.pg_class ac ON ac.oid = at.typrelid\n"
	"  LEFT JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace\n"
	"  LEFT JOIN pg_catalog.pg_description ds\n"
	"    ON ds.objoid = p.oid AND ds.objsubid = 0\n"
	"    AND ds.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass\n"
	")\n"
	"SELECT pg_catalog.json_build_object(\n"
	"  'relations', COALESCE((SELECT j FROM relations_json), '[]'),\n"
	"  'fkeys', COALESCE((SELECT j FROM fkeys_json), '[]'),\n"
	"  'functions', COALESCE((SELECT j FROM functions_json), '[]'))::pg_catalog.text\n";

/*
 * Run first, in the same implicit transaction (see the file header).
 * set_config(..., true) lasts until the Sync that ends the pipeline.
 */
static const char settings_query[] =
	"SELECT pg_catalog.set_config('search_path', '', true),"
	" pg_catalog.set_config('jit', 'off', true),"
	" pg_catalog.set_config('max_parallel_workers_per_gather', '0', true)";

/* ------------------------------------------------------------------ */
/* memory: running out while loading is fatal, as in config.c          */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL) {
		fprintf(stderr, "pg_rest: out of memory (schema cache)\n");
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xcalloc(n, 1);

	memcpy(p, s, n);
	return p;
}

/* ------------------------------------------------------------------ */
/* freeing: every field may be NULL (a load that failed half way)      */

static void free_strings(char **v, int n)
{
	if (v == NULL)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_relation(struct sc_relation *r)
{
	free(r->schema);
	free(r->name);
	free(r->description);
	free_strings(r->pk, r->n_pk);
	for (int i = 0; r->columns != NULL && i < r->n_columns; i++) {
		struct sc_column *c = &r->columns[i];

		free(c->name);
		free(c->type);
		free(c->base_type);
		free(c->default_expr);
		free(c->description);
		free_strings(c->enum_values, c->n_enum_values);
	}
	free(r->columns);
}

static void free_function(struct sc_function *f)
{
	free(f->schema);
	free(f->name);
	for (int i = 0; f->args != NULL && i < f->n_args; i++) {
		free(f->args[i].name);
		free(f->args[i].type);
	}
	free(f->args);
	free(f->return_type);
	free(f->return_type_schema);
	free(f->return_type_name);
	free(f->row_schema);
	free(f->row_name);
	free(f->description);
	free(f->handler);
	free_strings(f->settings, f->n_settings);
}

void schema_free(struct schema_cache *sc)
{
	if (sc == NULL)
		return;
	for (int i = 0; sc->relations != NULL && i < sc->n_relations; i++)
		free_relation(&sc->relations[i]);
	free(sc->relations);
	for (int i = 0; sc->fkeys != NULL && i < sc->n_fkeys; i++) {
		free(sc->fkeys[i].name);
		free_strings(sc->fkeys[i].from_cols, sc->fkeys[i].n_cols);
		free_strings(sc->fkeys[i].to_cols, sc->fkeys[i].n_cols);
	}
	free(sc->fkeys);
	for (int i = 0; sc->functions != NULL && i < sc->n_functions; i++)
		free_function(&sc->functions[i]);
	free(sc->functions);
	free(sc->rel_index);
	free(sc);
}

/* ------------------------------------------------------------------ */
/* lookups                                                            */

/* FNV-1a over schema, a NUL, name */
static uint32_t qname_hash(const char *schema, const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)schema; *p; p++)
		h = (h ^ *p) * 16777619u;
	h *= 16777619u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int schema_relation_index(const struct schema_cache *sc, const char *schema, const char *name)
{
	if (sc == NULL || sc->rel_index_size == 0 || schema == NULL || name == NULL)
		return -1;

	uint32_t mask = (uint32_t)sc->rel_index_size - 1;

	/* the table is at most half full, so an empty slot ends every probe */
	for (uint32_t h = qname_hash(schema, name) & mask;; h = (h + 1) & mask) {
		int i = sc->rel_index[h];

		if (i < 0)
			return -1;
		if (strcmp(sc->relations[i].name, name) == 0 &&
		    strcmp(sc->relations[i].schema, schema) == 0)
			return i;
	}
}

const struct sc_relation *schema_relation(const struct schema_cache *sc, const char *schema,
					  const char *name)
{
	int i = schema_relation_index(sc, schema, name);

	return i < 0 ? NULL : &sc->relations[i];
}

const struct sc_column *schema_column(const struct sc_relation *rel, const char *name)
{
	if (rel == NULL || name == NULL)
		return NULL;
	for (int i = 0; i < rel->n_columns; i++)
		if (strcmp(rel->columns[i].name, name) == 0)
			return &rel->columns[i];
	return NULL;
}

static int cmp_qname(const struct sc_function *f, const char *schema, const char *name)
{
	int c = strcmp(f->schema, schema);

	return c != 0 ? c : strcmp(f->name, name);
}

int schema_functions(const struct schema_cache *sc, const char *schema, const char *name,
		     int *count)
{
	int lo = 0, hi = sc ? sc->n_functions : 0, n = 0;

	if (schema != NULL && name != NULL) {
		/* functions are sorted by (schema, name): find the first match */
		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;

			if (cmp_qname(&sc->functions[mid], schema, name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		while (lo + n < sc->n_functions && cmp_qname(&sc->functions[lo + n], schema, name) == 0)
			n++;
	}
	if (count != NULL)
		*count = n;
	return n > 0 ? lo : -1;
}

const struct sc_function *schema_computed_field(const struct schema_cache *sc,
						 const struct sc_relation *rel, const char *name)
{
	int count, first = schema_functions(sc, rel->schema, name, &count);

	for (int i = 0; first >= 0 && i < count; i++) {
		const struct sc_function *f = &sc->functions[first + i];

		if (f->row_schema != NULL && f->row_name != NULL && !f->returns_set &&
		    !f->returns_void && strcmp(f->row_schema, rel->schema) == 0 &&
		    strcmp(f->row_name, rel->name) == 0)
			return f;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* reading the JSON document                                          */

/*
 * Every reader gets the object it reads and a text naming it for error
 * messages ("relations[3].columns[1]").  The first error is kept; later
 * readers return at once, and the caller frees whatever was built (the
 * structures are zeroed, so half-filled ones free cleanly).
 */
struct reader {
	char *err;
	size_t errlen;
	bool failed;
};

static bool failf(struct reader *rd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool failf(struct reader *rd, const char *fmt, ...)
{
	va_list ap;

	if (!rd->failed && rd->err != NULL && rd->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(rd->err, rd->errlen, fmt, ap);
		va_end(ap);
	}
	rd->failed = true;
	return false;
}

static const char *type_word(enum json_type t)
{
	switch (t) {
	case json_type_boolean: return "a boolean";
	case json_type_string: return "a string";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	default: return "something else";
	}
}

/*
 * Member key of obj, which must be of type want.  NULL when it is JSON
 * null and that is allowed, or on error (rd->failed tells them apart).
 */
static struct json_object *member(struct reader *rd, struct json_object *obj, const char *where,
				  const char *key, enum json_type want, bool nullable)
{
	struct json_object *v;

	if (rd->failed)
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v)) {
		failf(rd, "%s: \"%s\" is missing", where, key);
		return NULL;
	}
	if (v == NULL) {
		if (!nullable)
			failf(rd, "%s: \"%s\" is null", where, key);
		return NULL;
	}
	if (!json_object_is_type(v, want)) {
		failf(rd, "%s: \"%s\" must be %s", where, key, type_word(want));
		return NULL;
	}
	return v;
}

/* A copy of string v; names with a NUL in them would be cut short: refused. */
static char *copy_string(struct reader *rd, struct json_object *v, const char *where,
			 const char *key)
{
	const char *s = json_object_get_string(v);

	if ((size_t)json_object_get_string_len(v) != strlen(s)) {
		failf(rd, "%s: \"%s\" contains a NUL character", where, key);
		return NULL;
	}
	return xstrdup(s);
}

static char *get_string(struct reader *rd, struct json_object *obj, const char *where,
			const char *key, bool nullable)
{
	struct json_object *v = member(rd, obj, where, key, json_type_string, nullable);

	return v == NULL ? NULL : copy_string(rd, v, where, key);
}

/* a key documents written before it existed leave out: absent is NULL */
static char *get_optional_string(struct reader *rd, struct json_object *obj, const char *where,
				 const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return get_string(rd, obj, where, key, true);
}

static bool get_bool(struct reader *rd, struct json_object *obj, const char *where,
		     const char *key)
{
	struct json_object *v = member(rd, obj, where, key, json_type_boolean, false);

	return v != NULL && json_object_get_boolean(v);
}

/* a key documents written before it existed leave out: absent is false */
static bool get_optional_bool(struct reader *rd, struct json_object *obj, const char *where,
			      const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return false;
	return get_bool(rd, obj, where, key);
}

/* A one-letter code out of allowed ('i', 's', 'v' …). */
static char get_code(struct reader *rd, struct json_object *obj, const char *where,
		     const char *key, const char *allowed)
{
	struct json_object *v = member(rd, obj, where, key, json_type_string, false);

	if (v == NULL)
		return '\0';

	const char *s = json_object_get_string(v);

	if (json_object_get_string_len(v) != 1 || strchr(allowed, s[0]) == NULL) {
		failf(rd, "%s: \"%s\" must be one of the letters \"%s\"", where, key, allowed);
		return '\0';
	}
	return s[0];
}

/* An array of strings (JSON null: NULL, *n = 0, if nullable). */
static char **get_strings(struct reader *rd, struct json_object *obj, const char *where,
			  const char *key, bool nullable, int *n)
{
	struct json_object *v = member(rd, obj, where, key, json_type_array, nullable);
	char **out;
	int len;

	*n = 0;
	if (v == NULL)
		return NULL;
	len = (int)json_object_array_length(v);
	out = xcalloc((size_t)len, sizeof(char *));
	for (int i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(v, (size_t)i);

		if (!json_object_is_type(e, json_type_string)) {
			failf(rd, "%s: \"%s\"[%d] must be a string", where, key, i);
			free_strings(out, i);
			return NULL;
		}
		out[i] = copy_string(rd, e, where, key);
		if (out[i] == NULL) {
			free_strings(out, i);
			return NULL;
		}
	}
	*n = len;
	return out;
}

/* Array member key of root, each element an object; its length in *n. */
static struct json_object *get_objects(struct reader *rd, struct json_object *obj,
				       const char *where, const char *key, int *n)
{
	struct json_object *v = member(rd, obj, where, key, json_type_array, false);

	*n = 0;
	if (v == NULL)
		return NULL;
	*n = (int)json_object_array_length(v);
	for (int i = 0; i < *n; i++) {
		if (!json_object_is_type(json_object_array_get_idx(v, (size_t)i), json_type_object)) {
			failf(rd, "%s: \"%s\"[%d] must be an object", where, key, i);
			*n = 0;
			return NULL;
		}
	}
	return v;
}

static bool read_column(struct reader *rd, struct json_object *o, const char *where,
			struct sc_column *c)
{
	c->name = get_string(rd, o, where, "name", false);
	c->type = get_string(rd, o, where, "type", false);
	c->base_type = get_string(rd, o, where, "base_type", false);
	c->nullable = get_bool(rd, o, where, "nullable");
	c->default_expr = get_string(rd, o, where, "default", true);
	c->description = get_string(rd, o, where, "description", true);
	c->enum_values = get_strings(rd, o, where, "enum", true, &c->n_enum_values);
	/* is_pk is set from the relation's "pk" once all columns are read */
	return !rd->failed;
}

static bool read_kind(struct reader *rd, struct json_object *o, const char *where,
		      enum sc_kind *kind)
{
	char *s = get_string(rd, o, where, "kind", false);

	if (s == NULL)
		return false;
	if (strcmp(s, "table") == 0)
		*kind = SC_TABLE;
	else if (strcmp(s, "view") == 0)
		*kind = SC_VIEW;
	else if (strcmp(s, "foreign") == 0)
		*kind = SC_FOREIGN;
	else
		failf(rd, "%s: \"kind\" must be \"table\", \"view\" or \"foreign\", not \"%s\"",
		      where, s);
	free(s);
	return !rd->failed;
}

/* Mark the primary key columns; every name in pk must be a column. */
static bool mark_pk(struct reader *rd, struct sc_relation *r, const char *where)
{
	for (int i = 0; i < r->n_pk; i++) {
		int j = 0;

		while (j < r->n_columns && strcmp(r->columns[j].name, r->pk[i]) != 0)
			j++;
		if (j == r->n_columns)
			return failf(rd, "%s: primary key column \"%s\" is not a column of %s.%s",
				     where, r->pk[i], r->schema, r->name);
		r->columns[j].is_pk = true;
	}
	return true;
}

static bool read_relation(struct reader *rd, struct json_object *o, const char *where,
			  struct sc_relation *r)
{
	struct json_object *cols;
	char cwhere[96];

	r->schema = get_string(rd, o, where, "schema", false);
	r->name = get_string(rd, o, where, "name", false);
	if (!read_kind(rd, o, where, &r->kind))
		return false;
	r->insertable = get_bool(rd, o, where, "insertable");
	r->updatable = get_bool(rd, o, where, "updatable");
	r->deletable = get_bool(rd, o, where, "deletable");
	r->description = get_string(rd, o, where, "description", true);
	r->pk = get_strings(rd, o, where, "pk", false, &r->n_pk);
	cols = get_objects(rd, o, where, "columns", &r->n_columns);
	if (cols == NULL)
		return false;
	r->columns = xcalloc((size_t)r->n_columns, sizeof(struct sc_column));
	for (int i = 0; i < r->n_columns; i++) {
		snprintf(cwhere, sizeof(cwhere), "%s.columns[%d]", where, i);
		if (!read_column(rd, json_object_array_get_idx(cols, (size_t)i), cwhere,
				 &r->columns[i]))
			return false;
	}
	return mark_pk(rd, r, where);
}

/* The open-addressing index of relations; a name twice is an error. */
static bool build_index(struct reader *rd, struct schema_cache *sc)
{
	int size = 8;

	while (size < 2 * sc->n_relations)
		size *= 2;
	sc->rel_index = xcalloc((size_t)size, sizeof(int));
	sc->rel_index_size = size;
	for (int i = 0; i < size; i++)
		sc->rel_index[i] = -1;
	for (int i = 0; i < sc->n_relations; i++) {
		const struct sc_relation *r = &sc->relations[i];
		uint32_t mask = (uint32_t)size - 1;
		uint32_t h;

		if (schema_relation_index(sc, r->schema, r->name) >= 0)
			return failf(rd, "relations[%d]: %s.%s appears twice", i, r->schema, r->name);
		for (h = qname_hash(r->schema, r->name) & mask; sc->rel_index[h] >= 0;
		     h = (h + 1) & mask)
			;
		sc->rel_index[h] = i;
	}
	return true;
}

static bool read_relations(struct reader *rd, struct json_object *root, struct schema_cache *sc)
{
	struct json_object *arr = get_objects(rd, root, "schema cache", "relations",
					      &sc->n_relations);
	char where[48];

	if (arr == NULL)
		return false;
	sc->relations = xcalloc((size_t)sc->n_relations, sizeof(struct sc_relation));
	for (int i = 0; i < sc->n_relations; i++) {
		snprintf(where, sizeof(where), "relations[%d]", i);
		if (!read_relation(rd, json_object_array_get_idx(arr, (size_t)i), where,
				   &sc->relations[i]))
			return false;
	}
	return build_index(rd, sc);
}

/*
 * One end of a foreign key ("from" or "to"): the relation, which must be
 * in the cache, and its columns, which must be its columns.
 */
static bool read_fkey_end(struct reader *rd, const struct schema_cache *sc,
			  struct json_object *o, const char *where, const char *end,
			  int *rel, char ***cols, int *n)
{
	char k_schema[16], k_name[16], k_cols[16];
	char *schema, *name;

	snprintf(k_schema, sizeof(k_schema), "%s_schema", end);
	snprintf(k_name, sizeof(k_name), "%s_name", end);
	snprintf(k_cols, sizeof(k_cols), "%s_cols", end);
	schema = get_string(rd, o, where, k_schema, false);
	name = get_string(rd, o, where, k_name, false);
	*cols = get_strings(rd, o, where, k_cols, false, n);
	if (!rd->failed) {
		*rel = schema_relation_index(sc, schema, name);
		if (*rel < 0)
			failf(rd, "%s: relation %s.%s is not in the cache", where, schema, name);
		for (int i = 0; !rd->failed && i < *n; i++)
			if (schema_column(&sc->relations[*rel], (*cols)[i]) == NULL)
				failf(rd, "%s: \"%s\" is not a column of %s.%s", where, (*cols)[i],
				      schema, name);
	}
	free(schema);
	free(name);
	return !rd->failed;
}

static bool read_fkey(struct reader *rd, const struct schema_cache *sc, struct json_object *o,
		      const char *where, struct sc_fkey *fk)
{
	int n_from = 0, n_to = 0;

	fk->name = get_string(rd, o, where, "name", false);
	fk->from_unique = get_bool(rd, o, where, "from_unique");
	read_fkey_end(rd, sc, o, where, "from", &fk->from, &fk->from_cols, &n_from);
	/* n_cols must cover what was allocated, for schema_free() */
	fk->n_cols = n_from;
	read_fkey_end(rd, sc, o, where, "to", &fk->to, &fk->to_cols, &n_to);
	if (rd->failed) {
		/* the two lists may differ in length: free them here */
		free_strings(fk->from_cols, n_from);
		free_strings(fk->to_cols, n_to);
		fk->from_cols = fk->to_cols = NULL;
		fk->n_cols = 0;
		return false;
	}
	if (n_from != n_to || n_from == 0) {
		free_strings(fk->to_cols, n_to);
		fk->to_cols = NULL;
		free_strings(fk->from_cols, n_from);
		fk->from_cols = NULL;
		fk->n_cols = 0;
		return failf(rd, "%s: \"from_cols\" and \"to_cols\" must be non-empty and of the "
			     "same length", where);
	}
	return true;
}

static bool read_fkeys(struct reader *rd, struct json_object *root, struct schema_cache *sc)
{
	struct json_object *arr = get_objects(rd, root, "schema cache", "fkeys", &sc->n_fkeys);
	char where[32];

	if (arr == NULL)
		return false;
	sc->fkeys = xcalloc((size_t)sc->n_fkeys, sizeof(struct sc_fkey));
	for (int i = 0; i < sc->n_fkeys; i++) {
		snprintf(where, sizeof(where), "fkeys[%d]", i);
		if (!read_fkey(rd, sc, json_object_array_get_idx(arr, (size_t)i), where,
			       &sc->fkeys[i]))
			return false;
	}
	return true;
}

static bool read_arg(struct reader *rd, struct json_object *o, const char *where,
		     struct sc_arg *a)
{
	a->name = get_string(rd, o, where, "name", false);
	a->type = get_string(rd, o, where, "type", false);
	a->mode = get_code(rd, o, where, "mode", "iobvt");
	a->has_default = get_bool(rd, o, where, "has_default");
	a->variadic = a->mode == 'v';
	return !rd->failed;
}

static bool read_function(struct reader *rd, struct json_object *o, const char *where,
			  struct sc_function *f)
{
	struct json_object *args;
	char awhere[64];

	f->schema = get_string(rd, o, where, "schema", false);
	f->name = get_string(rd, o, where, "name", false);
	f->return_type = get_string(rd, o, where, "return_type", false);
	f->return_type_schema = get_string(rd, o, where, "return_type_schema", true);
	f->return_type_name = get_string(rd, o, where, "return_type_name", true);
	f->returns_set = get_bool(rd, o, where, "returns_set");
	f->rows_one = get_optional_bool(rd, o, where, "rows_one");
	f->handler = get_optional_string(rd, o, where, "handler");
	f->handler_binary = get_optional_bool(rd, o, where, "handler_binary");
	f->returns_composite = get_bool(rd, o, where, "returns_composite");
	f->returns_void = get_bool(rd, o, where, "returns_void");
	f->volatility = get_code(rd, o, where, "volatility", "isv");
	f->row_schema = get_optional_string(rd, o, where, "row_schema");
	f->row_name = get_optional_string(rd, o, where, "row_name");
	f->description = get_string(rd, o, where, "description", true);
	if (json_object_object_get_ex(o, "settings", NULL))
		f->settings = get_strings(rd, o, where, "settings", false, &f->n_settings);
	args = get_objects(rd, o, where, "args", &f->n_args);
	if (args == NULL)
		return false;
	f->args = xcalloc((size_t)f->n_args, sizeof(struct sc_arg));
	for (int i = 0; i < f->n_args; i++) {
		snprintf(awhere, sizeof(awhere), "%s.args[%d]", where, i);
		if (!read_arg(rd, json_object_array_get_idx(args, (size_t)i), awhere, &f->args[i]))
			return false;
	}
	return true;
}

/* Functions in (schema, name) order, overloads in the order they came. */
struct fn_pos {
	struct sc_function fn;
	int pos;
};

static int cmp_fn_pos(const void *a, const void *b)
{
	const struct fn_pos *x = a, *y = b;
	int c = cmp_qname(&x->fn, y->fn.schema, y->fn.name);

	return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static void sort_functions(struct schema_cache *sc)
{
	struct fn_pos *v = xcalloc((size_t)sc->n_functions, sizeof(*v));

	for (int i = 0; i < sc->n_functions; i++) {
		v[i].fn = sc->functions[i];
		v[i].pos = i;
	}
	qsort(v, (size_t)sc->n_functions, sizeof(*v), cmp_fn_pos);
	for (int i = 0; i < sc->n_functions; i++)
		sc->functions[i] = v[i].fn;
	free(v);
}

static bool read_functions(struct reader *rd, struct json_object *root, struct schema_cache *sc)
{
	struct json_object *arr = get_objects(rd, root, "schema cache", "functions",
					      &sc->n_functions);
	char where[32];

	if (arr == NULL)
		return false;
	sc->functions = xcalloc((size_t)sc->n_functions, sizeof(struct sc_function));
	for (int i = 0; i < sc->n_functions; i++) {
		snprintf(where, sizeof(where), "functions[%d]", i);
		if (!read_function(rd, json_object_array_get_idx(arr, (size_t)i), where,
				   &sc->functions[i]))
			return false;
	}
	sort_functions(sc);
	return true;
}

/* The document as one JSON object; anything after it but blanks is an error. */
static struct json_object *parse_document(struct reader *rd, const char *json)
{
	struct json_tokener *tok;
	struct json_object *root;
	size_t len = json ? strlen(json) : 0;
	size_t end;

	if (json == NULL || len >= INT32_MAX) {
		failf(rd, "schema cache: no document");
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		failf(rd, "schema cache: out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* with the NUL included, a bare literal at the end ("42") is complete */
	root = json_tokener_parse_ex(tok, json, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (end > len)
		end = len;
	if (root == NULL && json_tokener_get_error(tok) == json_tokener_success) {
		/* the document was JSON null */
		failf(rd, "schema cache: the document must be a JSON object");
	} else if (root == NULL) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		failf(rd, "schema cache: invalid JSON at offset %zu: %s", end,
		      e == json_tokener_continue ? "unexpected end of the document"
						 : json_tokener_error_desc(e));
	} else if (json[end + strspn(json + end, " \t\r\n")] != '\0') {
		failf(rd, "schema cache: invalid JSON at offset %zu: text after the document", end);
	} else if (!json_object_is_type(root, json_type_object)) {
		failf(rd, "schema cache: the document must be a JSON object");
	}
	json_tokener_free(tok);
	if (rd->failed) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

struct schema_cache *schema_from_json(const char *json, char *err, size_t errlen)
{
	struct reader rd = { err, errlen, false };
	struct json_object *root = parse_document(&rd, json);
	struct schema_cache *sc;

	if (root == NULL)
		return NULL;
	sc = xcalloc(1, sizeof(*sc));
	if (!(read_relations(&rd, root, sc) && read_fkeys(&rd, root, sc) &&
	      read_functions(&rd, root, sc))) {
		schema_free(sc);
		sc = NULL;
	}
	json_object_put(root);
	return sc;
}

/* ------------------------------------------------------------------ */
/* loading over a connection                                          */

/* db-schemas as a text[] literal: {"api","x \"y\""} */
static char *schemas_literal(const struct config *cfg)
{
	size_t len = 3;
	char *out, *p;

	for (int i = 0; i < cfg->n_db_schemas; i++)
		len += 2 * strlen(cfg->db_schemas[i]) + 3;
	out = p = xcalloc(len, 1);
	*p++ = '{';
	for (int i = 0; i < cfg->n_db_schemas; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *s = cfg->db_schemas[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

/* The first line of what libpq says went wrong. */
static void conn_error(PGconn *conn, const char *what, char *err, size_t errlen)
{
	const char *msg = PQerrorMessage(conn);

	snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg[0] ? msg : "?");
}

/*
 * Read one statement's results in pipeline mode; keeps the last one in
 * *keep when asked and it has rows.  Returns false on an error (err set)
 * or when the connection broke (*broken).
 */
static bool read_one(PGconn *conn, PGresult **keep, char *err, size_t errlen, bool *broken)
{
	PGresult *res = PQgetResult(conn);
	bool ok = true;

	if (res == NULL) {
		*broken = true;
		conn_error(conn, "schema cache query failed", err, errlen);
		return false;
	}
	do {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_FATAL_ERROR) {
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

			if (msg == NULL)
				msg = PQresultErrorMessage(res);
			snprintf(err, errlen, "schema cache query failed: %.*s",
				 (int)strcspn(msg, "\n"), msg);
			ok = false;
		} else if (st == PGRES_PIPELINE_ABORTED) {
			ok = false;         /* the error came with the statement before */
		}
		if (ok && keep != NULL && st == PGRES_TUPLES_OK) {
			PQclear(*keep);
			*keep = res;
		} else {
			PQclear(res);
		}
	} while ((res = PQgetResult(conn)) != NULL);
	return ok;
}

/* Send the settings and the query in one pipeline; the query's rows, or NULL. */
static PGresult *run_query(PGconn *conn, const char *schemas, char *err, size_t errlen)
{
	const char *values[1] = { schemas };
	PGresult *rows = NULL, *sync;
	bool broken = false, ok;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "schema cache: no database connection");
		return NULL;
	}
	if (PQtransactionStatus(conn) != PQTRANS_IDLE || PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
		snprintf(err, errlen, "schema cache: the connection is busy");
		return NULL;
	}
	if (PQenterPipelineMode(conn) != 1 ||
	    PQsendQueryParams(conn, settings_query, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(conn, schema_query, 1, NULL, values, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(conn) != 1) {
		conn_error(conn, "could not send the schema cache query", err, errlen);
		PQexitPipelineMode(conn);
		return NULL;
	}
	ok = read_one(conn, NULL, err, errlen, &broken);
	ok = !broken && read_one(conn, &rows, ok ? err : NULL, ok ? errlen : 0, &broken) && ok;
	if (!broken) {
		sync = PQgetResult(conn);
		if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
			broken = true;
			if (ok)
				conn_error(conn, "schema cache query failed", err, errlen);
			ok = false;
		}
		PQclear(sync);
	}
	/* after the Sync the connection is idle again (unless it broke) */
	PQexitPipelineMode(conn);
	if (ok && (rows == NULL || PQntuples(rows) != 1 || PQnfields(rows) != 1 ||
		   PQgetisnull(rows, 0, 0))) {
		snprintf(err, errlen, "schema cache query failed: unexpected result");
		ok = false;
	}
	if (!ok) {
		PQclear(rows);
		return NULL;
	}
	return rows;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

struct schema_cache *schema_load(PGconn *conn, const struct config *cfg, char *err, size_t errlen)
{
	struct timespec t0;
	struct schema_cache *sc;
	PGresult *rows;
	char *schemas;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	schemas = schemas_literal(cfg);
	rows = run_query(conn, schemas, err, errlen);
	free(schemas);
	if (rows == NULL)
		return NULL;
	sc = schema_from_json(PQgetvalue(rows, 0, 0), err, errlen);
	PQclear(rows);
	if (sc != NULL)
		sc->load_ms = elapsed_ms(&t0);
	return sc;
}
