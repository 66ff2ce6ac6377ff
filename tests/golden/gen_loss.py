"""Golden cases for the losses: softmax cross-entropy (label smoothing), multiclass SVM hinge, MSE.

Each loss is a scalar; the upstream gradient gout is a random scalar (not 1) so that scaling by it is
tested too. Labels are class indices stored as floats and get no gradient."""
import torch
import torch.nn.functional as F
from golden_common import rand, save

FAM = "loss"


def loss_case(name, op, attrs, fn, inputs, grad_inputs, seed):
    """fn(*inputs) -> scalar in float64; saves in.*, out, gout, grad.in.<i> for i in grad_inputs."""
    torch.manual_seed(seed)
    xs = [x.clone().double().requires_grad_(i in grad_inputs) for i, x in enumerate(inputs)]
    y = fn(*xs)
    gout = rand(1, lo=0.5, hi=2.0)
    y.backward(gout[0])
    t = {"in.%d" % i: x for i, x in enumerate(xs)}
    t["out"] = y.reshape(1)
    t["gout"] = gout
    for i in grad_inputs:
        t["grad.in.%d" % i] = xs[i].grad
    save(FAM, name, op, attrs, t)


def labels(n, c):
    return torch.randint(0, c, (n,)).double()


def generate():
    # softmax cross-entropy: PyTorch's F.cross_entropy(label_smoothing=s), mean over the batch
    for name, (n, c, s, scale) in {
        "ce_b1_c2_s0": (1, 2, 0.0, 2.0),
        "ce_b4_c10_s0.1": (4, 10, 0.1, 3.0),
        "ce_b5_c13_s0.3": (5, 13, 0.3, 3.0),
        "ce_b3_c7_s1": (3, 7, 1.0, 3.0),
        "ce_b6_c11_s0.1_large": (6, 11, 0.1, 1000.0),  # logits up to 1000: exp would overflow without log-sum-exp
    }.items():
        torch.manual_seed(len(name) * 7 + n)
        x, y = rand(n, c) * scale, labels(n, c)
        loss_case(name, "SoftmaxCrossEntropyLoss", {"label_smoothing": s},
                  lambda x, y, s=s: F.cross_entropy(x, y.long(), label_smoothing=s), [x, y], [0], seed=n)

    # multiclass SVM (lecture): PyTorch's MultiMarginLoss(p=1, margin) is that divided by C
    for name, (n, c, m) in {
        "hinge_b1_c2_m1": (1, 2, 1.0),
        "hinge_b4_c10_m1": (4, 10, 1.0),
        "hinge_b5_c13_m0.5": (5, 13, 0.5),
        "hinge_b3_c7_m0.5": (3, 7, 0.5),
    }.items():
        torch.manual_seed(len(name) * 11 + n)
        x, y = rand(n, c) * 1.5, labels(n, c)
        loss_case(name, "HingeLoss", {"margin": m},
                  lambda x, y, m=m, c=c: F.multi_margin_loss(x, y.long(), p=1, margin=m) * c, [x, y], [0], seed=c)

    # MSE over all elements, gradients to prediction and target
    for name, shape in {
        "mse_1x1": (1, 1),
        "mse_4x10": (4, 10),
        "mse_2x3x5x7": (2, 3, 5, 7),
        "mse_2x2x3x3x5": (2, 2, 3, 3, 5),
    }.items():
        torch.manual_seed(len(shape) + shape[-1])
        p, t = rand(*shape), rand(*shape)
        loss_case(name, "MSELoss", {}, lambda p, t: F.mse_loss(p, t), [p, t], [0, 1], seed=len(shape))
