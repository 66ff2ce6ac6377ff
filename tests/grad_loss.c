/* Numerical gradient checks (double precision) for cross-entropy (with label smoothing), hinge and MSE.
 * Labels are fixed data (not checked: they get no gradient). Hinge inputs are checked to stay away from
 * the kink z = s_j - s_y + margin = 0, where the loss has no derivative. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>

/* scores (n, c) random in [-3, 3), labels i*7 mod c; kind 0 cross-entropy, 1 hinge. With through_fc the
 * scores come from a Linear layer on a (n, 5) input, so its parameters are checked through the loss. */
static void check_class_loss(int kind, int64_t n, int64_t c, float attr, uint64_t seed, int through_fc) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){n, through_fc ? 5 : c}));
    int labels = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){n}));
    int s = through_fc ? cn_linear(g, "fc", x, (int)c, 1) : x;
    int loss = kind == 0 ? cn_cross_entropy(g, "loss", s, labels, attr) : cn_hinge_loss(g, "loss", s, labels, attr);
    CHECK(loss >= 0, "loss builds: %s", cn_last_error());
    cn_test_fill_input(g, x, seed, -3, 3);
    cn_real *y = malloc((size_t)n * sizeof(cn_real));
    for (int64_t i = 0; i < n; i++) y[i] = (cn_real)((i * 7 + (int64_t)seed) % c);
    CHECK_OK(cn_set_input(g, labels, y, n));
    if (kind == 1) { /* distance to the kink */
        CHECK_OK(cn_forward(g, CN_TRAIN));
        const cn_real *sv = cn_node_output(g, s);
        double closest = INFINITY;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < c; j++)
                if (j != (int64_t)y[i]) closest = fmin(closest, fabs(sv[i * c + j] - sv[i * c + (int64_t)y[i]] + attr));
        CHECK(closest > 1e-4, "hinge gradcheck input is %g from the kink: pick another seed", closest);
    }
    cn_gradcheck(g, loss, &x, 1, 1e-6, 1e-6, 200);
    free(y);
    cn_graph_free(g);
}

static void check_mse(cn_shape shape, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int p = cn_input(g, "pred", shape), t = cn_input(g, "target", shape);
    int loss = cn_mse_loss(g, "mse", p, t);
    cn_test_fill_input(g, p, seed, -1, 1);
    cn_test_fill_input(g, t, seed + 1, -1, 1);
    cn_gradcheck(g, loss, (int[]){p, t}, 2, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

int main(void) {
    check_class_loss(0, 1, 2, 0.0f, 1, 0);
    check_class_loss(0, 4, 10, 0.1f, 2, 0);
    check_class_loss(0, 5, 13, 0.3f, 3, 0);
    check_class_loss(0, 3, 7, 1.0f, 4, 0);
    check_class_loss(0, 6, 4, 0.2f, 5, 1);
    check_class_loss(1, 1, 2, 1.0f, 6, 0);
    check_class_loss(1, 4, 10, 1.0f, 7, 0);
    check_class_loss(1, 5, 13, 0.5f, 8, 0);
    check_class_loss(1, 6, 4, 0.5f, 9, 1);
    check_mse(cn_shape_make(2, (int64_t[]){4, 10}), 10);
    check_mse(cn_shape4(2, 3, 5, 7), 11);
    check_mse(cn_shape_make(1, (int64_t[]){1}), 12);
    return cn_test_finish();
}
