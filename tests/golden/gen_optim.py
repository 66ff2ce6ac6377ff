"""Golden cases for the optimizers and the learning-rate schedules (family "optim").

Optimizers (op SGD / Adam / AdamW): the parameters of a small graph x(1,5) -> fc1(3) -> fc2(7) get
injected gradients (no forward/backward: the op branches are tested elsewhere). PyTorch runs 3 steps in
float64 from float32 initial values and float32 gradients. Tensors:
  init.<param>      the parameter before the first step
  grad<s>.<param>   the gradient given at step s (0, 1, 2)
  after<s>.<param>  the parameter after step s
Schedules (op LR): the learning rate of each epoch from torch.optim.lr_scheduler, stepping once per epoch
(after the epoch's optimizer step); tensors "lr" (the rate used during epoch e) and "metric" (the
validation accuracy reported at the end of epoch e, for ReduceLROnPlateau).
Warm-up composes like SequentialLR([LinearLR(start_factor, total_iters=E), schedule], milestones=[E]);
ReduceLROnPlateau cannot sit in a SequentialLR, so for it the composition is done by hand the way the C
code defines it: LinearLR for E epochs (metrics ignored), then ReduceLROnPlateau starting at the base rate.
"""
import torch
from golden_common import save

PARAMS = [("fc1.weight", (3, 5)), ("fc1.bias", (3,)), ("fc2.weight", (7, 3)), ("fc2.bias", (7,))]
STEPS = 3
EPOCHS = 12


def f32(t):
    return t.float().double()


def optimizer_case(name, op, attrs, make):
    g = torch.Generator().manual_seed(len(name) * 7919)
    params, tensors = [], {}
    for pname, shape in PARAMS:
        w = f32(torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1)
        tensors["init." + pname] = w.clone()
        params.append(torch.nn.Parameter(w))
    opt = make(params)
    for s in range(STEPS):
        for (pname, shape), p in zip(PARAMS, params):
            # gradients of varied scale per step; a few exact zeros (Adam: 0 / (0 + eps))
            grad = torch.randn(shape, generator=g, dtype=torch.float64) * (0.5 + s)
            grad.view(-1)[0] = 0.0
            grad = f32(grad)
            tensors["grad%d.%s" % (s, pname)] = grad
            p.grad = grad.clone()
        opt.step()
        for (pname, _), p in zip(PARAMS, params):
            tensors["after%d.%s" % (s, pname)] = p.detach().clone()
    save("optim", name, op, attrs, tensors)


def optimizers():
    sgd = lambda lr, m=0.0, wd=0.0, nest=False: (
        "SGD", {"lr": lr, "momentum": m, "weight_decay": wd, "nesterov": int(nest)},
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=m, weight_decay=wd, nesterov=nest))
    adam = lambda cls, op, lr, wd=0.0, betas=(0.9, 0.999), eps=1e-8: (
        op, {"lr": lr, "weight_decay": wd, "beta1": betas[0], "beta2": betas[1], "eps": eps},
        lambda ps: cls(ps, lr=lr, weight_decay=wd, betas=betas, eps=eps))
    cases = {
        "sgd_plain": sgd(0.1),
        "sgd_momentum": sgd(0.1, 0.9),
        "sgd_nesterov": sgd(0.1, 0.9, nest=True),
        "sgd_weight_decay": sgd(0.1, wd=5e-4),
        "sgd_momentum_weight_decay": sgd(0.1, 0.9, wd=5e-4),
        "sgd_nesterov_weight_decay": sgd(0.05, 0.5, wd=1e-2, nest=True),
        "adam": adam(torch.optim.Adam, "Adam", 0.05),
        "adam_weight_decay": adam(torch.optim.Adam, "Adam", 0.05, wd=0.1),
        "adam_betas_eps": adam(torch.optim.Adam, "Adam", 0.02, betas=(0.8, 0.99), eps=1e-3),
        "adamw": adam(torch.optim.AdamW, "AdamW", 0.05, wd=0.1),
        "adamw_default_decay": adam(torch.optim.AdamW, "AdamW", 0.01, wd=0.01),
    }
    for name, (op, attrs, make) in cases.items():
        optimizer_case("opt_" + name, op, attrs, make)


def schedule_case(name, attrs, make, metrics=None):
    """make(opt) returns (scheduler, step(epoch, metric))."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=attrs["base_lr"])
    step = make(opt)
    metrics = metrics or [0.0] * EPOCHS
    lrs = []
    for e in range(len(metrics)):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient: a no-op that keeps PyTorch's ordering check quiet
        step(e, metrics[e])
    save("optim", name, "LR", attrs, {"lr": torch.tensor(lrs), "metric": torch.tensor(metrics)})


def sequential(opt, E, start, main):
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=start, total_iters=E)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warm, main(opt)], milestones=[E])


def schedules():
    lr_s = torch.optim.lr_scheduler
    base = {"base_lr": 0.1, "gamma": 0.1, "warmup_epochs": 0, "warmup_start_factor": 1.0}

    def plain(sched):
        return lambda opt: (lambda s: (lambda e, m: s.step()))(sched(opt))

    schedule_case("lr_step", dict(base, kind="step", step_size=3),
                  plain(lambda o: lr_s.StepLR(o, step_size=3, gamma=0.1)))
    schedule_case("lr_step_gamma_half", dict(base, kind="step", step_size=2, gamma=0.5),
                  plain(lambda o: lr_s.StepLR(o, step_size=2, gamma=0.5)))
    schedule_case("lr_multistep", dict(base, kind="multistep", milestones=[2, 5, 9]),
                  plain(lambda o: lr_s.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.1)))
    schedule_case("lr_cosine", dict(base, kind="cosine", t_max=10, eta_min=0.001),
                  plain(lambda o: lr_s.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
                  [0.0] * 15)
    # accuracy rises, stalls (tiny gains below the relative threshold 1e-4 do not count), rises, stalls
    acc = [0.50, 0.60, 0.65, 0.65, 0.650001, 0.64, 0.70, 0.71, 0.71, 0.70, 0.70, 0.69, 0.69, 0.69]
    schedule_case("lr_plateau", dict(base, kind="plateau", patience=2, threshold=1e-4, cooldown=0, min_lr=0.0),
                  lambda o: (lambda s: (lambda e, m: s.step(m)))(
                      lr_s.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=2)), acc)
    schedule_case("lr_plateau_cooldown_minlr",
                  dict(base, kind="plateau", patience=1, threshold=1e-4, cooldown=2, min_lr=5e-4),
                  lambda o: (lambda s: (lambda e, m: s.step(m)))(
                      lr_s.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=1, cooldown=2, min_lr=5e-4)),
                  [0.5] * 14)
    schedule_case("lr_warmup_step", dict(base, kind="step", step_size=4, gamma=0.5, warmup_epochs=3,
                                         warmup_start_factor=0.25),
                  plain(lambda o: sequential(o, 3, 0.25, lambda o2: lr_s.StepLR(o2, step_size=4, gamma=0.5))))
    schedule_case("lr_warmup_multistep", dict(base, kind="multistep", milestones=[3, 6], warmup_epochs=2,
                                              warmup_start_factor=0.5),
                  plain(lambda o: sequential(o, 2, 0.5, lambda o2: lr_s.MultiStepLR(o2, milestones=[3, 6], gamma=0.1))))
    schedule_case("lr_warmup_cosine", dict(base, kind="cosine", t_max=8, eta_min=0.0, warmup_epochs=4,
                                           warmup_start_factor=1.0 / 3.0),
                  plain(lambda o: sequential(o, 4, 1.0 / 3.0, lambda o2: lr_s.CosineAnnealingLR(o2, T_max=8))))

    def warmup_plateau(opt, E=3, start=0.2):
        warm = lr_s.LinearLR(opt, start_factor=start, total_iters=E)
        state = {}

        def step(e, m):
            if e < E:
                warm.step()
                if e == E - 1:  # the plateau schedule starts at the base rate after the warm-up
                    for grp in opt.param_groups:
                        grp["lr"] = 0.1
                    state["plateau"] = lr_s.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=1)
            else:
                state["plateau"].step(m)
        return step

    schedule_case("lr_warmup_plateau", dict(base, kind="plateau", patience=1, threshold=1e-4, cooldown=0,
                                            min_lr=0.0, warmup_epochs=3, warmup_start_factor=0.2),
                  warmup_plateau, [0.9, 0.1, 0.1, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7])


def generate():
    optimizers()
    schedules()
