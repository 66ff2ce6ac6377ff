/* Numerical gradient checks (double precision) for Linear and Flatten. */
#include "cn_test.h"

int main(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(3, 2, 3, 5));
    int f = cn_flatten(g, NULL, x);
    int y = cn_linear(g, "fc", f, 7, 1);
    cn_test_fill_input(g, x, 3, -1, 1);
    cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200);
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){1, 13}));
    y = cn_linear(g, "fc", x, 1, 0);
    cn_test_fill_input(g, x, 4, -2, 2);
    cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200);
    cn_graph_free(g);
    return cn_test_finish();
}
