/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trellis YAML loader: the short hand-written format (docs/pipelines.md)
 * lowered into the KFP-shaped model, so one resolver and one scheduler serve
 * both formats. Each step becomes a task calling its own component with a
 * container executor; `{{ ... }}` references become task inputs wired the
 * way the KFP compiler wires them (pipelinechannel-- inputs), and the
 * references in `run:` become KFP placeholders. A `foreach:` step becomes a
 * loop task whose body DAG holds the step, its outputs collected into lists,
 * as dsl.ParallelFor + dsl.Collected compile. In a shell string, a reference
 * becomes a positional parameter ("$1") and its value an argument, so a
 * value is never parsed as shell code.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "pipeline/cel.h"
#include "pipeline/diag.h"
#include "pipeline/fields.h"
#include "pipeline/spec_impl.h"
#include "pipeline/yaml.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ITEM_INPUT  "pipelinechannel--item"

struct step {
	const char *name;
	const struct tr_yaml_node *k, *v;
	struct tr_pipeline_component *comp;	 /* runs the step */
	struct tr_pipeline_component *loop_comp; /* foreach: the body DAG */
	struct tr_pipeline_task *task;		 /* in the root DAG */
	struct tr_pipeline_task *inner;		 /* foreach: the task in the body */
	const struct tr_yaml_node *inputs, *outputs;
};

struct tl {
	struct tr_pipeline_spec *s;
	struct tr_diags *d;
	struct step *steps;
	size_t n_steps;
	enum tr_param_type item_type;
};

enum ref_kind { R_PARAM, R_STEP, R_INPUT, R_OUTPUT, R_ITEM, R_RUNTIME };
struct ref {
	enum ref_kind kind;
	const char *a, *b; /* param; step, output; input; output; item field; runtime */
};

static void error_at(struct tl *l, const struct tr_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_at(struct tl *l, const struct tr_yaml_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr_diags_vadd(l->d, TR_DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

static const char *aprintf(struct tl *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *aprintf(struct tl *l, const char *fmt, ...)
{
	struct tr_buf b = TR_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	tr_buf_vappendf(&b, fmt, ap);
	va_end(ap);
	char *r = tr_arena_strdup(l->s->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	return r;
}

static bool valid_name(const char *s)
{
	if (!*s || !(isalnum((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static struct step *find_step(struct tl *l, const char *name)
{
	for (size_t i = 0; i < l->n_steps; i++)
		if (!strcmp(l->steps[i].name, name))
			return &l->steps[i];
	return NULL;
}

/* ---- types ---- */

struct type_name {
	const char *name;
	bool artifact;
	enum tr_param_type type;
	const char *schema;
};
static const struct type_name types[] = {
    {"string", false, TR_PARAM_STRING, NULL}, {"int", false, TR_PARAM_INT, NULL},
    {"float", false, TR_PARAM_DOUBLE, NULL},  {"bool", false, TR_PARAM_BOOL, NULL},
    {"list", false, TR_PARAM_LIST, NULL},     {"dict", false, TR_PARAM_STRUCT, NULL},
    {"artifact", true, 0, "system.Artifact"}, {"dataset", true, 0, "system.Dataset"},
    {"model", true, 0, "system.Model"},	      {"metrics", true, 0, "system.Metrics"},
    {"html", true, 0, "system.HTML"},	      {"markdown", true, 0, "system.Markdown"},
};

static const struct type_name *find_type(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].name, name))
			return &types[i];
	return NULL;
}

static enum tr_param_type value_type(json_t *v)
{
	if (json_is_integer(v))
		return TR_PARAM_INT;
	if (json_is_real(v))
		return TR_PARAM_DOUBLE;
	if (json_is_boolean(v))
		return TR_PARAM_BOOL;
	if (json_is_array(v))
		return TR_PARAM_LIST;
	if (json_is_object(v))
		return TR_PARAM_STRUCT;
	return TR_PARAM_STRING;
}

/* ---- pipeline parameters ---- */

static void load_params(struct tl *l, struct tr_pipeline_component *root,
			const struct tr_yaml_node *m)
{
	if (!tr_fields_map(l->d, m, "params"))
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct tr_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		if (!valid_name(k->str)) {
			error_at(l, k, "bad parameter name '%s' (letters, digits, '_' and '-')",
				 k->str);
			continue;
		}
		struct tr_pipeline_io *io =
		    TR_VEC_PUSH(l->s->arena, root->inputs, root->n_inputs, root->cap_inputs);
		io->name = k->str;
		io->line = k->line;
		io->col = k->col;
		if (v->kind == TR_YAML_MAP && tr_yaml_get(v, "type")) {
			if (!tr_fields_check(l->d, v, aprintf(l, "parameter '%s'", k->str),
					     FIELDS("type", "default", "description"), false))
				continue;
			const struct tr_yaml_node *tn = tr_yaml_get(v, "type");
			const char *t = tr_fields_str(l->d, tn, "type");
			const struct type_name *ty = t ? find_type(t) : NULL;
			if (t && (!ty || ty->artifact))
				error_at(l, tn,
					 "unknown parameter type '%s' (string, int, float, bool, "
					 "list or dict)",
					 t);
			else if (ty)
				io->type = ty->type;
			const struct tr_yaml_node *dv = tr_yaml_get(v, "default");
			if (dv) {
				io->default_value = tr_pipeline_keep(l->s, tr_yaml_to_json(dv));
				io->optional = true;
				if (ty && !ty->artifact &&
				    value_type(io->default_value) != ty->type &&
				    !(ty->type == TR_PARAM_DOUBLE &&
				      json_is_integer(io->default_value)))
					error_at(l, dv, "default of parameter '%s' is not a %s",
						 k->str, t);
			}
			io->description =
			    tr_fields_str(l->d, tr_yaml_get(v, "description"), "description");
		} else if (tr_yaml_is_null(v)) {
			io->type = TR_PARAM_STRING; /* a required string */
		} else {
			io->default_value = tr_pipeline_keep(l->s, tr_yaml_to_json(v));
			io->type = value_type(io->default_value);
			io->optional = true;
		}
	}
}

/* ---- references ---- */

/* Parses the text between "{{" and "}}" (trimmed). */
static bool parse_ref(struct tl *l, const char *text, size_t len, struct ref *r)
{
	char *t = tr_arena_strndup(l->s->arena, text, len);
	char *parts[5];
	size_t n = 0;
	for (char *p = t; n < 5;) {
		parts[n++] = p;
		char *dot = strchr(p, '.');
		if (!dot)
			break;
		*dot = '\0';
		p = dot + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!*parts[i])
			return false;
	if (n == 2 && !strcmp(parts[0], "params"))
		*r = (struct ref){R_PARAM, parts[1], NULL};
	else if (n == 4 && !strcmp(parts[0], "steps") && !strcmp(parts[2], "outputs"))
		*r = (struct ref){R_STEP, parts[1], parts[3]};
	else if (n == 2 && !strcmp(parts[0], "inputs"))
		*r = (struct ref){R_INPUT, parts[1], NULL};
	else if (n == 2 && !strcmp(parts[0], "outputs"))
		*r = (struct ref){R_OUTPUT, parts[1], NULL};
	else if (n == 1 && !strcmp(parts[0], "item"))
		*r = (struct ref){R_ITEM, NULL, NULL};
	else if (n == 2 && !strcmp(parts[0], "item"))
		*r = (struct ref){R_ITEM, parts[1], NULL};
	else if (n == 2 && !strcmp(parts[0], "run") && !strcmp(parts[1], "name"))
		*r = (struct ref){R_RUNTIME, "{{$.pipeline_job_name}}", NULL};
	else if (n == 2 && !strcmp(parts[0], "run") && !strcmp(parts[1], "id"))
		*r = (struct ref){R_RUNTIME, "{{$.pipeline_job_uuid}}", NULL};
	else if (n == 2 && !strcmp(parts[0], "step") && !strcmp(parts[1], "name"))
		*r = (struct ref){R_RUNTIME, "{{$.pipeline_task_name}}", NULL};
	else
		return false;
	return true;
}

/* The declared type of what R reads from outside the step, or NULL after an
 * error. */
static const struct tr_pipeline_io *source_decl(struct tl *l, struct step *st, const struct ref *r,
						const struct tr_yaml_node *at)
{
	if (r->kind == R_PARAM) {
		const struct tr_pipeline_io *io =
		    tr_pipeline_component_input_find(l->s->root, r->a);
		if (!io)
			error_at(l, at, "step '%s' reads unknown parameter '%s'", st->name, r->a);
		return io;
	}
	struct step *p = find_step(l, r->a);
	if (!p) {
		error_at(l, at, "step '%s' reads unknown step '%s'", st->name, r->a);
		return NULL;
	}
	if (p == st) {
		error_at(l, at, "step '%s' reads its own output '%s'", st->name, r->b);
		return NULL;
	}
	const struct tr_pipeline_component *c = p->loop_comp ? p->loop_comp : p->comp;
	const struct tr_pipeline_io *io = c ? tr_pipeline_component_output_find(c, r->b) : NULL;
	if (!io && c)
		error_at(l, at, "step '%s' reads '%s', which is not an output of step '%s'",
			 st->name, r->b, p->name);
	return io;
}

static struct tr_pipeline_binding *bind(struct tl *l, struct tr_pipeline_task *t, const char *name,
					bool artifact, const struct tr_yaml_node *at)
{
	struct tr_pipeline_binding *b =
	    (struct tr_pipeline_binding *)tr_pipeline_task_binding_find(t, name, artifact);
	if (b)
		return b;
	b = TR_VEC_PUSH(l->s->arena, t->bindings, t->n_bindings, t->cap_bindings);
	b->name = name;
	b->artifact = artifact;
	b->line = at ? at->line : 0;
	b->col = at ? at->col : 0;
	return b;
}

static void declare(struct tl *l, struct tr_pipeline_component *c,
		    const struct tr_pipeline_io *like, const char *name,
		    const struct tr_yaml_node *at)
{
	if (tr_pipeline_component_input_find(c, name))
		return;
	struct tr_pipeline_io *io = TR_VEC_PUSH(l->s->arena, c->inputs, c->n_inputs, c->cap_inputs);
	*io = *like;
	io->name = name;
	io->default_value = NULL;
	io->optional = false;
	io->line = at ? at->line : 0;
	io->col = at ? at->col : 0;
}

static void wire_source(struct tr_pipeline_binding *b, const struct ref *r)
{
	if (r->kind == R_PARAM) {
		b->kind = TR_BIND_COMPONENT_INPUT;
		b->parent_input = r->a;
	} else {
		b->kind = TR_BIND_TASK_OUTPUT;
		b->producer = r->a;
		b->output_key = r->b;
	}
}

/* Makes the step's component receive what R reads as input NAME; returns
 * whether it is an artifact through *ARTIFACT, false after an error. */
static bool ensure_input(struct tl *l, struct step *st, const struct ref *r, const char *name,
			 const struct tr_yaml_node *at, bool *artifact)
{
	struct tr_pipeline_task *t = st->inner ? st->inner : st->task;
	if (r->kind == R_ITEM) {
		if (!st->inner) {
			error_at(l, at, "step '%s' reads 'item' but has no foreach", st->name);
			return false;
		}
		struct tr_pipeline_io like = {.type = r->a ? TR_PARAM_STRING : l->item_type};
		struct tr_pipeline_binding *b = bind(l, t, name, false, at);
		b->kind = TR_BIND_COMPONENT_INPUT;
		b->parent_input = ITEM_INPUT;
		if (r->a)
			b->selector = aprintf(l, "parseJson(string_value)[\"%s\"]", r->a);
		if (r->a)
			like.type = TR_PARAM_STRING;
		declare(l, st->comp, &like, name, at);
		*artifact = false;
		return true;
	}
	const struct tr_pipeline_io *src = source_decl(l, st, r, at);
	if (!src)
		return false;
	*artifact = src->artifact;
	struct tr_pipeline_binding *b = bind(l, t, name, src->artifact, at);
	if (st->inner) { /* through the loop's body DAG */
		b->kind = TR_BIND_COMPONENT_INPUT;
		b->parent_input = name;
		declare(l, st->loop_comp, src, name, at);
		wire_source(bind(l, st->task, name, src->artifact, at), r);
	} else {
		wire_source(b, r);
	}
	declare(l, st->comp, src, name, at);
	return true;
}

static const char *channel_name(struct tl *l, const struct ref *r)
{
	if (r->kind == R_PARAM)
		return aprintf(l, "pipelinechannel--%s", r->a);
	if (r->kind == R_STEP)
		return aprintf(l, "pipelinechannel--%s-%s", r->a, r->b);
	return r->a ? aprintf(l, "%s-%s", ITEM_INPUT, r->a) : ITEM_INPUT;
}

/* The KFP placeholder for reference R inside the step, or NULL after an
 * error. IN_RUN: R may name the step's inputs/outputs and artifacts. */
static const char *lower_ref(struct tl *l, struct step *st, const struct ref *r,
			     const struct tr_yaml_node *at, bool in_run)
{
	bool artifact = false;
	const char *name;
	switch (r->kind) {
	case R_RUNTIME:
		return r->a;
	case R_INPUT: {
		const struct tr_pipeline_io *io = tr_pipeline_component_input_find(st->comp, r->a);
		if (!in_run || !tr_yaml_get(st->inputs, r->a) || !io) {
			error_at(l, at, "step '%s' has no input '%s'", st->name, r->a);
			return NULL;
		}
		return io->artifact ? aprintf(l, "{{$.inputs.artifacts['%s'].path}}", r->a)
				    : aprintf(l, "{{$.inputs.parameters['%s']}}", r->a);
	}
	case R_OUTPUT: {
		const struct tr_pipeline_io *io = tr_pipeline_component_output_find(st->comp, r->a);
		if (!in_run || !io) {
			error_at(l, at, "step '%s' has no output '%s'", st->name, r->a);
			return NULL;
		}
		return io->artifact
			   ? aprintf(l, "{{$.outputs.artifacts['%s'].path}}", r->a)
			   : aprintf(l, "{{$.outputs.parameters['%s'].output_file}}", r->a);
	}
	default:
		name = channel_name(l, r);
		if (!ensure_input(l, st, r, name, at, &artifact))
			return NULL;
		if (artifact && !in_run) {
			error_at(l, at, "an artifact can only be read in 'run:' or as an input");
			return NULL;
		}
		return artifact ? aprintf(l, "{{$.inputs.artifacts['%s'].path}}", name)
				: aprintf(l, "{{$.inputs.parameters['%s']}}", name);
	}
}

/* A reference found in a string. */
struct span {
	size_t start, end; /* of the whole "{{ ... }}" */
	struct ref r;
};

/* Finds the {{ ... }} references in S (at most MAX); reports and returns
 * false on a malformed or unknown one. */
static bool scan_refs(struct tl *l, struct step *st, const char *s, const struct tr_yaml_node *at,
		      struct span *spans, size_t *n, size_t max)
{
	*n = 0;
	const char *p = s;
	while ((p = strstr(p, "{{")) != NULL) {
		if (p[2] == '$') {
			error_at(l, at,
				 "step '%s': kfp placeholders are not used in trellis yaml; "
				 "write {{ inputs.NAME }}",
				 st->name);
			return false;
		}
		const char *e = strstr(p, "}}");
		if (!e) {
			error_at(l, at, "step '%s': '{{' without '}}'", st->name);
			return false;
		}
		const char *a = p + 2, *b = e;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (*n == max) {
			error_at(l, at, "step '%s': too many references in one string", st->name);
			return false;
		}
		struct span *sp = &spans[(*n)++];
		sp->start = (size_t)(p - s);
		sp->end = (size_t)(e + 2 - s);
		if (!parse_ref(l, a, (size_t)(b - a), &sp->r)) {
			error_at(l, at, "step '%s': unknown reference '{{ %.*s }}'", st->name,
				 (int)(b - a), a);
			return false;
		}
		p = e + 2;
	}
	return true;
}

#define MAX_REFS 64

/* S with every reference replaced by its placeholder (argv items, f-strings). */
static const char *lower_string(struct tl *l, struct step *st, const char *s,
				const struct tr_yaml_node *at, bool in_run)
{
	struct span spans[MAX_REFS];
	size_t n;
	if (!scan_refs(l, st, s, at, spans, &n, MAX_REFS))
		return NULL;
	struct tr_buf b = TR_BUF_INIT;
	size_t last = 0;
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		const char *ph = lower_ref(l, st, &spans[i].r, at, in_run);
		ok &= ph != NULL;
		tr_buf_append(&b, s + last, spans[i].start - last);
		tr_buf_appends(&b, ph ? ph : "");
		last = spans[i].end;
	}
	tr_buf_appends(&b, s + last);
	const char *r = ok ? tr_arena_strdup(l->s->arena, tr_buf_str(&b)) : NULL;
	tr_buf_release(&b);
	return r;
}

/* ---- run ---- */

static void set_command(struct tl *l, struct tr_pipeline_container *c, const char **argv, size_t n)
{
	struct tr_pipeline_arg *v = tr_arena_alloc(l->s->arena, (n + 1) * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].kind = TR_ARG_STRING;
		v[i].text = argv[i];
	}
	c->command = v;
	c->n_command = n;
}

/* A shell string: each reference becomes "$N" (quoted unless already inside
 * double quotes) and its placeholder the N-th argument. */
static void lower_shell(struct tl *l, struct step *st, const struct tr_yaml_node *run)
{
	const char *s = run->str;
	struct span spans[MAX_REFS];
	size_t n;
	if (!scan_refs(l, st, s, run, spans, &n, MAX_REFS))
		return;
	const char **argv = tr_arena_alloc(l->s->arena, (n + 5) * sizeof(*argv));
	size_t argc = 0;
	argv[argc++] = "sh";
	argv[argc++] = "-c";
	argc++; /* the script, below */
	argv[argc++] = "sh";
	struct tr_buf b = TR_BUF_INIT;
	bool in_single = false, in_double = false, ok = true;
	size_t pos = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t stop = i < n ? spans[i].start : strlen(s);
		for (; pos < stop; pos++) {
			char ch = s[pos];
			if (ch == '\\' && !in_single && pos + 1 < stop) {
				tr_buf_appendc(&b, ch);
				ch = s[++pos];
			} else if (ch == '\'' && !in_double) {
				in_single = !in_single;
			} else if (ch == '"' && !in_single) {
				in_double = !in_double;
			}
			tr_buf_appendc(&b, ch);
		}
		if (i == n)
			break;
		if (in_single) {
			error_at(l, run,
				 "step '%s': a reference inside single quotes would not be "
				 "expanded by the shell",
				 st->name);
			ok = false;
		}
		const char *ph = lower_ref(l, st, &spans[i].r, run, true);
		ok &= ph != NULL;
		argv[argc++] = ph ? ph : "";
		tr_buf_appendf(&b, in_double ? "${%zu}" : "\"${%zu}\"", argc - 4);
		pos = spans[i].end;
	}
	argv[2] = tr_arena_strdup(l->s->arena, tr_buf_str(&b));
	tr_buf_release(&b);
	if (ok)
		set_command(l, &st->comp->executor->container, argv, argc);
}

static void load_run(struct tl *l, struct step *st, const struct tr_yaml_node *run)
{
	if (!run) {
		error_at(l, st->k, "step '%s' has no 'run:'", st->name);
		return;
	}
	if (run->kind == TR_YAML_SCALAR && !tr_yaml_is_null(run)) {
		lower_shell(l, st, run);
		return;
	}
	if (run->kind != TR_YAML_SEQ || !run->n) {
		error_at(l, run, "'run' must be a shell string or a non-empty list of arguments");
		return;
	}
	const char **argv = tr_arena_alloc(l->s->arena, (run->n + 1) * sizeof(*argv));
	bool ok = true;
	for (size_t i = 0; i < run->n; i++) {
		const struct tr_yaml_node *a = run->items[i];
		if (a->kind != TR_YAML_SCALAR || tr_yaml_is_null(a)) {
			error_at(l, a, "'run' arguments must be strings");
			ok = false;
			continue;
		}
		argv[i] = lower_string(l, st, a->str, a, true);
		ok &= argv[i] != NULL;
	}
	if (ok)
		set_command(l, &st->comp->executor->container, argv, run->n);
}

/* ---- inputs, outputs ---- */

static void load_outputs(struct tl *l, struct step *st)
{
	const struct tr_yaml_node *m = st->outputs;
	if (!m || !tr_fields_map(l->d, m, "outputs"))
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct tr_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		if (!valid_name(k->str)) {
			error_at(l, k, "bad output name '%s'", k->str);
			continue;
		}
		const struct tr_yaml_node *tn = v, *desc = NULL;
		if (v->kind == TR_YAML_MAP) {
			if (!tr_fields_check(l->d, v, aprintf(l, "output '%s'", k->str),
					     FIELDS("type", "description"), false))
				continue;
			tn = tr_yaml_get(v, "type");
			desc = tr_yaml_get(v, "description");
		}
		const char *t = tr_fields_str(l->d, tn, "output type");
		const struct type_name *ty = t ? find_type(t) : NULL;
		if (!ty) {
			error_at(l, tn ? tn : k,
				 "unknown output type '%s' (string, int, float, bool, list, dict, "
				 "artifact, dataset, model, metrics, html, markdown)",
				 t ? t : "");
			continue;
		}
		struct tr_pipeline_component *c = st->comp;
		struct tr_pipeline_io *io =
		    TR_VEC_PUSH(l->s->arena, c->outputs, c->n_outputs, c->cap_outputs);
		io->name = k->str;
		io->artifact = ty->artifact;
		io->type = ty->type;
		io->schema_title = ty->schema;
		io->schema_version = ty->artifact ? "0.0.1" : NULL;
		io->description = tr_fields_str(l->d, desc, "description");
		io->line = k->line;
		io->col = k->col;
		if (!st->loop_comp)
			continue;
		/* collected: the loop DAG outputs a list of the values */
		struct tr_pipeline_component *lc = st->loop_comp;
		struct tr_pipeline_io *lo =
		    TR_VEC_PUSH(l->s->arena, lc->outputs, lc->n_outputs, lc->cap_outputs);
		*lo = *io;
		if (lo->artifact)
			lo->is_list = true;
		else
			lo->type = TR_PARAM_LIST;
		struct tr_pipeline_dag *d = lc->dag;
		struct tr_pipeline_dag_output *o =
		    TR_VEC_PUSH(l->s->arena, d->outputs, d->n_outputs, d->cap_outputs);
		struct tr_pipeline_selector *sel = tr_arena_alloc(l->s->arena, sizeof(*sel));
		sel->producer = st->name;
		sel->output_key = k->str;
		*o = (struct tr_pipeline_dag_output){k->str, io->artifact, sel, 1, k->line, k->col};
	}
}

static void load_inputs(struct tl *l, struct step *st)
{
	const struct tr_yaml_node *m = st->inputs;
	if (!m || !tr_fields_map(l->d, m, "inputs"))
		return;
	struct tr_pipeline_task *t = st->inner ? st->inner : st->task;
	for (size_t i = 0; i < m->n; i++) {
		const struct tr_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		if (!valid_name(k->str)) {
			error_at(l, k, "bad input name '%s'", k->str);
			continue;
		}
		if (v->kind == TR_YAML_SCALAR && strstr(v->str, "{{")) {
			struct span spans[MAX_REFS];
			size_t n;
			if (!scan_refs(l, st, v->str, v, spans, &n, MAX_REFS))
				continue;
			if (n == 1 && spans[0].start == 0 && spans[0].end == v->len) {
				/* the whole value is one reference: wire it */
				bool artifact;
				const struct ref *r = &spans[0].r;
				if (r->kind == R_INPUT || r->kind == R_OUTPUT ||
				    r->kind == R_RUNTIME) {
					if (r->kind != R_RUNTIME) {
						error_at(l, v,
							 "input '%s' must read a parameter, a "
							 "step output or the item",
							 k->str);
						continue;
					}
				} else {
					ensure_input(l, st, r, k->str, v, &artifact);
					continue;
				}
			}
			/* an f-string */
			const char *text = lower_string(l, st, v->str, v, false);
			if (!text)
				continue;
			struct tr_pipeline_binding *b = bind(l, t, k->str, false, k);
			b->kind = TR_BIND_CONSTANT;
			b->constant = tr_pipeline_keep(l->s, json_string(text));
			b->has_placeholders = true;
			struct tr_pipeline_io like = {.type = TR_PARAM_STRING};
			declare(l, st->comp, &like, k->str, k);
			continue;
		}
		struct tr_pipeline_binding *b = bind(l, t, k->str, false, k);
		b->kind = TR_BIND_CONSTANT;
		b->constant = tr_pipeline_keep(l->s, tr_yaml_to_json(v));
		struct tr_pipeline_io like = {.type = value_type(b->constant)};
		declare(l, st->comp, &like, k->str, k);
	}
}

/* ---- when ---- */

struct when_ctx {
	struct tl *l;
	struct step *st;
	const struct tr_yaml_node *at;
};

static void when_path(void *ud, struct tr_cel_path *p)
{
	struct when_ctx *x = ud;
	struct tl *l = x->l;
	struct ref r;
	if (p->n == 2 && !strcmp(p->seg[0], "params"))
		r = (struct ref){R_PARAM, p->seg[1], NULL};
	else if (p->n == 4 && !strcmp(p->seg[0], "steps") && !strcmp(p->seg[2], "outputs"))
		r = (struct ref){R_STEP, p->seg[1], p->seg[3]};
	else {
		struct tr_buf b = TR_BUF_INIT;
		for (size_t i = 0; i < p->n; i++)
			tr_buf_appendf(&b, "%s%s", i ? "." : "", p->seg[i]);
		error_at(l, x->at,
			 "step '%s': 'when' reads unknown name '%s' (use params.NAME or "
			 "steps.STEP.outputs.NAME)",
			 x->st->name, tr_buf_str(&b));
		tr_buf_release(&b);
		return;
	}
	const struct tr_pipeline_io *src = source_decl(l, x->st, &r, x->at);
	if (!src)
		return;
	if (src->artifact) {
		error_at(l, x->at, "step '%s': 'when' can only read parameters", x->st->name);
		return;
	}
	const char *name = channel_name(l, &r);
	wire_source(bind(l, x->st->task, name, false, x->at), &r);
	const char **seg = tr_arena_alloc(l->s->arena, 3 * sizeof(*seg));
	seg[0] = "inputs";
	seg[1] = "parameter_values";
	seg[2] = name;
	p->seg = seg;
	p->n = 3;
}

static void load_when(struct tl *l, struct step *st, const struct tr_yaml_node *w)
{
	const char *text = tr_fields_str(l->d, w, "when");
	if (!text)
		return;
	size_t pos;
	struct tr_buf e = TR_BUF_INIT;
	struct tr_cel *expr;
	struct tr_pipeline_task *t = st->task;
	if (tr_cel_parse(l->s->arena, text, &expr, &pos, &e)) {
		/* a single-line scalar: point at the character (the node's column is
		 * where its text starts, also when it is quoted) */
		int col = w->col + (int)pos;
		tr_diags_add(l->d, TR_DIAG_ERROR, w->line, strchr(text, '\n') ? w->col : col,
			     "step '%s': bad 'when' expression: %s", st->name, tr_buf_str(&e));
		tr_buf_release(&e);
		return;
	}
	tr_buf_release(&e);
	struct when_ctx x = {l, st, w};
	size_t errors = l->d->errors;
	tr_cel_each_path(expr, when_path, &x);
	if (l->d->errors != errors)
		return; /* reported; the checks need not repeat it */
	t->condition = expr;
	t->condition_text = text;
	t->cond_line = w->line;
	t->cond_col = w->col;
}

/* ---- foreach ---- */

static void load_foreach(struct tl *l, struct step *st, const struct tr_yaml_node *f)
{
	struct tr_pipeline_task *t = st->task;
	struct tr_pipeline_iterator *it = &t->iterator;
	it->kind = TR_ITER_PARAMETER;
	it->item_input = ITEM_INPUT;
	t->iter_line = f->line;
	t->iter_col = f->col;
	/* declared first, so that a bad foreach reports itself and nothing else */
	struct tr_pipeline_io like = {.type = TR_PARAM_STRING};
	declare(l, st->loop_comp, &like, ITEM_INPUT, f);
	enum tr_param_type item = TR_PARAM_STRING;
	if (f->kind == TR_YAML_SEQ) {
		it->raw_items = tr_pipeline_keep(l->s, tr_yaml_to_json(f));
		for (size_t i = 0; i < f->n; i++) {
			enum tr_param_type ti = value_type(json_array_get(it->raw_items, i));
			item = i == 0 || ti == item ? ti : TR_PARAM_STRING;
		}
	} else if (f->kind == TR_YAML_SCALAR && !tr_yaml_is_null(f)) {
		struct span sp;
		size_t n;
		if (!scan_refs(l, st, f->str, f, &sp, &n, 1))
			return;
		if (n != 1 || sp.start || sp.end != f->len ||
		    (sp.r.kind != R_PARAM && sp.r.kind != R_STEP)) {
			error_at(l, f,
				 "'foreach' must be a list, or one reference to a list "
				 "parameter or step output");
			return;
		}
		const struct tr_pipeline_io *src = source_decl(l, st, &sp.r, f);
		if (!src)
			return;
		if (src->artifact || (src->type != TR_PARAM_LIST && src->type != TR_PARAM_STRING)) {
			error_at(l, f, "type mismatch: 'foreach' needs a list, '%s' is %s",
				 sp.r.b ? sp.r.b : sp.r.a,
				 src->artifact ? "an artifact" : tr_param_type_name(src->type));
			return;
		}
		it->items_input = "pipelinechannel--items";
		wire_source(bind(l, t, it->items_input, false, f), &sp.r);
		struct tr_pipeline_io list = {.type = TR_PARAM_LIST};
		declare(l, st->loop_comp, &list, it->items_input, f);
	} else {
		error_at(l, f, "'foreach' must be a list or a reference");
		return;
	}
	l->item_type = item;
	((struct tr_pipeline_io *)tr_pipeline_component_input_find(st->loop_comp, ITEM_INPUT))
	    ->type = item;
}

/* ---- steps ---- */

static const char *const step_fields[] = {
    "run",   "image",	"inputs", "outputs",   "needs", "when",	       "foreach", "parallelism",
    "retry", "timeout", "cache",  "resources", "env",	"description", NULL};

static void load_retry(struct tl *l, struct tr_pipeline_task *t, const struct tr_yaml_node *r)
{
	t->has_retry = true;
	t->retry = (struct tr_pipeline_retry){0, 0, 2.0, 3600000};
	if (r->kind == TR_YAML_SCALAR) {
		tr_fields_int(l->d, r, "retry", &t->retry.max_retries);
	} else if (tr_fields_check(l->d, r, "retry",
				   FIELDS("count", "backoff", "factor", "max_backoff"), false)) {
		const struct tr_yaml_node *n;
		if ((n = tr_yaml_get(r, "count")))
			tr_fields_int(l->d, n, "retry count", &t->retry.max_retries);
		else
			error_at(l, r, "'retry' needs a count");
		if ((n = tr_yaml_get(r, "backoff")))
			tr_fields_duration(l->d, n, "retry backoff", &t->retry.backoff_ms);
		if ((n = tr_yaml_get(r, "factor")))
			tr_fields_double(l->d, n, "retry factor", &t->retry.factor);
		if ((n = tr_yaml_get(r, "max_backoff")))
			tr_fields_duration(l->d, n, "retry max_backoff", &t->retry.max_backoff_ms);
	}
	if (t->retry.max_retries < 0 || t->retry.factor < 1)
		error_at(l, r, "'retry' count must be >= 0 and factor >= 1");
}

static bool quantity_ok(const char *s, bool memory)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return false;
	if (!*end)
		return true;
	if (!memory)
		return !strcmp(end, "m");
	static const char *const units[] = {"K", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", NULL};
	for (const char *const *u = units; *u; u++)
		if (!strcmp(end, *u))
			return true;
	return false;
}

static void load_resources(struct tl *l, struct tr_pipeline_resources *r,
			   const struct tr_yaml_node *m)
{
	if (!tr_fields_check(l->d, m, "resources", FIELDS("cpu", "memory", "gpu"), false))
		return;
	const struct tr_yaml_node *n;
	if ((n = tr_yaml_get(m, "cpu")) && (r->cpu_limit = tr_fields_str(l->d, n, "cpu")) &&
	    !quantity_ok(r->cpu_limit, false))
		error_at(l, n, "bad cpu '%s' (e.g. 2, 0.5 or 500m)", r->cpu_limit);
	if ((n = tr_yaml_get(m, "memory")) &&
	    (r->memory_limit = tr_fields_str(l->d, n, "memory")) &&
	    !quantity_ok(r->memory_limit, true))
		error_at(l, n, "bad memory '%s' (e.g. 512Mi, 4Gi or 1G)", r->memory_limit);
	int64_t g;
	if ((n = tr_yaml_get(m, "gpu")) && tr_fields_int(l->d, n, "gpu", &g)) {
		if (g < 0)
			error_at(l, n, "'gpu' must not be negative");
		r->accelerator_type = "gpu";
		r->accelerator_count = n->str;
	}
}

static void load_step(struct tl *l, struct step *st)
{
	const struct tr_yaml_node *v = st->v, *n;
	struct tr_pipeline_task *t = st->inner ? st->inner : st->task;
	struct tr_pipeline_container *c = &st->comp->executor->container;
	c->image = tr_fields_str(l->d, tr_yaml_get(v, "image"), "image");
	if ((n = tr_yaml_get(v, "foreach")))
		load_foreach(l, st, n);
	if ((n = tr_yaml_get(v, "parallelism"))) {
		if (!st->inner)
			error_at(l, n, "'parallelism' needs 'foreach'");
		else if (tr_fields_int(l->d, n, "parallelism", &st->task->iterator.parallelism) &&
			 st->task->iterator.parallelism < 1)
			error_at(l, n, "'parallelism' must be at least 1");
	}
	if ((n = tr_yaml_get(v, "env")) && tr_fields_map(l->d, n, "env")) {
		struct tr_pipeline_env *env =
		    tr_arena_alloc(l->s->arena, (n->n + 1) * sizeof(*env));
		for (size_t i = 0; i < n->n; i++) {
			env[i].name = n->items[2 * i]->str;
			env[i].value = tr_fields_str(l->d, n->items[2 * i + 1], "env value");
			if (!env[i].value)
				env[i].value = "";
		}
		c->env = env;
		c->n_env = n->n;
	}
	if ((n = tr_yaml_get(v, "resources")))
		load_resources(l, &c->resources, n);
	if ((n = tr_yaml_get(v, "retry")))
		load_retry(l, t, n);
	if ((n = tr_yaml_get(v, "timeout")) &&
	    tr_fields_duration(l->d, n, "timeout", &t->timeout_ms) && !t->timeout_ms)
		error_at(l, n, "'timeout' must be positive");
	t->cache_enabled = true;
	if ((n = tr_yaml_get(v, "cache")))
		tr_fields_bool(l->d, n, "cache", &t->cache_enabled);
	load_inputs(l, st);
	load_run(l, st, tr_yaml_get(v, "run"));
	if ((n = tr_yaml_get(v, "needs"))) {
		if (n->kind == TR_YAML_SCALAR) {
			struct tr_pipeline_ref r = {tr_fields_str(l->d, n, "needs"), n->line,
						    n->col};
			if (r.name)
				*TR_VEC_PUSH(l->s->arena, st->task->after, st->task->n_after,
					     st->task->cap_after) = r;
		} else if (tr_fields_seq(l->d, n, "needs")) {
			for (size_t i = 0; i < n->n; i++) {
				struct tr_pipeline_ref r = {
				    tr_fields_str(l->d, n->items[i], "needs item"),
				    n->items[i]->line, n->items[i]->col};
				if (r.name)
					*TR_VEC_PUSH(l->s->arena, st->task->after,
						     st->task->n_after, st->task->cap_after) = r;
			}
		}
	}
	if ((n = tr_yaml_get(v, "when")))
		load_when(l, st, n);
}

/* Creates the step's tasks and components (pass 1, so that pass 2 can wire
 * references to any step whatever the order). */
static void declare_step(struct tl *l, struct step *st)
{
	struct tr_pipeline_spec *s = l->s;
	struct tr_yaml_node at = {.line = st->k->line, .col = st->k->col};
	st->comp = tr_pipeline_add_component(s, aprintf(l, "comp-%s", st->name), &at);
	st->comp->executor = tr_pipeline_add_executor(s, aprintf(l, "exec-%s", st->name), &at);
	st->comp->executor->kind = TR_EXEC_CONTAINER;
	st->comp->executor_label =
	    (struct tr_pipeline_ref){st->comp->executor->label, st->k->line, st->k->col};
	st->task = tr_pipeline_add_task(s, s->root->dag, st->name, st->k);
	if (!tr_yaml_get(st->v, "foreach")) {
		st->task->component_ref = (struct tr_pipeline_ref){st->comp->name, at.line, at.col};
		return;
	}
	st->loop_comp = tr_pipeline_add_component(s, aprintf(l, "comp-for-%s", st->name), &at);
	struct tr_pipeline_dag *d = tr_pipeline_add_dag(s, st->loop_comp, &at);
	st->task->component_ref = (struct tr_pipeline_ref){st->loop_comp->name, at.line, at.col};
	st->inner = tr_pipeline_add_task(s, d, st->name, st->k);
	st->inner->component_ref = (struct tr_pipeline_ref){st->comp->name, at.line, at.col};
}

void tr_pipeline_load_trellis(struct tr_pipeline_spec *s, struct tr_yaml_node *doc,
			      struct tr_diags *diags)
{
	struct tl l = {.s = s, .d = diags};
	if (!tr_fields_check(diags, doc, "the pipeline",
			     FIELDS("name", "description", "params", "timeout", "steps"), false))
		return;
	const struct tr_yaml_node *n;
	s->name = tr_fields_str(diags, tr_yaml_get(doc, "name"), "name");
	if (!s->name)
		error_at(&l, doc, "the pipeline has no 'name'");
	s->description = tr_fields_str(diags, tr_yaml_get(doc, "description"), "description");
	if ((n = tr_yaml_get(doc, "timeout")) &&
	    tr_fields_duration(diags, n, "timeout", &s->timeout_ms) && !s->timeout_ms)
		error_at(&l, n, "'timeout' must be positive");
	s->root = tr_pipeline_add_component(s, "root", doc);
	tr_pipeline_add_dag(s, s->root, doc);
	if ((n = tr_yaml_get(doc, "params")))
		load_params(&l, s->root, n);
	const struct tr_yaml_node *steps = tr_yaml_get(doc, "steps");
	if (!steps) {
		error_at(&l, doc, "the pipeline has no 'steps'");
		return;
	}
	if (!tr_fields_map(diags, steps, "steps"))
		return;
	if (!steps->n)
		error_at(&l, steps, "the pipeline has no steps");
	if (steps->n > s->max_tasks) {
		error_at(&l, steps, "too many steps: %zu (limit %zu per run)", steps->n,
			 s->max_tasks);
		return;
	}
	l.steps = tr_arena_alloc(s->arena, (steps->n + 1) * sizeof(*l.steps));
	for (size_t i = 0; i < steps->n; i++) {
		const struct tr_yaml_node *k = steps->items[2 * i], *v = steps->items[2 * i + 1];
		if (!valid_name(k->str)) {
			error_at(&l, k, "bad step name '%s' (letters, digits, '_' and '-')",
				 k->str);
			continue;
		}
		if (!tr_fields_check(diags, v, aprintf(&l, "step '%s'", k->str), step_fields,
				     false))
			continue;
		struct step *st = &l.steps[l.n_steps++];
		*st = (struct step){.name = k->str, .k = k, .v = v};
		st->inputs = tr_yaml_get(v, "inputs");
		st->outputs = tr_yaml_get(v, "outputs");
		declare_step(&l, st);
	}
	for (size_t i = 0; i < l.n_steps; i++)
		load_outputs(&l, &l.steps[i]);
	for (size_t i = 0; i < l.n_steps; i++) {
		l.item_type = TR_PARAM_STRING;
		load_step(&l, &l.steps[i]);
	}
}
