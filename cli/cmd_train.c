/* cmd_train.c — `convnet train MODEL --data DATASET [options]`: train a zoo model, write checkpoints and
 * metrics, evaluate on the test split. See train_options.c for the options. */
#include "cli.h"
#include "data_spec.h"
#include "train_options.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    train_options o;
    cn_dataset train, val, test;
    bool has_test, has_val;
    cn_graph *g;
    int input, labels, logits, loss;
    cn_optimizer *opt;
    cn_schedule sched;
    cn_train_state state;
    cn_loader *train_loader, *val_loader, *test_loader;
    float mean[4], std[4];
    char out_dir[512], last_path[600], best_path[600], metrics_path[600];
} trainer;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static cn_status make_dirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return cn_error(CN_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return cn_error(CN_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
    return CN_OK;
}

static cn_status parse_schedule(const train_options *o, cn_schedule_config *c) {
    const char *s = o->schedule;
    cn_schedule_kind kind = strcmp(s, "plateau") == 0 ? CN_SCHED_PLATEAU
                          : strcmp(s, "cosine") == 0  ? CN_SCHED_COSINE
                          : strncmp(s, "step:", 5) == 0 ? CN_SCHED_MULTISTEP
                                                        : CN_SCHED_CONSTANT;
    *c = cn_schedule_config_make(kind, o->lr);
    c->warmup_epochs = (int)o->warmup;
    if (kind == CN_SCHED_COSINE) c->t_max = (int)(o->epochs - o->warmup > 0 ? o->epochs - o->warmup : 1);
    if (kind == CN_SCHED_PLATEAU) c->patience = 2;
    if (kind == CN_SCHED_MULTISTEP) {
        const char *p = s + 5;
        while (*p) {
            char *end;
            long e = strtol(p, &end, 10);
            if (end == p || e < 1 || c->n_milestones >= CN_SCHED_MAX_MILESTONES ||
                (c->n_milestones && e <= c->milestones[c->n_milestones - 1]))
                return cn_error(CN_ERR_INVALID, "--schedule %s: expected step:E1,E2,... with increasing epochs", s);
            c->milestones[c->n_milestones++] = (int)e;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') return cn_error(CN_ERR_INVALID, "--schedule %s: expected step:E1,E2,...", s);
        }
        if (!c->n_milestones) return cn_error(CN_ERR_INVALID, "--schedule %s: no epochs given", s);
    }
    return CN_OK;
}

/* Data: the training set (minus a validation part), the test split, per-channel statistics, loaders. */
static cn_status open_data(trainer *t, int *in_h, int *in_w) {
    bool splits;
    cn_status st = cli_load_dataset(t->o.data, true, 0, 0, 0, &t->train, &splits);
    if (st) return st;
    if (splits) {
        st = cli_load_dataset(t->o.data, false, t->train.channels, t->train.height, t->train.width, &t->test, &splits);
        if (st) return st;
        t->has_test = true;
    }
    if (t->o.limit && t->train.count > t->o.limit) t->train.count = t->o.limit;  /* the buffers stay as they are */
    if (t->o.limit && t->test.count > t->o.limit) t->test.count = t->o.limit;
    if (t->o.val_split > 0) {
        if ((st = cn_dataset_split(&t->train, t->o.val_split, (uint64_t)t->o.seed, &t->val))) return st;
        t->has_val = true;
    }
    if (t->train.channels > 4) return cn_error(CN_ERR_UNSUPPORTED, "images with %d channels", t->train.channels);
    if ((st = cn_dataset_channel_stats(&t->train, t->mean, t->std))) return st;
    cn_augment aug, test_aug;
    if ((st = cli_parse_augment(t->o.augment, t->train.height, t->train.width, &aug, &test_aug, in_h, in_w))) return st;
    cn_loader_config c = {.batch_size = (int)t->o.batch_size, .shuffle = 1, .drop_last = 1, .prefetch = 1,
                          .seed = (uint64_t)t->o.seed, .mean = t->mean, .std = t->std, .augment = aug};
    if (t->train.count < t->o.batch_size)
        return cn_error(CN_ERR_INVALID, "the training set has %lld images, fewer than one batch of %ld",
                        (long long)t->train.count, t->o.batch_size);
    if (!(t->train_loader = cn_loader_create(&t->train, &c))) return CN_ERR_INVALID;
    cn_loader_config e = c;
    e.shuffle = 0, e.drop_last = 0, e.augment = test_aug;
    if (t->has_val && !(t->val_loader = cn_loader_create(&t->val, &e))) return CN_ERR_INVALID;
    if (t->has_test && !(t->test_loader = cn_loader_create(&t->test, &e))) return CN_ERR_INVALID;
    return CN_OK;
}

static cn_status build_model(trainer *t, int in_h, int in_w) {
    if (strlen(t->o.model) >= sizeof t->state.model) /* the checkpoint names the model: it must fit */
        return cn_error(CN_ERR_INVALID, "model path '%s' is longer than the %d characters a checkpoint stores",
                        t->o.model, (int)sizeof t->state.model - 1);
    if (!(t->g = cn_graph_create())) return CN_ERR_NOMEM;
    cn_graph_set_seed(t->g, (uint64_t)t->o.seed);
    int64_t b = t->o.batch_size;
    t->input = cn_input(t->g, "input", cn_shape4(b, t->train.channels, in_h, in_w));
    t->labels = cn_input(t->g, "labels", cn_shape_make(1, &b));
    if (t->input < 0 || t->labels < 0) return CN_ERR_INVALID;
    /* no gradient for the data and the labels: saves memory and the first layer's data-gradient pass */
    if (cn_input_set_grad(t->g, t->input, 0) || cn_input_set_grad(t->g, t->labels, 0)) return CN_ERR_INVALID;
    if ((t->logits = cn_model_build(t->g, t->o.model, t->input, t->train.num_classes)) < 0) return CN_ERR_INVALID;
    t->loss = cn_cross_entropy(t->g, "loss", t->logits, t->labels, (float)t->o.label_smoothing);
    if (t->loss < 0 || cn_graph_mark_output(t->g, t->logits)) return CN_ERR_INVALID;  /* read in eval mode too */
    if (strcmp(t->o.init, "default") != 0) { /* Xavier/Glorot or Kaiming/He on the weights, zero biases */
        const char *k = t->o.init;
        cn_init_kind kind = strcmp(k, "xavier") == 0          ? CN_INIT_XAVIER_UNIFORM
                          : strcmp(k, "xavier-normal") == 0   ? CN_INIT_XAVIER_NORMAL
                          : strcmp(k, "kaiming-normal") == 0  ? CN_INIT_KAIMING_NORMAL
                                                              : CN_INIT_KAIMING_UNIFORM;
        cn_status st = cn_init_graph(t->g, kind, (uint64_t)t->o.seed);
        if (st) return st;
    }
    cn_optimizer_config oc = strcmp(t->o.optimizer, "adam") == 0  ? cn_adam_config(t->o.lr, t->o.weight_decay)
                           : strcmp(t->o.optimizer, "adamw") == 0 ? cn_adamw_config(t->o.lr, t->o.weight_decay)
                                                                  : cn_sgd_config(t->o.lr, t->o.momentum, t->o.weight_decay, t->o.nesterov);
    if (!(t->opt = cn_optimizer_create(t->g, &oc))) return CN_ERR_INVALID;
    cn_schedule_config sc;
    cn_status st = parse_schedule(&t->o, &sc);
    if (!st) st = cn_schedule_init(&t->sched, &sc);
    if (st) return st;
    snprintf(t->state.model, sizeof t->state.model, "%s", t->o.model);
    cn_rng_seed(&t->state.rng, (uint64_t)t->o.seed, 0x747261696eULL); /* the loop's own (the loader seeds per sample) */
    t->state.schedule = &t->sched;
    t->state.class_names = t->train.class_names;
    t->state.n_classes = t->train.num_classes;
    t->state.input_shape[0] = t->train.channels, t->state.input_shape[1] = in_h, t->state.input_shape[2] = in_w;
    t->state.n_norm = t->train.channels;
    memcpy(t->state.norm_mean, t->mean, sizeof t->mean);
    memcpy(t->state.norm_std, t->std, sizeof t->std);
    if (t->o.resume) {
        cn_train_state loaded = {.schedule = &t->sched};
        if ((st = cn_checkpoint_load(t->o.resume, t->g, t->opt, &loaded))) return st;
        if (strcmp(loaded.model, t->o.model) != 0) {
            cn_train_state_free(&loaded);
            return cn_error(CN_ERR_INVALID, "%s was trained as model '%s', not '%s'", t->o.resume, loaded.model, t->o.model);
        }
        t->state.epoch = loaded.epoch;
        t->state.step = loaded.step;
        t->state.rng = loaded.rng;
        cn_train_state_free(&loaded);
    }
    return CN_OK;
}

static void progress(const trainer *t, int64_t epoch, int64_t batch, int64_t batches, double loss, double acc,
                     double ips, double elapsed) {
    double left = ips > 0 ? (double)(batches - batch) * (double)t->o.batch_size / ips : 0;
    int width = 24, filled = (int)(width * batch / (batches ? batches : 1));
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\repoch %lld/%ld [%s] %3d%% loss %.4f acc %5.2f%% %5.0f img/s %4.0fs, %3.0fs left ", (long long)epoch + 1,
            t->o.epochs, bar, (int)(100 * batch / (batches ? batches : 1)), loss, 100 * acc, ips, elapsed, left);
}

/* One epoch over the training loader; NaN or infinite loss stops with the step named. */
static cn_status train_epoch(trainer *t, int64_t epoch, double *loss_out, double *acc_out, double *ips_out) {
    bool tty = isatty(2);
    int64_t batches = cn_loader_batches_per_epoch(t->train_loader), b = 0, seen = 0, correct = 0;
    double loss_sum = 0, start = now(), last_draw = 0;
    cn_status st = cn_loader_reset(t->train_loader, epoch);
    cn_optimizer_set_lr(t->opt, cn_schedule_lr(&t->sched));
    cn_batch batch;
    int r = 0;
    int classes = t->train.num_classes;
    while (!st && (r = cn_loader_next(t->train_loader, &batch)) == 1) {
        if ((st = cn_set_input(t->g, t->input, batch.images, cn_shape_numel(&batch.shape))) ||
            (st = cn_set_input(t->g, t->labels, batch.labels, batch.count)) || (st = cn_forward(t->g, CN_TRAIN)))
            break;
        double loss = (double)cn_node_output(t->g, t->loss)[0];
        if (!isfinite(loss))
            return cn_error(CN_ERR_NUMERIC, "loss became %s at epoch %lld, step %lld (batch %lld); stopped, the last good checkpoint is kept",
                            isnan(loss) ? "NaN" : "infinite", (long long)epoch + 1, (long long)t->state.step + 1, (long long)b + 1);
        cn_zero_grad(t->g);
        if ((st = cn_backward(t->g, t->loss, NULL)) || (st = cn_optimizer_step(t->opt))) break;
        t->state.step++;
        const cn_real *z = cn_node_output(t->g, t->logits);
        for (int64_t i = 0; i < batch.count; i++) {
            int pred = 0;
            for (int k = 1; k < classes; k++)
                if (z[i * classes + k] > z[i * classes + pred]) pred = k;
            correct += pred == batch.label_ids[i];
        }
        loss_sum += loss * (double)batch.count;
        seen += batch.count;
        b++;
        double elapsed = now() - start;
        if (tty && (elapsed - last_draw > 0.2 || b == batches)) {
            progress(t, epoch, b, batches, loss_sum / (double)seen, (double)correct / (double)seen, (double)seen / elapsed, elapsed);
            last_draw = elapsed;
        }
    }
    if (tty) fputc('\r', stderr);
    if (!st && r < 0) st = CN_ERR_INVALID;
    if (st) return st;
    *loss_out = seen ? loss_sum / (double)seen : 0;
    *acc_out = seen ? (double)correct / (double)seen : 0;
    *ips_out = (double)seen / (now() - start);
    return CN_OK;
}

static void free_trainer(trainer *t) {
    cn_loader_free(t->train_loader);
    cn_loader_free(t->val_loader);
    cn_loader_free(t->test_loader);
    cn_optimizer_free(t->opt);
    cn_graph_free(t->g);
    cn_dataset_free(&t->train);
    cn_dataset_free(&t->val);
    cn_dataset_free(&t->test);
}

static int fail(trainer *t, const char *what) {
    int code = cli_fail(1, "train: %s%s", what, cn_last_error());
    free_trainer(t);
    return code;
}

static cn_status append_metrics(trainer *t, bool fresh, int64_t epoch, double tl, double ta, const cli_eval *v,
                                double lr, double secs, double ips) {
    FILE *f = fopen(t->metrics_path, fresh ? "w" : "a");
    if (!f) return cn_error(CN_ERR_IO, "%s: cannot write: %s", t->metrics_path, strerror(errno));
    if (fresh) fprintf(f, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second\n");
    if (v) fprintf(f, "%lld,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f\n", (long long)epoch, tl, ta, v->loss, v->accuracy, lr, secs, ips);
    else fprintf(f, "%lld,%.6f,%.6f,,,%.6g,%.3f,%.1f\n", (long long)epoch, tl, ta, lr, secs, ips);
    int bad = ferror(f);
    return fclose(f) || bad ? cn_error(CN_ERR_IO, "%s: write failed", t->metrics_path) : CN_OK;
}

int cmd_train(int argc, char **argv) {
    trainer t = {0};
    int pr = train_options_parse(argc, argv, &t.o);
    if (pr) return pr == 1 ? 0 : 2;
    if (t.o.threads > 0) omp_set_num_threads((int)t.o.threads);
    if (t.o.out) snprintf(t.out_dir, sizeof t.out_dir, "%s", t.o.out);
    else { /* a model file (.onnx, .txt): runs/ its base name without the extension */
        const char *base = strrchr(t.o.model, '/') ? strrchr(t.o.model, '/') + 1 : t.o.model;
        const char *dot = strrchr(base, '.');
        int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        snprintf(t.out_dir, sizeof t.out_dir, "runs/%.*s", len, base);
    }
    snprintf(t.last_path, sizeof t.last_path, "%s/model.safetensors", t.out_dir);
    snprintf(t.best_path, sizeof t.best_path, "%s/best.safetensors", t.out_dir);
    snprintf(t.metrics_path, sizeof t.metrics_path, "%s/metrics.csv", t.out_dir);
    int in_h, in_w;
    if (open_data(&t, &in_h, &in_w)) return fail(&t, "");
    if (build_model(&t, in_h, in_w)) return fail(&t, "");
    if (make_dirs(t.out_dir)) return fail(&t, "");
    fprintf(stderr, "training %s (%lld parameters) on %lld images of %dx%dx%d, %d classes%s; %s, lr %g, batch %ld, %d threads\n",
            t.o.model, (long long)cn_graph_num_trainable(t.g), (long long)t.train.count, t.train.channels, in_h, in_w,
            t.train.num_classes, t.has_val ? " (validation split held out)" : "", t.o.optimizer, t.o.lr, t.o.batch_size,
            omp_get_max_threads());
    double best = -1;
    bool fresh = t.state.epoch == 0;
    for (int64_t epoch = t.state.epoch; epoch < t.o.epochs; epoch++) {
        double start = now(), tl = 0, ta = 0, ips = 0, lr = cn_schedule_lr(&t.sched);
        if (train_epoch(&t, epoch, &tl, &ta, &ips)) return fail(&t, "");
        cli_eval v = {0};
        if (t.has_val && cli_evaluate(t.g, t.input, t.logits, t.val_loader, t.train.num_classes, &v)) return fail(&t, "validation: ");
        double secs = now() - start;
        if (cn_schedule_step(&t.sched, t.has_val ? v.accuracy : ta)) return fail(&t, "");
        t.state.epoch = epoch + 1;
        if (cn_checkpoint_save(t.last_path, t.g, t.opt, &t.state)) return fail(&t, "");
        if (t.has_val && v.accuracy > best) {
            best = v.accuracy;
            if (cn_checkpoint_save(t.best_path, t.g, t.opt, &t.state)) return fail(&t, "");
        }
        if (append_metrics(&t, fresh, epoch + 1, tl, ta, t.has_val ? &v : NULL, lr, secs, ips)) return fail(&t, "");
        fresh = false;
        if (t.has_val)
            fprintf(stderr, "epoch %lld/%ld: train loss %.4f acc %.2f%%, val loss %.4f acc %.2f%%, lr %.4g, %.1f s, %.0f img/s\n",
                    (long long)epoch + 1, t.o.epochs, tl, 100 * ta, v.loss, 100 * v.accuracy, lr, secs, ips);
        else
            fprintf(stderr, "epoch %lld/%ld: train loss %.4f acc %.2f%%, lr %.4g, %.1f s, %.0f img/s      \n",
                    (long long)epoch + 1, t.o.epochs, tl, 100 * ta, lr, secs, ips);
        cli_eval_free(&v);
    }
    if (!t.has_val && cn_checkpoint_save(t.best_path, t.g, t.opt, &t.state)) return fail(&t, ""); /* best = last */
    if (t.has_test) {
        cli_eval e;
        if (cli_evaluate(t.g, t.input, t.logits, t.test_loader, t.train.num_classes, &e)) return fail(&t, "test: ");
        printf("test accuracy %.2f%% (loss %.4f) on %lld images\n", 100 * e.accuracy, e.loss, (long long)e.count);
        cli_eval_free(&e);
    }
    printf("checkpoint: %s\n", t.last_path);
    free_trainer(&t);
    return 0;
}
