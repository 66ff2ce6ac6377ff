/* schedule.c — per-epoch learning-rate schedules as torch.optim.lr_scheduler defines them (formulas in
 * convnet.h), with a linear warm-up composed like SequentialLR([LinearLR, schedule], milestones=[E]).
 * STEP, MULTISTEP and COSINE use the closed forms (PyTorch's recursive forms are equal to them up to
 * rounding); PLATEAU keeps its rate as state. */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>

static const char *const kind_names[] = {"constant", "step", "multistep", "plateau", "cosine"};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

cn_schedule_config cn_schedule_config_make(cn_schedule_kind kind, double base_lr) {
    return (cn_schedule_config){.kind = kind, .base_lr = base_lr, .gamma = 0.1, .step_size = 30, .patience = 10,
                                .threshold = 1e-4, .t_max = 100, .warmup_start_factor = 1.0 / 3.0};
}

static bool finite_nonneg(double x) { return x >= 0 && isfinite(x); }

static cn_status check_config(const cn_schedule_config *c) {
    if ((int)c->kind < 0 || (int)c->kind >= N_KINDS) return cn_error(CN_ERR_INVALID, "schedule: unknown kind %d", (int)c->kind);
    const char *who = kind_names[c->kind];
    if (!finite_nonneg(c->base_lr)) return cn_error(CN_ERR_INVALID, "%s schedule: base learning rate %g must be >= 0", who, c->base_lr);
    if ((c->kind == CN_SCHED_STEP || c->kind == CN_SCHED_MULTISTEP) && !(c->gamma > 0 && isfinite(c->gamma)))
        return cn_error(CN_ERR_INVALID, "%s schedule: gamma %g must be > 0", who, c->gamma);
    if (c->kind == CN_SCHED_STEP && c->step_size < 1)
        return cn_error(CN_ERR_INVALID, "step schedule: step_size %d must be >= 1", c->step_size);
    if (c->kind == CN_SCHED_MULTISTEP) {
        if (c->n_milestones < 0 || c->n_milestones > CN_SCHED_MAX_MILESTONES)
            return cn_error(CN_ERR_INVALID, "multistep schedule: %d milestones, at most %d", c->n_milestones,
                            CN_SCHED_MAX_MILESTONES);
        for (int i = 0; i < c->n_milestones; i++)
            if (c->milestones[i] < 0 || (i > 0 && c->milestones[i] <= c->milestones[i - 1]))
                return cn_error(CN_ERR_INVALID, "multistep schedule: milestone %d (%d) must be >= 0 and above the one before",
                                i, c->milestones[i]);
    }
    if (c->kind == CN_SCHED_PLATEAU) {
        if (!(c->gamma > 0 && c->gamma < 1)) return cn_error(CN_ERR_INVALID, "plateau schedule: factor %g must be in (0, 1)", c->gamma);
        if (c->patience < 0 || c->cooldown < 0 || !finite_nonneg(c->threshold) || !finite_nonneg(c->min_lr))
            return cn_error(CN_ERR_INVALID, "plateau schedule: patience, cooldown, threshold and min_lr must be >= 0");
    }
    if (c->kind == CN_SCHED_COSINE && (c->t_max < 1 || !finite_nonneg(c->eta_min)))
        return cn_error(CN_ERR_INVALID, "cosine schedule: t_max %d must be >= 1 and eta_min %g >= 0", c->t_max, c->eta_min);
    if (c->warmup_epochs < 0) return cn_error(CN_ERR_INVALID, "%s schedule: warm-up of %d epochs", who, c->warmup_epochs);
    if (c->warmup_epochs > 0 && !(c->warmup_start_factor > 0 && c->warmup_start_factor <= 1))
        return cn_error(CN_ERR_INVALID, "%s schedule: warm-up start factor %g must be in (0, 1]", who, c->warmup_start_factor);
    return CN_OK;
}

/* The closed-form rate at epoch e of the schedule proper (e counted from the end of the warm-up). */
static double closed_form_lr(const cn_schedule_config *c, int e) {
    switch (c->kind) {
    case CN_SCHED_STEP: return c->base_lr * pow(c->gamma, (double)(e / c->step_size));
    case CN_SCHED_MULTISTEP: {
        int passed = 0;
        for (int i = 0; i < c->n_milestones; i++) passed += c->milestones[i] <= e;
        return c->base_lr * pow(c->gamma, (double)passed);
    }
    case CN_SCHED_COSINE:  /* eta_min + (base - eta_min) (1 + cos(pi e / T)) / 2 */
        return c->eta_min + (c->base_lr - c->eta_min) * (1 + cos(3.14159265358979323846 * e / c->t_max)) / 2;
    default: return c->base_lr;  /* CONSTANT; PLATEAU starts at base */
    }
}

/* LinearLR: base * (f + (1 - f) e / E) during the warm-up, else the schedule at e - E. */
static double lr_at(const cn_schedule_config *c, int e) {
    if (e < c->warmup_epochs)
        return c->base_lr * (c->warmup_start_factor + (1 - c->warmup_start_factor) * e / c->warmup_epochs);
    return closed_form_lr(c, e - c->warmup_epochs);
}

cn_status cn_schedule_init(cn_schedule *s, const cn_schedule_config *config) {
    if (!s || !config) return cn_error(CN_ERR_INVALID, "schedule: NULL argument");
    cn_status st = check_config(config);
    if (st) return st;
    *s = (cn_schedule){.config = *config, .epoch = 0, .best = -INFINITY};
    s->lr = lr_at(config, 0);
    return CN_OK;
}

double cn_schedule_lr(const cn_schedule *s) { return s ? s->lr : 0; }

/* ReduceLROnPlateau(mode='max', threshold_mode='rel').step(metric) */
static void plateau_step(cn_schedule *s, double metric) {
    const cn_schedule_config *c = &s->config;
    if (metric > s->best * (1 + c->threshold)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else
        s->num_bad_epochs++;
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > c->patience) {
        double reduced = fmax(s->lr * c->gamma, c->min_lr);
        if (s->lr - reduced > 1e-8) s->lr = reduced;  /* PyTorch's eps: no change below 1e-8 */
        s->cooldown_counter = c->cooldown;
        s->num_bad_epochs = 0;
    }
}

cn_status cn_schedule_step(cn_schedule *s, double metric) {
    if (!s) return cn_error(CN_ERR_INVALID, "schedule: NULL argument");
    const cn_schedule_config *c = &s->config;
    if (c->kind == CN_SCHED_PLATEAU) {
        if (s->epoch >= c->warmup_epochs) {
            if (isnan(metric)) return cn_error(CN_ERR_NUMERIC, "plateau schedule: the metric of epoch %d is NaN", s->epoch);
            plateau_step(s, metric);
        }
        s->epoch++;
        if (s->epoch == c->warmup_epochs) s->lr = c->base_lr;
        else if (s->epoch < c->warmup_epochs) s->lr = lr_at(c, s->epoch);
        return CN_OK;
    }
    s->epoch++;
    s->lr = lr_at(c, s->epoch);
    return CN_OK;
}

cn_status cn_schedule_state_format(const cn_schedule *s, char *buf, size_t buflen) {
    if (!s || !buf || (int)s->config.kind < 0 || (int)s->config.kind >= N_KINDS)
        return cn_error(CN_ERR_INVALID, "schedule: bad argument to format");
    int len = snprintf(buf, buflen, "kind=%s epoch=%d lr=%a best=%a bad=%d cooldown=%d", kind_names[s->config.kind],
                       s->epoch, s->lr, s->best, s->num_bad_epochs, s->cooldown_counter);
    if (len < 0 || (size_t)len >= buflen) return cn_error(CN_ERR_INVALID, "schedule: state buffer of %zu bytes is too small", buflen);
    return CN_OK;
}

cn_status cn_schedule_state_parse(cn_schedule *s, const char *text) {
    if (!s || !text) return cn_error(CN_ERR_INVALID, "schedule: NULL argument");
    char kind[32];
    int epoch, bad, cooldown, used = 0;
    double lr, best;
    if (sscanf(text, "kind=%31s epoch=%d lr=%la best=%la bad=%d cooldown=%d%n", kind, &epoch, &lr, &best, &bad,
               &cooldown, &used) != 6 || text[used] != '\0')
        return cn_error(CN_ERR_FORMAT, "schedule state \"%.80s\" is malformed", text);
    if ((int)s->config.kind < 0 || (int)s->config.kind >= N_KINDS || strcmp(kind, kind_names[s->config.kind]) != 0)
        return cn_error(CN_ERR_INVALID, "schedule state is for a %s schedule, this one is %s", kind,
                        (int)s->config.kind >= 0 && (int)s->config.kind < N_KINDS ? kind_names[s->config.kind] : "unknown");
    if (epoch < 0 || bad < 0 || cooldown < 0 || !finite_nonneg(lr) || isnan(best))
        return cn_error(CN_ERR_FORMAT, "schedule state \"%.80s\" has out-of-range values", text);
    s->epoch = epoch;
    s->lr = lr;
    s->best = best;
    s->num_bad_epochs = bad;
    s->cooldown_counter = cooldown;
    return CN_OK;
}
