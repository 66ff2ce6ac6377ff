"""Write torchvision's state-dict keys and shapes for the zoo models that torchvision has, one file per
model in keys/<zoo name>.txt, one "key shape" line per tensor in state-dict order (shape "64x3x7x7", "-" for
a 0-dimensional tensor such as num_batches_tracked). tests/test_zoo_big.c builds each zoo model at 3x224x224
with 1000 classes and checks that its parameters have exactly these names, shapes and order.

Run with Debian's PyTorch: cd tests/zoo && /usr/bin/python3 gen_keys.py
"""
import os

import torchvision.models as tvm

MODELS = {
    "alexnet": lambda: tvm.alexnet(),
    "vgg11": lambda: tvm.vgg11(),
    "vgg11-bn": lambda: tvm.vgg11_bn(),
    "vgg13": lambda: tvm.vgg13(),
    "vgg13-bn": lambda: tvm.vgg13_bn(),
    "vgg16": lambda: tvm.vgg16(),
    "vgg16-bn": lambda: tvm.vgg16_bn(),
    "vgg19": lambda: tvm.vgg19(),
    "vgg19-bn": lambda: tvm.vgg19_bn(),
    "googlenet": lambda: tvm.googlenet(aux_logits=False, init_weights=False),
    "resnet18": lambda: tvm.resnet18(),
    "resnet34": lambda: tvm.resnet34(),
    "resnet50": lambda: tvm.resnet50(),
    "resnet101": lambda: tvm.resnet101(),
    "resnet152": lambda: tvm.resnet152(),
}


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keys")
    os.makedirs(out_dir, exist_ok=True)
    for name, make in MODELS.items():
        model = make()
        params = sum(p.numel() for p in model.parameters())
        lines = []
        for key, t in model.state_dict().items():
            shape = "x".join(str(d) for d in t.shape) if t.dim() > 0 else "-"
            lines.append(f"{key} {shape}\n")
        with open(os.path.join(out_dir, name + ".txt"), "w") as f:
            f.write(f"# torchvision {name}: {params} parameters\n")
            f.writelines(lines)
        print(f"{name}: {params} parameters, {len(lines)} tensors")


if __name__ == "__main__":
    main()
