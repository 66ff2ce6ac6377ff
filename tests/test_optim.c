/* Optimizers and learning-rate schedules against PyTorch (golden family "optim"), their state, their
 * errors; weight initialisation statistics. */
#include "cn_test.h"
#include <omp.h>
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* x(1,5) -> fc1(3) -> fc2(7): the parameters of the optimizer goldens. */
static cn_graph *small_graph(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){1, 5}));
    int h = cn_linear(g, "fc1", x, 3, 1);
    cn_linear(g, "fc2", h, 7, 1);
    return g;
}

/* |ours - ref| <= tol * max(|ref|, 1e-2) element by element; returns the largest such ratio. */
static double max_rel(const cn_real *ours, const cn_real *ref, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]) / fmax(fabs((double)ref[i]), 1e-2);
        if (!(d <= worst)) worst = d;  /* NaN counts as the worst */
    }
    return worst;
}

static cn_optimizer_config config_from(const golden_case *c) {
    const char *op = golden_meta(c, "op");
    double lr = golden_attr_num(c, "lr", 0), wd = golden_attr_num(c, "weight_decay", 0);
    if (strcmp(op, "SGD") == 0)
        return cn_sgd_config(lr, golden_attr_num(c, "momentum", 0), wd, golden_attr_int(c, "nesterov", 0));
    cn_optimizer_config cfg = strcmp(op, "Adam") == 0 ? cn_adam_config(lr, wd) : cn_adamw_config(lr, wd);
    cfg.beta1 = golden_attr_num(c, "beta1", 0.9);
    cfg.beta2 = golden_attr_num(c, "beta2", 0.999);
    cfg.eps = golden_attr_num(c, "eps", 1e-8);
    return cfg;
}

static void copy_golden(const golden_case *c, const char *tensor, cn_tensor *dst) {
    int64_t n = 0;
    cn_real *v = golden_tensor(c, tensor, &n);
    CHECK(v && n == cn_tensor_numel(dst), "%s: %s has %lld elements", c->name, tensor, (long long)n);
    if (v && n == cn_tensor_numel(dst)) memcpy(dst->data, v, (size_t)n * sizeof(cn_real));
    free(v);
}

/* Inject the golden gradients, step, compare every parameter after every step (1e-5 relative). */
static void optimizer_golden(const golden_case *c) {
    cn_graph *g = small_graph();
    for (int i = 0; i < cn_param_count(g); i++) {
        char key[256];
        snprintf(key, sizeof key, "init.%s", cn_param_get(g, i).name);
        copy_golden(c, key, cn_param_get(g, i).value);
    }
    cn_optimizer_config cfg = config_from(c);
    cn_optimizer *opt = cn_optimizer_create(g, &cfg);
    CHECK(opt != NULL, "%s: %s", c->name, cn_last_error());
    for (int s = 0; opt && s < 3; s++) {
        for (int i = 0; i < cn_param_count(g); i++) {
            char key[256];
            snprintf(key, sizeof key, "grad%d.%s", s, cn_param_get(g, i).name);
            copy_golden(c, key, cn_param_get(g, i).grad);
        }
        CHECK_OK(cn_optimizer_step(opt));
        for (int i = 0; i < cn_param_count(g); i++) {
            cn_param p = cn_param_get(g, i);
            char key[256];
            snprintf(key, sizeof key, "after%d.%s", s, p.name);
            int64_t n = 0;
            cn_real *ref = golden_tensor(c, key, &n);
            if (!ref) continue;
            double err = max_rel(p.value->data, ref, n);
            CHECK(err <= 1e-5, "%s: %s after step %d differs from PyTorch by %.3g relative", c->name, p.name, s + 1, err);
            free(ref);
        }
    }
    CHECK(!opt || cn_optimizer_steps(opt) == 3, "%s: 3 steps counted", c->name);
    cn_optimizer_free(opt);
    cn_graph_free(g);
}

static cn_schedule_config schedule_config_from(const golden_case *c) {
    static const struct { const char *name; cn_schedule_kind kind; } kinds[] = {
        {"step", CN_SCHED_STEP}, {"multistep", CN_SCHED_MULTISTEP}, {"plateau", CN_SCHED_PLATEAU}, {"cosine", CN_SCHED_COSINE}};
    const char *k = golden_attr_str(c, "kind", "");
    cn_schedule_kind kind = CN_SCHED_CONSTANT;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(k, kinds[i].name) == 0) kind = kinds[i].kind;
    cn_schedule_config cfg = cn_schedule_config_make(kind, golden_attr_num(c, "base_lr", 0));
    cfg.gamma = golden_attr_num(c, "gamma", 0.1);
    cfg.step_size = golden_attr_int(c, "step_size", 30);
    cfg.n_milestones = golden_attr_ints(c, "milestones", cfg.milestones, CN_SCHED_MAX_MILESTONES);
    cfg.patience = golden_attr_int(c, "patience", 10);
    cfg.threshold = golden_attr_num(c, "threshold", 1e-4);
    cfg.cooldown = golden_attr_int(c, "cooldown", 0);
    cfg.min_lr = golden_attr_num(c, "min_lr", 0);
    cfg.t_max = golden_attr_int(c, "t_max", 100);
    cfg.eta_min = golden_attr_num(c, "eta_min", 0);
    cfg.warmup_epochs = golden_attr_int(c, "warmup_epochs", 0);
    cfg.warmup_start_factor = golden_attr_num(c, "warmup_start_factor", 1.0 / 3.0);
    return cfg;
}

static void schedule_golden(const golden_case *c) {
    cn_schedule_config cfg = schedule_config_from(c);
    cn_schedule s;
    CHECK_OK(cn_schedule_init(&s, &cfg));
    int64_t n = 0, nm = 0;
    cn_real *lr = golden_tensor(c, "lr", &n), *metric = golden_tensor(c, "metric", &nm);
    CHECK(n >= 12 && n == nm, "%s: %lld epochs", c->name, (long long)n);
    for (int64_t e = 0; lr && metric && e < n && e < nm; e++) {
        double ours = cn_schedule_lr(&s), ref = (double)lr[e];
        CHECK(fabs(ours - ref) <= 1e-6 * ref, "%s: epoch %lld lr %.9g, PyTorch %.9g", c->name, (long long)e, ours, ref);
        CHECK_OK(cn_schedule_step(&s, (double)metric[e]));
    }
    free(lr);
    free(metric);
}

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("optim", names, 64), n_opt = 0, n_lr = 0;
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "optim", names[i])) continue;
        if (strcmp(golden_meta(&c, "op"), "LR") == 0) schedule_golden(&c), n_lr++;
        else optimizer_golden(&c), n_opt++;
        golden_close(&c);
    }
    CHECK(n_opt >= 7 && n_lr >= 8, "expected >= 7 optimizer and >= 8 schedule goldens, found %d and %d", n_opt, n_lr);
}

/* ---- optimizer behaviour */
static void optimizer_state_and_allocation(void) {
    cn_graph *g = small_graph();
    int x = cn_graph_find(g, "fc2");
    CHECK(cn_test_holder(g, "bn1", x) >= 0, "holder op: %s", cn_last_error());
    cn_optimizer_config sgd = cn_sgd_config(0.1, 0, 0, 0), mom = cn_sgd_config(0.1, 0.9, 0, 0), adam = cn_adam_config(1e-3, 0);
    cn_optimizer *o = cn_optimizer_create(g, &sgd);
    CHECK(o && cn_optimizer_state_count(o) == 0, "plain SGD has no state");
    cn_optimizer_free(o);
    o = cn_optimizer_create(g, &mom);
    CHECK(o && cn_optimizer_state_count(o) == 5, "momentum: one buffer per trainable parameter (5, not the buffer)");
    cn_optimizer_state s = cn_optimizer_state_get(o, 0);
    CHECK(s.name && strcmp(s.name, "fc1.weight.momentum_buffer") == 0, "state 0 is fc1.weight.momentum_buffer, got %s", s.name);
    CHECK(s.value && s.value->shape.ndim == 2 && s.value->shape.dims[0] == 3 && s.value->shape.dims[1] == 5, "shape 3x5");
    s = cn_optimizer_state_get(o, 4);
    CHECK(s.name && strcmp(s.name, "bn1.weight.momentum_buffer") == 0, "state 4 is bn1.weight.momentum_buffer");
    CHECK(cn_optimizer_state_get(o, 5).value == NULL && cn_optimizer_state_get(o, -1).value == NULL, "bad index: NULL");
    cn_optimizer_free(o);
    o = cn_optimizer_create(g, &adam);
    CHECK(o && cn_optimizer_state_count(o) == 10, "Adam: exp_avg and exp_avg_sq per parameter");
    CHECK(strcmp(cn_optimizer_state_get(o, 0).name, "fc1.weight.exp_avg") == 0 &&
              strcmp(cn_optimizer_state_get(o, 1).name, "fc1.weight.exp_avg_sq") == 0, "Adam state names");
    /* the buffer is not touched; steps allocate nothing */
    cn_param rm = cn_param_get(g, cn_param_find(g, "bn1.running_mean"));
    for (int i = 0; i < cn_param_count(g); i++)
        if (cn_param_get(g, i).grad) cn_param_get(g, i).grad->data[0] = 1;
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    for (int i = 0; i < 10; i++) cn_optimizer_step(o);
    long during = cn_test_allocation_count() - before;
    cn_test_count_allocations(0);
    CHECK(during == 0, "10 Adam steps made %ld allocations", during);
    CHECK(rm.value->data[2] == 2, "buffers are not optimized");
    CHECK(cn_optimizer_steps(o) == 10, "10 steps counted");
    cn_optimizer_set_lr(o, 0.5);
    CHECK(cn_optimizer_lr(o) == 0.5, "set_lr");
    cn_optimizer_free(o);
    cn_graph_free(g);
}

/* A step splits the concatenated elements over threads (above 65,536 elements): any thread count gives the
 * bits a single thread gives, for every optimizer, across slot boundaries at odd offsets. */
static cn_graph *wide_graph(void) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 11);
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 301}));
    x = cn_linear(g, "fc1", x, 197, 1);
    x = cn_linear(g, "fc2", x, 151, 1);
    cn_linear(g, "fc3", x, 7, 0);
    return g;
}

static void threaded_step(void) {
    cn_optimizer_config cfg[] = {cn_sgd_config(0.1, 0, 1e-3, 0), cn_sgd_config(0.1, 0.9, 1e-3, 0),
                                 cn_sgd_config(0.1, 0.9, 1e-3, 1), cn_adam_config(1e-3, 1e-2),
                                 cn_adamw_config(1e-3, 1e-2)};
    int threads = omp_get_max_threads();
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        cn_graph *g[2] = {wide_graph(), wide_graph()};
        cn_optimizer *o[2];
        for (int k = 0; k < 2; k++) {
            o[k] = cn_optimizer_create(g[k], &cfg[c]);
            CHECK(o[k] != NULL, "optimizer %zu: %s", c, cn_last_error());
        }
        if (!o[0] || !o[1]) continue;
        for (int step = 0; step < 3; step++)
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < cn_param_count(g[k]); i++) {
                    cn_param p = cn_param_get(g[k], i);
                    for (int64_t j = 0; p.grad && j < cn_tensor_numel(p.grad); j++)
                        p.grad->data[j] = (cn_real)sin(0.37 * (double)(j + 13 * i + 7 * step));
                }
                omp_set_num_threads(k == 0 ? 1 : 3);
                cn_optimizer_step(o[k]);
            }
        int same = 1;
        for (int i = 0; i < cn_param_count(g[0]); i++) {
            cn_param a = cn_param_get(g[0], i), b = cn_param_get(g[1], i);
            same &= memcmp(a.value->data, b.value->data, (size_t)cn_tensor_numel(a.value) * sizeof(cn_real)) == 0;
        }
        CHECK(same, "optimizer %zu: 3 threads give the weights 1 thread gives, bit for bit", c);
        for (int k = 0; k < 2; k++) {
            cn_optimizer_free(o[k]);
            cn_graph_free(g[k]);
        }
    }
    omp_set_num_threads(threads);
}

static void optimizer_errors(void) {
    cn_graph *g = small_graph();
    cn_optimizer_config c = cn_sgd_config(-1, 0, 0, 0);
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "SGD: learning rate -1 must be >= 0");
    c = cn_sgd_config(0.1, 0, 0, 1);
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "SGD: Nesterov momentum needs a momentum > 0");
    c = cn_sgd_config(0.1, -0.5, 0, 0);
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "SGD: momentum -0.5 must be >= 0");
    c = cn_sgd_config(0.1, 0, NAN, 0);
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "SGD: weight decay nan must be >= 0");
    c = cn_adam_config(0.1, 0);
    c.beta1 = 1;
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "Adam: beta1 1 must be in [0, 1)");
    c = cn_adamw_config(0.1, 0);
    c.beta2 = -0.1;
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "AdamW: beta2 -0.1 must be in [0, 1)");
    c.kind = (cn_optimizer_kind)9;
    CHECK_ERROR(cn_optimizer_create(g, &c) == NULL, "optimizer: unknown kind 9");
    CHECK_ERROR(cn_optimizer_create(NULL, &c) == NULL, "must not be NULL");
    CHECK_ERROR(cn_optimizer_step(NULL), "optimizer is NULL");
    cn_graph_free(g);
}

static void numeric_checks(void) {
    cn_graph *g = small_graph();
    CHECK_OK(cn_check_gradients(g));
    cn_param b = cn_param_get(g, cn_param_find(g, "fc2.bias"));
    b.grad->data[3] = NAN;
    cn_status st = cn_check_gradients(g);
    CHECK(st == CN_ERR_NUMERIC && strstr(cn_last_error(), "gradient of fc2.bias is NaN at element 3"),
          "NaN gradient named: %s", cn_last_error());
    b.grad->data[3] = -INFINITY;
    CHECK_ERROR(cn_check_gradients(g), "gradient of fc2.bias is infinite at element 3");
    CHECK(cn_check_loss(NAN) == CN_ERR_NUMERIC && strstr(cn_last_error(), "loss is NaN"), "NaN loss");
    CHECK_ERROR(cn_check_loss(INFINITY), "loss is inf");
    CHECK_OK(cn_check_loss(2.3));
    cn_graph_free(g);
}

/* ---- schedules */
static void schedule_errors_and_state(void) {
    cn_schedule s;
    cn_schedule_config c = cn_schedule_config_make(CN_SCHED_STEP, 0.1);
    c.step_size = 0;
    CHECK_ERROR(cn_schedule_init(&s, &c), "step schedule: step_size 0 must be >= 1");
    c = cn_schedule_config_make(CN_SCHED_MULTISTEP, 0.1);
    c.n_milestones = 2, c.milestones[0] = 5, c.milestones[1] = 3;
    CHECK_ERROR(cn_schedule_init(&s, &c), "multistep schedule: milestone 1 (3) must be >= 0 and above the one before");
    c = cn_schedule_config_make(CN_SCHED_PLATEAU, 0.1);
    c.gamma = 1;
    CHECK_ERROR(cn_schedule_init(&s, &c), "plateau schedule: factor 1 must be in (0, 1)");
    c = cn_schedule_config_make(CN_SCHED_COSINE, 0.1);
    c.t_max = 0;
    CHECK_ERROR(cn_schedule_init(&s, &c), "cosine schedule: t_max 0 must be >= 1");
    c = cn_schedule_config_make(CN_SCHED_COSINE, -0.1);
    CHECK_ERROR(cn_schedule_init(&s, &c), "cosine schedule: base learning rate -0.1 must be >= 0");
    c = cn_schedule_config_make(CN_SCHED_STEP, 0.1);
    c.warmup_epochs = 2, c.warmup_start_factor = 0;
    CHECK_ERROR(cn_schedule_init(&s, &c), "warm-up start factor 0 must be in (0, 1]");

    /* plateau: a NaN metric is an error; a state saved mid-run resumes to the same rates */
    c = cn_schedule_config_make(CN_SCHED_PLATEAU, 0.1);
    c.patience = 1;
    cn_schedule a, b;
    CHECK_OK(cn_schedule_init(&a, &c));
    CHECK_ERROR(cn_schedule_step(&a, NAN), "plateau schedule: the metric of epoch 0 is NaN");
    const double acc[] = {0.3, 0.4, 0.4, 0.4, 0.45, 0.45, 0.45, 0.5, 0.5, 0.5};
    for (int e = 0; e < 4; e++) CHECK_OK(cn_schedule_step(&a, acc[e]));
    char text[256];
    CHECK_OK(cn_schedule_state_format(&a, text, sizeof text));
    CHECK_OK(cn_schedule_init(&b, &c));
    CHECK_OK(cn_schedule_state_parse(&b, text));
    CHECK(b.epoch == 4 && b.lr == a.lr && b.best == a.best, "parsed state equals: %s", text);
    for (int e = 4; e < 10; e++) {
        cn_schedule_step(&a, acc[e]);
        cn_schedule_step(&b, acc[e]);
        CHECK(a.lr == b.lr, "resumed schedule gives the same rate at epoch %d", e + 1);
    }
    CHECK(a.lr < 0.1, "plateau reduced the rate (%g)", a.lr);
    cn_schedule fresh;
    CHECK_OK(cn_schedule_init(&fresh, &c));
    CHECK_OK(cn_schedule_state_format(&fresh, text, sizeof text));
    CHECK(strstr(text, "best=-inf") != NULL, "fresh plateau best is -inf: %s", text);
    CHECK_OK(cn_schedule_state_parse(&b, text));
    CHECK(isinf(b.best) && b.best < 0 && b.epoch == 0, "-inf round trips");

    cn_schedule_config cc = cn_schedule_config_make(CN_SCHED_COSINE, 0.1);
    cn_schedule cos;
    CHECK_OK(cn_schedule_init(&cos, &cc));
    cn_schedule before = cos;
    CHECK_ERROR(cn_schedule_state_parse(&cos, text), "schedule state is for a plateau schedule, this one is cosine");
    CHECK_ERROR(cn_schedule_state_parse(&cos, "kind=cosine epoch=x"), "is malformed");
    CHECK_ERROR(cn_schedule_state_parse(&cos, "kind=cosine epoch=3 lr=-0x1p+0 best=-inf bad=0 cooldown=0"), "out-of-range");
    CHECK(memcmp(&before, &cos, sizeof cos) == 0, "a failed parse changes nothing");
    CHECK_ERROR(cn_schedule_state_format(&cos, text, 8), "too small");
}

/* ---- initialisation */
static void fans(void) {
    int64_t fi = 0, fo = 0;
    cn_shape conv = cn_shape4(6, 1, 5, 5), grouped = cn_shape4(8, 2, 3, 3);
    CHECK_OK(cn_init_fans(&conv, &fi, &fo));
    CHECK(fi == 25 && fo == 150, "conv 6x1x5x5: fan_in 25 fan_out 150, got %lld %lld", (long long)fi, (long long)fo);
    CHECK_OK(cn_init_fans(&grouped, &fi, &fo));
    CHECK(fi == 18 && fo == 72, "grouped conv 8x2x3x3: fan_in 18 (in/groups*k*k) fan_out 72");
    cn_shape lin = cn_shape_make(2, (int64_t[]){10, 48}), conv3d = cn_shape_make(5, (int64_t[]){4, 3, 2, 3, 5});
    CHECK_OK(cn_init_fans(&lin, &fi, &fo));
    CHECK(fi == 48 && fo == 10, "linear 10x48: 48, 10");
    CHECK_OK(cn_init_fans(&conv3d, &fi, &fo));
    CHECK(fi == 90 && fo == 120, "conv3d 4x3x2x3x5: 90, 120");
    cn_shape bias = cn_shape_make(1, (int64_t[]){10});
    CHECK_ERROR(cn_init_fans(&bias, &fi, &fo), "init: fans need a weight of at least 2 dimensions, got 10");
}

/* The sample mean and variance of a 64x32x5x5 weight (51200 values) against the law: the variance within
 * 3% (its standard error is 0.5-0.6%), the mean within 5 standard errors, uniform values inside +-bound. */
static void init_statistics(void) {
    static const char *names[] = {"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"};
    cn_tensor t;
    CHECK_OK(cn_tensor_alloc(&t, cn_shape4(64, 32, 5, 5)));
    int64_t n = cn_tensor_numel(&t), fan_in = 32 * 25, fan_out = 64 * 25;
    for (int k = 0; k < 4; k++) {
        double expected = k < 2 ? 2.0 / (double)(fan_in + fan_out) : 2.0 / (double)fan_in;
        cn_rng rng;
        cn_rng_seed(&rng, 42 + (uint64_t)k, 1);
        CHECK_OK(cn_init_tensor(&t, (cn_init_kind)k, &rng));
        double sum = 0, sq = 0, maxabs = 0;
        for (int64_t i = 0; i < n; i++) {
            sum += t.data[i];
            sq += (double)t.data[i] * t.data[i];
            maxabs = fmax(maxabs, fabs((double)t.data[i]));
        }
        double mean = sum / (double)n, var = sq / (double)n - mean * mean;
        CHECK(fabs(var / expected - 1) < 0.03, "%s: variance %.4g, expected %.4g", names[k], var, expected);
        CHECK(fabs(mean) < 5 * sqrt(expected / (double)n), "%s: mean %.3g", names[k], mean);
        if (k == 0 || k == 2)
            CHECK(maxabs <= sqrt(3 * expected) * (1 + 1e-6) && maxabs > 0.99 * sqrt(3 * expected),
                  "%s: values within and reaching the bound %.4g (max %.4g)", names[k], sqrt(3 * expected), maxabs);
        else
            CHECK(maxabs > 3 * sqrt(expected), "%s: a normal law has tails (max %.3g sigma)", names[k], maxabs / sqrt(expected));
    }
    cn_rng rng;
    cn_rng_seed(&rng, 1, 1);
    CHECK_ERROR(cn_init_tensor(&t, (cn_init_kind)7, &rng), "init: unknown kind 7");
    cn_tensor_free(&t);
}

static void init_graph(void) {
    cn_graph *g = small_graph(), *h = small_graph();
    int x = cn_graph_find(g, "fc2");
    cn_test_holder(g, "bn1", x);
    CHECK_OK(cn_init_graph(g, CN_INIT_KAIMING_NORMAL, 7));
    CHECK_OK(cn_init_graph(h, CN_INIT_KAIMING_NORMAL, 7));
    cn_param b = cn_param_get(g, cn_param_find(g, "fc1.bias")), w = cn_param_get(g, cn_param_find(g, "fc2.weight"));
    CHECK(b.value->data[0] == 0 && b.value->data[2] == 0, "biases are zeroed");
    cn_param w2 = cn_param_get(h, cn_param_find(h, "fc2.weight"));
    CHECK(memcmp(w.value->data, w2.value->data, 21 * sizeof(cn_real)) == 0, "same seed, same weights");
    CHECK(cn_param_get(g, cn_param_find(g, "bn1.weight")).value->data[1] == 1 &&
              cn_param_get(g, cn_param_find(g, "bn1.running_mean")).value->data[1] == 1,
          "1-D weights (batch norm gamma) and buffers are left alone");
    CHECK_OK(cn_init_graph(h, CN_INIT_KAIMING_NORMAL, 8));
    CHECK(memcmp(w.value->data, w2.value->data, 21 * sizeof(cn_real)) != 0, "another seed, other weights");
    CHECK_ERROR(cn_init_graph(h, (cn_init_kind)-1, 8), "init: unknown kind -1");
    cn_graph_free(g);
    cn_graph_free(h);
}

int main(void) {
    golden_cases();
    optimizer_state_and_allocation();
    optimizer_errors();
    threaded_step();
    numeric_checks();
    schedule_errors_and_state();
    fans();
    init_statistics();
    init_graph();
    return cn_test_finish();
}
