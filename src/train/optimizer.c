/* optimizer.c — SGD (momentum, Nesterov, L2 weight decay), Adam and AdamW over a graph's trainable
 * parameters, as torch.optim defines them (formulas in convnet.h). All state lives in one allocation made
 * by cn_optimizer_create; a step allocates nothing. Updates are computed in double per element and the
 * state is stored as cn_real. A step is one OpenMP parallel region over all the parameters' elements laid
 * end to end (each thread a contiguous range): every element's update is independent, so the result is the
 * same for any thread count. */
#include "internal.h"
#include <omp.h>
#include <stdio.h>

#define STATE_NAME_MAX (2 * CN_NAME_MAX + 32)
#define MAX_BUFS 2  /* momentum_buffer | exp_avg, exp_avg_sq */

typedef struct {
    cn_tensor *value, *grad;    /* the graph's tensors */
    cn_tensor state[MAX_BUFS];  /* views into the optimizer's block (owns = 0) */
    int64_t first;              /* index of the slot's first element among all slots' elements */
} opt_slot;

struct cn_optimizer {
    cn_graph *graph;            /* a step changes its weights: cn_graph_params_changed */
    cn_optimizer_config config;
    int64_t steps;
    int n_slots;
    int bufs_per_slot;          /* 0 (plain SGD), 1 (momentum), 2 (Adam) */
    int64_t elements;           /* all slots' elements */
    opt_slot *slots;
    char (*state_names)[STATE_NAME_MAX];  /* n_slots * bufs_per_slot, slot-major */
};

cn_optimizer_config cn_sgd_config(double lr, double momentum, double weight_decay, int nesterov) {
    return (cn_optimizer_config){.kind = CN_OPT_SGD, .lr = lr, .weight_decay = weight_decay, .momentum = momentum,
                                 .nesterov = nesterov, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

cn_optimizer_config cn_adam_config(double lr, double weight_decay) {
    return (cn_optimizer_config){.kind = CN_OPT_ADAM, .lr = lr, .weight_decay = weight_decay, .beta1 = 0.9,
                                 .beta2 = 0.999, .eps = 1e-8};
}

cn_optimizer_config cn_adamw_config(double lr, double weight_decay) {
    cn_optimizer_config c = cn_adam_config(lr, weight_decay);
    c.kind = CN_OPT_ADAMW;
    return c;
}

static const char *kind_name(cn_optimizer_kind k) {
    return k == CN_OPT_SGD ? "SGD" : k == CN_OPT_ADAM ? "Adam" : "AdamW";
}

/* The same checks as torch.optim's constructors, plus finiteness. */
static cn_status check_config(const cn_optimizer_config *c) {
    if (c->kind != CN_OPT_SGD && c->kind != CN_OPT_ADAM && c->kind != CN_OPT_ADAMW)
        return cn_error(CN_ERR_INVALID, "optimizer: unknown kind %d", (int)c->kind);
    const char *who = kind_name(c->kind);
    if (!(c->lr >= 0 && isfinite(c->lr))) return cn_error(CN_ERR_INVALID, "%s: learning rate %g must be >= 0", who, c->lr);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return cn_error(CN_ERR_INVALID, "%s: weight decay %g must be >= 0", who, c->weight_decay);
    if (c->kind == CN_OPT_SGD) {
        if (!(c->momentum >= 0 && isfinite(c->momentum)))
            return cn_error(CN_ERR_INVALID, "SGD: momentum %g must be >= 0", c->momentum);
        if (c->nesterov && c->momentum <= 0)
            return cn_error(CN_ERR_INVALID, "SGD: Nesterov momentum needs a momentum > 0");
    } else {
        if (!(c->beta1 >= 0 && c->beta1 < 1)) return cn_error(CN_ERR_INVALID, "%s: beta1 %g must be in [0, 1)", who, c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1)) return cn_error(CN_ERR_INVALID, "%s: beta2 %g must be in [0, 1)", who, c->beta2);
        if (!(c->eps >= 0 && isfinite(c->eps))) return cn_error(CN_ERR_INVALID, "%s: eps %g must be >= 0", who, c->eps);
    }
    return CN_OK;
}

static size_t align_up(size_t n) { return (n + CN_ALIGN - 1) / CN_ALIGN * CN_ALIGN; }

/* One block: the struct, the slots, the state names, then each state tensor's data 64-byte aligned. */
cn_optimizer *cn_optimizer_create(cn_graph *g, const cn_optimizer_config *config) {
    if (!g || !config) {
        cn_error(CN_ERR_INVALID, "optimizer: graph and config must not be NULL");
        return NULL;
    }
    if (check_config(config)) return NULL;
    int bufs = config->kind == CN_OPT_SGD ? (config->momentum > 0 ? 1 : 0) : 2;
    int n_slots = 0;
    size_t data_bytes = 0;
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable) continue;
        n_slots++;
        data_bytes += (size_t)bufs * align_up((size_t)cn_tensor_numel(p.value) * sizeof(cn_real));
    }
    size_t head = align_up(sizeof(cn_optimizer));
    size_t slots_bytes = align_up((size_t)n_slots * sizeof(opt_slot));
    size_t names_bytes = align_up((size_t)n_slots * (size_t)bufs * STATE_NAME_MAX);
    unsigned char *block = cn_calloc(1, head + slots_bytes + names_bytes + data_bytes);
    if (!block) return NULL;
    cn_optimizer *opt = (cn_optimizer *)block;
    opt->config = *config;
    opt->graph = g;
    opt->n_slots = n_slots;
    opt->bufs_per_slot = bufs;
    opt->slots = (opt_slot *)(block + head);
    opt->state_names = (char (*)[STATE_NAME_MAX])(block + head + slots_bytes);
    unsigned char *data = block + head + slots_bytes + names_bytes;
    static const char *const suffix[2][MAX_BUFS] = {{"momentum_buffer", ""}, {"exp_avg", "exp_avg_sq"}};
    int k = 0;
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable) continue;
        opt_slot *s = &opt->slots[k];
        s->value = p.value;
        s->grad = p.grad;
        s->first = opt->elements;
        opt->elements += cn_tensor_numel(p.value);
        for (int b = 0; b < bufs; b++) {
            s->state[b] = (cn_tensor){p.value->shape, (cn_real *)data, 0};
            data += align_up((size_t)cn_tensor_numel(p.value) * sizeof(cn_real));
            snprintf(opt->state_names[k * bufs + b], STATE_NAME_MAX, "%s.%s", p.name,
                     suffix[config->kind == CN_OPT_SGD ? 0 : 1][b]);
        }
        k++;
    }
    return opt;
}

void cn_optimizer_free(cn_optimizer *opt) { cn_free(opt); }

/* g' = g + wd*w;  buf = momentum*buf + g';  step = nesterov ? g' + momentum*buf : buf;  w -= lr*step */
static void sgd_update(const cn_optimizer_config *c, opt_slot *s, int64_t lo, int64_t hi) {
    cn_real *w = s->value->data;
    const cn_real *grad = s->grad->data;
    const double wd = c->weight_decay, mom = c->momentum, lr = c->lr;
    if (mom <= 0) {
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) w[i] = (cn_real)((double)w[i] - lr * ((double)grad[i] + wd * (double)w[i]));
        return;
    }
    cn_real *buf = s->state[0].data;
    /* step = nesterov ? g + momentum*b : b, written branch-free (0*g + 1*b is exactly b for finite g) */
    const double keep = c->nesterov ? 1 : 0, bcoef = c->nesterov ? mom : 1;
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        double g = (double)grad[i] + wd * (double)w[i];
        double b = mom * (double)buf[i] + g;
        buf[i] = (cn_real)b;
        w[i] = (cn_real)((double)w[i] - lr * (keep * g + bcoef * b));
    }
}

/* AdamW: w *= 1 - lr*wd.  Adam: g += wd*w.  Then m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 * w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) */
static void adam_update(const cn_optimizer_config *c, opt_slot *s, int64_t t, int64_t lo, int64_t hi) {
    cn_real *w = s->value->data, *m = s->state[0].data, *v = s->state[1].data;
    const cn_real *grad = s->grad->data;
    double step_size = c->lr / (1 - pow(c->beta1, (double)t));
    double bc2_sqrt = sqrt(1 - pow(c->beta2, (double)t));
    double decay = c->kind == CN_OPT_ADAMW ? 1 - c->lr * c->weight_decay : 1;
    double l2 = c->kind == CN_OPT_ADAM ? c->weight_decay : 0;
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        double wi = (double)w[i] * decay;
        double g = (double)grad[i] + l2 * (double)w[i];
        double mi = c->beta1 * (double)m[i] + (1 - c->beta1) * g;
        double vi = c->beta2 * (double)v[i] + (1 - c->beta2) * g * g;
        m[i] = (cn_real)mi;
        v[i] = (cn_real)vi;
        w[i] = (cn_real)(wi - step_size * mi / (sqrt(vi) / bc2_sqrt + c->eps));
    }
}

cn_status cn_optimizer_step(cn_optimizer *opt) {
    if (!opt) return cn_error(CN_ERR_INVALID, "optimizer step: optimizer is NULL");
    opt->steps++;
    int threads = opt->elements >= (1 << 16) && !omp_in_parallel() ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
    {
        /* this thread's range of the concatenated elements, cut at multiples of 16 */
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t per = (opt->elements / nt + 15) / 16 * 16, lo = t * per, hi = lo + per;
        if (hi > opt->elements) hi = opt->elements;
        for (int k = 0; k < opt->n_slots && lo < hi; k++) {
            opt_slot *s = &opt->slots[k];
            int64_t n = cn_tensor_numel(s->value), a = lo - s->first, b = hi - s->first;
            if (b <= 0 || a >= n) continue;
            if (a < 0) a = 0;
            if (b > n) b = n;
            if (opt->config.kind == CN_OPT_SGD) sgd_update(&opt->config, s, a, b);
            else adam_update(&opt->config, s, opt->steps, a, b);
        }
    }
    cn_graph_params_changed(opt->graph); /* packed-weight caches are stale now */
    return CN_OK;
}

void cn_optimizer_set_lr(cn_optimizer *opt, double lr) {
    if (opt) opt->config.lr = lr;
}
double cn_optimizer_lr(const cn_optimizer *opt) { return opt ? opt->config.lr : 0; }
cn_optimizer_config cn_optimizer_get_config(const cn_optimizer *opt) {
    return opt ? opt->config : (cn_optimizer_config){0};
}
int64_t cn_optimizer_steps(const cn_optimizer *opt) { return opt ? opt->steps : 0; }
void cn_optimizer_set_steps(cn_optimizer *opt, int64_t steps) {
    if (opt && steps >= 0) opt->steps = steps;
}

int cn_optimizer_state_count(const cn_optimizer *opt) { return opt ? opt->n_slots * opt->bufs_per_slot : 0; }

cn_optimizer_state cn_optimizer_state_get(const cn_optimizer *opt, int index) {
    if (!opt || index < 0 || index >= cn_optimizer_state_count(opt)) return (cn_optimizer_state){0};
    int slot = index / opt->bufs_per_slot, b = index % opt->bufs_per_slot;
    return (cn_optimizer_state){opt->state_names[index], &opt->slots[slot].state[b]};
}

/* ---- numeric checks */
cn_status cn_check_gradients(const cn_graph *g) {
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable || !p.grad) continue;
        int64_t n = cn_tensor_numel(p.grad);
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(p.grad->data[j]))
                return cn_error(CN_ERR_NUMERIC, "gradient of %s is %s at element %lld", p.name,
                                isnan(p.grad->data[j]) ? "NaN" : "infinite", (long long)j);
    }
    return CN_OK;
}

cn_status cn_check_loss(double loss) {
    if (isnan(loss)) return cn_error(CN_ERR_NUMERIC, "loss is NaN");
    if (isinf(loss)) return cn_error(CN_ERR_NUMERIC, "loss is %s", loss > 0 ? "inf" : "-inf");
    return CN_OK;
}
