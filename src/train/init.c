/* init.c — Xavier/Glorot and Kaiming/He initialisation, as torch.nn.init with its default arguments
 * (Xavier gain 1; Kaiming a = 0, mode fan_in, nonlinearity relu: gain sqrt(2)). */
#include "internal.h"

/* torch.nn.init._calculate_fan_in_and_fan_out: receptive = prod(dims[2:]),
 * fan_in = dims[1] * receptive, fan_out = dims[0] * receptive. */
cn_status cn_init_fans(const cn_shape *shape, int64_t *fan_in, int64_t *fan_out) {
    if (!shape || shape->ndim < 2) {
        char b[64];
        return cn_error(CN_ERR_SHAPE, "init: fans need a weight of at least 2 dimensions, got %s",
                        shape ? cn_shape_str(shape, b, sizeof b) : "NULL");
    }
    int64_t receptive = shape_spatial(shape);
    if (fan_in) *fan_in = shape->dims[1] * receptive;
    if (fan_out) *fan_out = shape->dims[0] * receptive;
    return CN_OK;
}

cn_status cn_init_tensor(cn_tensor *t, cn_init_kind kind, cn_rng *rng) {
    if (!t || !rng) return cn_error(CN_ERR_INVALID, "init: NULL argument");
    int64_t fan_in = 1, fan_out = 1;
    cn_status st = cn_init_fans(&t->shape, &fan_in, &fan_out);
    if (st) return st;
    int64_t n = cn_tensor_numel(t);
    if (n == 0) return CN_OK;  /* PyTorch warns and does nothing for zero-element tensors */
    double xavier_std = sqrt(2.0 / (double)(fan_in + fan_out)), kaiming_std = sqrt(2.0 / (double)fan_in);
    switch (kind) {
    case CN_INIT_XAVIER_UNIFORM: /* bound = sqrt(3) * std = sqrt(6 / (fan_in + fan_out)) */
        cn_rng_fill_uniform(rng, t->data, n, -sqrt(3.0) * xavier_std, sqrt(3.0) * xavier_std);
        return CN_OK;
    case CN_INIT_XAVIER_NORMAL: cn_rng_fill_normal(rng, t->data, n, 0, xavier_std); return CN_OK;
    case CN_INIT_KAIMING_UNIFORM: /* bound = sqrt(3) * sqrt(2 / fan_in) = sqrt(6 / fan_in) */
        cn_rng_fill_uniform(rng, t->data, n, -sqrt(3.0) * kaiming_std, sqrt(3.0) * kaiming_std);
        return CN_OK;
    case CN_INIT_KAIMING_NORMAL: cn_rng_fill_normal(rng, t->data, n, 0, kaiming_std); return CN_OK;
    }
    return cn_error(CN_ERR_INVALID, "init: unknown kind %d", (int)kind);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

cn_status cn_init_graph(cn_graph *g, cn_init_kind kind, uint64_t seed) {
    if (!g) return cn_error(CN_ERR_INVALID, "init: graph is NULL");
    if ((int)kind < CN_INIT_XAVIER_UNIFORM || (int)kind > CN_INIT_KAIMING_NORMAL)
        return cn_error(CN_ERR_INVALID, "init: unknown kind %d", (int)kind);
    cn_rng rng;
    cn_rng_seed(&rng, seed, 0x696e6974ULL);  /* "init" */
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable) continue;
        if (p.value->shape.ndim >= 2) {
            cn_status st = cn_init_tensor(p.value, kind, &rng);
            if (st) return st;
        } else if (ends_with(p.name, ".bias"))
            memset(p.value->data, 0, (size_t)cn_tensor_numel(p.value) * sizeof(cn_real));
    }
    return CN_OK;
}
