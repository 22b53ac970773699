/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CEL subset: a recursive-descent parser into an arena AST, and a tree-walking
 * evaluator over jansson values. Name chains made only of identifiers, `.f`
 * and `['literal']` become one PATH node, so callers can list and rewrite the
 * inputs an expression reads (tr_cel_each_path). Numbers follow CEL: int and
 * double compare with each other; int() truncates a double and refuses one
 * out of range; && and || short-circuit. Recursion is bounded by
 * TR_CEL_MAX_DEPTH in the parser, and so in the evaluator too.
 */
#include "pipeline/cel.h"
#include "core/arena.h"
#include "core/buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum kind { LIT, PATH, INDEX, CALL, NOT, NEG, BIN };
enum op { OR, AND, EQ, NE, LT, LE, GT, GE, IN, ADD, SUB, MUL, DIV, MOD };

/* A literal is kept decoded in the arena, not as a json_t: the arena frees
 * memory in one call and cannot drop references, so the JSON value is built
 * at each evaluation (cheap for the short literals conditions hold). */
struct lit {
	enum { L_INT, L_DBL, L_STR, L_TRUE, L_FALSE, L_NULL } t;
	long long i;
	double d;
	const char *s;
	size_t len;
};

struct tr_cel {
	enum kind kind;
	size_t pos;
	struct lit *lit; /* LIT */
	struct tr_cel_path path;
	const char *fn; /* CALL */
	struct tr_cel **args;
	size_t n_args;
	enum op op;
	struct tr_cel *a, *b; /* NOT/NEG: a; BIN and INDEX: a, b */
};

/* ---- parser ---- */

struct parser {
	struct tr_arena *arena;
	const char *src;
	size_t pos;
	int depth;
	struct tr_buf *err;
	size_t err_pos;
	bool failed;
};

static struct tr_cel *fail(struct parser *p, size_t pos, const char *msg)
{
	if (!p->failed) {
		p->failed = true;
		p->err_pos = pos;
		tr_buf_reset(p->err);
		tr_buf_appends(p->err, msg);
	}
	return NULL;
}

static void skip_ws(struct parser *p)
{
	while (p->src[p->pos] && isspace((unsigned char)p->src[p->pos]))
		p->pos++;
}

static bool eat(struct parser *p, const char *tok)
{
	skip_ws(p);
	size_t n = strlen(tok);
	if (strncmp(p->src + p->pos, tok, n))
		return false;
	/* "=" must not match "==", "<" must not match "<=" */
	if ((!strcmp(tok, "<") || !strcmp(tok, ">") || !strcmp(tok, "!")) &&
	    p->src[p->pos + 1] == '=')
		return false;
	p->pos += n;
	return true;
}

static struct tr_cel *node(struct parser *p, enum kind k, size_t pos)
{
	struct tr_cel *n = tr_arena_alloc(p->arena, sizeof(*n));
	n->kind = k;
	n->pos = pos;
	return n;
}

static struct tr_cel *parse_expr(struct parser *p);

static struct tr_cel *lit_node(struct parser *p, size_t pos, struct lit l)
{
	struct tr_cel *n = node(p, LIT, pos);
	struct lit *copy = tr_arena_alloc(p->arena, sizeof(*copy));
	*copy = l;
	n->lit = copy;
	return n;
}

static struct tr_cel *parse_string(struct parser *p)
{
	size_t start = p->pos;
	char q = p->src[p->pos++];
	bool raw = false;
	struct tr_buf b = TR_BUF_INIT;
	for (;;) {
		char c = p->src[p->pos];
		if (!c) {
			tr_buf_release(&b);
			return fail(p, start, "unterminated string literal");
		}
		p->pos++;
		if (c == q)
			break;
		if (c == '\\' && !raw) {
			char e = p->src[p->pos++];
			switch (e) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '\\':
			case '\'':
			case '"':
				c = e;
				break;
			default:
				tr_buf_release(&b);
				return fail(p, p->pos - 2, "unsupported escape in string literal");
			}
		}
		tr_buf_appendc(&b, c);
	}
	/* a string value must be text: JSON (and so evaluation) holds only UTF-8 */
	json_t *probe = json_stringn(tr_buf_str(&b), b.len);
	if (!probe) {
		tr_buf_release(&b);
		return fail(p, start, "string literal is not valid UTF-8");
	}
	json_decref(probe);
	struct lit l = {.t = L_STR, .len = b.len};
	l.s = tr_arena_strndup(p->arena, tr_buf_str(&b), b.len);
	tr_buf_release(&b);
	return lit_node(p, start, l);
}

static struct tr_cel *parse_number(struct parser *p)
{
	size_t start = p->pos;
	const char *s = p->src + p->pos;
	size_t n = strspn(s, "0123456789");
	bool is_double = s[n] == '.' || s[n] == 'e' || s[n] == 'E';
	char *end;
	errno = 0;
	struct lit l = {0};
	if (is_double) {
		l.t = L_DBL;
		l.d = strtod(s, &end);
	} else {
		l.t = L_INT;
		l.i = strtoll(s, &end, 10);
		if (*end == 'u') /* CEL uint literal: treated as int */
			end++;
	}
	if (errno || end == s)
		return fail(p, start, "bad number literal");
	p->pos += (size_t)(end - s);
	return lit_node(p, start, l);
}

static bool ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static const char *parse_ident(struct parser *p)
{
	size_t start = p->pos;
	while (isalnum((unsigned char)p->src[p->pos]) || p->src[p->pos] == '_')
		p->pos++;
	return tr_arena_strndup(p->arena, p->src + start, p->pos - start);
}

static void path_push(struct parser *p, struct tr_cel *n, const char *seg)
{
	const char **v = tr_arena_alloc(p->arena, (n->path.n + 1) * sizeof(*v));
	if (n->path.n)
		memcpy(v, n->path.seg, n->path.n * sizeof(*v));
	v[n->path.n++] = seg;
	n->path.seg = v;
}

static struct tr_cel *parse_primary(struct parser *p)
{
	skip_ws(p);
	size_t start = p->pos;
	char c = p->src[p->pos];
	if (c == '(') {
		p->pos++;
		struct tr_cel *e = parse_expr(p);
		if (e && !eat(p, ")"))
			return fail(p, p->pos, "expected ')'");
		return e;
	}
	if (c == '\'' || c == '"')
		return parse_string(p);
	if (c == 'r' && (p->src[p->pos + 1] == '\'' || p->src[p->pos + 1] == '"')) {
		p->pos++;
		return parse_string(p);
	}
	if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)p->src[p->pos + 1])))
		return parse_number(p);
	if (!ident_start(c)) {
		if (!c)
			return fail(p, start, "unexpected end of expression");
		return fail(p, start, "unexpected character");
	}
	const char *id = parse_ident(p);
	if (!strcmp(id, "true") || !strcmp(id, "false") || !strcmp(id, "null"))
		return lit_node(p, start,
				(struct lit){.t = id[0] == 't'	 ? L_TRUE
						  : id[0] == 'f' ? L_FALSE
								 : L_NULL});
	skip_ws(p);
	if (p->src[p->pos] == '(') {
		static const char *const fns[] = {"int",  "double", "string",
						  "bool", "size",   "parseJson"};
		bool known = false;
		for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
			known |= !strcmp(id, fns[i]);
		if (!known)
			return fail(p, start, "unknown function");
		p->pos++;
		struct tr_cel *n = node(p, CALL, start);
		n->fn = id;
		struct tr_cel *args[8];
		if (!eat(p, ")")) {
			do {
				if (n->n_args == 8)
					return fail(p, p->pos, "too many arguments");
				args[n->n_args] = parse_expr(p);
				if (!args[n->n_args++])
					return NULL;
			} while (eat(p, ","));
			if (!eat(p, ")"))
				return fail(p, p->pos, "expected ')' after arguments");
		}
		if (n->n_args != 1)
			return fail(p, start, "function takes exactly one argument");
		n->args = tr_arena_alloc(p->arena, n->n_args * sizeof(*n->args));
		memcpy(n->args, args, n->n_args * sizeof(*n->args));
		return n;
	}
	struct tr_cel *n = node(p, PATH, start);
	n->path.pos = start;
	path_push(p, n, id);
	return n;
}

static struct tr_cel *parse_member(struct parser *p)
{
	struct tr_cel *e = parse_primary(p);
	while (e) {
		skip_ws(p);
		size_t at = p->pos;
		if (p->src[p->pos] == '.' && ident_start(p->src[p->pos + 1])) {
			p->pos++;
			const char *f = parse_ident(p);
			if (e->kind == PATH) {
				path_push(p, e, f);
			} else {
				struct tr_cel *k = lit_node(
				    p, at, (struct lit){.t = L_STR, .s = f, .len = strlen(f)});
				struct tr_cel *n = node(p, INDEX, at);
				n->a = e, n->b = k, e = n;
			}
		} else if (p->src[p->pos] == '[') {
			p->pos++;
			struct tr_cel *k = parse_expr(p);
			if (!k)
				return NULL;
			if (!eat(p, "]"))
				return fail(p, p->pos, "expected ']'");
			const struct lit *kl = k->lit;
			if (e->kind == PATH && k->kind == LIT && kl->t == L_STR) {
				path_push(p, e, kl->s);
			} else {
				struct tr_cel *n = node(p, INDEX, at);
				n->a = e, n->b = k, e = n;
			}
		} else {
			break;
		}
	}
	return e;
}

static struct tr_cel *parse_unary(struct parser *p)
{
	skip_ws(p);
	size_t at = p->pos;
	if (++p->depth > TR_CEL_MAX_DEPTH)
		return fail(p, at, "expression nested too deeply");
	struct tr_cel *r;
	if (eat(p, "!")) {
		r = node(p, NOT, at);
		if (!(r->a = parse_unary(p)))
			r = NULL;
	} else if (eat(p, "-")) {
		r = node(p, NEG, at);
		if (!(r->a = parse_unary(p)))
			r = NULL;
	} else {
		r = parse_member(p);
	}
	p->depth--;
	return r;
}

struct opdef {
	const char *tok;
	enum op op;
};

static struct tr_cel *parse_level(struct parser *p, int level);

static struct tr_cel *binary(struct parser *p, int level, const struct opdef *ops, size_t nops)
{
	struct tr_cel *a = parse_level(p, level + 1);
	while (a) {
		skip_ws(p);
		size_t at = p->pos;
		const struct opdef *hit = NULL;
		for (size_t i = 0; i < nops && !hit; i++)
			if (eat(p, ops[i].tok))
				hit = &ops[i];
		if (!hit)
			break;
		if (hit->op == IN && (isalnum((unsigned char)p->src[p->pos]) ||
				      p->src[p->pos] == '_')) { /* "in" is a prefix of a name */
			p->pos = at;
			break;
		}
		struct tr_cel *n = node(p, BIN, at);
		n->op = hit->op;
		n->a = a;
		if (!(n->b = parse_level(p, level + 1)))
			return NULL;
		a = n;
		if (level == 2) { /* relations do not chain: a < b < c is an error */
			skip_ws(p);
			if (p->src[p->pos] && strchr("=!<>", p->src[p->pos]))
				return fail(p, p->pos, "comparisons do not chain; use &&");
		}
	}
	return a;
}

static struct tr_cel *parse_level(struct parser *p, int level)
{
	static const struct opdef or_ops[] = {{"||", OR}};
	static const struct opdef and_ops[] = {{"&&", AND}};
	static const struct opdef rel_ops[] = {{"==", EQ}, {"!=", NE}, {"<=", LE}, {">=", GE},
					       {"<", LT},  {">", GT},  {"in", IN}};
	static const struct opdef add_ops[] = {{"+", ADD}, {"-", SUB}};
	static const struct opdef mul_ops[] = {{"*", MUL}, {"/", DIV}, {"%", MOD}};
	if (++p->depth > TR_CEL_MAX_DEPTH)
		return fail(p, p->pos, "expression nested too deeply");
	struct tr_cel *r;
	switch (level) {
	case 0:
		r = binary(p, 0, or_ops, 1);
		break;
	case 1:
		r = binary(p, 1, and_ops, 1);
		break;
	case 2:
		r = binary(p, 2, rel_ops, 7);
		break;
	case 3:
		r = binary(p, 3, add_ops, 2);
		break;
	case 4:
		r = binary(p, 4, mul_ops, 3);
		break;
	default:
		r = parse_unary(p);
		break;
	}
	p->depth--;
	return r;
}

static struct tr_cel *parse_expr(struct parser *p)
{
	return parse_level(p, 0);
}

enum tr_err tr_cel_parse(struct tr_arena *arena, const char *src, struct tr_cel **out,
			 size_t *err_pos, struct tr_buf *err)
{
	*out = NULL;
	*err_pos = 0;
	if (strlen(src) > TR_CEL_MAX_LEN)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "expression longer than %d bytes", TR_CEL_MAX_LEN);
	struct tr_buf tmp = TR_BUF_INIT;
	struct parser p = {arena, src, 0, 0, &tmp, 0, false};
	struct tr_cel *e = parse_expr(&p);
	if (e) {
		skip_ws(&p);
		if (src[p.pos])
			fail(&p, p.pos, "unexpected text after expression");
	}
	if (p.failed) {
		*err_pos = p.err_pos;
		tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&tmp));
		tr_buf_release(&tmp);
		return TR_ERR_INVALID_PARAMETER_VALUE;
	}
	tr_buf_release(&tmp);
	*out = e;
	return TR_OK;
}

static void each_path(struct tr_cel *e, tr_cel_path_fn *fn, void *ud)
{
	if (!e)
		return;
	if (e->kind == PATH) {
		fn(ud, &e->path);
		return;
	}
	for (size_t i = 0; i < e->n_args; i++)
		each_path(e->args[i], fn, ud);
	each_path(e->a, fn, ud);
	each_path(e->b, fn, ud);
}

void tr_cel_each_path(struct tr_cel *e, tr_cel_path_fn *fn, void *ud)
{
	each_path(e, fn, ud);
}

/* ---- evaluator ---- */

static enum tr_err type_error(struct tr_buf *err, const char *what)
{
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", what);
}

static json_t *lit_value(const struct lit *l)
{
	switch (l->t) {
	case L_INT:
		return json_integer(l->i);
	case L_DBL:
		return json_real(l->d);
	case L_STR:
		return json_stringn(l->s, l->len);
	case L_TRUE:
		return json_true();
	case L_FALSE:
		return json_false();
	default:
		return json_null();
	}
}

static bool is_num(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static void format_double(struct tr_buf *b, double d)
{
	if (d == floor(d) && fabs(d) < 1e15) {
		tr_buf_appendf(b, "%.0f", d);
		return;
	}
	char s[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	tr_buf_appends(b, s);
}

static enum tr_err call(const struct tr_cel *e, json_t *x, json_t **out, struct tr_buf *err)
{
	const char *fn = e->fn;
	if (!strcmp(fn, "int")) {
		if (json_is_integer(x))
			*out = json_incref(x);
		else if (json_is_real(x)) {
			double d = json_real_value(x);
			if (!isfinite(d) || d >= 9223372036854775807.0 ||
			    d < -9223372036854775808.0)
				return type_error(err, "int() of a double out of range");
			*out = json_integer((json_int_t)d);
		} else if (json_is_string(x)) {
			char *end;
			const char *s = json_string_value(x);
			errno = 0;
			long long v = strtoll(s, &end, 10);
			if (errno || end == s || *end)
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "int() of '%s': not an integer", s);
			*out = json_integer(v);
		} else
			return type_error(err, "int() needs a number or a string");
		return TR_OK;
	}
	if (!strcmp(fn, "double")) {
		if (is_num(x))
			*out = json_real(json_number_value(x));
		else if (json_is_string(x)) {
			char *end;
			const char *s = json_string_value(x);
			errno = 0;
			double d = strtod(s, &end);
			if (errno || end == s || *end || !isfinite(d))
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "double() of '%s': not a finite number", s);
			*out = json_real(d);
		} else
			return type_error(err, "double() needs a number or a string");
		return TR_OK;
	}
	if (!strcmp(fn, "string")) {
		struct tr_buf b = TR_BUF_INIT;
		if (json_is_string(x))
			*out = json_incref(x);
		else if (json_is_integer(x))
			tr_buf_appendf(&b, "%lld", (long long)json_integer_value(x));
		else if (json_is_real(x))
			format_double(&b, json_real_value(x));
		else if (json_is_boolean(x))
			tr_buf_appends(&b, json_is_true(x) ? "true" : "false");
		else
			return type_error(err, "string() needs a scalar");
		if (!json_is_string(x))
			*out = json_string(tr_buf_str(&b));
		tr_buf_release(&b);
		return TR_OK;
	}
	if (!strcmp(fn, "bool")) {
		if (json_is_boolean(x))
			*out = json_incref(x);
		else if (json_is_string(x) && (!strcmp(json_string_value(x), "true") ||
					       !strcmp(json_string_value(x), "false")))
			*out = json_boolean(!strcmp(json_string_value(x), "true"));
		else
			return type_error(err, "bool() needs a boolean or 'true'/'false'");
		return TR_OK;
	}
	if (!strcmp(fn, "size")) {
		if (json_is_string(x))
			*out = json_integer((json_int_t)json_string_length(x));
		else if (json_is_array(x))
			*out = json_integer((json_int_t)json_array_size(x));
		else if (json_is_object(x))
			*out = json_integer((json_int_t)json_object_size(x));
		else
			return type_error(err, "size() needs a string, list or map");
		return TR_OK;
	}
	/* parseJson */
	if (!json_is_string(x))
		return type_error(err, "parseJson() needs a string");
	json_error_t je;
	*out = json_loads(json_string_value(x), JSON_DECODE_ANY, &je);
	if (!*out)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "parseJson(): %s", je.text);
	return TR_OK;
}

static enum tr_err eval(const struct tr_cel *e, json_t *ctx, json_t **out, struct tr_buf *err);

static enum tr_err index_value(json_t *c, json_t *k, json_t **out, struct tr_buf *err)
{
	if (json_is_object(c) && json_is_string(k)) {
		json_t *v = json_object_get(c, json_string_value(k));
		if (!v)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "no such key '%s'",
				       json_string_value(k));
		*out = json_incref(v);
		return TR_OK;
	}
	if (json_is_array(c) && is_num(k)) {
		double d = json_number_value(k);
		if (d < 0 || d != floor(d) || d >= (double)json_array_size(c))
			return type_error(err, "list index out of range");
		*out = json_incref(json_array_get(c, (size_t)d));
		return TR_OK;
	}
	return type_error(err, "cannot index this value");
}

static int compare(json_t *a, json_t *b, bool *ok)
{
	*ok = true;
	if (is_num(a) && is_num(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			return x < y ? -1 : x > y;
		}
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int r = strcmp(json_string_value(a), json_string_value(b));
		return r < 0 ? -1 : r > 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) - json_is_true(b);
	*ok = false;
	return 0;
}

static bool equal(json_t *a, json_t *b)
{
	bool ok;
	int c = compare(a, b, &ok);
	if (ok)
		return c == 0;
	return json_equal(a, b);
}

static enum tr_err arith(enum op op, json_t *a, json_t *b, json_t **out, struct tr_buf *err)
{
	if (op == ADD && json_is_string(a) && json_is_string(b)) {
		struct tr_buf s = TR_BUF_INIT;
		tr_buf_appends(&s, json_string_value(a));
		tr_buf_appends(&s, json_string_value(b));
		*out = json_string(tr_buf_str(&s));
		tr_buf_release(&s);
		return TR_OK;
	}
	if (!is_num(a) || !is_num(b))
		return type_error(err, "arithmetic needs two numbers");
	if (json_is_integer(a) && json_is_integer(b)) {
		long long x = json_integer_value(a), y = json_integer_value(b), r;
		bool bad = false;
		switch (op) {
		case ADD:
			bad = __builtin_add_overflow(x, y, &r);
			break;
		case SUB:
			bad = __builtin_sub_overflow(x, y, &r);
			break;
		case MUL:
			bad = __builtin_mul_overflow(x, y, &r);
			break;
		default:
			if (y == 0 || (x == INT64_MIN && y == -1))
				return type_error(err, "division by zero or overflow");
			r = op == DIV ? x / y : x % y;
		}
		if (bad)
			return type_error(err, "integer overflow");
		*out = json_integer(r);
		return TR_OK;
	}
	double x = json_number_value(a), y = json_number_value(b);
	if (op == MOD)
		return type_error(err, "% needs two integers");
	double r = op == ADD ? x + y : op == SUB ? x - y : op == MUL ? x * y : x / y;
	if (!isfinite(r)) /* JSON has no infinities or NaN */
		return type_error(err, "arithmetic result is not a finite number");
	*out = json_real(r);
	return TR_OK;
}

static enum tr_err eval_bool(const struct tr_cel *e, json_t *ctx, bool *out, struct tr_buf *err)
{
	json_t *v;
	enum tr_err rc = eval(e, ctx, &v, err);
	if (rc)
		return rc;
	if (!json_is_boolean(v)) {
		json_decref(v);
		return type_error(err, "&&, || and ! need booleans");
	}
	*out = json_is_true(v);
	json_decref(v);
	return TR_OK;
}

static enum tr_err eval_bin(const struct tr_cel *e, json_t *ctx, json_t **out, struct tr_buf *err)
{
	enum tr_err rc;
	if (e->op == AND || e->op == OR) {
		bool a, b;
		if ((rc = eval_bool(e->a, ctx, &a, err)))
			return rc;
		if (e->op == AND && !a) {
			*out = json_false();
			return TR_OK;
		}
		if (e->op == OR && a) {
			*out = json_true();
			return TR_OK;
		}
		if ((rc = eval_bool(e->b, ctx, &b, err)))
			return rc;
		*out = json_boolean(b);
		return TR_OK;
	}
	json_t *a = NULL, *b = NULL;
	if ((rc = eval(e->a, ctx, &a, err)) || (rc = eval(e->b, ctx, &b, err)))
		goto out;
	bool ok = true;
	int c;
	switch (e->op) {
	case EQ:
		*out = json_boolean(equal(a, b));
		break;
	case NE:
		*out = json_boolean(!equal(a, b));
		break;
	case LT:
	case LE:
	case GT:
	case GE:
		c = compare(a, b, &ok);
		if (!ok) {
			rc = type_error(err, "cannot compare values of different types");
			break;
		}
		*out = json_boolean(e->op == LT	  ? c < 0
				    : e->op == LE ? c <= 0
				    : e->op == GT ? c > 0
						  : c >= 0);
		break;
	case IN:
		if (json_is_array(b)) {
			bool found = false;
			for (size_t i = 0; i < json_array_size(b) && !found; i++)
				found = equal(a, json_array_get(b, i));
			*out = json_boolean(found);
		} else if (json_is_object(b) && json_is_string(a)) {
			*out = json_boolean(json_object_get(b, json_string_value(a)) != NULL);
		} else {
			rc = type_error(err, "'in' needs a list or a map on its right");
		}
		break;
	default:
		rc = arith(e->op, a, b, out, err);
	}
out:
	json_decref(a);
	json_decref(b);
	return rc;
}

static enum tr_err eval(const struct tr_cel *e, json_t *ctx, json_t **out, struct tr_buf *err)
{
	enum tr_err rc = TR_OK;
	json_t *a = NULL, *b = NULL;
	switch (e->kind) {
	case LIT:
		*out = lit_value(e->lit);
		return TR_OK;
	case PATH: {
		json_t *v = ctx;
		for (size_t i = 0; i < e->path.n; i++) {
			v = json_is_object(v) ? json_object_get(v, e->path.seg[i]) : NULL;
			if (!v)
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "no value for '%s'", e->path.seg[i]);
		}
		*out = json_incref(v);
		return TR_OK;
	}
	case INDEX:
		if ((rc = eval(e->a, ctx, &a, err)) || (rc = eval(e->b, ctx, &b, err)))
			break;
		rc = index_value(a, b, out, err);
		break;
	case CALL:
		if ((rc = eval(e->args[0], ctx, &a, err)))
			break;
		rc = call(e, a, out, err);
		break;
	case NOT: {
		bool v;
		if ((rc = eval_bool(e->a, ctx, &v, err)))
			return rc;
		*out = json_boolean(!v);
		return TR_OK;
	}
	case NEG:
		if ((rc = eval(e->a, ctx, &a, err)))
			break;
		if (json_is_integer(a) && json_integer_value(a) != INT64_MIN)
			*out = json_integer(-json_integer_value(a));
		else if (json_is_real(a))
			*out = json_real(-json_real_value(a));
		else
			rc = type_error(err, "'-' needs a number");
		break;
	case BIN:
		return eval_bin(e, ctx, out, err);
	}
	json_decref(a);
	json_decref(b);
	return rc;
}

enum tr_err tr_cel_eval(const struct tr_cel *e, json_t *ctx, json_t **out, struct tr_buf *err)
{
	*out = NULL;
	return eval(e, ctx, out, err);
}

enum tr_err tr_cel_eval_bool(const struct tr_cel *e, json_t *ctx, bool *out, struct tr_buf *err)
{
	json_t *v;
	enum tr_err rc = tr_cel_eval(e, ctx, &v, err);
	if (rc)
		return rc;
	if (!json_is_boolean(v)) {
		json_decref(v);
		return type_error(err, "the condition is not a boolean");
	}
	*out = json_is_true(v);
	json_decref(v);
	return TR_OK;
}
