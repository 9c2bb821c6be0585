#!/usr/bin/env python3
"""The PyTorch peer of aslseg's U-Net, for scripts/bench_vs_pytorch.sh.

The same network as src/models/unet.cpp (conv3x3 -> norm -> LeakyReLU(0.01) twice per level,
2x2 max-pool, 2x2 transposed conv, skip concatenated before the upsampled map, 1x1 head), the
same supervised loss as src/ssl/losses.cpp (cross-entropy + batch soft Dice over the foreground
classes) and the same optimiser (AdamW, weight decay 1e-4), written the way a PyTorch user
would. Two modes, each printing one JSON line:

  train  N optimisation steps on random [B, 2k+1, S, S] input (the peer gets its data for
         free; aslseg's own number includes its data pipeline)
  infer  a NIfTI volume -> windowed slices with context -> resized to S -> softmax ->
         resized back -> argmax -> largest liver component, tumour inside liver -> .nii.gz,
         the path of `aslseg infer`

Run it with Debian's python3-torch (/usr/bin/python3).
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAKY_SLOPE = 0.01
DICE_EPS = 1e-5


def make_norm(kind, channels):
    """The normalisations of src/models/unet.cpp that the configs use."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, norm="batch"):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm1 = make_norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = make_norm(norm, cout)

    def forward(self, x):
        x = F.leaky_relu(self.norm1(self.conv1(x)), LEAKY_SLOPE)
        return F.leaky_relu(self.norm2(self.conv2(x)), LEAKY_SLOPE)


class UNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=3, base=32, depth=5, norm="batch"):
        super().__init__()
        widths = [base << level for level in range(depth)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.encoders.append(ConvBlock(cin, w, norm))
            cin = w
        self.upsamplers = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(depth - 2, -1, -1):
            self.upsamplers.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.decoders.append(ConvBlock(2 * widths[level], widths[level], norm))
        self.head = nn.Conv2d(base, num_classes, 1)

    def forward(self, x):
        skips = []
        h = x
        for level, enc in enumerate(self.encoders):
            if level > 0:
                h = F.max_pool2d(h, 2)
            h = enc(h)
            skips.append(h)
        skips.pop()
        for up, dec in zip(self.upsamplers, self.decoders):
            h = torch.cat([skips.pop(), up(h)], 1)
            h = dec(h)
        return self.head(h)


def supervised_loss(logits, target):
    ce = F.cross_entropy(logits, target)
    p = torch.softmax(logits, 1)
    g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    dims = (0, 2, 3)
    dice = 2 * (p * g).sum(dims) / (p.sum(dims) + g.sum(dims) + DICE_EPS)
    return ce + 1 - dice[1:].mean()


def cpu_times():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_train(a, fmt):
    torch.manual_seed(0)
    net = UNet(2 * a.context + 1, 3, a.base, a.depth, a.norm).to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.rand(a.batch, 2 * a.context + 1, a.size, a.size).contiguous(memory_format=fmt)
    y = torch.randint(0, 3, (a.batch, a.size, a.size))
    net.train()

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = net(x)
        loss = supervised_loss(logits.float(), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    u0, s0 = cpu_times()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    wall = time.perf_counter() - t0
    u1, s1 = cpu_times()
    return {"slices_per_s": a.steps * a.batch / wall, "s_per_step": wall / a.steps,
            "user_s": u1 - u0, "sys_s": s1 - s0}


def keep_largest_liver(labels):
    """Largest 26-connected organ (liver + tumour) component; tumour only in components with
    liver (what aslseg infer's post-processing does)."""
    import numpy as np
    from scipy import ndimage
    organ = labels >= 1
    comps, n = ndimage.label(organ, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return labels
    sizes = np.bincount(comps.ravel())
    sizes[0] = 0
    labels[(comps != sizes.argmax()) & (comps != 0)] = 0
    return labels


def run_infer(a, fmt):
    import nibabel as nib
    import numpy as np
    torch.manual_seed(0)
    net = UNet(2 * a.context + 1, 3, a.base, a.depth).to(memory_format=fmt).eval()
    t0 = time.perf_counter()
    u0, s0 = cpu_times()
    img = nib.load(a.input)
    hu = np.asarray(img.dataobj, dtype=np.float32)  # [X, Y, Z]
    lo, hi = a.level - a.width / 2, a.level + a.width / 2
    win = torch.from_numpy(np.clip((hu - lo) / (hi - lo), 0, 1)).permute(2, 1, 0).contiguous()
    depth, height, width = win.shape
    out = np.zeros((depth, height, width), dtype=np.uint8)
    k = a.context
    with torch.inference_mode():
        for z0 in range(0, depth, a.batch):
            zs = range(z0, min(z0 + a.batch, depth))
            x = torch.stack([win[[min(max(z + d, 0), depth - 1) for d in range(-k, k + 1)]]
                             for z in zs])
            x = F.interpolate(x, size=(a.size, a.size), mode="bilinear", align_corners=False)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits = net(x.contiguous(memory_format=fmt))
            probs = torch.softmax(logits.float(), 1)
            probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
            out[z0:z0 + len(zs)] = probs.argmax(1).to(torch.uint8).numpy()
    labels = keep_largest_liver(out.transpose(2, 1, 0).copy())
    nib.save(nib.Nifti1Image(labels, img.affine), a.output)
    wall = time.perf_counter() - t0
    u1, s1 = cpu_times()
    return {"seconds": wall, "slices": depth, "user_s": u1 - u0, "sys_s": s1 - s0}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=["train", "infer"])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--base", type=int, default=32)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--norm", choices=["batch", "instance"], default="batch")
    p.add_argument("--context", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (mixed precision)")
    p.add_argument("--input")
    p.add_argument("--output")
    p.add_argument("--level", type=float, default=60.0)
    p.add_argument("--width", type=float, default=400.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    result = run_train(a, fmt) if a.mode == "train" else run_infer(a, fmt)
    result.update({"peer": "pytorch", "torch": torch.__version__, "mode": a.mode,
                   "channels_last": a.channels_last, "bf16": a.bf16, "threads": a.threads,
                   "peak_rss_MiB": peak_rss_mib()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
