/* Checkpoints: bit-exact round trip of parameters, buffers, optimizer and training state; atomic writes
 * (the old file survives a failed write); truncated, corrupt and other-model files rejected with clear
 * messages and without touching the graph. */
#include "cn_test.h"
#include "internal.h"
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];


/* x(2,5) -> fc1(h1) -> bn1 (weight + running_mean buffer) -> fc2(4) [-> fc3(2)] */
static cn_graph *model(int h1, int with_bn, int with_fc3, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, seed);
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 5}));
    x = cn_linear(g, "fc1", x, h1, 1);
    if (with_bn) x = cn_test_holder(g, "bn1", x);
    x = cn_linear(g, "fc2", x, 4, 1);
    if (with_fc3) cn_linear(g, "fc3", x, 2, 0);
    /* random values everywhere, buffers included */
    cn_rng r;
    cn_rng_seed(&r, seed, 3);
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        cn_rng_fill_normal(&r, p.value->data, cn_tensor_numel(p.value), 0, 1);
    }
    return g;
}

static void random_grads(cn_graph *g, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 5);
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (p.grad) cn_rng_fill_normal(&r, p.grad->data, cn_tensor_numel(p.grad), 0, 1);
    }
}

/* All parameter and buffer values, concatenated, in a malloc'd buffer. */
static cn_real *snapshot(const cn_graph *g, int64_t *count) {
    int64_t n = 0;
    for (int i = 0; i < cn_param_count(g); i++) n += cn_tensor_numel(cn_param_get(g, i).value);
    cn_real *out = malloc((size_t)(n + 1) * sizeof(cn_real)), *p = out;
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param q = cn_param_get(g, i);
        memcpy(p, q.value->data, (size_t)cn_tensor_numel(q.value) * sizeof(cn_real));
        p += cn_tensor_numel(q.value);
    }
    *count = n;
    return out;
}

static int same_snapshot(const cn_graph *g, const cn_real *before, int64_t n) {
    int64_t m;
    cn_real *now = snapshot(g, &m);
    int same = m == n && memcmp(now, before, (size_t)n * sizeof(cn_real)) == 0;
    free(now);
    return same;
}

static char *read_file(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)*size + 1);
    if (fread(b, 1, (size_t)*size, f) != (size_t)*size) *size = -1;
    fclose(f);
    return b;
}

static void write_file(const char *path, const char *data, long size) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, (size_t)size, f);
    fclose(f);
}

static char *path_in_dir(const char *name) {
    static char buf[64][512]; /* rotating: each result stays valid for 63 more calls */
    static int k;
    char *p = buf[k++ % 64];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* No leftover temporary files in the test directory. */
static int count_temporaries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static cn_schedule_config plateau_config(void) {
    cn_schedule_config c = cn_schedule_config_make(CN_SCHED_PLATEAU, 0.01);
    c.patience = 1;
    return c;
}

/* A trained model, optimizer and state, saved. */
static void make_checkpoint(const char *path, cn_graph **gp, cn_optimizer **op, cn_schedule *sched) {
    cn_graph *g = model(3, 1, 0, 11);
    cn_optimizer_config cfg = cn_adam_config(0.01, 0.1);
    cn_optimizer *opt = cn_optimizer_create(g, &cfg);
    cn_schedule_config sc = plateau_config();
    cn_schedule_init(sched, &sc);
    for (int s = 0; s < 3; s++) {
        random_grads(g, 100 + (uint64_t)s);
        cn_optimizer_step(opt);
        cn_schedule_step(sched, 0.5);
    }
    const char *classes[] = {"cat", "dog \"big\"", "na\xc3\xafve\\x", ""};
    cn_train_state st = {.epoch = 3, .step = 42, .schedule = sched, .class_names = (char **)classes, .n_classes = 4};
    snprintf(st.model, sizeof st.model, "tiny-mlp");
    cn_rng_seed(&st.rng, 99, 7);
    cn_rng_u32(&st.rng);
    cn_rng_u32(graph_rng(g));
    CHECK_OK(cn_checkpoint_save(path, g, opt, &st));
    *gp = g;
    *op = opt;
}

static void round_trip(void) {
    const char *path = path_in_dir("model.safetensors");
    cn_graph *g;
    cn_optimizer *opt;
    cn_schedule sched;
    make_checkpoint(path, &g, &opt, &sched);

    /* the file is plain safetensors, names as in PyTorch state dicts */
    st_file f;
    CHECK_OK(st_read(path, &f));
    CHECK(st_find(&f, "fc1.weight") && st_find(&f, "bn1.running_mean") && st_find(&f, "optimizer.fc2.bias.exp_avg_sq"),
          "tensors fc1.weight, bn1.running_mean, optimizer.fc2.bias.exp_avg_sq");
    CHECK(st_metadata(&f, "model") && strcmp(st_metadata(&f, "model"), "tiny-mlp") == 0, "model name in metadata");
    CHECK(st_metadata(&f, "epoch") && strcmp(st_metadata(&f, "epoch"), "3") == 0, "epoch in metadata");
    CHECK(st_metadata(&f, "optimizer") && strcmp(st_metadata(&f, "optimizer"), "adam") == 0, "optimizer kind");
    st_free(&f);

    cn_graph *h = model(3, 1, 0, 12);  /* other values */
    cn_optimizer_config cfg = cn_adam_config(0.5, 0.1);
    cn_optimizer *opt2 = cn_optimizer_create(h, &cfg);
    cn_schedule sched2;
    cn_schedule_config sc = plateau_config();
    cn_schedule_init(&sched2, &sc);
    cn_train_state st = {.schedule = &sched2};
    CHECK_OK(cn_checkpoint_load(path, h, opt2, &st));
    int64_t n;
    cn_real *a = snapshot(g, &n);
    CHECK(same_snapshot(h, a, n), "parameters and buffers bit-exact");
    free(a);
    int same_state = cn_optimizer_state_count(opt) == cn_optimizer_state_count(opt2);
    for (int i = 0; same_state && i < cn_optimizer_state_count(opt); i++) {
        cn_optimizer_state x = cn_optimizer_state_get(opt, i), y = cn_optimizer_state_get(opt2, i);
        same_state = memcmp(x.value->data, y.value->data, (size_t)cn_tensor_numel(x.value) * sizeof(cn_real)) == 0;
    }
    CHECK(same_state, "optimizer state bit-exact");
    CHECK(cn_optimizer_steps(opt2) == 3 && cn_optimizer_lr(opt2) == 0.01, "optimizer step 3 and lr 0.01 restored");
    CHECK(st.epoch == 3 && st.step == 42 && strcmp(st.model, "tiny-mlp") == 0, "epoch, step, model");
    cn_rng r;
    cn_rng_seed(&r, 99, 7);
    cn_rng_u32(&r);
    CHECK(st.rng.state == r.state && st.rng.inc == r.inc, "training RNG restored");
    CHECK(graph_rng(h)->state == graph_rng(g)->state, "graph RNG restored");
    CHECK(sched2.epoch == 3 && sched2.lr == sched.lr && sched2.best == sched.best &&
              sched2.num_bad_epochs == sched.num_bad_epochs,
          "schedule restored (epoch %d lr %g)", sched2.epoch, sched2.lr);
    CHECK(st.n_classes == 4 && strcmp(st.class_names[1], "dog \"big\"") == 0 &&
              strcmp(st.class_names[2], "na\xc3\xafve\\x") == 0 && strcmp(st.class_names[3], "") == 0,
          "class names with quotes, backslashes and UTF-8");
    cn_train_state_free(&st);

    /* resuming continues exactly as the uninterrupted run */
    random_grads(g, 7);
    random_grads(h, 7);
    cn_optimizer_step(opt);
    cn_optimizer_step(opt2);
    a = snapshot(g, &n);
    CHECK(same_snapshot(h, a, n), "one more step after resume is bit-identical");
    free(a);

    /* weights only: no optimizer, no state */
    cn_graph *w = model(3, 1, 0, 13);
    CHECK_OK(cn_checkpoint_load(path, w, NULL, NULL));
    cn_graph_free(w);
    cn_optimizer_free(opt);
    cn_optimizer_free(opt2);
    cn_graph_free(g);
    cn_graph_free(h);
}

static void atomic_write(void) {
    const char *path = path_in_dir("atomic.safetensors");
    cn_graph *small = model(3, 0, 0, 1), *big = model(300, 1, 0, 2);
    CHECK_OK(cn_checkpoint_save(path, small, NULL, NULL));
    long size0, size1;
    char *old = read_file(path, &size0);

    /* forced failure in the middle of the write: a file size limit below the new file's size */
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = (rlim_t)size0 + 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    cn_status st = cn_checkpoint_save(path, big, NULL, NULL);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, prev);
    CHECK(st == CN_ERR_IO && strstr(cn_last_error(), "write failed, the previous file (if any) is unchanged"),
          "failed write reported: %s", cn_last_error());
    char *now = read_file(path, &size1);
    CHECK(now && size1 == size0 && memcmp(old, now, (size_t)size0) == 0, "the old checkpoint survives intact");
    CHECK(count_temporaries() == 0, "no temporary file left behind");
    cn_graph *check = model(3, 0, 0, 5);
    CHECK_OK(cn_checkpoint_load(path, check, NULL, NULL));
    free(now);

    /* a directory that does not exist; a target that is a directory */
    CHECK_ERROR(cn_checkpoint_save(path_in_dir("no/such/dir/x.safetensors"), small, NULL, NULL),
                "cannot create a temporary file beside it");
    const char *subdir = path_in_dir("sub");
    mkdir(subdir, 0755);
    CHECK_ERROR(cn_checkpoint_save(subdir, small, NULL, NULL), "cannot rename the temporary file over it");
    struct stat sb;
    CHECK(stat(subdir, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory is still there");
    CHECK(count_temporaries() == 0, "no temporary file left behind after a failed rename");
    rmdir(subdir);

    /* success replaces the file */
    CHECK_OK(cn_checkpoint_save(path, big, NULL, NULL));
    now = read_file(path, &size1);
    CHECK(size1 > size0, "the new checkpoint replaced the old");
    free(now);
    free(old);
    cn_graph_free(check);
    cn_graph_free(small);
    cn_graph_free(big);
}

/* Load must fail with `needle` in the message and leave graph, optimizer and schedule untouched. */
static void expect_rejected(const char *path, cn_graph *g, cn_optimizer *opt, cn_train_state *st, const char *needle,
                            const char *what) {
    int64_t n;
    cn_real *before = snapshot(g, &n);
    int64_t steps = opt ? cn_optimizer_steps(opt) : 0;
    cn_schedule sched_before = st && st->schedule ? *st->schedule : (cn_schedule){0};
    cn_status s = cn_checkpoint_load(path, g, opt, st);
    CHECK(s != CN_OK && strstr(cn_last_error(), needle), "%s: expected \"%s\", got %s \"%s\"", what, needle,
          cn_status_name(s), cn_last_error());
    CHECK(same_snapshot(g, before, n), "%s: graph unchanged", what);
    CHECK(!opt || cn_optimizer_steps(opt) == steps, "%s: optimizer unchanged", what);
    CHECK(!st || !st->schedule || memcmp(&sched_before, st->schedule, sizeof sched_before) == 0, "%s: schedule unchanged", what);
    free(before);
}

static void rejections(void) {
    const char *path = path_in_dir("good.safetensors");
    cn_graph *g;
    cn_optimizer *opt;
    cn_schedule sched;
    make_checkpoint(path, &g, &opt, &sched);
    long size;
    char *good = read_file(path, &size);
    cn_graph *h = model(3, 1, 0, 21);
    char msg[512];

    const char *trunc = path_in_dir("truncated.safetensors");
    write_file(trunc, good, size - 10);
    expect_rejected(trunc, h, NULL, NULL, "data offsets outside the file (truncated?)", "truncated data");
    write_file(trunc, good, 40);
    expect_rejected(trunc, h, NULL, NULL, "runs past the end of the file (truncated or not safetensors)", "truncated header");
    write_file(trunc, good, 5);
    expect_rejected(trunc, h, NULL, NULL, "too short for a safetensors file", "5 bytes");

    const char *corrupt = path_in_dir("corrupt.safetensors");
    char *bad = malloc((size_t)size);
    memcpy(bad, good, (size_t)size);
    bad[8] = '[';
    write_file(corrupt, bad, size);
    expect_rejected(corrupt, h, NULL, NULL, "bad safetensors header", "corrupt header");
    expect_rejected(path_in_dir("missing.safetensors"), h, NULL, NULL, "cannot open", "missing file");
    free(bad);

    cn_graph *wider = model(6, 1, 0, 22);  /* fc1 has 6 outputs: another model */
    snprintf(msg, sizeof msg, "checkpoint %s: fc1.weight has shape 3x5, the model expects 6x5", path);
    expect_rejected(path, wider, NULL, NULL, msg, "other model");
    cn_graph *deeper = model(3, 1, 1, 23);
    expect_rejected(path, deeper, NULL, NULL, "parameter fc3.weight is missing", "missing tensor");
    cn_graph *no_bn = model(3, 0, 0, 24);
    expect_rejected(path, no_bn, NULL, NULL, "holds bn1.weight, which the model does not have (another model?)", "extra tensor");

    cn_optimizer_config sgd = cn_sgd_config(0.1, 0.9, 0, 0);
    cn_optimizer *o = cn_optimizer_create(h, &sgd);
    expect_rejected(path, h, o, NULL, "optimizer state is for adam, the optimizer is sgd", "optimizer kind");
    cn_optimizer_free(o);

    cn_schedule cos;
    cn_schedule_config cc = cn_schedule_config_make(CN_SCHED_COSINE, 0.1);
    cn_schedule_init(&cos, &cc);
    cn_train_state st = {.schedule = &cos};
    cn_optimizer_config adam = cn_adam_config(0.1, 0);
    o = cn_optimizer_create(h, &adam);
    expect_rejected(path, h, o, &st, "schedule state is for a plateau schedule, this one is cosine", "schedule kind");

    /* a fault found last (class names) still changes nothing */
    const char *weird = path_in_dir("weird.safetensors");
    st_file f;
    CHECK_OK(st_read(path, &f));
    st_write_tensor t[32];
    st_meta_entry meta[32];
    int nt = 0, nm = 0;
    for (int i = 0; i < f.count && nt < 32; i++)
        t[nt++] = (st_write_tensor){f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, f.tensors[i].dims,
                                    f.tensors[i].data, f.tensors[i].bytes};
    for (const json_value *e = f.metadata ? f.metadata->child : NULL; e && nm < 32; e = e->next)
        meta[nm++] = (st_meta_entry){e->key, strcmp(e->key, "class_names") == 0 ? "[1, 2]" : e->string};
    CHECK_OK(st_write(weird, t, nt, meta, nm));
    cn_schedule pl;
    cn_schedule_config pc = plateau_config();
    cn_schedule_init(&pl, &pc);
    st.schedule = &pl;
    expect_rejected(weird, h, o, &st, "metadata 'class_names' holds a non-string", "bad class names");
    /* a plain safetensors file (no convnet metadata) loads as weights only */
    CHECK_OK(st_write(weird, t, nt, NULL, 0));
    expect_rejected(weird, h, o, &st, "is a plain safetensors file without training state", "plain file with state");
    CHECK_OK(cn_checkpoint_load(weird, h, NULL, NULL));
    st_free(&f);

    CHECK_ERROR(cn_checkpoint_load(NULL, h, NULL, NULL), "must not be NULL");
    CHECK_ERROR(cn_checkpoint_save(path, NULL, NULL, NULL), "must not be NULL");

    free(good);
    cn_optimizer_free(o);
    cn_optimizer_free(opt);
    cn_graph_free(g);
    cn_graph_free(h);
    cn_graph_free(wider);
    cn_graph_free(deeper);
    cn_graph_free(no_bn);
}

/* st_write's own argument checks. */
static void writer_errors(void) {
    const char *path = path_in_dir("w.safetensors");
    float v[6] = {0};
    int64_t dims[2] = {2, 3};
    st_write_tensor t[2] = {{"a", "F32", 2, dims, v, 24}, {"a", "F32", 2, dims, v, 24}};
    CHECK_ERROR(st_write(path, t, 2, NULL, 0), "tensor name 'a' appears twice");
    t[0].bytes = 20;
    CHECK_ERROR(st_write(path, t, 1, NULL, 0), "tensor 'a' has 20 bytes, its shape needs 24");
    t[0].bytes = 24;
    t[0].dtype = "F99";
    CHECK_ERROR(st_write(path, t, 1, NULL, 0), "bad dtype");
    t[0].dtype = "F32";
    st_meta_entry m = {"k", "line\nbreak \"quoted\" \x01"};
    CHECK_OK(st_write(path, t, 1, &m, 1));
    st_file f;
    CHECK_OK(st_read(path, &f));
    CHECK(st_metadata(&f, "k") && strcmp(st_metadata(&f, "k"), m.value) == 0, "metadata escapes round trip");
    CHECK(f.count == 1 && st_numel(&f.tensors[0]) == 6, "one 2x3 tensor");
    st_free(&f);
    CHECK(access(path_in_dir("w.safetensors"), F_OK) == 0 && count_temporaries() == 0, "written, no temporaries");
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') unlink(path_in_dir(e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cn_checkpoint_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    round_trip();
    atomic_write();
    rejections();
    writer_errors();
    remove_dir();
    return cn_test_finish();
}
