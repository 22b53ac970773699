/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow's search language compiled to parameterised SQL.
 *
 * A filter string is parsed once, by a small recursive-descent parser working
 * directly on the characters, into an AST of AND/OR nodes over validated
 * clauses (entity, key, comparator, value); the AST is then printed as SQL.
 * order_by clauses are parsed with the same identifier reader and printed
 * straight away. Each search target is one row of `targets`: its attributes,
 * its key-value tables as SQL, and its order_by defaults and tie-breakers.
 *
 * Invariants:
 *  - user text never reaches the SQL text: every key and literal becomes a
 *    bind, and the SQL is assembled only from the string constants below;
 *  - the parser is linear in the input: each character is looked at a bounded
 *    number of times, AND/OR chains are loops, and only parentheses recurse,
 *    at most TR_SEARCH_MAX_DEPTH deep;
 *  - the SQL nests at most TR_SEARCH_MAX_SQL_DEPTH parentheses of its own
 *    (redundant user parentheses and same-operator groups are flattened),
 *    because SQLite's parser stack overflows at about 25 levels;
 *  - a filter has at most TR_SEARCH_MAX_CLAUSES comparisons: SQLite evaluates
 *    N correlated subqueries in O(N) each (every OpenRead walks all open
 *    cursors), so a row costs O(N^2); at 1,000 that is ~0.14 s per row at
 *    worst, and IN lists (linear) carry the bulk cases instead;
 *  - the AST lives in one arena freed when compilation ends; the query owns
 *    plain heap strings released by tr_search_query_release().
 */
#include "store/search.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long AND/OR lists are printed in parenthesised chunks of this many terms so
 * that SQLite's expression depth (1000 by default) is not exceeded. */
#define CHUNK 64
/* How much user text an error message quotes. */
#define EXCERPT 40

/* ---- vocabulary ---------------------------------------------------------- */

enum entity { ENT_METRIC, ENT_PARAM, ENT_TAG, ENT_ATTR, ENT_DATASET };

enum cmp {
	CMP_EQ,
	CMP_NE,
	CMP_LT,
	CMP_LE,
	CMP_GT,
	CMP_GE,
	CMP_LIKE,
	CMP_ILIKE,
	CMP_IN,
	CMP_NOT_IN,
	CMP_IS_NULL,
	CMP_IS_NOT_NULL,
	CMP__COUNT
};

static const char *const cmp_text[CMP__COUNT] = {
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL",
};

#define BIT(c) (1u << (c))
#define CMPS_NUMERIC                                                                               \
	(BIT(CMP_EQ) | BIT(CMP_NE) | BIT(CMP_LT) | BIT(CMP_LE) | BIT(CMP_GT) | BIT(CMP_GE))
#define CMPS_STRING (BIT(CMP_EQ) | BIT(CMP_NE) | BIT(CMP_LIKE) | BIT(CMP_ILIKE))
#define CMPS_LIST   (BIT(CMP_IN) | BIT(CMP_NOT_IN))
#define CMPS_NULL   (BIT(CMP_IS_NULL) | BIT(CMP_IS_NOT_NULL))

enum col_type { COL_STRING, COL_NUMBER };
/* COL_LIST: takes IN lists; COL_LOWER_IDS: list values with upper case are
 * dropped (MLflow mints lowercase run ids); COL_INT: integer literals only. */
enum col_flags { COL_FILTER = 1, COL_ORDER = 2, COL_LIST = 4, COL_LOWER_IDS = 8, COL_INT = 16 };

/* An attribute (or dataset field) as the user spells it and its SQL column. */
struct column {
	const char *spelling;
	const char *sql;
	enum col_type type;
	unsigned flags;
};

static const struct column run_columns[] = {
    {"run_id", "r.run_uuid", COL_STRING, COL_FILTER | COL_ORDER | COL_LIST | COL_LOWER_IDS},
    {"run_name", "r.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"run name", "r.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"Run name", "r.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"Run Name", "r.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"status", "r.status", COL_STRING, COL_FILTER | COL_ORDER},
    {"user_id", "r.user_id", COL_STRING, COL_FILTER | COL_ORDER},
    {"artifact_uri", "r.artifact_uri", COL_STRING, COL_FILTER | COL_ORDER},
    {"start_time", "r.start_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"created", "r.start_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"Created", "r.start_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"timestamp", "r.start_time", COL_NUMBER, COL_ORDER},
    {"end_time", "r.end_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {NULL, NULL, COL_STRING, 0},
};

/* "context" is not a datasets column; DATASET_CONTEXT marks it. */
#define DATASET_CONTEXT "it.value"

static const struct column dataset_columns[] = {
    {"name", "d.name", COL_STRING, COL_FILTER | COL_LIST},
    {"digest", "d.digest", COL_STRING, COL_FILTER | COL_LIST},
    {"context", DATASET_CONTEXT, COL_STRING, COL_FILTER | COL_LIST},
    {NULL, NULL, COL_STRING, 0},
};

static const struct column experiment_columns[] = {
    {"name", "e.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"experiment_id", "e.experiment_id", COL_STRING, COL_ORDER},
    {"creation_time", "e.creation_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"last_update_time", "e.last_update_time", COL_NUMBER, COL_FILTER | COL_ORDER},
    {NULL, NULL, COL_STRING, 0},
};

/* Registered models: "timestamp" and "last_updated_timestamp" are one key. */
static const struct column registered_model_columns[] = {
    {"name", "rm.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"timestamp", "rm.last_updated_time", COL_NUMBER, COL_ORDER},
    {"last_updated_timestamp", "rm.last_updated_time", COL_NUMBER, COL_ORDER},
    {"creation_timestamp", "rm.creation_time", COL_NUMBER, COL_ORDER},
    {NULL, NULL, COL_STRING, 0},
};

static const struct column model_version_columns[] = {
    {"name", "mv.name", COL_STRING, COL_FILTER | COL_ORDER},
    {"run_id", "mv.run_id", COL_STRING, COL_FILTER | COL_LIST | COL_LOWER_IDS},
    {"source_path", "mv.source", COL_STRING, COL_FILTER},
    {"version_number", "mv.version", COL_NUMBER, COL_FILTER | COL_ORDER | COL_INT},
    {"creation_timestamp", "mv.creation_time", COL_NUMBER, COL_ORDER},
    {"last_updated_timestamp", "mv.last_updated_time", COL_NUMBER, COL_ORDER},
    {NULL, NULL, COL_STRING, 0},
};

#define LM_STRING (COL_FILTER | COL_ORDER | COL_LIST)
static const struct column logged_model_columns[] = {
    {"name", "lm.name", COL_STRING, LM_STRING},
    {"model_id", "lm.model_id", COL_STRING, LM_STRING},
    {"model_type", "lm.model_type", COL_STRING, LM_STRING},
    {"status", "lm.status", COL_STRING, LM_STRING},
    {"source_run_id", "lm.source_run_id", COL_STRING, LM_STRING},
    {"creation_timestamp", "lm.creation_timestamp", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"creation_time", "lm.creation_timestamp", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"last_updated_timestamp", "lm.last_updated_timestamp", COL_NUMBER, COL_FILTER | COL_ORDER},
    {"last_updated_time", "lm.last_updated_timestamp", COL_NUMBER, COL_FILTER | COL_ORDER},
    {NULL, NULL, COL_STRING, 0},
};

#define T_RUNS (1u << TR_SEARCH_RUNS)
#define T_EXP  (1u << TR_SEARCH_EXPERIMENTS)
#define T_RM   (1u << TR_SEARCH_REGISTERED_MODELS)
#define T_MV   (1u << TR_SEARCH_MODEL_VERSIONS)
#define T_LM   (1u << TR_SEARCH_LOGGED_MODELS)

/* Entity prefixes, the meaning of each, and the searches that know it. */
static const struct {
	const char *name;
	enum entity ent;
	unsigned targets;
} entities[] = {
    {"metric", ENT_METRIC, T_RUNS | T_LM},
    {"metrics", ENT_METRIC, T_RUNS | T_LM},
    {"param", ENT_PARAM, T_RUNS | T_LM},
    {"params", ENT_PARAM, T_RUNS | T_LM},
    {"parameter", ENT_PARAM, T_RUNS | T_LM},
    {"parameters", ENT_PARAM, T_RUNS | T_LM},
    {"tag", ENT_TAG, T_RUNS | T_EXP | T_RM | T_MV | T_LM},
    {"tags", ENT_TAG, T_RUNS | T_EXP | T_RM | T_MV | T_LM},
    {"attribute", ENT_ATTR, T_RUNS | T_EXP | T_RM | T_MV | T_LM},
    {"attributes", ENT_ATTR, T_RUNS | T_RM | T_MV | T_LM},
    {"attr", ENT_ATTR, T_RUNS | T_RM | T_MV | T_LM},
    {"run", ENT_ATTR, T_RUNS},
    {"dataset", ENT_DATASET, T_RUNS},
    {"datasets", ENT_DATASET, T_RUNS},
};

/*
 * One search target: its attributes and the SQL of its key-value tables,
 * each "table alias WHERE <correlation with the target's row>" (NULL when the
 * target has no such table), to which " AND x.key = ?" is appended.
 */
struct target {
	const char *noun; /* for messages: "ordering <noun>" */
	const struct column *columns;
	const char *metrics, *params, *tags;
	/* Appended to a metrics subquery to pick the latest row of a key; NULL
	 * when the table holds one row per key already (latest_metrics). */
	const char *latest;
	unsigned order_entities;   /* BIT(ENT_...) allowed in order_by */
	bool nulls_last;	   /* attributes may be NULL: order them last */
	bool prompt_rule;	   /* a missing PROMPT_TAG counts as 'false' */
	const char *default_order; /* without order_by; NULL: the tie-breakers */
	/* Tie-breakers appended in turn unless order_by used COL (NULL: always). */
	struct {
		const char *col, *sql;
	} tiebreak[2];
};

/* Registered models and versions without this tag are ordinary models, and
 * MLflow >= 2.21 clients add "tag.`mlflow.prompt.is_prompt` != 'true'" to
 * every registered-model search. */
#define PROMPT_TAG "mlflow.prompt.is_prompt"

static const struct target targets[] = {
    [TR_SEARCH_RUNS] =
	{
	    .noun = "runs",
	    .columns = run_columns,
	    .metrics = "latest_metrics m WHERE m.run_uuid = r.run_uuid",
	    .params = "params p WHERE p.run_uuid = r.run_uuid",
	    .tags = "tags t WHERE t.run_uuid = r.run_uuid",
	    .order_entities = BIT(ENT_ATTR) | BIT(ENT_METRIC) | BIT(ENT_PARAM) | BIT(ENT_TAG),
	    .nulls_last = true,
	    .tiebreak = {{"r.start_time", "r.start_time DESC"}, {NULL, "r.run_uuid ASC"}},
	},
    [TR_SEARCH_EXPERIMENTS] =
	{
	    .noun = "experiments",
	    .columns = experiment_columns,
	    .tags = "experiment_tags t WHERE t.experiment_id = e.experiment_id",
	    .order_entities = BIT(ENT_ATTR),
	    .default_order = "e.creation_time DESC, e.experiment_id ASC",
	    /* MLflow's (sqlalchemy_store._get_search_experiments_order_by_clauses) */
	    .tiebreak = {{"e.experiment_id", "e.experiment_id DESC"}},
	},
    [TR_SEARCH_REGISTERED_MODELS] =
	{
	    .noun = "registered models",
	    .columns = registered_model_columns,
	    .tags = "registered_model_tags t WHERE t.name = rm.name",
	    .order_entities = BIT(ENT_ATTR),
	    .prompt_rule = true,
	    .tiebreak = {{"rm.name", "rm.name ASC"}},
	},
    [TR_SEARCH_MODEL_VERSIONS] =
	{
	    .noun = "model versions",
	    .columns = model_version_columns,
	    .tags = "model_version_tags t WHERE t.name = mv.name AND t.version = mv.version",
	    .order_entities = BIT(ENT_ATTR),
	    .prompt_rule = true,
	    .default_order = "mv.last_updated_time DESC, mv.name ASC, mv.version DESC",
	    .tiebreak = {{"mv.name", "mv.name ASC"}, {"mv.version", "mv.version DESC"}},
	},
    [TR_SEARCH_LOGGED_MODELS] =
	{
	    .noun = "logged models",
	    .columns = logged_model_columns,
	    .metrics = "logged_model_metrics m WHERE m.model_id = lm.model_id",
	    .params = "logged_model_params p WHERE p.model_id = lm.model_id",
	    .tags = "logged_model_tags t WHERE t.model_id = lm.model_id",
	    /* the primary key's order: no sort */
	    .latest = " ORDER BY m.step DESC, m.timestamp DESC LIMIT 1",
	    .order_entities = BIT(ENT_ATTR) | BIT(ENT_METRIC),
	    .tiebreak = {{"lm.creation_timestamp", "lm.creation_timestamp DESC"},
			 {"lm.model_id", "lm.model_id ASC"}},
	},
};

/* ---- AST ----------------------------------------------------------------- */

enum val_kind { VAL_NONE, VAL_STRING, VAL_NUMBER, VAL_LIST };

struct value {
	enum val_kind kind;
	const char *str; /* VAL_STRING */
	bool is_int;	 /* VAL_NUMBER: written without '.' or exponent, fits int64 */
	int64_t i64;
	double f64;
	const char **items; /* VAL_LIST, after MLflow's upper-case filter for run_id */
	size_t n_items;
	size_t at, end; /* where the literal is in the input, for messages */
};

struct ident {
	enum entity ent;
	const char *entity_name;  /* NULL without a prefix */
	const char *key;	  /* unquoted */
	const struct column *col; /* ENT_ATTR and ENT_DATASET */
	size_t at, end;
};

struct clause {
	struct ident id;
	enum cmp op;
	struct value v;
};

enum node_kind { NODE_CLAUSE, NODE_AND, NODE_OR };

struct node {
	enum node_kind kind;
	struct node *first, *last, *next; /* children of AND/OR; sibling link */
	size_t n_children;
	struct clause cl;
};

/* ---- parser state and messages ------------------------------------------- */

struct parser {
	const char *s;
	size_t len, pos;
	enum tr_search_target target;
	bool order_by; /* parsing an order_by clause, not a filter */
	struct tr_arena *arena;
	struct tr_buf *err;
	size_t n_clauses, n_values;
};

/* Appends up to EXCERPT bytes of the input from AT, marking a cut with "...". */
static void append_excerpt(struct tr_buf *b, const struct parser *p, size_t at, size_t end)
{
	if (end > p->len)
		end = p->len;
	if (at > end)
		at = end;
	size_t n = end - at;
	if (n > EXCERPT) {
		tr_buf_append(b, p->s + at, EXCERPT);
		tr_buf_appends(b, "...");
	} else {
		tr_buf_append(b, p->s + at, n);
	}
}

/* A syntax error in the filter or an order_by clause, located at AT. */
static enum tr_err __attribute__((format(printf, 3, 4)))
syntax_error(struct parser *p, size_t at, const char *fmt, ...)
{
	struct tr_buf m = TR_BUF_INIT;
	va_list ap;
	if (p->order_by) {
		tr_buf_appends(&m, "Invalid order_by clause '");
		append_excerpt(&m, p, 0, p->len);
		tr_buf_appends(&m, "': ");
	} else {
		tr_buf_appends(&m, "Invalid clause(s) in filter string: ");
	}
	va_start(ap, fmt);
	tr_buf_vappendf(&m, fmt, ap);
	va_end(ap);
	tr_buf_appendf(&m, " at position %zu", at);
	enum tr_err rc = tr_fail(p->err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&m));
	tr_buf_release(&m);
	return rc;
}

/* A semantic error: the message is complete as given. */
static enum tr_err __attribute__((format(printf, 2, 3)))
semantic_error(struct parser *p, const char *fmt, ...)
{
	struct tr_buf m = TR_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	tr_buf_vappendf(&m, fmt, ap);
	va_end(ap);
	enum tr_err rc = tr_fail(p->err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&m));
	tr_buf_release(&m);
	return rc;
}

/* Input text [AT, END) as an arena string short enough for a message. */
static const char *excerpt(struct parser *p, size_t at, size_t end)
{
	struct tr_buf b = TR_BUF_INIT;
	append_excerpt(&b, p, at, end);
	char *s = tr_arena_strdup(p->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	return s;
}

/* A user string (a key) shortened for a message. */
static const char *shorten(struct parser *p, const char *s)
{
	size_t n = strlen(s);
	if (n <= EXCERPT)
		return s;
	return tr_arena_sprintf(p->arena, "%.*s...", EXCERPT, s);
}

/* "'=', '!=', ..." for the comparators in MASK. */
static const char *cmp_list(struct parser *p, unsigned mask)
{
	struct tr_buf b = TR_BUF_INIT;
	for (int c = 0; c < CMP__COUNT; c++) {
		if (!(mask & BIT(c)))
			continue;
		tr_buf_appendf(&b, "%s'%s'", b.len ? ", " : "", cmp_text[c]);
	}
	char *s = tr_arena_strdup(p->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	return s;
}

/* "'a', 'b'" for the columns of TABLE carrying FLAG. */
static const char *column_list(struct parser *p, const struct column *table, unsigned flag)
{
	struct tr_buf b = TR_BUF_INIT;
	for (const struct column *c = table; c->spelling; c++) {
		if (c->flags & flag)
			tr_buf_appendf(&b, "%s'%s'", b.len ? ", " : "", c->spelling);
	}
	char *s = tr_arena_strdup(p->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	return s;
}

/* ---- lexing -------------------------------------------------------------- */

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_word_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_word_char(unsigned char c)
{
	return is_word_start(c) || is_digit(c);
}

static unsigned char peek(const struct parser *p, size_t ahead)
{
	return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : '\0';
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && is_space((unsigned char)p->s[p->pos]))
		p->pos++;
}

static size_t word_len_at(const struct parser *p, size_t at)
{
	size_t n = 0;
	while (at + n < p->len && is_word_char((unsigned char)p->s[at + n]))
		n++;
	return n;
}

/* Consumes the keyword KW (upper case) if the next word is exactly KW, ignoring case. */
static bool match_kw(struct parser *p, const char *kw)
{
	size_t n = word_len_at(p, p->pos);
	if (n != strlen(kw))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p->s[p->pos + i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != kw[i])
			return false;
	}
	p->pos += n;
	return true;
}

/*
 * Reads a string quoted with the character at the current position; a doubled
 * quote stands for one. Returns the unquoted text in the arena.
 */
static enum tr_err read_quoted(struct parser *p, const char **out /* OUT */)
{
	size_t start = p->pos;
	char q = p->s[p->pos];
	size_t i = start + 1, n = 0;
	for (;;) {
		if (i >= p->len)
			return syntax_error(p, start, "unterminated quoted string");
		if (p->s[i] == q) {
			if (i + 1 < p->len && p->s[i + 1] == q) {
				i += 2;
				n++;
				continue;
			}
			break;
		}
		i++;
		n++;
	}
	char *s = tr_arena_alloc(p->arena, n + 1);
	size_t o = 0;
	for (size_t j = start + 1; j < i; j++) {
		s[o++] = p->s[j];
		if (p->s[j] == q)
			j++;
	}
	s[o] = '\0';
	p->pos = i + 1;
	*out = s;
	return TR_OK;
}

/* ---- identifiers --------------------------------------------------------- */

static const struct column *find_column(const struct column *table, const char *name, unsigned flag)
{
	for (const struct column *c = table; c->spelling; c++) {
		if ((c->flags & flag) && strcmp(c->spelling, name) == 0)
			return c;
	}
	return NULL;
}

static enum tr_err resolve_entity(struct parser *p, struct ident *id, bool dq_entity)
{
	unsigned me = 1u << p->target;
	if (!id->entity_name) {
		id->ent = ENT_ATTR;
		return TR_OK;
	}
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]) && !dq_entity; i++) {
		if ((entities[i].targets & me) && strcmp(entities[i].name, id->entity_name) == 0) {
			id->ent = entities[i].ent;
			return TR_OK;
		}
	}
	struct tr_buf b = TR_BUF_INIT;
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		if (entities[i].targets & me)
			tr_buf_appendf(&b, "%s'%s'", b.len ? ", " : "", entities[i].name);
	}
	const char *valid = tr_arena_strdup(p->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	return semantic_error(p, "Invalid entity type '%s'. Valid values are %s",
			      shorten(p, id->entity_name), valid);
}

static enum tr_err resolve_column(struct parser *p, struct ident *id)
{
	unsigned flag = p->order_by ? COL_ORDER : COL_FILTER;
	const struct target *t = &targets[p->target];
	if (id->ent == ENT_DATASET) {
		if (p->order_by)
			return semantic_error(p,
					      "Invalid order_by clause '%s': datasets cannot be "
					      "used for ordering",
					      excerpt(p, 0, p->len));
		id->col = find_column(dataset_columns, id->key, flag);
		if (!id->col)
			return semantic_error(
			    p, "Invalid dataset key '%s' specified. Valid keys are %s",
			    shorten(p, id->key), column_list(p, dataset_columns, flag));
		return TR_OK;
	}
	if (id->ent != ENT_ATTR) {
		if (p->order_by && !(t->order_entities & BIT(id->ent)))
			return semantic_error(
			    p, "Invalid order_by clause '%s': only %s can be used for ordering %s",
			    excerpt(p, 0, p->len),
			    t->order_entities & BIT(ENT_METRIC) ? "attributes and metrics"
								: "attributes",
			    t->noun);
		return TR_OK;
	}
	id->col = find_column(t->columns, id->key, flag);
	if (!id->col) {
		if (p->order_by)
			return semantic_error(p,
					      "Invalid order_by clause '%s': invalid attribute key "
					      "'%s' specified. Valid keys are %s",
					      excerpt(p, 0, p->len), shorten(p, id->key),
					      column_list(p, t->columns, flag));
		return semantic_error(p, "Invalid attribute key '%s' specified. Valid keys are %s",
				      shorten(p, id->key), column_list(p, t->columns, flag));
	}
	return TR_OK;
}

/*
 * identifier := [entity "."] key, split on the first '.'; the entity is bare
 * or `backticked`, the key bare (dots allowed), "double-quoted" or
 * `backticked`. Without an entity the identifier is an attribute.
 */
static enum tr_err parse_identifier(struct parser *p, struct ident *id /* OUT */)
{
	enum tr_err rc;
	const char *first;
	unsigned char c = peek(p, 0);
	bool dq_first = c == '"';

	memset(id, 0, sizeof(*id));
	id->at = p->pos;
	if (c == '`' || c == '"') {
		rc = read_quoted(p, &first);
		if (rc)
			return rc;
	} else if (is_word_start(c)) {
		size_t n = word_len_at(p, p->pos);
		first = tr_arena_strndup(p->arena, p->s + p->pos, n);
		p->pos += n;
	} else if (p->pos >= p->len) {
		return syntax_error(p, p->pos, "expected an identifier, found the end");
	} else {
		return syntax_error(p, p->pos, "expected an identifier, found '%s'",
				    excerpt(p, p->pos, p->pos + 1));
	}

	if (peek(p, 0) == '.') {
		p->pos++;
		id->entity_name = first;
		c = peek(p, 0);
		if (c == '`' || c == '"') {
			rc = read_quoted(p, &id->key);
			if (rc)
				return rc;
		} else {
			size_t start = p->pos;
			while (p->pos < p->len &&
			       (is_word_char((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.'))
				p->pos++;
			if (p->pos == start)
				return syntax_error(p, start, "expected a key after '%s.'",
						    shorten(p, first));
			id->key = tr_arena_strndup(p->arena, p->s + start, p->pos - start);
		}
	} else {
		id->key = first;
	}
	c = peek(p, 0);
	if (is_word_char(c) || c == '.' || c == '"' || c == '`' || c == '\'')
		return syntax_error(p, p->pos, "unexpected '%s' in identifier",
				    excerpt(p, p->pos, p->pos + 1));
	id->end = p->pos;
	if (id->key[0] == '\0')
		return syntax_error(p, id->at, "empty key in identifier");

	rc = resolve_entity(p, id, dq_first && id->entity_name);
	if (rc)
		return rc;
	return resolve_column(p, id);
}

/* ---- clauses ------------------------------------------------------------- */

static enum tr_err parse_comparator(struct parser *p, const struct ident *id,
				    enum cmp *out /* OUT */)
{
	size_t at = p->pos;
	unsigned char c = peek(p, 0), d = peek(p, 1);
	switch (c) {
	case '=':
		if (d == '=')
			break;
		p->pos++;
		*out = CMP_EQ;
		return TR_OK;
	case '!':
		if (d != '=')
			break;
		p->pos += 2;
		*out = CMP_NE;
		return TR_OK;
	case '<':
		p->pos += d == '=' || d == '>' ? 2 : 1;
		*out = d == '=' ? CMP_LE : d == '>' ? CMP_NE : CMP_LT;
		return TR_OK;
	case '>':
		p->pos += d == '=' ? 2 : 1;
		*out = d == '=' ? CMP_GE : CMP_GT;
		return TR_OK;
	default:
		if (match_kw(p, "LIKE")) {
			*out = CMP_LIKE;
			return TR_OK;
		}
		if (match_kw(p, "ILIKE")) {
			*out = CMP_ILIKE;
			return TR_OK;
		}
		if (match_kw(p, "IN")) {
			*out = CMP_IN;
			return TR_OK;
		}
		if (match_kw(p, "NOT")) {
			skip_ws(p);
			if (match_kw(p, "IN")) {
				*out = CMP_NOT_IN;
				return TR_OK;
			}
			break;
		}
		if (match_kw(p, "IS")) {
			skip_ws(p);
			bool neg = match_kw(p, "NOT");
			skip_ws(p);
			if (match_kw(p, "NULL")) {
				*out = neg ? CMP_IS_NOT_NULL : CMP_IS_NULL;
				return TR_OK;
			}
			break;
		}
	}
	if (at >= p->len)
		return syntax_error(p, at, "expected a comparator after '%s', found the end",
				    excerpt(p, id->at, id->end));
	return syntax_error(p, at, "expected a comparator after '%s', found '%s'",
			    excerpt(p, id->at, id->end),
			    excerpt(p, at, at + word_len_at(p, at) + 1));
}

/* number := [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits] */
static enum tr_err parse_number(struct parser *p, struct value *v)
{
	size_t i = p->pos, digits = 0;
	bool is_int = true;
	if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
		i++;
	while (i < p->len && is_digit((unsigned char)p->s[i]))
		i++, digits++;
	if (i < p->len && p->s[i] == '.') {
		is_int = false;
		i++;
		while (i < p->len && is_digit((unsigned char)p->s[i]))
			i++, digits++;
	}
	if (!digits)
		return syntax_error(p, p->pos, "malformed number '%s'", excerpt(p, p->pos, i + 1));
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		size_t e = i + 1, exp_digits = 0;
		if (e < p->len && (p->s[e] == '+' || p->s[e] == '-'))
			e++;
		while (e < p->len && is_digit((unsigned char)p->s[e]))
			e++, exp_digits++;
		if (!exp_digits)
			return syntax_error(p, p->pos, "malformed number '%s'",
					    excerpt(p, p->pos, e + 1));
		is_int = false;
		i = e;
	}
	if (i < p->len && (is_word_char((unsigned char)p->s[i]) || p->s[i] == '.'))
		return syntax_error(p, p->pos, "malformed number '%s'", excerpt(p, p->pos, i + 1));

	/* strtod/strtoll need a terminated copy: the input continues after the number. */
	char *text = tr_arena_strndup(p->arena, p->s + p->pos, i - p->pos);
	v->kind = VAL_NUMBER;
	v->f64 = strtod(text, NULL);
	v->is_int = false;
	if (is_int) {
		errno = 0;
		long long ll = strtoll(text, NULL, 10);
		if (errno == 0) {
			v->is_int = true;
			v->i64 = (int64_t)ll;
		}
	}
	p->pos = i;
	return TR_OK;
}

/* list := '(' string (',' string)* [','] ')' */
static enum tr_err parse_list(struct parser *p, struct value *v)
{
	size_t open = p->pos, cap = 0;
	enum tr_err rc;
	p->pos++;
	skip_ws(p);
	v->kind = VAL_LIST;
	for (;;) {
		unsigned char c = peek(p, 0);
		if (c == ')' && v->n_items > 0)
			break;
		if (c != '\'' && c != '"') {
			if (p->pos >= p->len)
				return syntax_error(p, open, "unterminated list");
			return syntax_error(
			    p, p->pos, "expected a non-empty list of quoted strings, found '%s'",
			    excerpt(p, p->pos, p->pos + 1));
		}
		if (++p->n_values > TR_SEARCH_MAX_LIST_VALUES)
			return syntax_error(p, p->pos, "more than %d list values in the filter",
					    TR_SEARCH_MAX_LIST_VALUES);
		const char *s;
		rc = read_quoted(p, &s);
		if (rc)
			return rc;
		if (v->n_items == cap) {
			cap = cap ? 2 * cap : 8;
			const char **items = tr_arena_alloc(p->arena, cap * sizeof(*items));
			if (v->n_items)
				memcpy(items, v->items, v->n_items * sizeof(*items));
			v->items = items;
		}
		v->items[v->n_items++] = s;
		skip_ws(p);
		if (peek(p, 0) == ',') {
			p->pos++;
			skip_ws(p);
			continue;
		}
		if (peek(p, 0) != ')') {
			if (p->pos >= p->len)
				return syntax_error(p, open, "unterminated list");
			return syntax_error(p, p->pos, "expected ',' or ')' in list, found '%s'",
					    excerpt(p, p->pos, p->pos + 1));
		}
	}
	p->pos++;
	return TR_OK;
}

static enum tr_err parse_value(struct parser *p, struct value *v /* OUT */)
{
	unsigned char c = peek(p, 0);
	v->at = p->pos;
	if (c == '\'' || c == '"') {
		v->kind = VAL_STRING;
		enum tr_err rc = read_quoted(p, &v->str);
		v->end = p->pos;
		return rc;
	}
	if (c == '(') {
		enum tr_err rc = parse_list(p, v);
		v->end = p->pos;
		return rc;
	}
	if (is_digit(c) || c == '+' || c == '-' || c == '.') {
		enum tr_err rc = parse_number(p, v);
		v->end = p->pos;
		return rc;
	}
	if (p->pos >= p->len)
		return syntax_error(p, p->pos, "expected a value, found the end");
	/* A bare word: MLflow's "expected a quoted string" messages fit it best. */
	size_t n = word_len_at(p, p->pos);
	if (n == 0)
		return syntax_error(p, p->pos, "expected a value, found '%s'",
				    excerpt(p, p->pos, p->pos + 1));
	v->kind = VAL_NONE;
	p->pos += n;
	v->end = p->pos;
	return TR_OK;
}

static const char *entity_label(enum entity e)
{
	switch (e) {
	case ENT_METRIC:
		return "metric";
	case ENT_PARAM:
		return "param";
	case ENT_TAG:
		return "tag";
	case ENT_ATTR:
		return "attribute";
	case ENT_DATASET:
		return "dataset";
	}
	return "?";
}

/* Checks comparator and value kind against the identifier, as MLflow does. */
static enum tr_err check_clause(struct parser *p, struct clause *cl)
{
	const struct ident *id = &cl->id;
	unsigned allowed;
	bool numeric;

	switch (id->ent) {
	case ENT_METRIC:
		allowed = CMPS_NUMERIC | CMPS_NULL;
		numeric = true;
		break;
	case ENT_PARAM:
	case ENT_TAG:
		allowed = CMPS_STRING | CMPS_NULL;
		numeric = false;
		break;
	default:
		numeric = id->col->type == COL_NUMBER;
		allowed = numeric ? CMPS_NUMERIC : CMPS_STRING;
		if (id->col->flags & COL_LIST)
			allowed |= CMPS_LIST;
		break;
	}
	if (cl->v.kind == VAL_LIST && id->ent == ENT_ATTR && !(id->col->flags & COL_LIST)) {
		/* without list attributes, the comparator check below says it best */
		const char *lists = column_list(p, targets[p->target].columns, COL_LIST);
		if (*lists)
			return semantic_error(p,
					      "Only the %s attribute%s comparison with a list of "
					      "quoted string values",
					      lists,
					      strchr(lists, ',') ? "s support" : " supports");
	}
	if (!(allowed & BIT(cl->op)))
		return semantic_error(p, "Invalid comparator '%s' not one of %s for %s '%s'",
				      cmp_text[cl->op], cmp_list(p, allowed), entity_label(id->ent),
				      shorten(p, id->key));
	if (cl->op == CMP_IS_NULL || cl->op == CMP_IS_NOT_NULL)
		return TR_OK;

	const struct value *v = &cl->v;
	const char *found = excerpt(p, v->at, v->end);
	if (v->kind == VAL_LIST) {
		if (cl->op != CMP_IN && cl->op != CMP_NOT_IN)
			return semantic_error(
			    p,
			    "Invalid clause(s) in filter string: a list of values "
			    "needs 'IN' or 'NOT IN', not '%s'",
			    cmp_text[cl->op]);
		return TR_OK;
	}
	if (cl->op == CMP_IN || cl->op == CMP_NOT_IN)
		return semantic_error(p,
				      "Invalid clause(s) in filter string: '%s' needs a list of "
				      "quoted strings such as ('a', 'b'), found %s",
				      cmp_text[cl->op], found);
	if (numeric && v->kind != VAL_NUMBER) {
		if (id->ent == ENT_METRIC)
			return semantic_error(p, "Expected numeric value type for metric. Found %s",
					      found);
		return semantic_error(p,
				      "Expected numeric type value for numeric attribute: %s. "
				      "Found %s",
				      id->key, found);
	}
	if (numeric && id->ent == ENT_ATTR && (id->col->flags & COL_INT) && !v->is_int)
		return semantic_error(
		    p, "Expected an integer value for numeric attribute: %s. Found %s", id->key,
		    found);
	if (!numeric && v->kind != VAL_STRING)
		return semantic_error(p,
				      "Expected a quoted string value for %s (e.g. 'my-value'). "
				      "Got value %s",
				      entity_label(id->ent), found);
	return TR_OK;
}

/* MLflow drops run ids written with upper-case letters from IN lists. */
static void drop_upper_case_ids(struct value *v)
{
	size_t kept = 0;
	for (size_t i = 0; i < v->n_items; i++) {
		bool upper = false;
		for (const char *c = v->items[i]; *c; c++)
			upper |= *c >= 'A' && *c <= 'Z';
		if (!upper)
			v->items[kept++] = v->items[i];
	}
	v->n_items = kept;
}

static enum tr_err parse_clause(struct parser *p, struct node **out /* OUT */)
{
	struct node *n = tr_arena_alloc(p->arena, sizeof(*n));
	struct clause *cl = &n->cl;
	enum tr_err rc;

	if (++p->n_clauses > TR_SEARCH_MAX_CLAUSES)
		return syntax_error(p, p->pos, "more than %d clauses", TR_SEARCH_MAX_CLAUSES);
	n->kind = NODE_CLAUSE;
	rc = parse_identifier(p, &cl->id);
	if (rc)
		return rc;
	skip_ws(p);
	rc = parse_comparator(p, &cl->id, &cl->op);
	if (rc)
		return rc;
	if (cl->op != CMP_IS_NULL && cl->op != CMP_IS_NOT_NULL) {
		skip_ws(p);
		rc = parse_value(p, &cl->v);
		if (rc)
			return rc;
	}
	rc = check_clause(p, cl);
	if (rc)
		return rc;
	if (cl->v.kind == VAL_LIST && cl->id.ent == ENT_ATTR && (cl->id.col->flags & COL_LOWER_IDS))
		drop_upper_case_ids(&cl->v);
	*out = n;
	return TR_OK;
}

/* ---- boolean structure --------------------------------------------------- */

static struct node *new_list(struct parser *p, enum node_kind kind)
{
	struct node *n = tr_arena_alloc(p->arena, sizeof(*n));
	n->kind = kind;
	return n;
}

/* Appends CHILD to LIST, splicing in the children of a group of the same kind. */
static void add_child(struct node *list, struct node *child)
{
	if (child->kind == list->kind) {
		if (list->last)
			list->last->next = child->first;
		else
			list->first = child->first;
		list->last = child->last;
		list->n_children += child->n_children;
		return;
	}
	child->next = NULL;
	if (list->last)
		list->last->next = child;
	else
		list->first = child;
	list->last = child;
	list->n_children++;
}

static enum tr_err parse_or(struct parser *p, int depth, struct node **out);

/* primary := '(' or_expr ')' | clause */
static enum tr_err parse_primary(struct parser *p, int depth, struct node **out /* OUT */)
{
	skip_ws(p);
	if (peek(p, 0) == '(') {
		size_t open = p->pos;
		if (depth >= TR_SEARCH_MAX_DEPTH)
			return syntax_error(p, open, "parentheses nested deeper than %d",
					    TR_SEARCH_MAX_DEPTH);
		p->pos++;
		skip_ws(p);
		if (peek(p, 0) == ')')
			return syntax_error(p, open, "empty clause '()'");
		enum tr_err rc = parse_or(p, depth + 1, out);
		if (rc)
			return rc;
		skip_ws(p);
		if (peek(p, 0) != ')') {
			if (p->pos >= p->len)
				return syntax_error(p, open,
						    "unbalanced parentheses: '(' is "
						    "never closed");
			return syntax_error(p, p->pos, "expected ')', found '%s'",
					    excerpt(p, p->pos, p->pos + 1));
		}
		p->pos++;
		return TR_OK;
	}
	if (p->pos >= p->len)
		return syntax_error(p, p->pos, "empty clause at the end");
	size_t at = p->pos;
	if (match_kw(p, "AND") || match_kw(p, "OR"))
		return syntax_error(p, at, "empty clause before '%s'", excerpt(p, at, p->pos));
	if (peek(p, 0) == ')')
		return syntax_error(p, p->pos, "empty clause before ')'");
	return parse_clause(p, out);
}

/* Parses "X (KW X)*" with SUB parsing each X, building a KIND list when needed. */
static enum tr_err parse_chain(struct parser *p, int depth, const char *kw, enum node_kind kind,
			       enum tr_err (*sub)(struct parser *, int, struct node **),
			       struct node **out /* OUT */)
{
	struct node *first, *list = NULL;
	enum tr_err rc = sub(p, depth, &first);
	if (rc)
		return rc;
	for (;;) {
		skip_ws(p);
		size_t save = p->pos;
		if (!match_kw(p, kw)) {
			p->pos = save;
			break;
		}
		struct node *next;
		rc = sub(p, depth, &next);
		if (rc)
			return rc;
		if (!list) {
			list = new_list(p, kind);
			add_child(list, first);
		}
		add_child(list, next);
	}
	*out = list ? list : first;
	return TR_OK;
}

static enum tr_err parse_and(struct parser *p, int depth, struct node **out /* OUT */)
{
	return parse_chain(p, depth, "AND", NODE_AND, parse_primary, out);
}

/* AND binds tighter than OR. */
static enum tr_err parse_or(struct parser *p, int depth, struct node **out /* OUT */)
{
	return parse_chain(p, depth, "OR", NODE_OR, parse_and, out);
}

static enum tr_err parse_filter(struct parser *p, struct node **out /* OUT */)
{
	enum tr_err rc = parse_or(p, 0, out);
	if (rc)
		return rc;
	skip_ws(p);
	if (p->pos < p->len) {
		unsigned char c = peek(p, 0);
		if (c == ';')
			return syntax_error(p, p->pos, "multiple statements (';') are not allowed");
		if (c == ')')
			return syntax_error(p, p->pos, "unbalanced parentheses: unexpected ')'");
		return syntax_error(p, p->pos, "expected 'AND', 'OR' or the end, found '%s'",
				    excerpt(p, p->pos, p->pos + word_len_at(p, p->pos) + 1));
	}
	return TR_OK;
}

/* ---- SQL generation ------------------------------------------------------ */

struct compiler {
	enum tr_search_target target;
	struct tr_buf sql;
	int depth, max_depth; /* parentheses open in WHERE, and the most ever open */
	struct tr_bind *binds;
	size_t n_binds, cap_binds;
	struct tr_arena *arena;
};

static struct tr_bind *push_bind(struct compiler *c, enum tr_bind_type type)
{
	if (c->n_binds == c->cap_binds) {
		c->cap_binds = c->cap_binds ? 2 * c->cap_binds : 16;
		c->binds = tr_xrealloc(c->binds, c->cap_binds * sizeof(*c->binds));
	}
	struct tr_bind *b = &c->binds[c->n_binds++];
	memset(b, 0, sizeof(*b));
	b->type = type;
	return b;
}

static void bind_text(struct compiler *c, const char *s)
{
	push_bind(c, TR_BIND_TEXT)->text = tr_xstrdup(s);
}

static void bind_number(struct compiler *c, const struct value *v, bool force_double)
{
	if (v->is_int && !force_double) {
		push_bind(c, TR_BIND_INT64)->i64 = v->i64;
	} else {
		push_bind(c, TR_BIND_DOUBLE)->f64 = v->f64;
	}
}

static void put(struct compiler *c, const char *s)
{
	tr_buf_appends(&c->sql, s);
}

/* "EXPR OP ?" for a value comparison, binding the value. */
static void emit_condition(struct compiler *c, const char *expr, const struct clause *cl)
{
	const struct value *v = &cl->v;
	switch (cl->op) {
	case CMP_LIKE:
		tr_buf_appendf(&c->sql, "%s LIKE ?", expr);
		bind_text(c, v->str);
		return;
	case CMP_ILIKE:
		tr_buf_appendf(&c->sql, "lower(%s) LIKE lower(?)", expr);
		bind_text(c, v->str);
		return;
	case CMP_IN:
	case CMP_NOT_IN:
		if (v->n_items == 0) {
			/* Every value was dropped: IN () is not valid SQL everywhere. */
			put(c, cl->op == CMP_IN ? "1=0" : "1=1");
			return;
		}
		tr_buf_appendf(&c->sql, "%s %s (", expr, cmp_text[cl->op]);
		for (size_t i = 0; i < v->n_items; i++) {
			put(c, i ? ", ?" : "?");
			bind_text(c, v->items[i]);
		}
		put(c, ")");
		return;
	default:
		tr_buf_appendf(&c->sql, "%s %s ?", expr, cmp_text[cl->op]);
		if (v->kind == VAL_STRING)
			bind_text(c, v->str);
		else
			bind_number(c, v, cl->id.ent == ENT_METRIC);
		return;
	}
}

/* The key-value table of entity E for the target, and its alias letter. */
static const char *kv_table(const struct target *t, enum entity e, char *alias /* OUT */)
{
	*alias = e == ENT_METRIC ? 'm' : e == ENT_PARAM ? 'p' : 't';
	return e == ENT_METRIC ? t->metrics : e == ENT_PARAM ? t->params : t->tags;
}

static void emit_clause(struct compiler *c, const struct clause *cl)
{
	const struct ident *id = &cl->id;
	const struct target *t = &targets[c->target];
	bool null_test = cl->op == CMP_IS_NULL || cl->op == CMP_IS_NOT_NULL;
	char a;
	const char *from;

	switch (id->ent) {
	case ENT_METRIC:
	case ENT_PARAM:
	case ENT_TAG:
		from = kv_table(t, id->ent, &a);
		if (!null_test && id->ent == ENT_TAG && t->prompt_rule &&
		    strcmp(id->key, PROMPT_TAG) == 0) {
			/* the key's bind comes first: it is inside the expression */
			bind_text(c, id->key);
			emit_condition(
			    c,
			    tr_arena_sprintf(
				c->arena,
				"COALESCE((SELECT t.value FROM %s AND t.key = ?), 'false')", from),
			    cl);
			return;
		}
		if (!null_test && id->ent == ENT_METRIC && t->latest) {
			bind_text(c, id->key);
			emit_condition(c,
				       tr_arena_sprintf(c->arena,
							"(SELECT CASE WHEN m.is_nan = 1 THEN NULL "
							"ELSE m.value END FROM %s AND m.key = ?%s)",
							from, t->latest),
				       cl);
			return;
		}
		put(c, cl->op == CMP_IS_NULL ? "NOT EXISTS" : "EXISTS");
		tr_buf_appendf(&c->sql, " (SELECT 1 FROM %s AND %c.key = ?", from, a);
		bind_text(c, id->key);
		if (!null_test) {
			put(c, id->ent == ENT_METRIC ? " AND m.is_nan = 0 AND " : " AND ");
			emit_condition(c,
				       id->ent == ENT_METRIC  ? "m.value"
				       : id->ent == ENT_PARAM ? "p.value"
							      : "t.value",
				       cl);
		}
		put(c, ")");
		return;
	case ENT_ATTR:
		emit_condition(c, id->col->sql, cl);
		return;
	case ENT_DATASET:
		put(c, "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = "
		       "i.source_id");
		if (strcmp(id->col->sql, DATASET_CONTEXT) == 0)
			put(c, " JOIN input_tags it ON it.input_uuid = i.input_uuid");
		put(c, " WHERE i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND ");
		if (strcmp(id->col->sql, DATASET_CONTEXT) == 0)
			put(c, "it.key = 'mlflow.data.context' AND ");
		emit_condition(c, id->col->sql, cl);
		put(c, ")");
		return;
	}
}

static void emit_node(struct compiler *c, const struct node *n, bool top);

static void open_paren(struct compiler *c)
{
	put(c, "(");
	if (++c->depth > c->max_depth)
		c->max_depth = c->depth;
}

static void close_paren(struct compiler *c)
{
	put(c, ")");
	c->depth--;
}

/* Terms [0, N) of a list joined by OP; long lists in parenthesised chunks. */
static void emit_terms(struct compiler *c, const struct node *const *terms, size_t n,
		       const char *op)
{
	if (n <= CHUNK) {
		for (size_t i = 0; i < n; i++) {
			if (i)
				put(c, op);
			emit_node(c, terms[i], false);
		}
		return;
	}
	size_t per = CHUNK;
	while ((n + per - 1) / per > CHUNK)
		per *= CHUNK;
	for (size_t i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;
		if (i)
			put(c, op);
		open_paren(c);
		emit_terms(c, terms + i, k, op);
		close_paren(c);
	}
}

/* OR groups are always parenthesised, AND groups unless at the top, so that
 * WHERE can be ANDed with the caller's own conditions. */
static void emit_node(struct compiler *c, const struct node *n, bool top)
{
	if (n->kind == NODE_CLAUSE) {
		emit_clause(c, &n->cl);
		return;
	}
	const struct node **terms = tr_arena_alloc(c->arena, n->n_children * sizeof(*terms));
	size_t i = 0;
	for (const struct node *k = n->first; k; k = k->next)
		terms[i++] = k;
	bool parens = !top || n->kind == NODE_OR;
	if (parens)
		open_paren(c);
	emit_terms(c, terms, i, n->kind == NODE_AND ? " AND " : " OR ");
	if (parens)
		close_paren(c);
}

/* ---- order_by ------------------------------------------------------------ */

struct order_key {
	enum entity ent;
	const char *key; /* column SQL for attributes, the user's key otherwise */
};

static enum tr_err parse_order_clause(struct parser *p, struct ident *id /* OUT */,
				      bool *ascending /* OUT */)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return syntax_error(p, p->pos, "empty clause");
	enum tr_err rc = parse_identifier(p, id);
	if (rc)
		return rc;
	skip_ws(p);
	*ascending = true;
	if (match_kw(p, "DESC"))
		*ascending = false;
	else
		match_kw(p, "ASC");
	skip_ws(p);
	if (p->pos < p->len)
		return syntax_error(p, p->pos, "expected 'ASC', 'DESC' or the end, found '%s'",
				    excerpt(p, p->pos, p->pos + word_len_at(p, p->pos) + 1));
	return TR_OK;
}

static void emit_order_key(struct compiler *c, const struct ident *id, bool asc)
{
	const struct target *t = &targets[c->target];
	const char *latest = t->latest ? t->latest : "";
	char a;
	const char *from;

	switch (id->ent) {
	case ENT_METRIC:
		/* real values (0), then NaN (1), then missing (2), in both directions */
		from = kv_table(t, id->ent, &a);
		tr_buf_appendf(
		    &c->sql,
		    "COALESCE((SELECT CASE WHEN m.is_nan = 1 THEN 1 ELSE 0 END FROM %s AND "
		    "m.key = ?%s), 2), (SELECT m.value FROM %s AND m.key = ?%s)",
		    from, latest, from, latest);
		bind_text(c, id->key);
		bind_text(c, id->key);
		break;
	case ENT_PARAM:
	case ENT_TAG:
		from = kv_table(t, id->ent, &a);
		tr_buf_appendf(
		    &c->sql,
		    "CASE WHEN (SELECT %c.value FROM %s AND %c.key = ?) IS NULL THEN 1 ELSE "
		    "0 END, (SELECT %c.value FROM %s AND %c.key = ?)",
		    a, from, a, a, from, a);
		bind_text(c, id->key);
		bind_text(c, id->key);
		break;
	default:
		/* NULL last in both directions: SQLite sorts NULL first, so DESC
		 * already has it last; written this way (not with a CASE
		 * expression) the order can come from an index, e.g.
		 * runs_experiment for start_time */
		put(c, id->col->sql);
		if (t->nulls_last && asc) {
			put(c, " ASC NULLS LAST");
			return;
		}
		break;
	}
	put(c, asc ? " ASC" : " DESC");
}

/* Emits the ORDER BY list. With SKIP_FIRST the first key is checked but not
 * emitted (the lead-metric plan orders by it itself); *LEAD gets the first
 * key's identifier when it is a metric of a runs search. */
static enum tr_err compile_order_by(struct compiler *c, const char *const *order_by, size_t n_order,
				    bool skip_first, struct ident *lead, bool *lead_asc,
				    struct tr_buf *err)
{
	enum tr_err rc;
	const struct target *t = &targets[c->target];

	if (n_order > TR_SEARCH_MAX_ORDER_BY)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid order_by: more than %d clauses", TR_SEARCH_MAX_ORDER_BY);
	struct order_key *seen = tr_arena_alloc(c->arena, (n_order + 1) * sizeof(*seen));
	for (size_t i = 0; i < n_order; i++) {
		const char *text = order_by[i] ? order_by[i] : "";
		struct parser p = {
		    .s = text,
		    .len = strlen(text),
		    .target = c->target,
		    .order_by = true,
		    .arena = c->arena,
		    .err = err,
		};
		struct ident id;
		bool asc = true;
		rc = parse_order_clause(&p, &id, &asc);
		if (rc)
			return rc;
		seen[i].ent = id.ent;
		seen[i].key = id.ent == ENT_ATTR ? id.col->sql : id.key;
		for (size_t j = 0; j < i; j++) {
			if (seen[j].ent == seen[i].ent && strcmp(seen[j].key, seen[i].key) == 0)
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "`order_by` contains duplicate fields: '%s'",
					       excerpt(&p, 0, p.len));
		}
		if (i == 0 && lead && c->target == TR_SEARCH_RUNS &&
		    (id.ent == ENT_METRIC || id.ent == ENT_PARAM || id.ent == ENT_TAG)) {
			*lead = id;
			*lead_asc = asc;
		}
		if (i == 0 && skip_first)
			continue;
		if (c->sql.len)
			put(c, ", ");
		emit_order_key(c, &id, asc);
	}
	if (n_order == 0 && t->default_order) {
		put(c, t->default_order);
		return TR_OK;
	}
	for (size_t k = 0; k < sizeof(t->tiebreak) / sizeof(t->tiebreak[0]); k++) {
		bool used = false;
		if (!t->tiebreak[k].sql)
			break;
		for (size_t j = 0; j < n_order && t->tiebreak[k].col; j++)
			used |=
			    seen[j].ent == ENT_ATTR && strcmp(seen[j].key, t->tiebreak[k].col) == 0;
		if (used)
			continue;
		if (c->sql.len)
			put(c, ", ");
		put(c, t->tiebreak[k].sql);
	}
	return TR_OK;
}

/* True for a filter clause that bounds the lead metric's value: it can be
 * applied to the index walk itself ("om.value OP ?"). */
static bool bounds_lead(const struct node *n, const char *key)
{
	const struct clause *cl = &n->cl;
	return key && n->kind == NODE_CLAUSE && cl->id.ent == ENT_METRIC &&
	       !strcmp(cl->id.key, key) &&
	       (cl->op == CMP_LT || cl->op == CMP_LE || cl->op == CMP_GT || cl->op == CMP_GE ||
		cl->op == CMP_EQ);
}

/* The filter's top-level AND terms (the root itself when it is not an AND). */
static size_t top_terms(struct compiler *c, const struct node *root, const struct node ***out)
{
	if (!root) {
		*out = NULL;
		return 0;
	}
	if (root->kind != NODE_AND) {
		*out = tr_arena_alloc(c->arena, sizeof(**out));
		(*out)[0] = root;
		return 1;
	}
	*out = tr_arena_alloc(c->arena, root->n_children * sizeof(**out));
	size_t n = 0;
	for (const struct node *k = root->first; k; k = k->next)
		(*out)[n++] = k;
	return n;
}

/* LEAD_WHERE: the bounding clauses on "om.value"; "1=1" when there are none. */
static void emit_lead_where(struct compiler *c, const struct node *root, const char *key)
{
	const struct node **terms;
	size_t n = top_terms(c, root, &terms);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (!bounds_lead(terms[i], key))
			continue;
		if (any)
			put(c, " AND ");
		emit_condition(c, "om.value", &terms[i]->cl);
		any = true;
	}
	if (!any)
		put(c, "1=1");
}

/* LEAD_FILTER: the filter without the bounding clauses. */
static void emit_lead_filter(struct compiler *c, const struct node *root, const char *key)
{
	const struct node **terms;
	size_t n = top_terms(c, root, &terms), kept = 0;
	const struct node **keep = tr_arena_alloc(c->arena, (n + 1) * sizeof(*keep));
	for (size_t i = 0; i < n; i++)
		if (!bounds_lead(terms[i], key))
			keep[kept++] = terms[i];
	if (kept == 0)
		put(c, "1=1");
	else if (kept == 1)
		emit_node(c, keep[0], root->kind != NODE_AND);
	else
		emit_terms(c, keep, kept, " AND ");
}

/* ---- entry points -------------------------------------------------------- */

static void free_binds(struct tr_bind *binds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (binds[i].type == TR_BIND_TEXT)
			free((char *)binds[i].text);
	}
	free(binds);
}

enum tr_err tr_search_compile(enum tr_search_target target, const char *filter,
			      const char *const *order_by, size_t n_order,
			      struct tr_search_query *out /* OUT */, struct tr_buf *err)
{
	enum tr_err rc;
	struct compiler c = {.target = target, .sql = TR_BUF_INIT};
	struct node *root = NULL;

	memset(out, 0, sizeof(*out));
	if ((size_t)target >= sizeof(targets) / sizeof(targets[0]))
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "unknown search target %d", (int)target);
	c.arena = tr_arena_new();

	struct parser p = {
	    .s = filter ? filter : "",
	    .len = filter ? strlen(filter) : 0,
	    .target = target,
	    .arena = c.arena,
	    .err = err,
	};
	skip_ws(&p);
	if (p.pos < p.len) {
		rc = parse_filter(&p, &root);
		if (rc)
			goto out_free;
		emit_node(&c, root, true);
		if (c.max_depth > TR_SEARCH_MAX_SQL_DEPTH) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "Invalid clause(s) in filter string: AND/OR groups nested "
				     "deeper than %d",
				     TR_SEARCH_MAX_SQL_DEPTH);
			goto out_free;
		}
	} else {
		put(&c, "1=1");
	}
	out->where = tr_buf_detach(&c.sql);
	out->n_where_binds = c.n_binds;

	struct ident lead = {0};
	rc = compile_order_by(&c, order_by, n_order, false, &lead, &out->lead_asc, err);
	if (rc)
		goto out_free;
	out->order_by = tr_buf_detach(&c.sql);
	out->n_order_binds = c.n_binds - out->n_where_binds;
	if (lead.key) {
		size_t before = c.n_binds;
		/* only a metric lead takes the filter's bounds on its value */
		const char *bound = lead.ent == ENT_METRIC ? lead.key : NULL;
		out->lead_kind = lead.ent == ENT_METRIC	 ? TR_SEARCH_LEAD_METRIC
				 : lead.ent == ENT_PARAM ? TR_SEARCH_LEAD_PARAM
							 : TR_SEARCH_LEAD_TAG;
		emit_lead_where(&c, root, bound);
		out->lead_where = tr_buf_detach(&c.sql);
		out->n_lead_binds = c.n_binds - before;
		before = c.n_binds;
		rc = compile_order_by(&c, order_by, n_order, true, NULL, NULL, err);
		if (rc)
			goto out_free;
		out->order_rest = tr_buf_detach(&c.sql);
		out->n_rest_binds = c.n_binds - before;
		emit_lead_filter(&c, root, bound);
		out->lead_filter = tr_buf_detach(&c.sql);
		out->lead_key = tr_xstrdup(lead.key);
	}
	out->binds = c.binds;
	out->n_binds = c.n_binds;
	tr_arena_free(c.arena);
	return TR_OK;

out_free:
	free(out->where);
	free(out->order_by);
	free(out->lead_where);
	free(out->order_rest);
	memset(out, 0, sizeof(*out));
	free_binds(c.binds, c.n_binds);
	tr_buf_release(&c.sql);
	tr_arena_free(c.arena);
	return rc;
}

void tr_search_query_release(struct tr_search_query *q)
{
	if (!q)
		return;
	free(q->where);
	free(q->order_by);
	free(q->lead_key);
	free(q->lead_where);
	free(q->order_rest);
	free(q->lead_filter);
	free_binds(q->binds, q->n_binds);
	memset(q, 0, sizeof(*q));
}
