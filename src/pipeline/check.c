/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks every loaded pipeline goes through, whatever its format: names
 * resolve (components, executors, producer tasks, parent inputs), types agree
 * along every edge, required inputs are set, placeholders name real inputs
 * and outputs, conditions and selectors parse and read only the task's own
 * inputs, and each DAG is acyclic. Each DAG's tasks are then put in a stable
 * topological order (file order among independent tasks) with dependencies
 * as indices, which is what the scheduler walks. Every problem is reported;
 * nothing stops at the first.
 */
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "pipeline/cel.h"
#include "pipeline/diag.h"
#include "pipeline/placeholder.h"
#include "pipeline/spec_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ck {
	struct tr_pipeline_spec *s;
	struct tr_diags *d;
	const char *task; /* "task", or "step" in Trellis YAML */
};

static void err(struct ck *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err(struct ck *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr_diags_vadd(c->d, TR_DIAG_ERROR, line, col, fmt, ap);
	va_end(ap);
}

static struct tr_pipeline_task *sibling(const struct tr_pipeline_dag *d, const char *name)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (!strcmp(d->tasks[i]->name, name))
			return d->tasks[i];
	return NULL;
}

static const struct tr_pipeline_io *find_io(const struct tr_pipeline_io *v, size_t n,
					    const char *name, bool artifact)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].artifact == artifact && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static const char *io_kind(bool artifact)
{
	return artifact ? "artifact" : "parameter";
}

/* Whether a value declared as FROM may feed an input declared as TO. */
static bool compatible(const struct tr_pipeline_io *from, const struct tr_pipeline_io *to)
{
	if (from->artifact != to->artifact)
		return false;
	if (!from->artifact)
		return from->type == to->type ||
		       (from->type == TR_PARAM_INT && to->type == TR_PARAM_DOUBLE);
	if (from->is_list != to->is_list)
		return false;
	return !strcmp(from->schema_title, to->schema_title) ||
	       !strcmp(from->schema_title, "system.Artifact") ||
	       !strcmp(to->schema_title, "system.Artifact");
}

static const char *type_text(struct ck *c, const struct tr_pipeline_io *io)
{
	if (!io->artifact)
		return tr_param_type_name(io->type);
	return tr_arena_sprintf(c->s->arena, "%s%s", io->is_list ? "list of " : "",
				io->schema_title);
}

static bool constant_fits(json_t *v, enum tr_param_type t)
{
	switch (t) {
	case TR_PARAM_STRING:
		return json_is_string(v);
	case TR_PARAM_INT:
		return json_is_integer(v) ||
		       (json_is_real(v) &&
			json_real_value(v) == (double)(long long)json_real_value(v));
	case TR_PARAM_DOUBLE:
		return json_is_number(v);
	case TR_PARAM_BOOL:
		return json_is_boolean(v);
	case TR_PARAM_LIST:
		return json_is_array(v);
	case TR_PARAM_STRUCT:
		return json_is_object(v);
	default:
		return true;
	}
}

/* ---- placeholders ---- */

static void check_string(struct ck *c, const struct tr_pipeline_component *comp,
			 const struct tr_pipeline_task *t, const char *s, int line, int col,
			 const char *where)
{
	const char *cur = s;
	struct tr_placeholder ph;
	bool bad;
	while (tr_placeholder_next(&cur, &ph, &bad)) {
		if (bad) {
			err(c, line, col, "unknown placeholder '%.*s' in %s", (int)ph.len, ph.start,
			    where);
			continue;
		}
		char *name = ph.name ? tr_arena_strndup(c->s->arena, ph.name, ph.name_len) : NULL;
		bool ok = true;
		const char *kind = NULL;
		switch (ph.kind) {
		case TR_PH_INPUT_PARAM:
			kind = "input parameter";
			ok = find_io(comp->inputs, comp->n_inputs, name, false) ||
			     (t && tr_pipeline_task_binding_find(t, name, false));
			break;
		case TR_PH_INPUT_ARTIFACT:
			kind = "input artifact";
			ok = find_io(comp->inputs, comp->n_inputs, name, true);
			break;
		case TR_PH_OUTPUT_PARAM:
			kind = "output parameter";
			ok = find_io(comp->outputs, comp->n_outputs, name, false);
			break;
		case TR_PH_OUTPUT_ARTIFACT:
			kind = "output artifact";
			ok = find_io(comp->outputs, comp->n_outputs, name, true);
			break;
		default:
			break;
		}
		if (!ok)
			err(c, line, col, "placeholder '%.*s' in %s names no %s of '%s'",
			    (int)ph.len, ph.start, where, kind, comp->name);
	}
}

static void check_args(struct ck *c, const struct tr_pipeline_component *comp,
		       const struct tr_pipeline_arg *v, size_t n, const char *where)
{
	for (size_t i = 0; i < n; i++) {
		const struct tr_pipeline_arg *a = &v[i];
		if (a->kind == TR_ARG_STRING && a->text) {
			check_string(c, comp, NULL, a->text, a->line, a->col, where);
		} else if (a->kind == TR_ARG_IF_PRESENT) {
			if (a->input_name && !tr_pipeline_component_input_find(comp, a->input_name))
				err(c, a->line, a->col,
				    "IfPresent in %s names '%s', which is not an input of '%s'",
				    where, a->input_name, comp->name);
			check_args(c, comp, a->items, a->n_items, where);
			check_args(c, comp, a->else_items, a->n_else, where);
		} else {
			check_args(c, comp, a->items, a->n_items, where);
		}
	}
}

static void check_executor(struct ck *c, struct tr_pipeline_component *comp)
{
	if (!comp->executor_label.name)
		return;
	comp->executor = tr_pipeline_executor_find(c->s, comp->executor_label.name);
	if (!comp->executor) {
		err(c, comp->executor_label.line, comp->executor_label.col,
		    "component '%s' uses unknown executor '%s'", comp->name,
		    comp->executor_label.name);
		return;
	}
	const struct tr_pipeline_executor *e = comp->executor;
	if (e->kind == TR_EXEC_CONTAINER) {
		const char *where = tr_arena_sprintf(c->s->arena, "executor '%s'", e->label);
		check_args(c, comp, e->container.command, e->container.n_command, where);
		check_args(c, comp, e->container.args, e->container.n_args, where);
	} else if (e->importer.uri_parameter &&
		   !find_io(comp->inputs, comp->n_inputs, e->importer.uri_parameter, false)) {
		err(c, e->line, e->col, "importer '%s' reads '%s', which is not an input of '%s'",
		    e->label, e->importer.uri_parameter, comp->name);
	}
}

/* ---- bindings ---- */

static void check_binding(struct ck *c, const struct tr_pipeline_dag *d,
			  const struct tr_pipeline_task *t, struct tr_pipeline_binding *b)
{
	const struct tr_pipeline_component *callee = t->component, *owner = d->owner;
	const struct tr_pipeline_io *to = NULL, *from = NULL;
	if (callee) {
		to = find_io(callee->inputs, callee->n_inputs, b->name, b->artifact);
		if (!to && find_io(callee->inputs, callee->n_inputs, b->name, !b->artifact))
			err(c, b->line, b->col,
			    "task '%s' sets '%s' as %s, but component '%s' declares it as %s",
			    t->name, b->name, io_kind(b->artifact), callee->name,
			    io_kind(!b->artifact));
		else if (!to && (b->artifact || strncmp(b->name, "pipelinechannel--", 17)))
			err(c, b->line, b->col,
			    "task '%s' sets '%s', which is not an input of '%s'", t->name, b->name,
			    callee->name);
	}
	if (b->selector) {
		size_t pos;
		struct tr_buf e = TR_BUF_INIT;
		struct tr_cel *expr;
		if (tr_cel_parse(c->s->arena, b->selector, &expr, &pos, &e))
			err(c, b->line, b->col, "bad selector '%s' at offset %zu: %s", b->selector,
			    pos, tr_buf_str(&e));
		else
			b->selector_expr = expr;
		tr_buf_release(&e);
	}
	switch (b->kind) {
	case TR_BIND_CONSTANT:
		if (b->artifact)
			break;
		if (b->has_placeholders)
			check_string(c, callee ? callee : owner, t, json_string_value(b->constant),
				     b->line, b->col,
				     tr_arena_sprintf(c->s->arena, "input '%s' of task '%s'",
						      b->name, t->name));
		else if (to && !constant_fits(b->constant, to->type))
			err(c, b->line, b->col,
			    "task '%s' input '%s' expects %s, got a constant of "
			    "another type",
			    t->name, b->name, tr_param_type_name(to->type));
		return;
	case TR_BIND_COMPONENT_INPUT:
		if (!b->parent_input)
			return;
		from = find_io(owner->inputs, owner->n_inputs, b->parent_input, b->artifact);
		if (!from) {
			err(c, b->line, b->col,
			    "task '%s' input '%s' reads %s '%s', which is not an input of '%s'",
			    t->name, b->name, io_kind(b->artifact), b->parent_input, owner->name);
			return;
		}
		break;
	case TR_BIND_TASK_OUTPUT:
	case TR_BIND_TASK_FINAL_STATUS: {
		if (!b->producer)
			return;
		const struct tr_pipeline_task *p = sibling(d, b->producer);
		if (!p) {
			err(c, b->line, b->col, "task '%s' input '%s' reads unknown task '%s'",
			    t->name, b->name, b->producer);
			return;
		}
		if (p == t) {
			err(c, b->line, b->col, "task '%s' input '%s' reads its own output",
			    t->name, b->name);
			return;
		}
		if (b->kind == TR_BIND_TASK_FINAL_STATUS) {
			if (to && to->type != TR_PARAM_TASK_FINAL_STATUS)
				err(c, b->line, b->col,
				    "task '%s' input '%s' takes a final status but is declared %s",
				    t->name, b->name, tr_param_type_name(to->type));
			return;
		}
		if (!p->component || !b->output_key)
			return;
		from = find_io(p->component->outputs, p->component->n_outputs, b->output_key,
			       b->artifact);
		if (!from) {
			err(c, b->line, b->col,
			    "task '%s' input '%s' reads %s '%s' of task '%s', "
			    "which has no such output",
			    t->name, b->name, io_kind(b->artifact), b->output_key, p->name);
			return;
		}
		break;
	}
	}
	if (from && to && !b->selector && !from->loop_item && !compatible(from, to))
		err(c, b->line, b->col, "type mismatch: task '%s' input '%s' is %s but gets %s",
		    t->name, b->name, type_text(c, to), type_text(c, from));
}

static void check_required(struct ck *c, const struct tr_pipeline_task *t)
{
	const struct tr_pipeline_component *callee = t->component;
	for (size_t i = 0; i < callee->n_inputs; i++) {
		const struct tr_pipeline_io *in = &callee->inputs[i];
		if (in->optional || in->default_value ||
		    tr_pipeline_task_binding_find(t, in->name, in->artifact))
			continue;
		if (t->iterator.item_input && !strcmp(in->name, t->iterator.item_input))
			continue;
		err(c, t->line, t->col, "task '%s' does not set required %s '%s' of '%s'", t->name,
		    io_kind(in->artifact), in->name, callee->name);
	}
}

/* ---- conditions ---- */

struct cond_ctx {
	struct ck *c;
	const struct tr_pipeline_task *t;
};

static void cond_path(void *ud, struct tr_cel_path *p)
{
	struct cond_ctx *x = ud;
	const struct tr_pipeline_task *t = x->t;
	if (p->n == 3 && !strcmp(p->seg[0], "inputs") && !strcmp(p->seg[1], "parameter_values")) {
		if (!tr_pipeline_task_binding_find(t, p->seg[2], false) &&
		    !(t->component &&
		      find_io(t->component->inputs, t->component->n_inputs, p->seg[2], false)))
			err(x->c, t->cond_line, t->cond_col,
			    "condition of task '%s' reads '%s', which is not an input of the task",
			    t->name, p->seg[2]);
		return;
	}
	struct tr_buf b = TR_BUF_INIT;
	for (size_t i = 0; i < p->n; i++)
		tr_buf_appendf(&b, "%s%s", i ? "." : "", p->seg[i]);
	err(x->c, t->cond_line, t->cond_col, "condition of task '%s' reads unknown name '%s'",
	    t->name, tr_buf_str(&b));
	tr_buf_release(&b);
}

static void check_condition(struct ck *c, struct tr_pipeline_task *t)
{
	if (!t->condition_text)
		return;
	if (!t->condition) {
		size_t pos;
		struct tr_buf e = TR_BUF_INIT;
		if (tr_cel_parse(c->s->arena, t->condition_text, &t->condition, &pos, &e)) {
			err(c, t->cond_line, t->cond_col, "bad condition at offset %zu: %s", pos,
			    tr_buf_str(&e));
			tr_buf_release(&e);
			return;
		}
		tr_buf_release(&e);
	}
	struct cond_ctx x = {c, t};
	tr_cel_each_path(t->condition, cond_path, &x);
}

/* ---- iterators ---- */

static void check_iterator(struct ck *c, const struct tr_pipeline_task *t)
{
	const struct tr_pipeline_iterator *it = &t->iterator;
	if (it->kind == TR_ITER_NONE)
		return;
	bool art = it->kind == TR_ITER_ARTIFACT;
	if (it->items_input && !tr_pipeline_task_binding_find(t, it->items_input, art))
		err(c, t->iter_line, t->iter_col,
		    "loop '%s' iterates over '%s', which the task does not set", t->name,
		    it->items_input);
	if (!t->component)
		return;
	if (!t->component->dag)
		err(c, t->iter_line, t->iter_col, "loop '%s' must call a dag component", t->name);
	if (it->item_input &&
	    !find_io(t->component->inputs, t->component->n_inputs, it->item_input, art))
		err(c, t->iter_line, t->iter_col,
		    "loop '%s' item input '%s' is not an input of '%s'", t->name, it->item_input,
		    t->component->name);
}

/* ---- order ---- */

static void add_dep(struct ck *c, struct tr_pipeline_task *t, size_t dep)
{
	for (size_t i = 0; i < t->n_deps; i++)
		if (t->deps[i] == dep)
			return;
	size_t cap = t->n_deps;
	t->deps = tr_pipeline_vec_grow(c->s->arena, t->deps, t->n_deps, &cap, sizeof(*t->deps));
	t->deps[t->n_deps++] = dep;
}

/* Reports the cycle through task START (every task left after Kahn's walk
 * has a dependency left, so following them must come back around). */
static void report_cycle(struct ck *c, struct tr_pipeline_dag *d, size_t start, const bool *done)
{
	size_t n = d->n_tasks, *seen = tr_xcalloc(n, sizeof(*seen)), cur = start, step = 1;
	while (!seen[cur]) {
		seen[cur] = step++;
		size_t next = cur;
		for (size_t i = 0; i < d->tasks[cur]->n_deps; i++)
			if (!done[d->tasks[cur]->deps[i]]) {
				next = d->tasks[cur]->deps[i];
				break;
			}
		if (next == cur)
			break;
		cur = next;
	}
	/* cur is on the cycle: walk it once more to name it */
	struct tr_buf b = TR_BUF_INIT;
	size_t first = cur;
	int line = d->tasks[cur]->line, col = d->tasks[cur]->col;
	do {
		tr_buf_appendf(&b, "'%s' needs ", d->tasks[cur]->name);
		size_t next = cur;
		for (size_t i = 0; i < d->tasks[cur]->n_deps; i++)
			if (!done[d->tasks[cur]->deps[i]]) {
				next = d->tasks[cur]->deps[i];
				break;
			}
		cur = next;
		if (d->tasks[cur]->line < line)
			line = d->tasks[cur]->line, col = d->tasks[cur]->col;
	} while (cur != first && b.len < 1000);
	tr_buf_appendf(&b, "'%s'", d->tasks[first]->name);
	err(c, line, col, "dependency cycle: %s", tr_buf_str(&b));
	tr_buf_release(&b);
	free(seen);
}

static void order(struct ck *c, struct tr_pipeline_dag *d)
{
	size_t n = d->n_tasks;
	bool *done = tr_xcalloc(n + 1, sizeof(*done));
	size_t *pos = tr_xcalloc(n + 1, sizeof(*pos));
	struct tr_pipeline_task **sorted = tr_arena_alloc(c->s->arena, (n + 1) * sizeof(*sorted));
	size_t k = 0;
	/* stable Kahn: repeatedly take the first ready task in file order */
	for (bool progress = true; progress && k < n;) {
		progress = false;
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			bool ready = true;
			for (size_t j = 0; j < d->tasks[i]->n_deps && ready; j++)
				ready = done[d->tasks[i]->deps[j]];
			if (!ready)
				continue;
			done[i] = true;
			pos[i] = k;
			sorted[k++] = d->tasks[i];
			progress = true;
		}
	}
	if (k < n) {
		for (size_t i = 0; i < n; i++)
			if (!done[i]) {
				report_cycle(c, d, i, done);
				break;
			}
	} else {
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < sorted[i]->n_deps; j++)
				sorted[i]->deps[j] = pos[sorted[i]->deps[j]];
		for (size_t i = 0; i < n; i++) {
			sorted[i]->index = i;
			d->tasks[i] = sorted[i];
		}
	}
	free(done);
	free(pos);
}

/* ---- DAGs ---- */

static void check_dag_outputs(struct ck *c, struct tr_pipeline_dag *d)
{
	const struct tr_pipeline_component *owner = d->owner;
	for (size_t i = 0; i < d->n_outputs; i++) {
		const struct tr_pipeline_dag_output *o = &d->outputs[i];
		const struct tr_pipeline_io *decl =
		    find_io(owner->outputs, owner->n_outputs, o->name, o->artifact);
		if (!decl)
			err(c, o->line, o->col, "dag output '%s' is not an output of '%s'", o->name,
			    owner->name);
		for (size_t j = 0; j < o->n_selectors; j++) {
			const struct tr_pipeline_selector *s = &o->selectors[j];
			const struct tr_pipeline_task *p = sibling(d, s->producer);
			if (!p) {
				err(c, o->line, o->col, "dag output '%s' reads unknown task '%s'",
				    o->name, s->producer);
				continue;
			}
			if (p->component && !find_io(p->component->outputs, p->component->n_outputs,
						     s->output_key, o->artifact))
				err(c, o->line, o->col,
				    "dag output '%s' reads %s '%s' of task '%s', which has no "
				    "such output",
				    o->name, io_kind(o->artifact), s->output_key, p->name);
		}
	}
}

static void resolve_components(struct ck *c, struct tr_pipeline_dag *d)
{
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct tr_pipeline_task *t = d->tasks[i];
		if (t->component_ref.name) {
			for (size_t j = 0; j < c->s->n_components && !t->component; j++)
				if (!strcmp(c->s->components[j]->name, t->component_ref.name))
					t->component = c->s->components[j];
			if (!t->component || t->component == c->s->root) {
				err(c, t->component_ref.line, t->component_ref.col,
				    "task '%s' uses unknown component '%s'", t->name,
				    t->component_ref.name);
				t->component = NULL;
			}
		}
	}
}

/* Marks the inputs through which loops hand their items to the components
 * they run (any DAG may read them: all are marked before bindings are checked). */
static void mark_loop_items(struct tr_pipeline_dag *d)
{
	for (size_t i = 0; i < d->n_tasks; i++) {
		const struct tr_pipeline_task *t = d->tasks[i];
		struct tr_pipeline_component *callee = t->component;
		if (t->iterator.kind != TR_ITER_PARAMETER || !t->iterator.item_input || !callee)
			continue;
		for (size_t j = 0; j < callee->n_inputs; j++)
			if (!callee->inputs[j].artifact &&
			    !strcmp(callee->inputs[j].name, t->iterator.item_input))
				callee->inputs[j].loop_item = true;
	}
}

static void check_dag(struct ck *c, struct tr_pipeline_dag *d)
{
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct tr_pipeline_task *t = d->tasks[i];
		for (size_t j = 0; j < t->n_bindings; j++) {
			struct tr_pipeline_binding *b = &t->bindings[j];
			check_binding(c, d, t, b);
			const struct tr_pipeline_task *p =
			    b->producer ? sibling(d, b->producer) : NULL;
			if (p && p != t)
				add_dep(c, t, p->index);
		}
		for (size_t j = 0; j < t->n_after; j++) {
			const struct tr_pipeline_ref *r = &t->after[j];
			const struct tr_pipeline_task *p = sibling(d, r->name);
			if (!p)
				err(c, r->line, r->col, "%s '%s' %s unknown %s '%s'", c->task,
				    t->name,
				    c->s->format == TR_PIPELINE_KFP ? "depends on" : "needs",
				    c->task, r->name);
			else if (p == t)
				err(c, r->line, r->col, "%s '%s' depends on itself", c->task,
				    t->name);
			else
				add_dep(c, t, p->index);
		}
		if (t->component)
			check_required(c, t);
		check_condition(c, t);
		check_iterator(c, t);
		if (t->has_retry && t->component && t->component->dag)
			tr_diags_add(c->d, TR_DIAG_WARNING, t->line, t->col,
				     "retry policy of '%s' applies to component tasks only",
				     t->name);
	}
	check_dag_outputs(c, d);
	order(c, d);
}

/* A DAG component must not run itself, directly or through others: the
 * scheduler and the drawing walk nested DAGs by recursion. Returns false
 * when a cycle was reported. */
static bool check_nesting(struct ck *c, struct tr_pipeline_component *comp, int depth)
{
	if (comp->visit == 2 || !comp->dag)
		return true;
	comp->visit = 1;
	bool ok = true;
	for (size_t i = 0; i < comp->dag->n_tasks && ok; i++) {
		struct tr_pipeline_task *t = comp->dag->tasks[i];
		struct tr_pipeline_component *callee = t->component;
		if (!callee || !callee->dag)
			continue;
		if (callee->visit == 1 || depth > 64) {
			err(c, t->line, t->col, "task '%s' runs component '%s', which contains it",
			    t->name, callee->name);
			ok = false;
		} else {
			ok = check_nesting(c, callee, depth + 1);
		}
	}
	comp->visit = 2;
	return ok;
}

void tr_pipeline_check(struct tr_pipeline_spec *s, struct tr_diags *diags)
{
	struct ck c = {s, diags, s->format == TR_PIPELINE_KFP ? "task" : "step"};
	for (size_t i = 0; i < s->n_components; i++)
		check_executor(&c, s->components[i]);
	for (size_t i = 0; i < s->n_components; i++)
		if (s->components[i]->dag)
			resolve_components(&c, s->components[i]->dag);
	for (size_t i = 0; i < s->n_components; i++)
		if (s->components[i]->dag)
			mark_loop_items(s->components[i]->dag);
	for (size_t i = 0; i < s->n_components; i++)
		if (s->components[i]->dag)
			check_dag(&c, s->components[i]->dag);
	for (size_t i = 0; i < s->n_components; i++)
		if (!check_nesting(&c, s->components[i], 0))
			break;
}
