"""Golden cases for Conv (1D, 2D, 3D): strides, dilation, groups (depthwise and channel multipliers),
symmetric and asymmetric padding in all four padding modes, with and without bias.

Symmetric padding uses nn.ConvNd(padding=..., padding_mode=...) itself; asymmetric padding is
F.pad(x, pads, mode) then a conv with padding 0 (what PyTorch's own non-zeros modes do inside)."""
import zlib

import torch
import torch.nn.functional as F
from golden_common import rand, run_module

CONV = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
FCONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
FPAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


class PaddedConv(torch.nn.Module):
    """F.pad with per-side amounts, then a conv without padding; parameters named weight and bias."""

    def __init__(self, nd, cin, cout, kernel, stride, dilation, pad_begin, pad_end, groups, bias, mode):
        super().__init__()
        ref = CONV[nd](cin, cout, kernel, stride=stride, dilation=dilation, groups=groups, bias=bias)
        self.weight, self.bias = ref.weight, ref.bias
        self.nd, self.stride, self.dilation, self.groups, self.mode = nd, stride, dilation, groups, mode
        # F.pad lists the last axis first: (w_begin, w_end, h_begin, h_end, d_begin, d_end)
        self.pads = []
        for b, e in reversed(list(zip(pad_begin, pad_end))):
            self.pads += [b, e]

    def forward(self, x):
        x = F.pad(x, self.pads, mode=FPAD_MODE[self.mode])
        return FCONV[self.nd](x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def listify(v, nd):
    return list(v) if isinstance(v, (list, tuple)) else [v] * nd


# name: (batch, in_channels, spatial, out_channels, kernel, stride, dilation, pad_begin, pad_end, groups,
#        bias, pad_mode); pad_end None means symmetric (= pad_begin)
CASES = {
    # ---- 1D
    "c1d_b1_c3_w13_k3_p1": (1, 3, [13], 4, 3, 1, 1, 1, None, 1, True, "zeros"),
    "c1d_b2_c4_w11_k2_s3_d2_g2_reflect_asym": (2, 4, [11], 6, 2, 3, 2, 2, 1, 2, True, "reflect"),
    "c1d_b3_c2_w7_k3_s2_circular_p7_nobias": (3, 2, [7], 3, 3, 2, 1, 7, None, 1, False, "circular"),
    "c1d_b2_c5_w9_k4_depthwise_x2_replicate_asym": (2, 5, [9], 10, 4, 1, 1, 3, 0, 5, True, "replicate"),
    "c1d_b1_c2_w5_k3_zeros_p4": (1, 2, [5], 3, 3, 1, 1, 4, None, 1, True, "zeros"),
    # ---- 2D
    "c2d_b1_c2_h7w5_k3_p1": (1, 2, [7, 5], 3, 3, 1, 1, 1, None, 1, True, "zeros"),
    "c2d_b2_c3_h11w13_k2_s3_nobias": (2, 3, [11, 13], 4, 2, 3, 1, 0, None, 1, False, "zeros"),
    "c2d_b2_c4_h9w7_k3_d2_g2_p2": (2, 4, [9, 7], 6, 3, 1, 2, 2, None, 2, True, "zeros"),
    "c2d_b1_c3_h5w7_depthwise_reflect_max": (1, 3, [5, 7], 3, 3, 1, 1, [4, 6], None, 3, True, "reflect"),
    "c2d_b2_c2_h6w5_k3x2_s2x1_replicate_asym": (2, 2, [6, 5], 4, [3, 2], [2, 1], 1, [2, 0], [1, 3], 1, True,
                                                "replicate"),
    "c2d_b1_c3_h5w5_circular_asym_max": (1, 3, [5, 5], 2, 3, [2, 1], 1, [5, 1], [2, 5], 1, True, "circular"),
    "c2d_b2_c2_h5w3_k3x1_d1x3_zeros_asym": (2, 2, [5, 3], 3, [3, 1], 1, [1, 3], [3, 0], [0, 4], 1, True, "zeros"),
    "c2d_b2_c6_h7w7_1x1_s2": (2, 6, [7, 7], 5, 1, 2, 1, 0, None, 1, True, "zeros"),
    "c2d_b2_c6_h5w3_1x1_g2": (2, 6, [5, 3], 4, 1, 1, 1, 0, None, 2, False, "zeros"),
    "c2d_b1_c4_h9w11_k3_s2_replicate_p5": (1, 4, [9, 11], 2, 3, 2, 1, 5, None, 2, True, "replicate"),
    "c2d_b1_c2_h3w2_replicate_beyond_size": (1, 2, [3, 2], 3, 2, 1, 1, [5, 0], [2, 4], 1, True, "replicate"),
    "c2d_b2_c1_h8w8_k5_p2_lenet": (2, 1, [8, 8], 4, 5, 1, 1, 2, None, 1, True, "zeros"),
    # ---- 3D
    "c3d_b1_c2_d5h3w7_k3_p1": (1, 2, [5, 3, 7], 3, 3, 1, 1, 1, None, 1, True, "zeros"),
    "c3d_b2_c4_d7h5w6_k2_s3_d2_g2_nobias": (2, 4, [7, 5, 6], 2, 2, 3, 2, 0, None, 2, False, "zeros"),
    "c3d_b1_c3_d4h3w5_depthwise_reflect": (1, 3, [4, 3, 5], 3, [3, 2, 3], 1, 1, [2, 1, 2], None, 3, True, "reflect"),
    "c3d_b2_c2_d3h4w3_circular_asym": (2, 2, [3, 4, 3], 3, 2, [1, 2, 1], 1, [3, 0, 1], [1, 4, 2], 1, True,
                                       "circular"),
    "c3d_b1_c2_d3h3w5_replicate_s2_d2": (1, 2, [3, 3, 5], 4, 2, 2, 2, [1, 2, 0], [2, 1, 3], 2, True, "replicate"),
}


def generate():
    fam = "conv"
    for name, cfg in sorted(CASES.items()):
        batch, cin, spatial, cout, kernel, stride, dilation, pb, pe, groups, bias, mode = cfg
        nd = len(spatial)
        kernel, stride, dilation = listify(kernel, nd), listify(stride, nd), listify(dilation, nd)
        pb = listify(pb, nd)
        pe = pb if pe is None else listify(pe, nd)
        torch.manual_seed(zlib.crc32(name.encode()))  # per name: adding a case changes no other file
        if pb == pe:
            m = CONV[nd](cin, cout, kernel, stride=stride, padding=pb, dilation=dilation, groups=groups, bias=bias,
                         padding_mode=mode)
        else:
            m = PaddedConv(nd, cin, cout, kernel, stride, dilation, pb, pe, groups, bias, mode)
        attrs = {"out_channels": cout, "kernel": kernel, "stride": stride, "dilation": dilation,
                 "pad_begin": pb, "pad_end": pe, "groups": groups, "bias": int(bias), "pad_mode": mode}
        run_module(fam, name, "Conv", attrs, m, [rand(batch, cin, *spatial)])
