import torch

def _gs_jacobian(outputs, inputs, create_graph=False, strict=False):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    rows = []
    for out in outs:
        flat = out.reshape(-1)
        parts = [[] for _ in ins]
        for k in range(flat.numel()):
            gs = torch.autograd.grad(flat[k], ins, retain_graph=True, create_graph=create_graph,
                                     allow_unused=True)
            for j, (g, i) in enumerate(zip(gs, ins)):
                parts[j].append(torch.zeros_like(i) if g is None else g)
        row = tuple(torch.stack(p).reshape(out.shape + i.shape) if p else
                    torch.zeros(out.shape + i.shape, dtype=i.dtype) for p, i in zip(parts, ins))
        rows.append(row if isinstance(inputs, tuple) else row[0])
    return tuple(rows) if isinstance(outputs, tuple) else rows[0]

def _gs_hessian(output, inputs, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    grads = torch.autograd.grad(output, ins, create_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(i) if g is None else g for g, i in zip(grads, ins))
    rows = tuple(_gs_jacobian(g, inputs, create_graph=create_graph) for g in grads)
    return rows if isinstance(inputs, tuple) else rows[0]

def _gs_hvp(output, inputs, v=None, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (torch.ones_like(ins[0]) if v is None else v,)
    gs = torch.autograd.grad(output, ins, create_graph=True, allow_unused=True)
    pairs = [(g, w) for g, w in zip(gs, vs) if g is not None]
    hs = torch.autograd.grad([g for g, _ in pairs], ins, [w for _, w in pairs],
                             retain_graph=True, create_graph=create_graph, allow_unused=True)
    hs = tuple(torch.zeros_like(i) if h is None else h for h, i in zip(hs, ins))
    out = output if create_graph else output.detach()
    return out, hs if isinstance(inputs, tuple) else hs[0]

p = torch.tensor([1.0, 2.0], requires_grad=True)
x = p[0]
y = p[1]
f = (((torch.tensor(1) - x) ** 2) + (torch.tensor(100) * ((y - (x ** 2)) ** 2)))
value, hvp = _gs_hvp(f, p, torch.tensor([1.0, 1.0]))
hessian = _gs_hessian(f, p)
print(hvp)
print(hessian)
